// The tamper-evident activity log: (a) append rate with many concurrent appenders while the same
// process serves HTTP requests (each of which appends too), and (b) live verification of a log of
// 1,000,000 entries (a real chain, inserted directly in big batches), on SQLite then PostgreSQL.
// Targets: >= 10,000 appends/s; verification < 10 s.
//
//   npm run bench:audit [-- --entries 1000000 --seconds 10 --appenders 64 --dialects sqlite,postgres --no-write]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Insertable } from 'kysely';
import type { AuditEventTable } from '../src/adapters/db/tables.ts';
import { Argon2PasswordHasher } from '../src/adapters/security/argon2-hasher.ts';
import { compose, type Services } from '../src/compose.ts';
import { loadConfig } from '../src/config/load.ts';
import { toRow } from '../src/adapters/db/repositories/audit.repository.ts';
import { GENESIS_HASH } from '../src/core/audit/chain.ts';
import { newId } from '../src/core/shared/ids.ts';
import { buildApp } from '../src/http/app.ts';
import { describeMachine } from './machine.ts';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    appenders: { type: 'string', default: '64' },
    logs: { type: 'string', default: '8' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ENTRIES = Number(args.entries);
const SECONDS = Number(args.seconds);
const APPENDERS = Number(args.appenders);
const LOGS = Number(args.logs);
const PG_ADMIN = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Result {
  dialect: string;
  appendsPerSecond: number;
  httpPerSecond: number;
  appendLoad: string;
  verifySeconds: number;
  verifiedEntries: number;
  verifyLoad: string;
}

async function withServices<T>(dialect: string, work: (s: Services) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'custodia-bench-audit-'));
  const dbName = `custodia_bench_audit_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  let url = `sqlite:${join(dir, 'custodia.db')}`;
  if (dialect === 'postgres') {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(PG_ADMIN);
    u.pathname = `/${dbName}`;
    url = u.toString();
  }
  const config = loadConfig({
    CUSTODIA_DATA_DIR: dir,
    CUSTODIA_DATABASE_URL: url,
    CUSTODIA_KEYSTORE_URL: dialect === 'sqlite' ? `sqlite:${join(dir, 'keys.db')}` : url,
    CUSTODIA_LOG_LEVEL: 'silent',
    CUSTODIA_RATE_LIMIT_PER_MINUTE: '10000000',
    CUSTODIA_NOT_FOUND_LIMIT_PER_MINUTE: '10000000',
  });
  const services = await compose(config, {
    hasher: new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 }),
  });
  try {
    return await work(services);
  } finally {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
  }
}

/** (a) Appenders spread over LOGS logs, while HTTP clients keep the server busy (each request appends). */
async function appendRate(
  s: Services,
): Promise<{ appendsPerSecond: number; httpPerSecond: number; load: string }> {
  const app = await buildApp(s);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const operator = { kind: 'operator' as const, userId: 'bench', channel: 'cli' as const };
  await s.members.completeSetup({
    isLocalConsole: true,
    email: 'op@example.com',
    displayName: 'Op',
    password: 'bench horse battery staple',
    origin: { channel: 'cli' },
  });
  const [op] = await s.store.repos.users.listOperators();
  const tenants: Array<{ id: string }> = [];
  for (let i = 0; i < LOGS; i++) {
    tenants.push(
      await s.tenants.createTenant({ ...operator, userId: op?.id ?? '' }, { name: `B${i}`, slug: `b${i}` }),
    );
  }
  const owner = await s.members.inviteMember(
    { ...operator, userId: op?.id ?? '' },
    { tenantId: tenants[0]?.id ?? '', email: 'o@b0.example', role: 'owner' },
  );
  const user = await s.members.acceptInvitation({
    token: owner.token,
    displayName: 'O',
    password: 'bench horse battery staple',
    origin: { channel: 'web' },
  });
  const token = await s.members.createToken(
    { kind: 'member', tenantId: tenants[0]?.id ?? '', userId: user.id, role: 'owner', channel: 'cli' },
    { name: 'bench' },
  );
  const root = await s.store.repos.nodes.findRoot(tenants[0]?.id ?? '');
  const put = await fetch(`http://127.0.0.1:${port}/api/v1/nodes/${root?.id}/files/bench.txt`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/octet-stream' },
    body: 'a small file that every HTTP client downloads',
  });
  const fileId = ((await put.json()) as { node: { id: string } }).node.id;
  const deadline = Date.now() + SECONDS * 1000;
  let appends = 0;
  let requests = 0;
  const appender = async (i: number) => {
    const tenantId = tenants[i % tenants.length]?.id ?? '';
    while (Date.now() < deadline) {
      await s.store.repos.audit.append({
        tenantId,
        action: 'file.download',
        actorType: 'user',
        actorId: user.id,
        targetType: 'file',
        targetId: newId(),
        channel: 'api',
        ip: '198.51.100.23',
        userAgent: 'bench/1',
        details: { versionId: newId() },
      });
      appends++;
    }
  };
  // HTTP load: downloads, each of which is itself recorded (file.download) in tenant 0's log.
  const client = async () => {
    while (Date.now() < deadline) {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/nodes/${fileId}/content`, {
        headers: { authorization: `Bearer ${token.token}` },
      });
      await r.arrayBuffer();
      requests++;
    }
  };
  const started = performance.now();
  await Promise.all([
    ...Array.from({ length: APPENDERS }, (_, i) => appender(i)),
    ...Array.from({ length: 8 }, () => client()),
  ]);
  const elapsed = (performance.now() - started) / 1000;
  const load = loadavg()[0]?.toFixed(2) ?? '?';
  await app.close();
  return {
    appendsPerSecond: Math.round(appends / elapsed),
    httpPerSecond: Math.round(requests / elapsed),
    load,
  };
}

/** (b) A real chain of ENTRIES entries in one log, inserted in batches, then verified live. */
async function verifyRate(s: Services): Promise<{ seconds: number; entries: number; load: string }> {
  const logId = newId();
  const db = s.database.db;
  const batch = s.database.dialect === 'sqlite' ? 1000 : 2000;
  let prev = GENESIS_HASH;
  const t0 = Date.UTC(2026, 0, 1);
  for (let from = 1; from <= ENTRIES; from += batch) {
    const rows: Insertable<AuditEventTable>[] = [];
    for (let seq = from; seq < Math.min(from + batch, ENTRIES + 1); seq++) {
      // Every 3rd entry has no telemetry (as after expiry: no salt to check).
      const hasTelemetry = seq % 3 !== 0;
      const row = toRow(
        logId,
        seq,
        t0 + seq * 10,
        {
          tenantId: logId,
          action: seq % 3 ? 'file.download' : 'file.upload',
          actorType: 'user',
          actorId: `user-${seq % 50}`,
          targetType: 'file',
          targetId: `file-${seq % 5000}`,
          channel: 'api',
          ...(hasTelemetry ? { ip: `10.0.${seq % 250}.${seq % 200}`, userAgent: 'Mozilla/5.0 bench' } : {}),
          details: { size: seq },
        },
        prev,
      );
      prev = row.entry_hash;
      rows.push(row);
    }
    await db.insertInto('audit_events').values(rows).execute();
  }
  await db.insertInto('audit_heads').values({ log_id: logId, seq: ENTRIES, last_hash: prev }).execute();
  await s.auditCheckpoints.checkpoint(logId);
  const started = performance.now();
  const result = await s.auditVerification.verifyLog(logId, { kind: 'system', channel: 'cli' });
  const seconds = (performance.now() - started) / 1000;
  if (!result.isValid || result.entries !== ENTRIES) {
    throw new Error(`verification failed: ${JSON.stringify(result)}`);
  }
  return { seconds, entries: result.entries, load: loadavg()[0]?.toFixed(2) ?? '?' };
}

const results: Result[] = [];
for (const dialect of (args.dialects ?? '').split(',')) {
  const a = await withServices(dialect, appendRate);
  console.log(
    `${dialect}: ${a.appendsPerSecond} appends/s with ${a.httpPerSecond} HTTP req/s beside (load ${a.load})`,
  );
  const b = await withServices(dialect, verifyRate);
  console.log(`${dialect}: verified ${b.entries} entries in ${b.seconds.toFixed(2)} s (load ${b.load})`);
  results.push({
    dialect,
    appendsPerSecond: a.appendsPerSecond,
    httpPerSecond: a.httpPerSecond,
    appendLoad: a.load,
    verifySeconds: b.seconds,
    verifiedEntries: b.entries,
    verifyLoad: b.load,
  });
}

if (!args['no-write']) {
  const machine = await describeMachine(tmpdir());
  const section = [
    '<!-- bench:audit:begin -->',
    '## Activity log: append rate and verification',
    '',
    `Command: \`npm run bench:audit -- --entries ${ENTRIES} --seconds ${SECONDS} --appenders ${APPENDERS}\` · ${machine.date}`,
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memory}, ${machine.kernel}, Node ${machine.node}; load average (1, 5, 15 min) when the run ended ${machine.loadAverage}; the machine is shared with other work, so the load column gives the 1-minute load at each measurement.`,
    '',
    '| dialect | appends/s (target ≥ 10,000) | HTTP req/s alongside | load | verify 1M entries (target < 10 s) | load |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.dialect} | ${r.appendsPerSecond.toLocaleString('en')} | ${r.httpPerSecond} | ${r.appendLoad} | ${r.verifySeconds.toFixed(2)} s (${r.verifiedEntries.toLocaleString('en')} entries) | ${r.verifyLoad} |`,
    ),
    '',
    `${APPENDERS} concurrent appenders over ${LOGS} organisations' logs, each awaiting its own event's commit (events that record no change are batched, across logs, see KyselyAuditLog), while 8 HTTP clients download a file from the same process (each download appends a file.download event too; those are not counted in appends/s). Verification reads the log in seq ranges of 10,000 (the next one requested while the current one is checked) and checks every hash, link and signed checkpoint.`,
    '<!-- bench:audit:end -->',
  ].join('\n');
  const path = join(import.meta.dirname, '..', 'docs', 'BENCHMARKS.md');
  const doc = readFileSync(path, 'utf8');
  const begin = doc.indexOf('<!-- bench:audit:begin -->');
  const end = doc.indexOf('<!-- bench:audit:end -->');
  writeFileSync(
    path,
    begin >= 0 && end > begin
      ? doc.slice(0, begin) + section + doc.slice(end + '<!-- bench:audit:end -->'.length)
      : `${doc.trimEnd()}\n\n${section}\n`,
  );
}
