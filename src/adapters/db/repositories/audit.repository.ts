import { randomBytes } from 'node:crypto';
import { CompiledQuery, PostgresAdapter, sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { OPERATOR_LOG_ID, type AuditEvent, type AuditEventInput } from '../../../core/audit/audit.types.ts';
import type { AuditLog, AuditQuery, AuditReader } from '../../../core/audit/ports.ts';
import type { Clock } from '../../../core/shared/clock.ts';
import { newId } from '../../../core/shared/ids.ts';
import {
  canonicalJson,
  chainEntry,
  GENESIS_HASH,
  newTelemetrySalt,
  type ChainedFields,
} from '../../../core/audit/chain.ts';
import type { AuditEventTable, Database } from '../tables.ts';

export { OPERATOR_LOG_ID };

/** Called after an append that completes a block of entries (see AuditAppendOptions). */
export interface AuditAppendOptions {
  /** A checkpoint is due whenever a log's seq reaches a multiple of this. */
  checkpointEvery: number;
  /** Told (after the append, without waiting) that `logId` has `seq` entries and wants a checkpoint. */
  onCheckpointDue(logId: string, seq: number): void;
}

/**
 * PostgreSQL: batches written side by side, each for its own share of the logs (see #laneOf). Two
 * gave 31% more appends/s than one in bench/audit.ts on two cores; four no more than two, for
 * more CPU per append.
 */
const POSTGRES_LANES = 2;

/** Random bytes in a telemetry salt (as newTelemetrySalt makes them). */
const SALT_BYTES = 16;

/** Most events one batch writes, whatever logs they belong to. */
const MAX_BATCH = 1024;

/**
 * SQLite: rows per INSERT, from largest down; a batch is written as a few of these (300 = 256 + 32 +
 * 8 + 4). A handful of fixed statement texts stay in the driver's prepared-statement cache, where a
 * text per batch size would push everything else out of it. 256 rows x 21 columns stay well under
 * SQLite's 32,766 parameters.
 */
const SQLITE_CHUNKS = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/** The columns an append writes, in the order of the INSERTs below. */
const COLUMNS = [
  'id',
  'log_id',
  'seq',
  'tenant_id',
  'occurred_at',
  'actor_type',
  'actor_id',
  'action',
  'outcome',
  'target_type',
  'target_id',
  'file_id',
  'channel',
  'ip',
  'user_agent',
  'details',
  'telemetry_salt',
  'telemetry_hash',
  'payload_hash',
  'prev_hash',
  'entry_hash',
] as const satisfies ReadonlyArray<keyof AuditEventTable>;

type AuditRow = Insertable<AuditEventTable> & { entry_hash: string };

interface Lane {
  pending: Pending[];
  isDraining: boolean;
}

interface Pending {
  event: AuditEventInput;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Appends to a per-tenant log (or the operator's) and extends its hash chain (core/audit/chain.ts).
 *
 * The log's head row holds the last seq and entry hash. Bumping it first takes its row lock on
 * PostgreSQL (the single writer serialises on SQLite) until the transaction ends, so concurrent
 * appends to one log queue up behind each other: seq stays gap-free and each entry is chained to
 * the one committed before it. A rolled-back transaction takes its seq bump with it.
 *
 * An append inside a transaction joins it (the event commits with the change it records). An
 * event on its own (a download, a share-link visit, a failed sign-in) is batched instead: the
 * events of every log that arrive while the previous batch is being written go together in one
 * transaction — one statement bumps all their heads, one INSERT writes all their rows, one
 * statement sets the heads' last hashes — and one commit (one fsync). On PostgreSQL the logs are
 * shared out between two such queues (lanes), whose batches run side by side. Each caller still
 * returns only once its event is committed. If a batch fails, it is split in halves and each is
 * tried again, down to single events, so one bad event cannot sink the others.
 */
export class KyselyAuditLog implements AuditLog, AuditReader {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #options: AuditAppendOptions | undefined;
  readonly #isPostgres: boolean;
  /** Queues of events awaiting a batch; each log always goes to the same one (see #laneOf). */
  readonly #lanes: Lane[];

  constructor(db: Kysely<Database>, clock: Clock, options?: AuditAppendOptions) {
    this.#db = db;
    this.#clock = clock;
    this.#options = options;
    // The dialect's adapter, as the migrations tell them apart: no dialect to thread through every
    // createRepos for the one statement that differs.
    this.#isPostgres = db.getExecutor().adapter instanceof PostgresAdapter;
    const lanes = this.#isPostgres ? POSTGRES_LANES : 1;
    this.#lanes = Array.from({ length: lanes }, () => ({ pending: [], isDraining: false }));
  }

  append(event: AuditEventInput): Promise<void> {
    if (this.#db.isTransaction) {
      return this.#write(this.#db, [event]);
    }
    return new Promise((resolve, reject) => {
      const lane = this.#laneOf(logIdOf(event));
      lane.pending.push({ event, resolve, reject });
      if (!lane.isDraining) {
        lane.isDraining = true;
        void this.#drain(lane);
      }
    });
  }

  /**
   * The lane a log's standalone events are batched in. On PostgreSQL, logs are spread over a few
   * lanes, whose batches run side by side on their own connections: they hold disjoint sets of
   * heads, so they never wait for each other, and one batch's rows are inserted (by one server
   * process) while another's are hashed here. SQLite has one writer, and one lane.
   */
  #laneOf(logId: string): Lane {
    // Log ids are UUIDv7 (a random last digit) or 'operator'. The index is always in range: the
    // cast only tells the compiler so.
    return this.#lanes[logId.charCodeAt(logId.length - 1) % this.#lanes.length] as Lane;
  }

  /** Writes the lane's queued events a batch at a time until none is left. Never throws. */
  async #drain(lane: Lane): Promise<void> {
    // Let callers that are ready in this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (lane.pending.length > 0) {
      const batch = lane.pending.length <= MAX_BATCH ? lane.pending : lane.pending.slice(0, MAX_BATCH);
      lane.pending = lane.pending.length <= MAX_BATCH ? [] : lane.pending.slice(MAX_BATCH);
      await this.#commit(batch);
    }
    lane.isDraining = false;
  }

  /** Commits `batch` in one transaction; on failure, each half on its own. Settles every caller. */
  async #commit(batch: Pending[]): Promise<void> {
    try {
      await this.#db.transaction().execute((trx) =>
        this.#write(
          trx,
          batch.map((p) => p.event),
        ),
      );
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.#commit(batch.slice(0, half));
      await this.#commit(batch.slice(half));
      return;
    }
    for (const p of batch) {
      p.resolve();
    }
  }

  /** Appends `events` (any logs, in arrival order within each log) in the transaction `db`. */
  async #write(db: Kysely<Database>, events: AuditEventInput[]): Promise<void> {
    const byLog = new Map<string, AuditEventInput[]>();
    for (const event of events) {
      const logId = logIdOf(event);
      const list = byLog.get(logId);
      if (list) {
        list.push(event);
      } else {
        byLog.set(logId, [event]);
      }
    }
    // PostgreSQL takes the head row locks one by one, in VALUES order: always the same order, so
    // that two writers never each hold a head the other waits for (see byLockOrder).
    const logIds = [...byLog.keys()].sort(byLockOrder);
    const heads = await db
      .insertInto('audit_heads')
      .values(logIds.map((logId) => ({ log_id: logId, seq: byLog.get(logId)?.length ?? 0, last_hash: null })))
      .onConflict((oc) => oc.column('log_id').doUpdateSet({ seq: sql`audit_heads.seq + excluded.seq` }))
      .returning(['log_id', 'seq', 'last_hash'])
      .execute();
    if (heads.length !== logIds.length) {
      // Every event is written under its log's head; one missing would be acknowledged unwritten.
      throw new Error(`audit_heads answered for ${heads.length} of ${logIds.length} logs`);
    }
    const occurredAt = this.#clock.now();
    // One call into the CSPRNG for the batch's salts instead of one per entry (7% of the event
    // loop's time at 10,000 appends/s); an entry without telemetry leaves its 16 bytes unused.
    const random = randomBytes(SALT_BYTES * events.length);
    let used = 0;
    const nextSalt = () => random.toString('base64url', SALT_BYTES * used, SALT_BYTES * ++used);
    const rows: AuditRow[] = [];
    const tails: Array<{ log_id: string; seq: number; last_hash: string }> = [];
    for (const head of heads) {
      const logEvents = byLog.get(head.log_id) ?? [];
      const last = Number(head.seq);
      const first = last - logEvents.length + 1;
      let prev = head.last_hash ?? GENESIS_HASH;
      for (const [i, event] of logEvents.entries()) {
        const row = toRow(head.log_id, first + i, occurredAt, event, prev, nextSalt);
        prev = row.entry_hash;
        rows.push(row);
      }
      tails.push({ log_id: head.log_id, seq: last, last_hash: prev });
    }
    await this.#insertRows(db, rows);
    // The heads exist (bumped above): this only sets each one's last hash, in one statement.
    await db
      .insertInto('audit_heads')
      .values(tails)
      .onConflict((oc) =>
        oc.column('log_id').doUpdateSet((eb) => ({ last_hash: eb.ref('excluded.last_hash') })),
      )
      .execute();
    const every = this.#options?.checkpointEvery;
    for (const tail of tails) {
      const count = byLog.get(tail.log_id)?.length ?? 0;
      if (every && Math.floor(tail.seq / every) > Math.floor((tail.seq - count) / every)) {
        this.#options?.onCheckpointDue(tail.log_id, tail.seq);
      }
    }
  }

  /**
   * The hot INSERT, as SQL text made once (Kysely would build and compile an AST of 21 values per
   * row for every batch). PostgreSQL: the rows as one JSON parameter, whatever the batch size (the
   * server parses and plans a short statement instead of one with thousands of parameters; one
   * native JSON.stringify costs less than pg's escaping of 21 arrays, for unnest, and the server
   * reads it faster too: 10.4 against 11.8 ms for 256 rows). SQLite: multi-row VALUES in fixed
   * chunk sizes (SQLITE_CHUNKS).
   */
  async #insertRows(db: Kysely<Database>, rows: AuditRow[]): Promise<void> {
    if (this.#isPostgres) {
      await db.executeQuery(CompiledQuery.raw(POSTGRES_INSERT, [JSON.stringify(rows)]));
      return;
    }
    let offset = 0;
    for (const size of SQLITE_CHUNKS) {
      while (rows.length - offset >= size) {
        const parameters: unknown[] = [];
        for (let r = offset; r < offset + size; r++) {
          const row = rows[r];
          for (const c of COLUMNS) {
            parameters.push(row?.[c] ?? null);
          }
        }
        await db.executeQuery(CompiledQuery.raw(sqliteInsert(size), parameters));
        offset += size;
      }
    }
  }

  async list(query: AuditQuery): Promise<AuditEvent[]> {
    let q = this.#db
      .selectFrom('audit_events')
      .selectAll()
      .where('log_id', '=', query.tenantId ?? OPERATOR_LOG_ID)
      .orderBy('seq', 'desc')
      .limit(query.limit);
    if (query.targetId) {
      q = q.where('target_id', '=', query.targetId);
    }
    if (query.actorId) {
      q = q.where('actor_id', '=', query.actorId);
    }
    if (query.action) {
      q = q.where('action', '=', query.action);
    }
    if (query.beforeSeq !== undefined) {
      q = q.where('seq', '<', query.beforeSeq);
    }
    const rows = await q.execute();
    return rows.map(toEvent);
  }
}

