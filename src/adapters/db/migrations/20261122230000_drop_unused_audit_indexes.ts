import type { Kysely } from 'kysely';

// Two activity-log indexes that no query uses: both lead with tenant_id, while every read of
// audit_events names its log_id (reports, alerts, verification, expiry), and the report indexes of
// 20261122210000 — (log_id, <column>, seq), occurred_at among them — answer those reads. Each index
// costs every append an index insert, its WAL, and a share of every checkpoint. Frozen once shipped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen; no table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_target_idx').execute();
  await db.schema.dropIndex('audit_events_time_idx').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('audit_events_target_idx')
    .on('audit_events')
    .columns(['tenant_id', 'target_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_events_time_idx')
    .on('audit_events')
    .columns(['tenant_id', 'occurred_at'])
    .execute();
}
