import { PostgresAdapter, type Kysely } from 'kysely';

// Small files' sealed bytes kept in the database, written in the same transaction as their version:
// one commit and one fsync per small upload instead of a blob file, its fsync, a rename and a folder
// fsync (see SealedContent). The bytes are the same sealed format as a blob file. Frozen once shipped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const isPostgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('inline_blobs')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('blob_key', 'text', (c) => c.notNull())
    .addColumn('sealed', isPostgres ? 'bytea' : 'blob', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('inline_blobs_pk', ['tenant_id', 'blob_key'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('inline_blobs').execute();
}
