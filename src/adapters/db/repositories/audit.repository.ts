import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
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

/** Most events one batch writes (and the most rows per INSERT: 22 columns stay under SQLite's 32,766 parameters). */
const MAX_BATCH = 500;

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
 * event on its own (a download, a share-link visit, a failed sign-in) is batched instead: events
 * for one log that arrive while that log's previous batch is being written go together in one
 * transaction, one head update and one INSERT. Each caller still returns only once its event is
 * committed; if a batch fails, its events are retried one by one so one cannot sink the others.
 */
export class KyselyAuditLog implements AuditLog, AuditReader {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #options: AuditAppendOptions | undefined;
  readonly #queues = new Map<string, Pending[]>();

  constructor(db: Kysely<Database>, clock: Clock, options?: AuditAppendOptions) {
    this.#db = db;
    this.#clock = clock;
    this.#options = options;
  }

  append(event: AuditEventInput): Promise<void> {
    if (this.#db.isTransaction) {
      return this.#write(this.#db, logIdOf(event), [event]);
    }
    return new Promise((resolve, reject) => {
      const logId = logIdOf(event);
      const queue = this.#queues.get(logId);
      if (queue) {
        queue.push({ event, resolve, reject });
        return;
      }
      this.#queues.set(logId, [{ event, resolve, reject }]);
      void this.#drain(logId);
    });
  }

  /** Writes the log's queued events a batch at a time until none is left. */
  async #drain(logId: string): Promise<void> {
    // Let callers that are ready in this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    for (;;) {
      const queue = this.#queues.get(logId) ?? [];
      if (queue.length === 0) {
        this.#queues.delete(logId);
        return;
      }
      const batch = queue.splice(0, MAX_BATCH);
      try {
        await this.#db.transaction().execute((trx) =>
          this.#write(
            trx,
            logId,
            batch.map((p) => p.event),
          ),
        );
        batch.forEach((p) => p.resolve());
      } catch (error) {
        if (batch.length === 1) {
          batch[0]?.reject(error);
          continue;
        }
        for (const p of batch) {
          await this.#db
            .transaction()
            .execute((trx) => this.#write(trx, logId, [p.event]))
            .then(p.resolve, p.reject);
        }
      }
    }
  }

  async #write(db: Kysely<Database>, logId: string, events: AuditEventInput[]): Promise<void> {
    const count = events.length;
    const head = await db
      .insertInto('audit_heads')
      .values({ log_id: logId, seq: count, last_hash: null })
      .onConflict((oc) => oc.column('log_id').doUpdateSet({ seq: sql`audit_heads.seq + ${count}` }))
      .returning(['seq', 'last_hash'])
      .executeTakeFirstOrThrow();
    const last = Number(head.seq);
    let prev = head.last_hash ?? GENESIS_HASH;
    const occurredAt = this.#clock.now();
    const rows = events.map((event, i) => {
      const row = toRow(logId, last - count + 1 + i, occurredAt, event, prev);
      prev = row.entry_hash;
      return row;
    });
    await db.insertInto('audit_events').values(rows).execute();
    await db.updateTable('audit_heads').set({ last_hash: prev }).where('log_id', '=', logId).execute();
    const every = this.#options?.checkpointEvery;
    if (every && Math.floor(last / every) > Math.floor((last - count) / every)) {
      this.#options?.onCheckpointDue(logId, last);
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

function logIdOf(event: AuditEventInput): string {
  return event.tenantId ?? OPERATOR_LOG_ID;
}

/** The row of one event at `seq`, chained to `prevHash`, with a fresh telemetry salt (also used by bench/audit.ts). */
export function toRow(
  logId: string,
  seq: number,
  occurredAt: number,
  event: AuditEventInput,
  prevHash: string,
): Insertable<AuditEventTable> & { entry_hash: string } {
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
  const salt = ip === null && userAgent === null ? null : newTelemetrySalt();
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
