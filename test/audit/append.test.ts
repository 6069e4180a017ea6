import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselyAuditChainStore } from '../../src/adapters/db/repositories/audit-chain.repository.ts';
import { verifyChain, type StoredEntry } from '../../src/core/audit/chain.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';

for (const dialect of await dialectsUnderTest()) {
  describe(`audit log append (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    async function entries(logId: string): Promise<StoredEntry[]> {
      return new KyselyAuditChainStore(ctx.services.database.db, ctx.dialect).listEntries(
        logId,
        0,
        1_000_000,
      );
    }

    it('should chain every entry the services write, with the file each event concerns', async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'chained.txt', 'hello chain');
      const download = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${json.node.id}/content`,
        headers: { ...a.auth, 'user-agent': 'audit-test/1' },
      });
      assert.equal(download.statusCode, 200);

      const log = await entries(a.tenantId);

      assert.equal(verifyChain({ entries: log, checkpoints: [], publicKeys: new Map() }).isValid, true);
      assert.deepEqual(
        log.map((e) => e.seq),
        log.map((_, i) => i + 1),
      );
      const read = log.find((e) => e.action === 'file.download');
      assert.equal(read?.fileId, json.node.id);
      assert.equal(read?.userAgent, 'audit-test/1');
      assert.notEqual(read?.salt, null);
      assert.equal(log.find((e) => e.action === 'file.upload')?.fileId, json.node.id);
      assert.equal(log.find((e) => e.action === 'member.join')?.fileId, null);
    });

    it('should keep one gap-free valid chain under many concurrent appends to one log', async () => {
      const before = (await entries(a.tenantId)).length;
      const writers = 200;

      await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          ctx.services.store.withTransaction((tx) =>
            tx.audit.append({
              tenantId: a.tenantId,
              action: 'test.concurrent',
              actorType: 'system',
              channel: 'system',
              ip: `198.51.100.${i % 250}`,
              details: { i },
            }),
          ),
        ),
      );

      const log = await entries(a.tenantId);
      assert.equal(log.length, before + writers);
      assert.deepEqual(
        log.map((e) => e.seq),
        log.map((_, i) => i + 1),
      );
      const result = verifyChain({ entries: log, checkpoints: [], publicKeys: new Map(), logId: a.tenantId });
      assert.equal(result.isValid, true, JSON.stringify(result.firstProblem));
      assert.equal(new Set(log.map((e) => e.details)).size, log.length);
    });

    it('should batch events appended outside a transaction, gap-free and valid in every log', async () => {
      const b = await createTenantFixture(ctx);
      const before = { a: (await entries(a.tenantId)).length, b: (await entries(b.tenantId)).length };

      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          ctx.services.store.repos.audit.append({
            tenantId: i % 2 ? a.tenantId : b.tenantId,
            action: 'test.batched',
            actorType: 'system',
            channel: 'system',
            userAgent: `agent-${i}`,
            details: { i },
          }),
        ),
      );

      for (const [t, count] of [
        [a, before.a],
        [b, before.b],
      ] as const) {
        const log = await entries(t.tenantId);
        assert.equal(log.length, count + 150);
        const result = verifyChain({
          entries: log,
          checkpoints: [],
          publicKeys: new Map(),
          logId: t.tenantId,
        });
        assert.equal(result.isValid, true, JSON.stringify(result.firstProblem));
      }
    });

    it('should leave no trace of an append whose transaction rolled back', async () => {
      const before = await entries(a.tenantId);

      await assert.rejects(
        ctx.services.store.withTransaction(async (tx) => {
          await tx.audit.append({
            tenantId: a.tenantId,
            action: 'test.rollback',
            actorType: 'system',
            channel: 'system',
          });
          throw new Error('abort');
        }),
      );
      await ctx.services.store.withTransaction((tx) =>
        tx.audit.append({
          tenantId: a.tenantId,
          action: 'test.after',
          actorType: 'system',
          channel: 'system',
        }),
      );

      const log = await entries(a.tenantId);
      assert.equal(log.length, before.length + 1);
      assert.equal(log.at(-1)?.action, 'test.after');
      assert.equal(verifyChain({ entries: log, checkpoints: [], publicKeys: new Map() }).isValid, true);
    });
  });
}
