import type { Migration } from 'kysely';
import * as createCoreTables from './20261122170000_create_core_tables.ts';

/** Every migration, in order. Append only. */
export const MIGRATIONS: Record<string, Migration> = {
  '20261122170000_create_core_tables': createCoreTables,
};
