import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { NodeSqliteDialect } from './node-sqlite-dialect.ts';

interface Tables {
  notes: { id: number; body: string };
}

describe(NodeSqliteDialect.name, () => {
  let dir: string;
  let path: string;
  let db: Kysely<Tables>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'custodia-dialect-'));
    path = join(dir, 'test.db');
    const sqlite = new DatabaseSync(path);
    sqlite.exec('PRAGMA journal_mode = WAL');
    sqlite.exec('PRAGMA synchronous = FULL');
    db = new Kysely<Tables>({ dialect: new NodeSqliteDialect(sqlite) });
    await sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)`.execute(db);
  });

  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What another connection (another process, or the database after a restart) sees. */
  function committedBodies(): string[] {
    const other = new DatabaseSync(path, { readOnly: true });
    try {
      return other
        .prepare('SELECT body FROM notes ORDER BY id')
        .all()
        .map((row) => String(row.body));
    } finally {
      other.close();
    }
  }

  it('should have committed a transaction when it resolves', async () => {
    await db
      .transaction()
      .execute((tx) => tx.insertInto('notes').values({ id: 1, body: 'payslip' }).execute());

    assert.deepEqual(committedBodies(), ['payslip']);
  });

  it('should have committed a write made outside a transaction when it resolves', async () => {
    await db.insertInto('notes').values({ id: 1, body: 'contract' }).execute();

    assert.deepEqual(committedBodies(), ['contract']);
  });

  it('should commit concurrent transactions together and roll back only the one that fails', async () => {
    const results = await Promise.allSettled([
      db.transaction().execute((tx) => tx.insertInto('notes').values({ id: 1, body: 'a' }).execute()),
      db.transaction().execute(async (tx) => {
        await tx.insertInto('notes').values({ id: 2, body: 'b' }).execute();
        await tx.insertInto('notes').values({ id: 3, body: 'a' }).execute(); // duplicate body: fails
      }),
      db.transaction().execute((tx) => tx.insertInto('notes').values({ id: 4, body: 'c' }).execute()),
      db.insertInto('notes').values({ id: 5, body: 'd' }).execute(),
    ]);

    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.deepEqual(committedBodies(), ['a', 'c', 'd']);
  });

  it('should let a failed write outside a transaction leave the others alone', async () => {
    await db.insertInto('notes').values({ id: 1, body: 'a' }).execute();

    const results = await Promise.allSettled([
      db.insertInto('notes').values({ id: 2, body: 'a' }).execute(),
      db.insertInto('notes').values({ id: 3, body: 'b' }).execute(),
    ]);

    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'fulfilled'],
    );
    assert.deepEqual(committedBodies(), ['a', 'b']);
  });

  it('should read what it wrote, in a transaction and after', async () => {
    const inside = await db.transaction().execute(async (tx) => {
      await tx.insertInto('notes').values({ id: 1, body: 'invoice' }).execute();
      return tx.selectFrom('notes').select('body').execute();
    });

    const after = await db.selectFrom('notes').select('body').execute();
    assert.deepEqual(
      [inside, after].map((rows) => rows.map((row) => row.body)),
      [['invoice'], ['invoice']],
    );
  });

  it('should stream rows', async () => {
    await db
      .insertInto('notes')
      .values([1, 2, 3].map((id) => ({ id, body: `n${id}` })))
      .execute();

    const seen: string[] = [];
    for await (const row of db.selectFrom('notes').select('body').orderBy('id').stream()) {
      seen.push(row.body);
    }

    assert.deepEqual(seen, ['n1', 'n2', 'n3']);
  });
});
