import type { Kysely } from 'kysely';

// Issue 4: the tamper-evident chain (telemetry salt/hash, signed checkpoints, public signing keys),
// per-tenant telemetry retention and forensic hold, report indexes, and alert rules with their
// fired alerts and deliveries. Frozen once shipped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen; no table types
export async function up(db: Kysely<any>): Promise<void> {
  // The salt is erased together with ip/user_agent at expiry; telemetry_hash stays and is chained.
  await db.schema.alterTable('audit_events').addColumn('telemetry_salt', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('telemetry_hash', 'text').execute();
  // The file an event concerns (a download, a share of it, a version restore...), for "everything
  // done with this file" reports; chained as part of the payload.
  await db.schema.alterTable('audit_events').addColumn('file_id', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('telemetry_expired_at', 'bigint').execute();

  // Report access paths: every filter is "log + one column, newest first by seq".
  for (const [name, column] of [
    ['audit_events_file_idx', 'file_id'],
    ['audit_events_actor_idx', 'actor_id'],
    ['audit_events_ip_idx', 'ip'],
    ['audit_events_action_idx', 'action'],
    ['audit_events_occurred_idx', 'occurred_at'],
  ] as const) {
    await db.schema.createIndex(name).on('audit_events').columns(['log_id', column, 'seq']).execute();
  }

  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('log_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('entry_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_checkpoints_pk', ['log_id', 'seq'])
    .execute();

  // Public halves of the checkpoint signing keys (the private seed lives in the key store).
  await db.schema
    .createTable('audit_signing_keys')
    .addColumn('key_id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();

  await db.schema
    .alterTable('tenants')
    .addColumn('telemetry_retention_days', 'integer', (c) => c.notNull().defaultTo(90))
    .execute();
  await db.schema.alterTable('tenants').addColumn('forensic_hold_since', 'bigint').execute();
  await db.schema.alterTable('tenants').addColumn('forensic_hold_reason', 'text').execute();
  // JSON array of CIDR ranges; null or empty means "no restriction".
  await db.schema.alterTable('tenants').addColumn('allowed_ip_ranges', 'text').execute();

  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('threshold', 'integer', (c) => c.notNull())
    .addColumn('window_seconds', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('webhook_url', 'text')
    .addColumn('webhook_secret_enc', 'text')
    .addColumn('email_to', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alert_rules_tenant_idx').on('alert_rules').columns(['tenant_id']).execute();

  // Where the evaluator has read each log up to.
  await db.schema
    .createTable('alert_cursors')
    .addColumn('log_id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    // Identifies one occurrence (rule + subject + window) so the same burst never fires twice.
    .addColumn('dedupe_key', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .addColumn('first_seq', 'bigint', (c) => c.notNull())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('fired_at', 'bigint', (c) => c.notNull())
    .addColumn('acknowledged_at', 'bigint')
    .addColumn('acknowledged_by', 'text')
    .execute();
  await db.schema
    .createIndex('alerts_dedupe_uq')
    .on('alerts')
    .columns(['tenant_id', 'rule_id', 'dedupe_key'])
    .unique()
    .execute();
  await db.schema.createIndex('alerts_tenant_idx').on('alerts').columns(['tenant_id', 'fired_at']).execute();

  await db.schema
    .createTable('alert_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('alert_deliveries_due_idx')
    .on('alert_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('alert_deliveries_alert_idx')
    .on('alert_deliveries')
    .columns(['tenant_id', 'alert_id'])
    .execute();
}
