import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselyAuditChainStore } from '../../src/adapters/db/repositories/audit-chain.repository.ts';
import {
  createTenantFixture,
  createTestContext,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { FakeClock } from '../support/sessions.ts';

const DAY = 86_400_000;

for (const dialect of await dialectsUnderTest()) {
  describe(`telemetry retention, forensic holds and checkpoints (${dialect})`, () => {
    const clock = new FakeClock();
    let ctx: TestContext;

    before(async () => {
      ctx = await createTestContext(dialect, { clock, env: { CUSTODIA_AUDIT_CHECKPOINT_EVERY: '5' } });
    });
    after(async () => ctx.close());

    const chain = () => new KyselyAuditChainStore(ctx.services.database.db, ctx.dialect);

    async function download(t: TenantFixture, n: number) {
      for (let i = 0; i < n; i++) {
        await ctx.services.store.repos.audit.append({
          tenantId: t.tenantId,
          action: 'file.download',
          actorType: 'user',
          actorId: t.ownerId,
          targetType: 'file',
          targetId: `f${i}`,
          channel: 'web',
          ip: '198.51.100.7',
          userAgent: 'Mozilla/5.0 test',
        });
      }
    }

    const api = (t: TenantFixture, method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown) =>
      ctx.app.inject({
        method,
        url: `/api/v1/audit/${url}`,
        headers: t.auth,
        ...(payload ? { payload } : {}),
      });

    it('should expunge old telemetry and still verify', async () => {
      const t = await createTenantFixture(ctx);
      await download(t, 6);
      assert.equal((await api(t, 'PUT', 'telemetry-policy', { retentionDays: 30 })).statusCode, 200);
      clock.advance(31 * DAY);
      await download(t, 2);

      const expired = await ctx.services.telemetry.expireAllDue();

      const entries = await chain().listEntries(t.tenantId, 0, 1000);
      const old = entries.filter((e) => e.occurredAt < clock.now() - 30 * DAY);
      assert.ok(old.length >= 6);
      assert.ok(expired.entries >= 7, JSON.stringify(expired));
      assert.ok(old.every((e) => e.ip === null && e.userAgent === null && e.salt === null));
      const recent = entries.filter((e) => e.action === 'file.download' && e.occurredAt === clock.now());
      assert.deepEqual(
        recent.map((e) => e.ip),
        ['198.51.100.7', '198.51.100.7'],
      );
      assert.equal(entries.at(-1)?.action, 'audit.telemetry_expire');
      const verified = await api(t, 'GET', 'verify');
      assert.equal(verified.json().isValid, true, verified.body);
    });

    it('should keep telemetry while a forensic hold is in place, and expire it once lifted', async () => {
      const t = await createTenantFixture(ctx);
      await download(t, 3);
      const placed = await api(t, 'POST', 'forensic-hold', { reason: 'incident 2026-07' });
      assert.equal(placed.statusCode, 200);
      assert.equal(placed.json().forensicHold.reason, 'incident 2026-07');
      clock.advance(100 * DAY);

      await ctx.services.telemetry.expireAllDue();

      const held = await chain().listEntries(t.tenantId, 0, 1000);
      assert.equal(held.filter((e) => e.ip === '198.51.100.7').length, 3);
      assert.equal((await api(t, 'POST', 'forensic-hold', { reason: 'again' })).statusCode, 409);
      assert.equal((await api(t, 'POST', 'forensic-hold/lift', { reason: 'closed' })).statusCode, 200);
      await ctx.services.telemetry.expireAllDue();
      const lifted = await chain().listEntries(t.tenantId, 0, 1000);
      assert.equal(lifted.filter((e) => e.ip === '198.51.100.7').length, 0);
      const actions = lifted.map((e) => e.action);
      assert.ok(actions.includes('audit.forensic_hold_place'));
      assert.ok(actions.includes('audit.forensic_hold_lift'));
    });

    it('should refuse retention outside 30..90 days with a clear 400, and record a change', async () => {
      const t = await createTenantFixture(ctx);

      for (const retentionDays of [29, 91, 45.5, '60', null]) {
        const response = await api(t, 'PUT', 'telemetry-policy', { retentionDays });
        assert.equal(response.statusCode, 400, String(retentionDays));
        assert.equal(response.json().error.code, 'invalid_request');
        assert.match(response.json().error.message, /retentionDays/);
      }
      const ok = await api(t, 'PUT', 'telemetry-policy', { retentionDays: 90 });

      assert.equal(ok.statusCode, 200);
      assert.equal((await api(t, 'GET', 'telemetry-policy')).json().retentionDays, 90);
      const entries = await chain().listEntries(t.tenantId, 0, 1000);
      assert.equal(entries.filter((e) => e.action === 'audit.retention_update').length, 1);
    });

    it('should sign a checkpoint whenever a log completes a block of N entries', async () => {
      const t = await createTenantFixture(ctx);

      await download(t, 12);
      await ctx.services.auditCheckpoints.idle();

      const checkpoints = await chain().listCheckpoints(t.tenantId);
      assert.ok(checkpoints.length >= 2, JSON.stringify(checkpoints));
      // Each block of 5 asks for one; it pins the head as it is by then (later appends may have landed).
      const head = (await chain().readHead(t.tenantId))?.seq ?? 0;
      assert.ok(
        (checkpoints.at(-1)?.seq ?? 0) >= Math.floor(head / 5) * 5,
        JSON.stringify({ head, checkpoints }),
      );
      const verified = await api(t, 'GET', 'verify');
      assert.equal(verified.json().lastCheckpoint.seq, checkpoints.at(-1)?.seq);
    });

    it('should checkpoint every log with new entries from the recurring job', async () => {
      const t = await createTenantFixture(ctx);
      await download(t, 1);

      await ctx.services.auditCheckpoints.checkpointAllDue();

      const head = await chain().readHead(t.tenantId);
      const last = await chain().findLastCheckpoint(t.tenantId);
      assert.equal(last?.seq, head?.seq);
      assert.deepEqual(await chain().listLogsAwaitingCheckpointForAllLogs(), []);
    });
  });
}
