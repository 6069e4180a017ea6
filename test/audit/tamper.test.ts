import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { WorkerChainRangeVerifier } from '../../src/adapters/db/chain-range-verifier.ts';
import { KyselyAuditChainStore } from '../../src/adapters/db/repositories/audit-chain.repository.ts';
import { chainEntry, signCheckpoint, type StoredEntry } from '../../src/core/audit/chain.ts';
import { verifyExport } from '../../src/core/audit/export-format.ts';
import { AuditVerificationService } from '../../src/core/audit/verification.service.ts';
import {
  createTenantFixture,
  createTestContext,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { runCli } from '../support/server-process.ts';

/**
 * Tampering with a real database, the way someone with write access to it would: each kind is
 * caught by the live verification (API) and by an export verified offline with the real CLI, and
 * both name the first bad entry. Each case gets its own organisation (its own log) of 20 entries
 * with signed checkpoints at seq 8 and 16.
 */
for (const dialect of await dialectsUnderTest()) {
  describe(`tamper evidence (${dialect})`, () => {
    let ctx: TestContext;
    let keyFile: string;

    before(async () => {
      ctx = await createTestContext(dialect);
      keyFile = join(ctx.database.dataDir, 'audit-key.pem');
      const keys = await ctx.services.auditVerification.listPublicKeys();
      writeFileSync(keyFile, keys.map((k) => k.publicKeyPem).join(''));
    });
    after(async () => ctx.close());

    const db = () => ctx.services.database.db;
    const chain = () => new KyselyAuditChainStore(db(), ctx.dialect);

    /** A tenant whose log has exactly 20 entries, checkpointed at 8 and 16. */
    async function sealedLog(): Promise<TenantFixture> {
      const t = await createTenantFixture(ctx);
      for (const stop of [8, 16, 20]) {
        for (let seq = (await chain().readHead(t.tenantId))?.seq ?? 0; seq < stop; seq++) {
          await ctx.services.store.repos.audit.append({
            tenantId: t.tenantId,
            action: 'file.download',
            actorType: 'user',
            actorId: t.ownerId,
            targetType: 'file',
            targetId: `file-${seq}`,
            channel: 'api',
            ip: `192.0.2.${seq}`,
            userAgent: 'tamper-test/1',
            details: { n: seq },
          });
        }
        if (stop < 20) {
          assert.equal((await ctx.services.auditCheckpoints.checkpoint(t.tenantId))?.seq, stop);
        }
      }
      return t;
    }

    async function liveVerify(t: TenantFixture) {
      const response = await ctx.app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: t.auth });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as { isValid: boolean; firstProblem?: { seq: number; problem: string } };
    }

    async function offlineVerify(t: TenantFixture) {
      const out = join(ctx.database.dataDir, `${t.slug}.jsonl`);
      const env = {
        CUSTODIA_DATA_DIR: ctx.database.dataDir,
        CUSTODIA_DATABASE_URL: ctx.database.url,
        CUSTODIA_KEYSTORE_URL: ctx.services.config.keystoreUrl,
        CUSTODIA_LOG_LEVEL: 'silent',
      };
      const exported = await runCli(['audit', 'export', '--tenant', t.slug, '--out', out], { env });
      assert.equal(exported.code, 0, exported.stderr);
      // Offline: no data directory or database, only the file and the key.
      const verified = await runCli(['audit', 'verify', '--file', out, '--public-key', keyFile, '--json'], {
        env: { CUSTODIA_DATA_DIR: '/nonexistent' },
      });
      const result = JSON.parse(verified.stdout) as {
        isValid: boolean;
        firstProblem?: { seq: number; problem: string };
      };
      return { code: verified.code, result };
    }

    /** Checks the verdicts and returns the detail given by the verification in ranges. */
    async function expectDetected(t: TenantFixture, seq: number, problems: string[]): Promise<string> {
      // In two ranges (1..10, 11..20) on worker threads first, then as the API verifies a log this small.
      const ranged = await inRanges(2).verifyLog(t.tenantId, system);
      assert.equal(ranged.firstProblem?.seq, seq, JSON.stringify(ranged.firstProblem));
      assert.ok(problems.includes(ranged.firstProblem?.problem ?? ''), JSON.stringify(ranged.firstProblem));
      const live = await liveVerify(t);
      assert.equal(live.isValid, false);
      assert.equal(live.firstProblem?.seq, seq, JSON.stringify(live.firstProblem));
      assert.ok(problems.includes(live.firstProblem?.problem ?? ''), JSON.stringify(live.firstProblem));
      const offline = await offlineVerify(t);
      assert.equal(offline.code, 1);
      assert.equal(offline.result.firstProblem?.seq, seq, JSON.stringify(offline.result.firstProblem));
      assert.ok(problems.includes(offline.result.firstProblem?.problem ?? ''));
      return ranged.firstProblem?.detail ?? '';
    }

    const update = (t: TenantFixture, seq: number) =>
      db().updateTable('audit_events').where('log_id', '=', t.tenantId).where('seq', '=', seq);

    async function storedEntry(t: TenantFixture, seq: number): Promise<StoredEntry> {
      const [entry] = await chain().listEntries(t.tenantId, seq - 1, 1);
      assert.ok(entry);
      return entry;
    }

    /** Verification in seq ranges on worker threads, each reading with its own connection. */
    function inRanges(parallelism: number) {
      return new AuditVerificationService({
        chain: chain(),
        checkpoints: ctx.services.auditCheckpoints,
        store: ctx.services.store,
        clock: ctx.services.clock,
        pageSize: 3,
        ranges: new WorkerChainRangeVerifier({ databaseUrl: ctx.database.url, parallelism, pageSize: 3 }),
        offThreadFrom: 0,
      });
    }
    const system = { kind: 'system', channel: 'system' } as const;
    const verdict = (r: { isValid: boolean; firstProblem?: { seq: number; problem: string } }) => [
      r.isValid,
      r.firstProblem?.seq,
      r.firstProblem?.problem,
    ];

    it('should verify an untouched log live and offline', async () => {
      const t = await sealedLog();

      const live = await liveVerify(t);
      const offline = await offlineVerify(t);

      assert.equal(live.isValid, true);
      assert.equal(offline.code, 0);
      assert.equal(offline.result.isValid, true);
    });

    it('should export over the API as JSON Lines that verify with the API public key', async () => {
      const t = await sealedLog();

      const exported = await ctx.app.inject({ method: 'GET', url: '/api/v1/audit/export', headers: t.auth });
      const keys = await ctx.app.inject({ method: 'GET', url: '/api/v1/audit/public-key', headers: t.auth });

      assert.equal(exported.statusCode, 200);
      assert.match(String(exported.headers['content-type']), /application\/jsonl/);
      const lines = exported.body.split('\n');
      const result = await verifyExport({
        readLines: async function* () {
          yield* lines;
        },
        publicKeysPem: (keys.json().keys as Array<{ publicKeyPem: string }>).map((k) => k.publicKeyPem),
      });
      assert.equal(result.isValid, true, JSON.stringify(result.firstProblem));
      assert.equal(result.lastSeq, 21); // the 20 entries and the audit.export entry itself
      assert.equal(result.lastCheckpoint?.seq, 21);
    });

    it('should read the log in keyset pages, whole and up to the first gap', async () => {
      const t = await sealedLog();
      const paged = new AuditVerificationService({
        chain: chain(),
        checkpoints: ctx.services.auditCheckpoints,
        store: ctx.services.store,
        clock: ctx.services.clock,
        pageSize: 3,
      });

      const whole = await paged.verifyLog(t.tenantId, system);
      const lines = [];
      for await (const chunk of await paged.exportLog(t.tenantId, system)) {
        lines.push(...chunk.split('\n').filter(Boolean));
      }
      await db().deleteFrom('audit_events').where('log_id', '=', t.tenantId).where('seq', '=', 7).execute();
      const broken = await paged.verifyLog(t.tenantId, system);

      assert.equal(whole.isValid, true);
      assert.equal(whole.lastSeq, 20);
      assert.equal(whole.lastCheckpoint?.seq, 16);
      const head = JSON.parse(lines[0] ?? '{}') as { lastSeq: number };
      assert.equal(lines.filter((l) => l.startsWith('{"type":"entry"')).length, head.lastSeq);
      assert.equal(broken.firstProblem?.seq, 7);
      assert.equal(broken.firstProblem?.problem, 'missing_entry');
    });

    it('should verify an untouched log in ranges on worker threads, counting every entry and checkpoint', async () => {
      const two = await sealedLog();
      const three = await sealedLog();

      const halves = await inRanges(2).verifyLog(two.tenantId, system);
      const thirds = await inRanges(3).verifyLog(three.tenantId, system);

      for (const result of [halves, thirds]) {
        assert.equal(result.isValid, true, JSON.stringify(result.firstProblem));
        assert.equal(result.entries, 20);
        assert.equal(result.lastSeq, 20);
        assert.equal(result.checkpoints, 2);
        assert.equal(result.lastCheckpoint?.seq, 16);
      }
    });

    it('should name an edited entry or a cut tail in the second of two ranges', async () => {
      const edited = await sealedLog();
      const cut = await sealedLog();

      await update(edited, 15).set({ details: '{"n":999}' }).execute();
      await db()
        .deleteFrom('audit_events')
        .where('log_id', '=', cut.tenantId)
        .where('seq', '>', 13)
        .execute();

      // Ranges 1..10 and 11..20: both problems lie in the second.
      assert.deepEqual(verdict(await inRanges(2).verifyLog(edited.tenantId, system)), [
        false,
        15,
        'payload_altered',
      ]);
      assert.deepEqual(verdict(await inRanges(2).verifyLog(cut.tenantId, system)), [false, 14, 'truncated']);
    });

    it('should name the first problem when both ranges have one', async () => {
      const t = await sealedLog();

      await update(t, 14).set({ ip: '203.0.113.66' }).execute();
      await update(t, 5).set({ details: '{"n":999}' }).execute();

      assert.deepEqual(verdict(await inRanges(2).verifyLog(t.tenantId, system)), [
        false,
        5,
        'payload_altered',
      ]);
    });

    it('should check the link between ranges', async () => {
      const relinked = await sealedLog();
      const anchorGone = await sealedLog();
      const firstGone = await sealedLog();
      const anchorForged = await sealedLog();
      const e = await storedEntry(relinked, 11);
      // Entry 11, the first of the second range, made to follow another predecessor: its own hashes
      // are consistent, only the link to entry 10, the last of the first range, is broken.
      const hashes = chainEntry(e, e, 'f'.repeat(64));
      await update(relinked, 11).set({ prev_hash: hashes.prevHash, entry_hash: hashes.entryHash }).execute();
      await db()
        .deleteFrom('audit_events')
        .where('log_id', '=', anchorGone.tenantId)
        .where('seq', '=', 10)
        .execute();
      await db()
        .deleteFrom('audit_events')
        .where('log_id', '=', firstGone.tenantId)
        .where('seq', '=', 11)
        .execute();
      // Entry 10, the last of the first range (the second range's anchor), inserted with correct hashes.
      await insertForged(anchorForged, 10);

      const expected = [
        [relinked, 11, 'chain_broken'],
        [anchorGone, 10, 'missing_entry'],
        [firstGone, 11, 'missing_entry'],
        [anchorForged, 10, 'inserted_entry'],
      ] as const;
      for (const [t, seq, problem] of expected) {
        assert.deepEqual(verdict(await inRanges(2).verifyLog(t.tenantId, system)), [false, seq, problem]);
      }
    });

    it('should name an entry whose payload was edited', async () => {
      const t = await sealedLog();

      await update(t, 5).set({ details: '{"n":999}' }).execute();

      await expectDetected(t, 5, ['payload_altered']);
    });

    it('should name an entry whose IP address was edited', async () => {
      const t = await sealedLog();

      await update(t, 6).set({ ip: '203.0.113.66' }).execute();

      await expectDetected(t, 6, ['telemetry_altered']);
    });

    it('should name an entry whose user agent was edited', async () => {
      const t = await sealedLog();

      await update(t, 11).set({ user_agent: 'innocent-browser/2' }).execute();

      await expectDetected(t, 11, ['telemetry_altered']);
    });

    it('should name a deleted entry', async () => {
      const t = await sealedLog();

      await db().deleteFrom('audit_events').where('log_id', '=', t.tenantId).where('seq', '=', 10).execute();

      await expectDetected(t, 10, ['missing_entry']);
    });

    /** Inserts an entry with correct hashes at `seq` (following seq - 1), renumbering the later ones. */
    async function insertForged(t: TenantFixture, seq: number): Promise<void> {
      const before = await storedEntry(t, seq - 1);
      const original = await storedEntry(t, seq);

      await db()
        .updateTable('audit_events')
        .set({ seq: sql`seq + 1000` })
        .where('log_id', '=', t.tenantId)
        .where('seq', '>=', seq)
        .execute();
      await db()
        .updateTable('audit_events')
        .set({ seq: sql`seq - 999` })
        .where('log_id', '=', t.tenantId)
        .where('seq', '>', 1000)
        .execute();
      const forged = { ...original, action: 'file.view', details: '{"forged":true}', seq };
      const hashes = chainEntry(forged, forged, before.entryHash);
      await db()
        .insertInto('audit_events')
        .values({
          id: crypto.randomUUID(),
          log_id: t.tenantId,
          seq,
          tenant_id: t.tenantId,
          occurred_at: forged.occurredAt,
          actor_type: forged.actorType,
          actor_id: forged.actorId,
          action: forged.action,
          outcome: forged.outcome,
          target_type: forged.targetType,
          target_id: forged.targetId,
          file_id: forged.fileId,
          channel: forged.channel,
          ip: forged.ip,
          user_agent: forged.userAgent,
          details: forged.details,
          telemetry_salt: forged.salt,
          telemetry_hash: hashes.telemetryHash,
          payload_hash: hashes.payloadHash,
          prev_hash: hashes.prevHash,
          entry_hash: hashes.entryHash,
        })
        .execute();
      await db()
        .updateTable('audit_heads')
        .set({ seq: sql`seq + 1` })
        .where('log_id', '=', t.tenantId)
        .execute();
    }

    it('should name an entry inserted with correct hashes, the later ones renumbered', async () => {
      const t = await sealedLog();

      await insertForged(t, 12);

      await expectDetected(t, 12, ['inserted_entry']);
    });

    it('should name the first of two entries whose seqs were swapped', async () => {
      const t = await sealedLog();

      await update(t, 14).set({ seq: -14 }).execute();
      await update(t, 15).set({ seq: 14 }).execute();
      await update(t, -14).set({ seq: 15 }).execute();

      await expectDetected(t, 14, ['payload_altered']);
    });

    it('should detect a tail cut behind the last checkpoint', async () => {
      const t = await sealedLog();

      await db().deleteFrom('audit_events').where('log_id', '=', t.tenantId).where('seq', '>', 13).execute();

      // The live check sees the cut before the entry it appends (truncated); the export carries
      // that audit.verify entry after the gap, so offline the gap shows as missing entries.
      await expectDetected(t, 14, ['truncated', 'missing_entry']);
    });

    it('should detect a rewrite with recomputed hashes at the next signed checkpoint', async () => {
      const t = await sealedLog();
      let prev = (await storedEntry(t, 9)).entryHash;
      for (let seq = 10; seq <= 20; seq++) {
        const e = await storedEntry(t, seq);
        const rewritten = { ...e, actorId: seq === 10 ? 'someone-else' : e.actorId };
        const hashes = chainEntry(rewritten, rewritten, prev);
        await update(t, seq)
          .set({
            actor_id: rewritten.actorId,
            payload_hash: hashes.payloadHash,
            prev_hash: hashes.prevHash,
            entry_hash: hashes.entryHash,
          })
          .execute();
        prev = hashes.entryHash;
      }
      await db()
        .updateTable('audit_heads')
        .set({ last_hash: prev })
        .where('log_id', '=', t.tenantId)
        .execute();

      const detail = await expectDetected(t, 16, ['checkpoint_mismatch']);

      // The range that found it started after the checkpoint at 8, which still bounds the rewrite.
      assert.match(detail, /entries 9\.\.16 were rewritten/);
    });

    it('should detect a forged checkpoint', async () => {
      const t = await sealedLog();
      const e = await storedEntry(t, 12);
      const forger = generateKeyPairSync('ed25519');
      const [real] = await ctx.services.auditVerification.listPublicKeys();
      const forged = signCheckpoint(
        {
          logId: t.tenantId,
          seq: 12,
          entryHash: e.entryHash,
          createdAt: Date.now(),
          keyId: real?.keyId ?? '',
        },
        forger.privateKey,
      );

      await chain().insertCheckpoint(forged);

      await expectDetected(t, 12, ['checkpoint_signature_invalid']);
    });
  });
}
