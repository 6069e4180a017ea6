import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * The dialect matrix (STYLE.md 2.4): every test that touches the database runs once per dialect.
 * SQLite always runs. PostgreSQL runs when reachable at TEST_PG_ADMIN_URL (default: the local server,
 * user postgres); each call gets a brand-new database, dropped by its cleanup. With
 * CUSTODIA_TEST_REQUIRE_POSTGRES=1 (CI) an unreachable server is an error, not a skip.
 */
export interface TestDatabase {
  dialect: 'sqlite' | 'postgres';
  url: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

export type DialectName = TestDatabase['dialect'];

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let postgresAvailable: Promise<boolean> | undefined;

export function dialectsUnderTest(): Promise<DialectName[]> {
  postgresAvailable ??= probePostgres();
  return postgresAvailable.then((ok) => (ok ? ['sqlite', 'postgres'] : ['sqlite']));
}

/** A fresh, empty database of `dialect` plus a private data directory for blobs and keys. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'custodia-test-'));
  if (dialect === 'sqlite') {
    return {
      dialect,
      url: `sqlite:${join(dataDir, 'custodia.db')}`,
      dataDir,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `custodia_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dialect,
    url: url.toString(),
    dataDir,
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function probePostgres(): Promise<boolean> {
  try {
    await adminQuery('SELECT 1');
    return true;
  } catch (error) {
    if (process.env.CUSTODIA_TEST_REQUIRE_POSTGRES === '1') {
      throw new Error(
        `PostgreSQL is required for this run but not reachable at ${ADMIN_URL}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    console.warn(
      `# PostgreSQL not reachable at ${ADMIN_URL}; running the SQLite half of the dialect matrix only`,
    );
    return false;
  }
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
