import type { Kysely } from 'kysely';

// Crash clean-up that is safe with many app nodes: every running process holds a lease row, and every
// blob being written is recorded (with its writer) before its first byte. Frozen once shipped.
// Migrations must not know today's table types (they are frozen in time), hence `any`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('process_leases')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('host_scope', 'text')
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('blob_intents')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    .addColumn('process_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_intents_pk', ['tenant_id', 'blob_key'])
    .execute();
  await db.schema.createIndex('blob_intents_process_idx').on('blob_intents').column('process_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('blob_intents').execute();
  await db.schema.dropTable('process_leases').execute();
}
