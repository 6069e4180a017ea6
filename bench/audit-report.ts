// Activity reports over a large log: fills a fresh database (SQLite, then PostgreSQL) with
// 1,000,000 audit entries across a few tenants, files, people and addresses, inserted directly in
// big batches (the point is the read path), then times the first page of each kind of filtered
// report through the real service and repository, and once through HTTP. Target: < 200 ms.
//
//   npm run bench:audit-report [-- --entries 1000000 --dialects sqlite,postgres --no-write]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql, type Insertable, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database, AuditEventTable } from '../src/adapters/db/tables.ts';
import { Argon2PasswordHasher } from '../src/adapters/security/argon2-hasher.ts';
import { compose, type Services } from '../src/compose.ts';
import { loadConfig } from '../src/config/load.ts';
import type { RawReportQuery } from '../src/core/audit/report.query.ts';
import type { TenantActor } from '../src/core/shared/context.ts';
import { newId } from '../src/core/shared/ids.ts';
import { buildApp } from '../src/http/app.ts';
import { describeMachine } from './machine.ts';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
    runs: { type: 'string', default: '7' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ENTRIES = Number(args.entries);
const RUNS = Number(args.runs);
const TARGET_MS = 200;
const PG_ADMIN = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DAY = 86_400_000;
const SPAN_DAYS = 365;
const PASSWORD = 'bench horse battery staple';

/** Actions and how often each occurs (downloads dominate, as they do in a real log). */
const ACTIONS: [string, number, boolean][] = [
  ['file.download', 40, true],
  ['file.view', 10, true],
  ['file.upload', 8, true],
  ['file.version_add', 6, true],
  ['file.version_restore', 1, true],
  ['node.rename', 3, true],
  ['node.move', 3, true],
  ['node.trash', 2, true],
  ['node.restore', 1, true],
  ['share.create', 3, true],
  ['share.download', 4, true],
  ['share.revoke', 1, true],
  ['folder.create', 3, false],
  ['auth.sign_in', 8, false],
  ['auth.sign_out', 3, false],
  ['auth.second_factor', 2, false],
  ['member.invite', 1, false],
  ['token.create', 1, false],
];

interface Scenario {
  name: string;
  query: (w: World) => RawReportQuery;
}

interface World {
  tenantId: string;
  busyFile: string;
  quietFile: string;
  busyActor: string;
  busyIp: string;
  rareIp: string;
  newest: number;
}

interface DialectResult {
  dialect: string;
  fillSeconds: number;
  timings: Timing[];
  http: Timing;
  plans: string[];
}

interface Timing {
  scenario: string;
  medianMs: number;
  maxMs: number;
  rows: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'no filter (newest entries)', query: () => ({}) },
  { name: 'by file (busy file)', query: (w) => ({ file: w.busyFile }) },
  { name: 'by file (quiet file)', query: (w) => ({ file: w.quietFile }) },
  { name: 'by user (incl. API tokens)', query: (w) => ({ actor: w.busyActor }) },
  { name: 'by IP address', query: (w) => ({ ip: w.busyIp }) },
  { name: 'by action (file.download)', query: () => ({ action: 'file.download' }) },
  { name: 'by action family (share.)', query: () => ({ action: 'share.' }) },
  { name: 'by period (last 7 days)', query: (w) => period(w.newest - 7 * DAY, w.newest) },
  {
    name: 'by period (one week, 6 months ago)',
    query: (w) => period(w.newest - 190 * DAY, w.newest - 183 * DAY),
  },
  {
    name: 'by period (a quarter, 9 months ago)',
    query: (w) => period(w.newest - 270 * DAY, w.newest - 180 * DAY),
  },
  {
    name: 'combined: user + action family + period (30 days)',
    query: (w) => ({ actor: w.busyActor, action: 'file.', ...period(w.newest - 30 * DAY, w.newest) }),
  },
  { name: 'combined: file + rare IP (few matches)', query: (w) => ({ file: w.busyFile, ip: w.rareIp }) },
];

function period(from: number, to: number): RawReportQuery {
  return { from: String(from), to: String(to) };
}