function toEvent(row: Selectable<AuditEventTable>): AuditEvent {
  return {
    id: row.id,
    seq: Number(row.seq),
    tenantId: row.tenant_id,
    occurredAt: Number(row.occurred_at),
    actorType: row.actor_type as AuditEvent['actorType'],
    actorId: row.actor_id ?? undefined,
    action: row.action,
    outcome: row.outcome as AuditEvent['outcome'],
    targetType: row.target_type ?? undefined,
    targetId: row.target_id ?? undefined,
    fileId: row.file_id ?? undefined,
    channel: row.channel as AuditEvent['channel'],
    ip: row.ip ?? undefined,
    userAgent: row.user_agent ?? undefined,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
  };
}

// A key a row leaves out (undefined) is null, as json_populate_recordset reads it.
const POSTGRES_INSERT =
  `insert into audit_events (${COLUMNS.join(', ')}) ` +
  `select ${COLUMNS.join(', ')} from json_populate_recordset(null::audit_events, $1::json)`;

const sqliteInserts = new Map<number, string>();

/** `insert … values (?, …), …` for `size` rows, made once per size. */
function sqliteInsert(size: number): string {
  let text = sqliteInserts.get(size);
  if (text === undefined) {
    const row = `(${COLUMNS.map(() => '?').join(', ')})`;
    text = `insert into "audit_events" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) values ${Array.from({ length: size }, () => row).join(', ')}`;
    sqliteInserts.set(size, text);
  }
  return text;
}

