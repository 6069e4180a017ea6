import { Migrator, type Kysely, type Migration } from 'kysely';

/** Applies every pending migration; throws with the failing migration's name on error. */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  migrations: Record<string, Migration>,
  table = 'kysely_migration',
): Promise<void> {
  const migrator = new Migrator({
    // Migrations are schema-agnostic by design (they must not import table types).
    db: db as Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    provider: { getMigrations: async () => migrations },
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
