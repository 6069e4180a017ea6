import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { NodeSqliteDialect } from './node-sqlite-dialect.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle<DB> {
  db: Kysely<DB>;
  dialect: DialectName;
  close(): Promise<void>;
}

// PostgreSQL returns BIGINT as text by default; our epoch-ms timestamps and byte counts fit in a double.
pg.types.setTypeParser(20, (value: string) => Number(value));

/**
 * Opens the metadata store named by `url`: `sqlite:<path>` (Node's built-in SQLite, no native build)
 * or `postgres://…`. The same Kysely queries run on both.
 */
/**
 * Fails with one line that names the setting when the database cannot be reached, instead of a bare
 * "connect ECONNREFUSED" from deep inside the first migration. The password is never printed.
 */
export async function assertReachable<DB>(db: Kysely<DB>, setting: string, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    throw new Error(
      `cannot reach the database named by ${setting} (${redactUrl(url)}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The URL with any password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return url.split(':')[0] + ':…';
  }
}

/**
 * `readOnly`: a connection that only reads (verification threads): on SQLite the file is opened
 * read-only and must exist, and nothing about the database is changed.
 */
export function openDatabase<DB>(
  url: string,
  options: { poolSize?: number; readOnly?: boolean } = {},
): DatabaseHandle<DB> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle pooled connection closed by the server (restart, failover, DROP DATABASE) emits 'error';
    // unhandled, that would end the process. The next query simply opens a new connection.
    pool.on('error', () => undefined);
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (options.readOnly) {
      const sqlite = new DatabaseSync(path, { readOnly: true });
      sqlite.exec('PRAGMA busy_timeout = 5000');
      const db = new Kysely<DB>({ dialect: new NodeSqliteDialect(sqlite) });
      return { db, dialect: 'sqlite', close: () => db.destroy() };
    }
    if (path !== ':memory:') {
      // Owner-only from the start (the -wal and -shm files inherit the database file's mode): the
      // metadata holds personal data and the key store wrapped keys.
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
    }
    const sqlite = new DatabaseSync(path);
    // WAL lets readers run beside the writer. Every commit is durable before we acknowledge it (an
    // upload is "done" only once both its bytes and its row are on disk): synchronous=FULL in memory,
    // and on a file the dialect fsyncs the WAL itself, off the event loop (see NodeSqliteDialect).
    sqlite.exec('PRAGMA journal_mode = WAL');
    sqlite.exec('PRAGMA synchronous = FULL');
    sqlite.exec('PRAGMA foreign_keys = ON');
    sqlite.exec('PRAGMA busy_timeout = 5000');
    // Savepoint journals (each member of a group commit has one) in memory, not in a temp file
    // created, written page by page and deleted on the event loop for every batch.
    sqlite.exec('PRAGMA temp_store = MEMORY');
    // Checkpoints (copying the WAL into the database, with two fsyncs) run inside a COMMIT, on the
    // event loop. Every 4,000 pages instead of 1,000: a quarter as many, and a page that many
    // commits changed (an index's right edge, the audit head) is copied once, not four times —
    // half the page writes per small upload. The WAL grows to about 16 MB before it is reused.
    sqlite.exec('PRAGMA wal_autocheckpoint = 4000');
    const walPath = path === ':memory:' ? undefined : `${resolve(path)}-wal`;
    const db = new Kysely<DB>({ dialect: new NodeSqliteDialect(sqlite, { walPath }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  throw new Error(`Unsupported database URL scheme: ${url.split(':')[0]}`);
}
