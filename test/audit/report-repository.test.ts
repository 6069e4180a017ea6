import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselyAuditReportRepository } from '../../src/adapters/db/repositories/audit-report.repository.ts';
import type { ReportFilter } from '../../src/core/audit/report.types.ts';
import type { ReportRow } from '../../src/core/audit/report.ports.ts';
import { newId } from '../../src/core/shared/ids.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { addMember, createTenantFixture, createTestContext, type TestContext } from '../support/build-app.ts';

/**
 * The report repository against a brute-force reading of the same log: every filter, every query
 * path (one index, one query per value merged, a period read by seq or sorted off its own index)
 * pages to exactly the entries a full scan finds, in seq order, even when the clock stepped back.
 */

const ACTIONS = ['file.download', 'file.upload', 'file.view', 'share.create', 'auth.sign_in', 'node.move'];

for (const dialect of await dialectsUnderTest()) {
  describe(`KyselyAuditReportRepository (${dialect})`, () => {
    let ctx: TestContext;
    const now = { ms: 1_790_000_000_000 };
    let logId = '';
    let otherLog = '';
    const users: string[] = [];
    const files = [newId(), newId(), newId(), newId()];
    const ips = ['192.0.2.1', '192.0.2.2', '2001:db8::1'];
    let all: ReportRow[] = [];
    /** Each user's API tokens, as the api_tokens table records them (never deleted, only revoked). */
    let tokens: string[][] = [];

    before(async () => {
      ctx = await createTestContext(dialect, { clock: { now: () => now.ms } });
      const tenant = await createTenantFixture(ctx);
      logId = tenant.tenantId;
      otherLog = (await createTenantFixture(ctx)).tenantId;
      for (let u = 0; u < 3; u++) {
        const { userId } = await addMember(ctx, tenant, 'member');
        await ctx.services.members.createToken(
          { kind: 'member', tenantId: logId, userId, role: 'member', channel: 'cli' },
          { name: 'second' },
        );
        users.push(userId);
      }
      const tokenRows = await ctx.services.database.db
        .selectFrom('api_tokens')
        .select(['id', 'user_id'])
        .where('tenant_id', '=', logId)
        .execute();
      tokens = users.map((u) => tokenRows.filter((t) => t.user_id === u).map((t) => t.id));
      assert.ok(tokens.every((t) => t.length === 2));
      for (let i = 0; i < 90; i++) {
        // Mostly forward, with a step back now and then (another node's clock, an NTP correction).
        now.ms += i % 11 === 10 ? -90_000 : 60_000;
        const action = ACTIONS[(i * 7) % ACTIONS.length] ?? 'file.view';
        const user = users[i % users.length] ?? '';
        const token = tokens[i % users.length]?.[i % 2] ?? '';
        const isFile = action.startsWith('file.') || action.startsWith('share.') || action === 'node.move';
        await ctx.services.store.withTransaction(async (tx) => {
          await tx.audit.append({
            tenantId: i % 9 === 4 ? otherLog : logId,
            action,
            actorType: i % 4 === 0 ? 'token' : 'user',
            actorId: i % 4 === 0 ? `${user}/${token}` : user,
            targetType: isFile ? 'file' : undefined,
            targetId: isFile ? files[(i * 5) % files.length] : undefined,
            channel: 'api',
            ip: ips[Math.floor(i / 2) % ips.length],
          });
        });
      }
      const repo = new KyselyAuditReportRepository(ctx.services.database.db, { dialect });
      all = await repo.listEntries(logId, { filter: {}, limit: 1000 });
      assert.ok(all.length >= 80);
    });
    after(async () => ctx?.close());

    const times = () => all.map((e) => e.occurredAt).sort((a, b) => a - b);
    const filters: [string, () => ReportFilter, (e: ReportRow) => boolean][] = [
      ['file', () => ({ fileId: files[1] }), (e) => e.fileId === files[1]],
      ['ip', () => ({ ip: '2001:db8::1' }), (e) => e.ip === '2001:db8::1'],
      ['action', () => ({ action: { kind: 'exact', value: 'file.view' } }), (e) => e.action === 'file.view'],
      [
        'action family',
        () => ({ action: { kind: 'prefix', value: 'file.' } }),
        (e) => e.action.startsWith('file.'),
      ],
      ['period', () => ({ from: times()[20], to: times()[50] }), (e) => inRange(e, times()[20], times()[50])],
      ['period from', () => ({ from: times()[60] }), (e) => inRange(e, times()[60], undefined)],
      ['period to', () => ({ to: times()[30] }), (e) => inRange(e, undefined, times()[30])],
      [
        'a user (with their tokens) and an action family',
        () => ({ actorId: users[0], action: { kind: 'prefix', value: 'file.' } }),
        (e) => e.actorId?.split('/')[0] === users[0] && e.action.startsWith('file.'),
      ],
      [
        'a user (with their tokens), an action family and a period',
        () => ({
          actorId: users[1],
          action: { kind: 'prefix', value: 'file.' },
          from: times()[15],
          to: times()[70],
        }),
        (e) =>
          e.actorId?.split('/')[0] === users[1] &&
          e.action.startsWith('file.') &&
          inRange(e, times()[15], times()[70]),
      ],
      [
        'file + ip + period',
        () => ({ fileId: files[2], ip: '192.0.2.1', from: times()[10] }),
        (e) => e.fileId === files[2] && e.ip === '192.0.2.1' && inRange(e, times()[10], undefined),
      ],
    ];

    for (const [name, filter, matches] of filters) {
      for (const cap of [2, 10_000]) {
        it(`should page "${name}" to exactly what a full scan finds (period cap ${cap})`, async () => {
          const repo = new KyselyAuditReportRepository(ctx.services.database.db, {
            dialect,
            periodScanCap: cap,
          });
          const expected = all.filter(matches).map((e) => e.seq);
          assert.ok(expected.length > 0, 'the filter matches something');

          const seen: number[] = [];
          let beforeSeq: number | undefined;
          for (;;) {
            const page = await repo.listEntries(logId, { filter: filter(), beforeSeq, limit: 7 });
            seen.push(...page.map((e) => e.seq));
            if (page.length < 7) {
              break;
            }
            beforeSeq = page.at(-1)?.seq;
          }

          assert.deepEqual(seen, expected);
        });
      }
    }

    it("should never read another log's entries", async () => {
      const repo = new KyselyAuditReportRepository(ctx.services.database.db, { dialect });

      const other = await repo.listEntries(otherLog, { filter: {}, limit: 1000 });

      const stored = await ctx.services.database.db
        .selectFrom('audit_events')
        .select('entry_hash')
        .where('log_id', '=', otherLog)
        .orderBy('seq', 'desc')
        .execute();
      assert.deepEqual(
        other.map((e) => e.entryHash),
        stored.map((r) => r.entry_hash),
      );
      assert.ok(other.every((e) => !all.some((mine) => mine.entryHash === e.entryHash)));
    });
  });
}

function inRange(e: ReportRow, from: number | undefined, to: number | undefined): boolean {
  return (from === undefined || e.occurredAt >= from) && (to === undefined || e.occurredAt <= to);
}
