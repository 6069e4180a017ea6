import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpWebhookSender } from '../../src/adapters/alerts/http-webhook-sender.ts';
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../../src/core/alerts/alert-delivery.service.ts';
import { verifyWebhookSignature } from '../../src/core/alerts/webhook.ts';
import { asOwner, freePort, startWebhookReceiver, type WebhookReceiver } from '../support/alerts.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { FakeClock } from '../support/sessions.ts';

const API = '/api/v1';

interface DeliveryView {
  id: string;
  status: string;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
}
interface AlertView {
  id: string;
  acknowledgedAt: number | null;
  deliveries: DeliveryView[];
}

for (const dialect of await dialectsUnderTest()) {
  describe(`alert delivery by webhook (${dialect})`, () => {
    let ctx: TestContext;
    const clock = new FakeClock();
    const receivers: WebhookReceiver[] = [];

    before(async () => {
      ctx = await createTestContext(dialect, {
        clock,
        env: { CUSTODIA_ALERT_WEBHOOK_ALLOW_LOOPBACK: 'true' },
      });
    });
    after(async () => {
      await Promise.all(receivers.map((r) => r.close()));
      await ctx.close();
    });

    async function receiver(port = 0): Promise<WebhookReceiver> {
      const started = await startWebhookReceiver(port);
      receivers.push(started);
      return started;
    }

    /** A rule posting to `url`, then a burst (two files read, threshold one) that fires it. */
    async function fireAlert(
      tenant: TenantFixture,
      url: string,
    ): Promise<{ secret: string; ruleId: string }> {
      const created = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alert-rules`,
        payload: { kind: 'bulk_download', threshold: 1, windowSeconds: 60, webhookUrl: url },
      });
      assert.equal(created.statusCode, 201, created.body);
      for (let n = 0; n < 2; n++) {
        const up = await uploadViaApi(ctx, tenant, tenant.rootId, `report-${n}.pdf`, `content ${n}`);
        const read = await asOwner(ctx, tenant, {
          method: 'GET',
          url: `${API}/nodes/${up.json.node.id}/content`,
        });
        assert.equal(read.statusCode, 200);
      }
      assert.equal((await ctx.services.alertEvaluator.evaluateAll()).fired, 1);
      const body = created.json() as { rule: { id: string }; webhookSecret: string };
      return { secret: body.webhookSecret, ruleId: body.rule.id };
    }

    async function alerts(tenant: TenantFixture): Promise<AlertView[]> {
      return (
        (await asOwner(ctx, tenant, { method: 'GET', url: `${API}/alerts` })).json() as { items: AlertView[] }
      ).items;
    }

    it('should POST a signed alert the receiver can verify, once', async () => {
      const tenant = await createTenantFixture(ctx);
      const hook = await receiver();
      const { secret } = await fireAlert(tenant, hook.url);

      await ctx.services.alertDelivery.deliverDue();
      await ctx.services.alertDelivery.deliverDue();

      assert.equal(hook.received.length, 1);
      const [got] = hook.received;
      assert.ok(got);
      const header = String(got.headers['custodia-signature']);
      assert.equal(
        verifyWebhookSignature({
          secret,
          body: got.body,
          header,
          nowSeconds: Math.floor(clock.now() / 1000),
        }),
        true,
      );
      assert.equal(
        verifyWebhookSignature({
          secret: 'whsec_wrong',
          body: got.body,
          header,
          nowSeconds: Math.floor(clock.now() / 1000),
        }),
        false,
      );
      const payload = JSON.parse(got.body) as {
        type: string;
        alert: { id: string; kind: string; account: string };
      };
      const [alert] = await alerts(tenant);
      assert.equal(payload.type, 'alert.fired');
      assert.equal(payload.alert.id, alert?.id);
      assert.equal(payload.alert.kind, 'bulk_download');
      assert.ok(!got.body.includes('report-0.pdf'), 'no file names');
      assert.equal(got.headers['custodia-delivery'], alert?.deliveries[0]?.id);
      assert.deepEqual(
        alert?.deliveries.map((d) => [d.status, d.attempts]),
        [['delivered', 1]],
      );
    });

    it('should retry a receiver that is down, then failing, until it takes the alert', async () => {
      const tenant = await createTenantFixture(ctx);
      const port = await freePort();
      await fireAlert(tenant, `http://127.0.0.1:${port}/hook`);

      await ctx.services.alertDelivery.deliverDue(); // connection refused
      let [delivery] = (await alerts(tenant))[0]!.deliveries;
      assert.equal(delivery?.status, 'pending');
      assert.equal(delivery?.attempts, 1);
      assert.match(delivery?.lastError ?? '', /ECONNREFUSED/);
      assert.equal(delivery?.nextAttemptAt, clock.now() + RETRY_DELAYS_MS[0]!);

      clock.advance(RETRY_DELAYS_MS[0]! - 1);
      await ctx.services.alertDelivery.deliverDue(); // not due yet
      assert.equal((await alerts(tenant))[0]!.deliveries[0]!.attempts, 1);

      clock.advance(1);
      await ctx.services.alertDelivery.deliverDue(); // refused again
      const hook = await receiver(port);
      hook.respondWith(500);
      clock.advance(RETRY_DELAYS_MS[1]!);
      await ctx.services.alertDelivery.deliverDue(); // up, but answers 500
      [delivery] = (await alerts(tenant))[0]!.deliveries;
      assert.equal(delivery?.attempts, 3);
      assert.match(delivery?.lastError ?? '', /HTTP 500/);

      hook.respondWith(204);
      clock.advance(RETRY_DELAYS_MS[2]!);
      await ctx.services.alertDelivery.deliverDue();

      const [alert] = await alerts(tenant);
      assert.deepEqual(
        alert?.deliveries.map((d) => [d.status, d.attempts, d.lastError]),
        [['delivered', 4, null]],
      );
      assert.equal(hook.received.length, 2, 'the 500 and the one taken');
      for (const got of hook.received) {
        assert.equal(
          got.headers['custodia-delivery'],
          alert?.deliveries[0]?.id,
          'same delivery id: receivers dedupe',
        );
        assert.equal((JSON.parse(got.body) as { alert: { id: string } }).alert.id, alert?.id);
      }
      const attempts = await ctx.services.store.repos.audit.list({
        tenantId: tenant.tenantId,
        action: 'alert.delivery_attempt',
        limit: 20,
      });
      assert.deepEqual(attempts.map((e) => e.outcome).reverse(), [
        'failure',
        'failure',
        'failure',
        'success',
      ]);
    });

    it(`should give up after ${MAX_ATTEMPTS} attempts and keep the delivery listed as failed`, async () => {
      const tenant = await createTenantFixture(ctx);
      const port = await freePort();
      await fireAlert(tenant, `http://127.0.0.1:${port}/hook`);

      await ctx.services.alertDelivery.deliverDue();
      for (const delay of RETRY_DELAYS_MS) {
        clock.advance(delay);
        await ctx.services.alertDelivery.deliverDue();
      }
      clock.advance(48 * 3_600_000);
      await ctx.services.alertDelivery.deliverDue();

      const [delivery] = (await alerts(tenant))[0]!.deliveries;
      assert.equal(delivery?.status, 'failed');
      assert.equal(delivery?.attempts, MAX_ATTEMPTS);
      assert.equal(delivery?.nextAttemptAt, null);
    });

    it('should acknowledge an alert once, in the activity log', async () => {
      const tenant = await createTenantFixture(ctx);
      const hook = await receiver();
      await fireAlert(tenant, hook.url);
      const [alert] = await alerts(tenant);

      const first = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alerts/${alert!.id}/acknowledge`,
      });
      const second = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alerts/${alert!.id}/acknowledge`,
      });

      assert.equal(first.statusCode, 200);
      assert.equal(second.statusCode, 200);
      assert.equal((await alerts(tenant))[0]?.acknowledgedAt, clock.now());
      const acks = await ctx.services.store.repos.audit.list({
        tenantId: tenant.tenantId,
        action: 'alert.acknowledge',
        limit: 5,
      });
      assert.equal(acks.length, 1);
    });

    it('should send a test delivery on demand', async () => {
      const tenant = await createTenantFixture(ctx);
      const hook = await receiver();
      const created = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alert-rules`,
        payload: { kind: 'share_link_many_ips', webhookUrl: hook.url },
      });
      const { rule, webhookSecret } = created.json() as { rule: { id: string }; webhookSecret: string };

      const tested = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alert-rules/${rule.id}/test`,
      });

      assert.equal(tested.statusCode, 200, tested.body);
      assert.deepEqual((tested.json() as { results: unknown[] }).results, [
        { channel: 'webhook', target: hook.url, delivered: true },
      ]);
      const got = hook.received[0];
      assert.ok(got);
      assert.equal((JSON.parse(got.body) as { type: string }).type, 'alert.test');
      assert.ok(
        verifyWebhookSignature({
          secret: webhookSecret,
          body: got.body,
          header: String(got.headers['custodia-signature']),
          nowSeconds: Math.floor(clock.now() / 1000),
        }),
      );
    });
  });
}

describe(HttpWebhookSender.name, () => {
  it('should not connect to a loopback or private address unless allowed, by literal or by name', async () => {
    const hook = await startWebhookReceiver();
    const strict = new HttpWebhookSender({ allowLoopback: false });
    const input = { body: '{}', headers: { 'content-type': 'application/json' } };

    try {
      await assert.rejects(strict.post({ ...input, url: hook.url }), { code: 'EADDRNOTALLOWED' });
      await assert.rejects(strict.post({ ...input, url: hook.url.replace('127.0.0.1', 'localhost') }), {
        code: 'EADDRNOTALLOWED',
      });
      assert.equal(hook.received.length, 0);
      assert.deepEqual(
        await new HttpWebhookSender({ allowLoopback: true }).post({ ...input, url: hook.url }),
        { status: 200 },
      );
    } finally {
      await hook.close();
    }
  });
});