async function main(): Promise<void> {
  const machine = await describeMachine(tmpdir());
  const results: DialectResult[] = [];
  for (const dialect of args.dialects.split(',')) {
    results.push(await benchDialect(dialect === 'postgres' ? 'postgres' : 'sqlite'));
  }
  const section = render(machine, results);
  console.log(section);
  if (!args['no-write']) {
    writeSection(section);
  }
}

/** What a run leaves behind until it ends: removed on an interrupt too. */
const scratch = { dataDir: '', pgName: '' };
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    rmSync(scratch.dataDir || '/nonexistent', { recursive: true, force: true });
    const drop = scratch.pgName ? admin(`DROP DATABASE IF EXISTS ${scratch.pgName} WITH (FORCE)`) : undefined;
    void Promise.resolve(drop)
      .catch(() => undefined)
      .finally(() => process.exit(130));
  });
}

async function benchDialect(dialect: 'sqlite' | 'postgres') {
  const dataDir = mkdtempSync(join(tmpdir(), 'custodia-bench-report-'));
  const pgName = `custodia_bench_report_${randomBytes(4).toString('hex')}`;
  scratch.dataDir = dataDir;
  let url = `sqlite:${join(dataDir, 'custodia.db')}`;
  if (dialect === 'postgres') {
    await admin(`CREATE DATABASE ${pgName}`);
    scratch.pgName = pgName;
    const u = new URL(PG_ADMIN);
    u.pathname = `/${pgName}`;
    url = u.toString();
  }
  const services = await compose(
    loadConfig({
      CUSTODIA_DATA_DIR: dataDir,
      CUSTODIA_DATABASE_URL: url,
      CUSTODIA_KEYSTORE_URL: dialect === 'sqlite' ? `sqlite:${join(dataDir, 'keystore.db')}` : url,
      CUSTODIA_PUBLIC_URL: 'http://localhost:8080',
      CUSTODIA_LOG_LEVEL: 'silent',
      CUSTODIA_RATE_LIMIT_PER_MINUTE: '100000',
    }),
    { hasher: new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 }) },
  );
  try {
    const { actor, token } = await createTenant(services);
    console.error(`# ${dialect}: filling ${ENTRIES.toLocaleString('en')} entries…`);
    const started = performance.now();
    const world = await fill(services.database.db, actor.tenantId);
    const fillSeconds = (performance.now() - started) / 1000;
    console.error(`# ${dialect}: filled in ${fillSeconds.toFixed(1)} s`);
    if (dialect === 'postgres') {
      // What autovacuum does after a bulk load: statistics and the visibility map (index-only scans).
      await sql`VACUUM ANALYZE audit_events`.execute(services.database.db);
    }
    const plans = await explain(services.database.db, dialect, world);
    const timings: Timing[] = [];
    for (const scenario of SCENARIOS) {
      const query = scenario.query(world);
      timings.push(
        await time(
          scenario.name,
          async () => (await services.reports.listEvents(actor, query)).entries.length,
        ),
      );
      console.error(`# ${dialect}: ${scenario.name}: ${timings.at(-1)?.medianMs.toFixed(1)} ms`);
    }
    const app = await buildApp(services);
    await app.ready();
    const http = await time('HTTP GET /api/v1/audit/events?file=…&action=file.', async () => {
      const response = await app.inject({
        method: 'GET',
        url: `/api/v1/audit/events?file=${world.busyFile}&action=file.`,
        headers: { authorization: `Bearer ${token}` },
      });
      if (response.statusCode !== 200) {
        throw new Error(`HTTP ${response.statusCode}: ${response.body}`);
      }
      return (response.json() as { entries: unknown[] }).entries.length;
    });
    await app.close();
    return { dialect, fillSeconds, timings, http, plans };
  } finally {
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      await admin(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
    }
  }
}

/** A real tenant with an owner and an API token, made through the services (for the HTTP timing). */
async function createTenant(s: Services): Promise<{ actor: TenantActor; token: string }> {
  await s.members.completeSetup({
    isLocalConsole: true,
    email: 'operator@bench.example',
    displayName: 'Operator',
    password: PASSWORD,
    origin: { channel: 'cli' },
  });
  const [operator] = await s.store.repos.users.listOperators();
  if (!operator) {
    throw new Error('no operator');
  }
  const op = { kind: 'operator' as const, userId: operator.id, channel: 'cli' as const };
  const tenant = await s.tenants.createTenant(op, { name: 'Bench Ltd', slug: 'bench' });
  const invite = await s.members.inviteMember(op, {
    tenantId: tenant.id,
    email: 'owner@bench.example',
    role: 'owner',
  });
  const owner = await s.members.acceptInvitation({
    token: invite.token,
    displayName: 'Owner',
    password: PASSWORD,
    origin: { channel: 'web' },
  });
  const actor: TenantActor = {
    kind: 'member',
    tenantId: tenant.id,
    userId: owner.id,
    role: 'owner',
    channel: 'api',
  };
  const token = await s.members.createToken({ ...actor, channel: 'cli' }, { name: 'bench' });
  return { actor, token: token.token };
}

