import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselyAuditChainStore } from '../../src/adapters/db/repositories/audit-chain.repository.ts';
import { OPERATOR_LOG_ID } from '../../src/core/audit/audit.types.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { signInViaApi } from '../support/sessions.ts';

/** Events the issue requires that are easy to miss: failures, and reads that are not plain downloads. */
for (const dialect of await dialectsUnderTest()) {
  describe(`audit emission (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    const entries = (logId: string) =>
      new KyselyAuditChainStore(ctx.services.database.db, ctx.dialect).listEntries(logId, 0, 100_000);

    it('should record a failed sign-in for an unknown account in the operator log, without the e-mail', async () => {
      const response = await signInViaApi(ctx, {
        email: 'nobody-here@example.org',
        password: 'wrong wrong wrong',
        remoteAddress: '203.0.113.50',
      });
      assert.equal(response.response.statusCode, 401);

      const log = await entries(OPERATOR_LOG_ID);

      const failure = log.find((e) => e.action === 'auth.sign_in' && e.ip === '203.0.113.50');
      assert.equal(failure?.outcome, 'failure');
      assert.equal(failure?.actorType, 'anonymous');
      assert.doesNotMatch(JSON.stringify(failure), /nobody-here/);
    });

    it("should record a member's failed sign-in in the organisation's log", async () => {
      await signInViaApi(ctx, {
        email: a.ownerEmail,
        password: 'not the password',
        remoteAddress: '203.0.113.51',
      });

      const log = await entries(a.tenantId);

      const failure = log.find((e) => e.action === 'auth.sign_in' && e.ip === '203.0.113.51');
      assert.equal(failure?.outcome, 'failure');
      assert.equal(failure?.actorId, a.ownerId);
    });

    it('should record share-link reads and wrong passwords against the file', async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'shared.txt', 'shared bytes');
      const created = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/nodes/${json.node.id}/shares`,
        headers: a.auth,
        payload: { password: 'kalahari-sunset-42' },
      });
      const token = (created.json().url as string).split('/s/')[1] ?? '';
      const shareId = created.json().share.id as string;
      await ctx.app.inject({ method: 'GET', url: `/api/v1/public/shares/${token}` });
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/public/shares/${token}/unlock`,
        payload: { password: 'wrong' },
      });

      const log = (await entries(a.tenantId)).filter((e) => e.actorId === shareId);

      assert.ok(log.some((e) => e.action === 'share.view' && e.outcome === 'success'));
      assert.ok(log.some((e) => e.action === 'share.access' && e.outcome === 'failure'));
      assert.ok(log.every((e) => e.fileId === json.node.id));
      assert.ok(log.every((e) => e.channel === 'share_link'));
    });
  });
}
