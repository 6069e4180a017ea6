import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselyAuditChainStore } from '../../src/adapters/db/repositories/audit-chain.repository.ts';
import { OPERATOR_LOG_ID } from '../../src/core/audit/audit.types.ts';
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

    it('should write appends to several logs in one batch, each log gap-free and chained', async () => {
      const tenants = [a, await createTenantFixture(ctx), await createTenantFixture(ctx)];
      const logIds = [...tenants.map((t) => t.tenantId), OPERATOR_LOG_ID];
      const before = new Map(
        await Promise.all(logIds.map(async (id) => [id, (await entries(id)).length] as const)),
      );
      const perLog = 60;

      // Batched appends to four logs, with changes recorded inside transactions racing them.
      await Promise.all([
        ...Array.from({ length: perLog * logIds.length }, (_, i) =>
          ctx.services.store.repos.audit.append({
            tenantId:
              logIds[i % logIds.length] === OPERATOR_LOG_ID
                ? null
                : (tenants[i % logIds.length]?.tenantId ?? null),
            action: 'test.cross_log',
            actorType: 'system',
            channel: 'system',
            ip: '203.0.113.7',
            details: { i },
          }),
        ),
        ...Array.from({ length: 20 }, (_, i) =>
          ctx.services.store.withTransaction((tx) =>
            tx.audit.append({
              tenantId: i % 2 ? null : a.tenantId,
              action: 'test.in_transaction',
              actorType: 'system',
              channel: 'system',
            }),
          ),
        ),
      ]);

      const batched: StoredEntry[] = [];
      for (const logId of logIds) {
        const log = await entries(logId);
        const ours = log.filter((e) => e.action === 'test.cross_log');
        const added = perLog + (logId === a.tenantId || logId === OPERATOR_LOG_ID ? 10 : 0);
        assert.equal(log.length, (before.get(logId) ?? 0) + added, logId);
        assert.deepEqual(
          log.map((e) => e.seq),
          log.map((_, i) => i + 1),
        );
        const result = verifyChain({ entries: log, checkpoints: [], publicKeys: new Map(), logId });
        assert.equal(result.isValid, true, JSON.stringify(result.firstProblem));
        // Each log keeps its callers' order.
        const order = ours.map((e) => (JSON.parse(e.details ?? '{}') as { i: number }).i);
        assert.deepEqual(
          order,
          order.toSorted((x, y) => x - y),
        );
        batched.push(...ours);
      }
      // Appended in one turn of the event loop, they were written by one batch per lane (SQLite has
      // one lane, PostgreSQL two), each at one time.
      assert.ok(new Set(batched.map((e) => e.occurredAt)).size <= (dialect === 'sqlite' ? 1 : 2));
      // Each with a salt of its own: 16 random bytes, none shared within the batch.
      assert.equal(new Set(batched.map((e) => e.salt)).size, batched.length);
      assert.ok(batched.every((e) => Buffer.from(e.salt ?? '', 'base64url').length === 16));
    });

    it('should commit the rest of a batch across logs when some of its events fail', async () => {
      const b = await createTenantFixture(ctx);
      const logIds = [a.tenantId, b.tenantId, OPERATOR_LOG_ID];
      const before = new Map(
        await Promise.all(logIds.map(async (id) => [id, (await entries(id)).length] as const)),
      );
      const count = 90;
      const refusedByDatabase = 17; // no channel: audit_events.channel is NOT NULL
      const refusedByChain = 55; // details that JSON cannot express: hashing the payload throws

      const outcomes = await Promise.allSettled(
        Array.from({ length: count }, (_, i) =>
          ctx.services.store.repos.audit.append({
            tenantId: i % 3 === 2 ? null : i % 3 === 1 ? b.tenantId : a.tenantId,
            action: 'test.partly_bad',
            actorType: 'system',
            // A malformed event as a bug elsewhere could produce; the type forbids it, hence the cast.
            channel: i === refusedByDatabase ? (null as unknown as 'system') : 'system',
            details: i === refusedByChain ? { size: 1n } : { i },
          }),
        ),
      );

      assert.deepEqual(
        outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : [])),
        [refusedByDatabase, refusedByChain],
      );
      for (const logId of logIds) {
        const log = await entries(logId);
        const refused = [refusedByDatabase, refusedByChain].filter((i) => logIds[i % 3] === logId).length;
        assert.equal(log.length, (before.get(logId) ?? 0) + count / 3 - refused, logId);
        assert.deepEqual(
          log.map((e) => e.seq),
          log.map((_, i) => i + 1),
        );
        const result = verifyChain({ entries: log, checkpoints: [], publicKeys: new Map(), logId });
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