/**
 * 70% of the entries go to the benchmarked tenant, the rest to three others (their rows share the
 * indexes). Files, people and addresses are drawn with a skew so some are busy and some quiet.
 */
async function fill(db: Kysely<Database>, tenantId: string): Promise<World> {
  const tenants = [tenantId, newId(), newId(), newId()];
  const files = tenants.map(() => Array.from({ length: 2000 }, () => newId()));
  const actors = tenants.map(() => Array.from({ length: 60 }, () => newId()));
  const ips = Array.from({ length: 400 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) % 250}`);
  // The benchmarked tenant's people each have an API token; a user report includes token actions.
  const tokenOf = new Map((actors[0] ?? []).map((a) => [a, newId()]));
  await addPeopleAndFiles(db, tenantId, tokenOf, files[0] ?? []);
  const head = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('log_id', '=', tenantId)
    .executeTakeFirst();
  const seqs = tenants.map((t) => (t === tenantId ? Number(head?.seq ?? 0) : 0));
  const totalWeight = ACTIONS.reduce((sum, [, w]) => sum + w, 0);
  const newest = Date.now();
  const start = newest - SPAN_DAYS * DAY;
  const batchSize = 1000;
  let rnd = 42;
  const random = () => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const skewed = <T>(list: T[]) => list[Math.floor(list.length * random() ** 3)] as T;
  let pending: Insertable<AuditEventTable>[][] = [];
  const flush = async () => {
    const batches = pending;
    pending = [];
    // Twenty statements a transaction: one fsync per 20,000 rows instead of per 1,000.
    await db.transaction().execute(async (trx) => {
      for (const rows of batches) {
        await trx.insertInto('audit_events').values(rows).execute();
      }
    });
  };
  for (let done = 0; done < ENTRIES; done += batchSize) {
    const rows: Insertable<AuditEventTable>[] = [];
    for (let i = 0; i < Math.min(batchSize, ENTRIES - done); i++) {
      const n = done + i;
      const t = random() < 0.7 ? 0 : 1 + Math.floor(random() * 3);
      let pick = random() * totalWeight;
      const [action, , isFileAction] = ACTIONS.find(([, w]) => (pick -= w) < 0) ?? ACTIONS[0]!;
      const actor = skewed(actors[t] ?? []);
      const fileId = isFileAction ? skewed(files[t] ?? []) : null;
      const seq = ++seqs[t]!;
      rows.push({
        id: newId(),
        log_id: tenants[t]!,
        seq,
        tenant_id: tenants[t]!,
        occurred_at: start + Math.floor((n / ENTRIES) * SPAN_DAYS * DAY),
        actor_id: random() < 0.1 ? `${actor}/${tokenOf.get(actor) ?? actor}` : actor,
        actor_type: 'user',
        action,
        outcome: random() < 0.02 ? 'failure' : 'success',
        target_type: fileId ? 'file' : null,
        target_id: fileId,
        file_id: fileId,
        channel: random() < 0.8 ? 'web' : 'api',
        ip: skewed(ips),
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) bench',
        details: fileId ? `{"size":${n % 100_000}}` : null,
        payload_hash: null,
        prev_hash: null,
        entry_hash: randomBytes(32).toString('hex'),
        telemetry_salt: null,
        telemetry_hash: null,
        telemetry_expired_at: null,
      });
    }
    pending.push(rows);
    if (pending.length === 20) {
      await flush();
    }
    if (done % 100_000 === 0 && done > 0) {
      console.error(`#   ${done.toLocaleString('en')}`);
    }
  }
  await flush();
  await db
    .updateTable('audit_heads')
    .set({ seq: seqs[0] ?? 0 })
    .where('log_id', '=', tenantId)
    .execute();
  const files0 = files[0] ?? [];
  const actors0 = actors[0] ?? [];
  return {
    tenantId,
    busyFile: files0[0] ?? '',
    quietFile: files0.at(-1) ?? '',
    busyActor: actors0[0] ?? '',
    busyIp: ips[0] ?? '',
    rareIp: ips.at(-1) ?? '',
    newest,
  };
}

