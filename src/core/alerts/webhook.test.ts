import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { newWebhookSecret, signWebhook, verifyWebhookSignature, webhookUrlProblem } from './webhook.ts';

describe('webhook', () => {
  describe('signWebhook', () => {
    it('should be the HMAC-SHA256 of "t.body" in hex, Stripe-style', () => {
      const header = signWebhook('whsec_test', '{"a":1}', 1_790_000_000);

      const mac = createHmac('sha256', 'whsec_test').update('1790000000.{"a":1}').digest('hex');
      assert.equal(header, `t=1790000000,v1=${mac}`);
    });
  });

  describe('verifyWebhookSignature', () => {
    const secret = newWebhookSecret();
    const body = '{"type":"alert.fired"}';
    const header = signWebhook(secret, body, 1_000);

    it('should accept the signature within the tolerance', () => {
      assert.equal(verifyWebhookSignature({ secret, body, header, nowSeconds: 1_300 }), true);
    });

    it('should refuse a changed body, another secret, or an old timestamp', () => {
      assert.equal(verifyWebhookSignature({ secret, body: `${body} `, header, nowSeconds: 1_000 }), false);
      assert.equal(
        verifyWebhookSignature({ secret: newWebhookSecret(), body, header, nowSeconds: 1_000 }),
        false,
      );
      assert.equal(verifyWebhookSignature({ secret, body, header, nowSeconds: 1_301 }), false);
    });
  });

  describe('webhookUrlProblem', () => {
    const strict = { allowLoopbackHttp: false };

    it('should accept https to a public host', () => {
      assert.equal(webhookUrlProblem('https://hooks.example.com/custodia', strict), undefined);
    });

    for (const url of [
      'http://hooks.example.com/x',
      'ftp://hooks.example.com/x',
      'not a url',
      'https://user:pw@hooks.example.com/',
      'https://127.0.0.1/x',
      'https://10.0.0.5/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://[fe80::1]/x',
      'https://[::ffff:192.168.0.1]/x',
      'https://localhost/x',
      'http://127.0.0.1:9000/x',
    ]) {
      it(`should refuse ${url}`, () => {
        assert.equal(typeof webhookUrlProblem(url, strict), 'string');
      });
    }

    it('should allow http to loopback only when the flag says so', () => {
      assert.equal(webhookUrlProblem('http://127.0.0.1:9000/x', { allowLoopbackHttp: true }), undefined);
      assert.equal(webhookUrlProblem('http://localhost:9000/x', { allowLoopbackHttp: true }), undefined);
      assert.equal(typeof webhookUrlProblem('http://10.0.0.1/x', { allowLoopbackHttp: true }), 'string');
    });
  });
});
