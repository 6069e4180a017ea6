import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dialectsUnderTest } from '../support/dialects.ts';
import { createTestContext, type TestContext } from '../support/build-app.ts';

for (const dialect of await dialectsUnderTest()) {
  describe(`rate limits (${dialect})`, () => {
    let ctx: TestContext;

    before(async () => {
      ctx = await createTestContext(dialect, {
        env: { CUSTODIA_RATE_LIMIT_PER_MINUTE: '30', CUSTODIA_NOT_FOUND_LIMIT_PER_MINUTE: '120' },
      });
    });
    after(async () => ctx.close());

    it('should answer 429 with Retry-After once one address sends too many sign-in requests in a minute', async () => {
      const attempt = () =>
        ctx.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          remoteAddress: '198.51.100.7',
          payload: { email: 'nobody@example.com', password: 'wrong wrong wrong' },
        });
      const statuses: number[] = [];

      for (let i = 0; i < 31; i++) {
        statuses.push((await attempt()).statusCode);
      }
      const blocked = await attempt();
      const otherAddress = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        remoteAddress: '198.51.100.8',
        payload: { email: 'nobody@example.com', password: 'wrong wrong wrong' },
      });

      assert.ok(statuses.slice(0, 30).every((s) => s === 401));
      assert.equal(statuses[30], 429);
      assert.equal(blocked.statusCode, 429);
      assert.equal(blocked.json().error.code, 'too_many_attempts');
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      assert.equal(otherAddress.statusCode, 401);
    });

    it('should rate-limit an address that keeps hitting routes that do not exist', async () => {
      const probe = (i: number) =>
        ctx.app.inject({ method: 'GET', url: `/api/v1/guess-${i}`, remoteAddress: '203.0.113.5' });
      const statuses: number[] = [];

      for (let i = 0; i < 130; i++) {
        statuses.push((await probe(i)).statusCode);
      }
      const firstBlocked = statuses.indexOf(429);
      const fromElsewhere = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/guess-x',
        remoteAddress: '203.0.113.6',
      });

      assert.ok(firstBlocked === 120, `first 429 at request ${firstBlocked + 1}`);
      assert.deepEqual(
        statuses.slice(0, firstBlocked).filter((s) => s !== 404),
        [],
      );
      assert.deepEqual(
        statuses.slice(firstBlocked).filter((s) => s !== 429),
        [],
      );
      assert.equal(fromElsewhere.statusCode, 404);
    });
  });
}