/**
 * The order in which one transaction locks several logs' heads: the operator log first, then the
 * tenants' logs by id. Services that record one change in two logs (a tenant created, suspended)
 * append to the operator log first; a batch that locked the tenant's head first and then waited
 * for the operator's could deadlock with them.
 */
function byLockOrder(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  if (a === OPERATOR_LOG_ID || b === OPERATOR_LOG_ID) {
    return a === OPERATOR_LOG_ID ? -1 : 1;
  }
  return a < b ? -1 : 1;
}

function logIdOf(event: AuditEventInput): string {
  return event.tenantId ?? OPERATOR_LOG_ID;
}

/**
 * The row of one event at `seq`, chained to `prevHash`, with a fresh telemetry salt from `newSalt`
 * if it has telemetry (also used by bench/audit.ts).
 */
export function toRow(
  logId: string,
  seq: number,
  occurredAt: number,
  event: AuditEventInput,
  prevHash: string,
  newSalt: () => string = newTelemetrySalt,
): AuditRow {
  const fields: ChainedFields = {
    logId,
    seq,
    occurredAt,
    actorType: event.actorType,
    actorId: event.actorId ?? null,
    action: event.action,
    outcome: event.outcome ?? 'success',
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    fileId: event.fileId ?? (event.targetType === 'file' ? (event.targetId ?? null) : null),
    channel: event.channel,
    details: event.details ? canonicalJson(event.details) : null,
  };
  const ip = event.ip ?? null;
  const userAgent = event.userAgent ? event.userAgent.slice(0, 512) : null;
  const salt = ip === null && userAgent === null ? null : newSalt();
  const hashes = chainEntry(fields, { ip, userAgent, salt }, prevHash);
  return {
    id: newId(),
    log_id: logId,
    seq,
    tenant_id: event.tenantId,
    occurred_at: occurredAt,
    actor_type: fields.actorType,
    actor_id: fields.actorId,
    action: fields.action,
    outcome: fields.outcome,
    target_type: fields.targetType,
    target_id: fields.targetId,
    file_id: fields.fileId,
    channel: fields.channel,
    ip,
    user_agent: userAgent,
    details: fields.details,
    telemetry_salt: salt,
    telemetry_hash: hashes.telemetryHash,
    payload_hash: hashes.payloadHash,
    prev_hash: hashes.prevHash,
    entry_hash: hashes.entryHash,
  };
}
