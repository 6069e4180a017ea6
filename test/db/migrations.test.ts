import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/adapters/db/database.ts';
import { migrateToLatest } from '../../src/adapters/db/migrate.ts';
import { MIGRATIONS } from '../../src/adapters/db/migrations/index.ts';
import { KEY_STORE_MIGRATIONS } from '../../src/adapters/keys/key-store.ts';
import { createTestDatabase, dialectsUnderTest } from '../support/dialects.ts';

/**
 * The drift check (STYLE.md 2.4): all migrations applied to an empty database of each dialect give
 * the same tables, columns and nullability as the checked-in snapshot. A schema change therefore
 * needs a new migration AND a reviewed snapshot update (UPDATE_SCHEMA_SNAPSHOT=1 npm test).
 */
const SNAPSHOT = new URL('./schema.snapshot.json', import.meta.url);

type Shape = Record<string, Record<string, { nullable: boolean }>>;

async function schemaOf(url: string, migrations: typeof MIGRATIONS, table?: string): Promise<Shape> {
  const handle = openDatabase<unknown>(url);
  try {
    await migrateToLatest(handle.db, migrations, table);
    const tables = await handle.db.introspection.getTables();
    const shape: Shape = {};
    for (const t of tables.sort((a, b) => a.name.localeCompare(b.name))) {
      shape[t.name] = Object.fromEntries(
        t.columns
          .map((c) => [c.name, { nullable: c.isNullable }])
          .sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
    }
    return shape;
  } finally {
    await handle.close();
  }
}

describe('database migrations', async () => {
  for (const dialect of await dialectsUnderTest()) {
    it(`should build the expected schema from empty on ${dialect}`, async () => {
      const db = await createTestDatabase(dialect);
      try {
        const shape = {
          metadata: await schemaOf(db.url, MIGRATIONS),
          keystore: await schemaOf(
            `${db.url}${dialect === 'sqlite' ? '.keys' : ''}`,
            KEY_STORE_MIGRATIONS,
            'custodia_keystore_migration',
          ),
        };
        // The key store may share a PostgreSQL database with the metadata; compare only its own tables.
        shape.keystore = Object.fromEntries(
          Object.entries(shape.keystore).filter(([name]) => ['tenant_keys', 'data_keys'].includes(name)),
        );

        if (process.env.UPDATE_SCHEMA_SNAPSHOT === '1' || !existsSync(SNAPSHOT)) {
          writeFileSync(SNAPSHOT, `${JSON.stringify(shape, null, 2)}\n`);
        }
        const expected = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as typeof shape;

        assert.deepEqual(shape, expected);
      } finally {
        await db.cleanup();
      }
    });
  }
});