/** Members and files of the benchmarked tenant, so names resolve as they would in real use. */
async function addPeopleAndFiles(
  db: Kysely<Database>,
  tenantId: string,
  tokenOf: Map<string, string>,
  files: string[],
) {
  const actors = [...tokenOf.keys()];
  const now = Date.now();
  await db
    .insertInto('users')
    .values(
      actors.map((id, i) => ({
        id,
        email: `person${i}@bench.example`,
        display_name: `Person ${i}`,
        password_hash: null,
        created_at: now,
        totp_secret_enc: null,
        totp_pending_enc: null,
        mfa_enabled_at: null,
        locked_until: null,
        disabled_at: null,
      })),
    )
    .execute();
  await db
    .insertInto('memberships')
    .values(actors.map((id) => ({ tenant_id: tenantId, user_id: id, role: 'member', created_at: now })))
    .execute();
  await db
    .insertInto('api_tokens')
    .values(
      [...tokenOf].map(([userId, id]) => ({
        id,
        tenant_id: tenantId,
        user_id: userId,
        name: 'bench',
        role: 'member',
        token_hash: id,
        prefix: 'cst_',
        created_at: now,
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
      })),
    )
    .execute();
  const root = await db
    .selectFrom('nodes')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('parent_id', 'is', null)
    .executeTakeFirstOrThrow();
  for (let i = 0; i < files.length; i += 500) {
    await db
      .insertInto('nodes')
      .values(
        files.slice(i, i + 500).map((id, j) => ({
          id,
          tenant_id: tenantId,
          parent_id: root.id,
          kind: 'file',
          name: `document-${i + j}.pdf`,
          name_key: `document-${i + j}.pdf`,
          current_version_id: null,
          size: 0,
          mime_type: 'application/pdf',
          created_by: null,
          updated_by: null,
          created_at: now,
          updated_at: now,
          trashed_at: null,
          trashed_by: null,
          trash_root_id: null,
        })),
      )
      .execute();
  }
}

async function time(scenario: string, run: () => Promise<number>): Promise<Timing> {
  await run(); // warm the statement cache and the page cache once
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    rows = await run();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return {
    scenario,
    medianMs: samples[Math.floor(samples.length / 2)] ?? 0,
    maxMs: samples.at(-1) ?? 0,
    rows,
  };
}

/** Prints the plan of the main per-filter queries, so a missing index shows at once. */
async function explain(db: Kysely<Database>, dialect: string, w: World): Promise<string[]> {
  const plans: string[] = [];
  const queries: [string, ReturnType<typeof sql>][] = [
    [
      'file',
      sql`SELECT * FROM audit_events WHERE log_id = ${w.tenantId} AND file_id = ${w.busyFile} ORDER BY seq DESC LIMIT 51`,
    ],
    [
      'actor',
      sql`SELECT * FROM audit_events WHERE log_id = ${w.tenantId} AND actor_id = ${w.busyActor} ORDER BY seq DESC LIMIT 51`,
    ],
    [
      'ip',
      sql`SELECT * FROM audit_events WHERE log_id = ${w.tenantId} AND ip = ${w.busyIp} ORDER BY seq DESC LIMIT 51`,
    ],
    [
      'action',
      sql`SELECT * FROM audit_events WHERE log_id = ${w.tenantId} AND action = ${'file.download'} ORDER BY seq DESC LIMIT 51`,
    ],
    [
      'period (short, in the past: seq read from the occurred_at index, then sorted)',
      sql`SELECT seq FROM audit_events WHERE log_id = ${w.tenantId} AND occurred_at >= ${w.newest - 190 * DAY} AND occurred_at <= ${w.newest - 183 * DAY} ORDER BY seq + 0 DESC LIMIT 51`,
    ],
    [
      'one person, an action family (file.*), 30 days',
      sql`SELECT * FROM audit_events WHERE log_id = ${w.tenantId} AND actor_id = ${w.busyActor} AND action IN (${sql.join(['file.download', 'file.upload', 'file.view', 'file.version_add', 'file.version_restore'])}) AND ${dialect === 'sqlite' ? sql.raw('+occurred_at') : sql.raw('occurred_at')} >= ${w.newest - 30 * DAY} AND ${dialect === 'sqlite' ? sql.raw('+occurred_at') : sql.raw('occurred_at')} <= ${w.newest} ORDER BY seq DESC LIMIT 51`,
    ],
    [
      'action walk',
      sql`SELECT MIN(action) FROM audit_events WHERE log_id = ${w.tenantId} AND action > ${'file.'}`,
    ],
  ];
  for (const [name, query] of queries) {
    const prefix =
      dialect === 'postgres'
        ? sql.raw(process.env.BENCH_EXPLAIN_ANALYZE ? 'EXPLAIN ANALYZE ' : 'EXPLAIN ')
        : sql`EXPLAIN QUERY PLAN `;
    const { rows } = await sql`${prefix}${query}`.execute(db);
    const text = rows.map((r) => Object.values(r as Record<string, unknown>).at(-1)).join(' | ');
    console.error(`# plan ${dialect} ${name}: ${text}`);
    plans.push(`${dialect}, ${name}: ${text.replace(/\s+/g, ' ').replace(/'[0-9a-f-]{36}'::text/g, '…')}`);
  }
  return plans;
}

