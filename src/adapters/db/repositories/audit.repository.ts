import { sql, type Kysely, type Selectable } from 'kysely';
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
 * Appends to a per-tenant log (or the operator's) and extends its hash chain (core/audit/chain.ts).
 *
 * The log's head row holds the last seq and entry hash. Bumping it first takes its row lock on
 * PostgreSQL (the single writer serialises on SQLite) until the caller's transaction ends, so
 * concurrent appends to one log queue up behind each other: seq stays gap-free and each entry is
 * chained to the one committed before it. A rolled-back transaction takes its seq bump with it.
 */
export class KyselyAuditLog implements AuditLog, AuditReader {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #options: AuditAppendOptions | undefined;

  constructor(db: Kysely<Database>, clock: Clock, options?: AuditAppendOptions) {
    this.#db = db;
    this.#clock = clock;
    this.#options = options;
  }

  async append(event: AuditEventInput): Promise<void> {
    if (!this.#db.isTransaction) {
      // The head's lock must be held from reading the previous hash until the entry is in.
      await this.#db
        .transaction()
        .execute((trx) => new KyselyAuditLog(trx, this.#clock, this.#options).append(event));
      return;
    }
    const logId = event.tenantId ?? OPERATOR_LOG_ID;
    const head = await this.#db
      .insertInto('audit_heads')
      .values({ log_id: logId, seq: 1, last_hash: null })
      .onConflict((oc) => oc.column('log_id').doUpdateSet({ seq: sql`audit_heads.seq + 1` }))
      .returning(['seq', 'last_hash'])
      .executeTakeFirstOrThrow();
    const seq = Number(head.seq);
    const fields: ChainedFields = {
      logId,
      seq,
      occurredAt: this.#clock.now(),
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
    const hashes = chainEntry(fields, { ip, userAgent, salt }, head.last_hash ?? GENESIS_HASH);
    await this.#db
      .insertInto('audit_events')
      .values({
        id: newId(),
        log_id: logId,
        seq,
        tenant_id: event.tenantId,
        occurred_at: fields.occurredAt,
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
      })
      .execute();
    await this.#db
      .updateTable('audit_heads')
      .set({ last_hash: hashes.entryHash })
      .where('log_id', '=', logId)
      .execute();
    if (this.#options && seq % this.#options.checkpointEvery === 0) {
      this.#options.onCheckpointDue(logId, seq);
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
