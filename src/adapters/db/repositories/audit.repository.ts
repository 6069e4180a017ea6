import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditEvent, AuditEventInput } from '../../../core/audit/audit.types.ts';
import type { AuditLog, AuditQuery, AuditReader } from '../../../core/audit/ports.ts';
import type { Clock } from '../../../core/shared/clock.ts';
import { newId } from '../../../core/shared/ids.ts';
import type { AuditEventTable, Database } from '../tables.ts';

/** The operator's own log lives beside the tenants' logs under this id. */
export const OPERATOR_LOG_ID = 'operator';

/**
 * Appends to a per-tenant log. Bumping the log's head row first serialises concurrent appends to
 * the same log (a row lock on PostgreSQL, the single writer on SQLite), which gives gap-free `seq`
 * and is where the hash chain will hang.
 */
export class KyselyAuditLog implements AuditLog, AuditReader {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async append(event: AuditEventInput): Promise<void> {
    const logId = event.tenantId ?? OPERATOR_LOG_ID;
    const head = await this.#db
      .insertInto('audit_heads')
      .values({ log_id: logId, seq: 1, last_hash: null })
      .onConflict((oc) => oc.column('log_id').doUpdateSet({ seq: sql`audit_heads.seq + 1` }))
      .returning('seq')
      .executeTakeFirstOrThrow();
    await this.#db
      .insertInto('audit_events')
      .values({
        id: newId(),
        log_id: logId,
        seq: Number(head.seq),
        tenant_id: event.tenantId,
        occurred_at: this.#clock.now(),
        actor_type: event.actorType,
        actor_id: event.actorId ?? null,
        action: event.action,
        outcome: event.outcome ?? 'success',
        target_type: event.targetType ?? null,
        target_id: event.targetId ?? null,
        channel: event.channel,
        ip: event.ip ?? null,
        user_agent: event.userAgent ? event.userAgent.slice(0, 512) : null,
        details: event.details ? JSON.stringify(event.details) : null,
        payload_hash: null,
        prev_hash: null,
        entry_hash: null,
      })
      .execute();
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
    channel: row.channel as AuditEvent['channel'],
    ip: row.ip ?? undefined,
    userAgent: row.user_agent ?? undefined,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
  };
}