function render(machine: Awaited<ReturnType<typeof describeMachine>>, results: DialectResult[]): string {
  const lines = [
    '<!-- bench:audit-report:begin -->',
    '### Activity reports over 1,000,000 entries',
    '',
    `Command: \`npm run bench:audit-report\` (${ENTRIES.toLocaleString('en')} entries, ${RUNS} timed runs per query after one warm-up; median and slowest shown).`,
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memory}, ${machine.kernel}, Node ${machine.node}.`,
    `Date: ${machine.date}; load average at start ${machine.loadAverage}, at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} (2 shared cores: other work on the machine shows in these figures).`,
    '',
    'The log: 70% of the entries in the benchmarked tenant, the rest in three others; 2,000 files, 60 people',
    'and 400 addresses per tenant, drawn with a skew (busy and quiet ones), a year of history, 18 actions.',
    'Each figure is the first page (50 entries) through `ReportService.listEvents` and the Kysely',
    `repository, names resolved; the target is ${TARGET_MS} ms.`,
    '',
    `| query | ${results.map((r) => `${r.dialect} median / max (ms)`).join(' | ')} |`,
    `| --- | ${results.map(() => '---').join(' | ')} |`,
  ];
  const scenarios = [...SCENARIOS.map((s) => s.name), results[0]?.http.scenario ?? ''];
  for (const name of scenarios) {
    const cells = results.map((r) => {
      const t = [...r.timings, r.http].find((x) => x.scenario === name);
      return t ? `${t.medianMs.toFixed(1)} / ${t.maxMs.toFixed(1)}${t.maxMs > TARGET_MS ? ' ⚠' : ''}` : '';
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push(
    'Query plans (EXPLAIN): each filter walks its own (log_id, column, seq) index backwards and stops after a page; a short period in the past is read off the covering occurred_at index and sorted; a family of actions is resolved by a loose index scan.',
  );
  lines.push('');
  for (const plan of results.flatMap((r) => r.plans)) {
    lines.push(`- \`${plan.length > 260 ? `${plan.slice(0, 257)}…` : plan}\``);
  }
  lines.push('');
  lines.push(
    `Fill time (direct batched inserts, not the append path): ${results.map((r) => `${r.dialect} ${r.fillSeconds.toFixed(0)} s`).join(', ')}.`,
  );
  lines.push('<!-- bench:audit-report:end -->');
  return lines.join('\n');
}

function writeSection(section: string): void {
  const path = new URL('../docs/BENCHMARKS.md', import.meta.url);
  const doc = readFileSync(path, 'utf8');
  const pattern = /<!-- bench:audit-report:begin -->[\s\S]*?<!-- bench:audit-report:end -->/;
  writeFileSync(path, pattern.test(doc) ? doc.replace(pattern, section) : `${doc.trimEnd()}\n\n${section}\n`);
}

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

await main();
