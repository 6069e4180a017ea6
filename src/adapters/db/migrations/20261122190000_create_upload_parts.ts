import type { Kysely } from 'kysely';

// Resumable (tus) uploads stage their bytes as parts in the blob store; this table records which parts
// are durable and count, so the upload's offset and its bytes never disagree after a crash or a race.
// Frozen once shipped.
// Migrations must not know today's table types (they are frozen in time), hence `any`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('upload_parts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('upload_id', 'text', (c) => c.notNull())
    .addColumn('first_segment', 'bigint', (c) => c.notNull())
    .addColumn('plain_end', 'bigint', (c) => c.notNull())
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('upload_parts_pk', ['tenant_id', 'upload_id', 'first_segment'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('upload_parts').execute();
}
