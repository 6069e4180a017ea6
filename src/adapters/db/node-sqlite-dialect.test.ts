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

describe(`${NodeSqliteDialect.name} with synchronous=FULL`, () => {
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

/** With `walPath` the dialect fsyncs the WAL itself, off the event loop; these tests watch it do so. */
describe(`${NodeSqliteDialect.name} syncing the WAL itself`, () => {
  let dir: string;
  let path: string;
  let db: Kysely<Tables>;
  let syncs: Array<{ path: string; finish: (error?: Error) => void }>;
  let lost: unknown[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'custodia-dialect-'));
    path = join(dir, 'test.db');
    syncs = [];
    lost = [];
    const sqlite = new DatabaseSync(path);
    sqlite.exec('PRAGMA journal_mode = WAL');
    db = new Kysely<Tables>({
      dialect: new NodeSqliteDialect(sqlite, {
        walPath: `${path}-wal`,
        // Each fsync waits until the test finishes it (or fails it).
        syncFile: (file) =>
          new Promise<void>((resolve, reject) => {
            syncs.push({ path: file, finish: (error) => (error ? reject(error) : resolve()) });
          }),
        onLostDurability: (error) => lost.push(error),
      }),
    });
    const created = sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)`.execute(db);
    await settle();
    syncs.shift()?.finish();
    await created;
  });

  afterEach(async () => {
    for (const pending of syncs) {
      pending.finish();
    }
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Lets every callback and timer that is ready run (setImmediate, thread-pool work). */
  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('should run with synchronous=NORMAL and report a commit only after the WAL fsync that follows it', async () => {
    let isDone = false;
    const insert = db
      .transaction()
      .execute((tx) => tx.insertInto('notes').values({ id: 1, body: 'payslip' }).execute())
      .then(() => {
        isDone = true;
      });
    await settle();

    assert.deepEqual({ syncs: syncs.map((s) => s.path), isDone }, { syncs: [`${path}-wal`], isDone: false });
    syncs.shift()?.finish();
    await insert;
    const synchronous = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db);
    assert.equal(synchronous.rows[0]?.synchronous, 1);
  });

  it('should commit everything that arrives during a WAL fsync together, with one more fsync', async () => {
    const first = db.insertInto('notes').values({ id: 1, body: 'a' }).execute();
    await settle();
    const later = [2, 3, 4].map((id) =>
      db.transaction().execute((tx) =>
        tx
          .insertInto('notes')
          .values({ id, body: `n${id}` })
          .execute(),
      ),
    );
    await settle();
    assert.equal(syncs.length, 1, 'the later transactions wait for the running fsync');

    syncs.shift()?.finish();
    await first;
    await settle();
    assert.equal(syncs.length, 1, 'one fsync for the three of them');
    syncs.shift()?.finish();
    await Promise.all(later);
  });

  it('should fail the commit and report lost durability when the WAL fsync fails, and fail later commits too', async () => {
    const insert = db.insertInto('notes').values({ id: 1, body: 'a' }).execute();
    await settle();
    syncs.shift()?.finish(new Error('EIO'));

    await assert.rejects(insert, /EIO/);
    assert.equal(lost.length, 1);
    const next = db.insertInto('notes').values({ id: 2, body: 'b' }).execute();
    await assert.rejects(next, /EIO/);
    assert.equal(syncs.length, 0, 'a failed fsync is never retried');
  });

  it('should commit through its own WAL fsync when none is injected, and close cleanly', async () => {
    const otherPath = join(dir, 'own-sync.db');
    const sqlite = new DatabaseSync(otherPath);
    sqlite.exec('PRAGMA journal_mode = WAL');
    const own = new Kysely<Tables>({
      dialect: new NodeSqliteDialect(sqlite, { walPath: `${otherPath}-wal` }),
    });
    try {
      await sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)`.execute(own);
      await own.insertInto('notes').values({ id: 1, body: 'first' }).execute();
      await own
        .transaction()
        .execute((tx) => tx.insertInto('notes').values({ id: 2, body: 'second' }).execute());
    } finally {
      await own.destroy();
    }

    const reader = new DatabaseSync(otherPath, { readOnly: true });
    try {
      assert.deepEqual(
        reader
          .prepare('SELECT body FROM notes ORDER BY id')
          .all()
          .map((row) => String(row.body)),
        ['first', 'second'],
      );
    } finally {
      reader.close();
    }
  });

  it('should refuse to run without the WAL fsync unless synchronous is FULL', () => {
    const other = new DatabaseSync(join(dir, 'other.db'));
    try {
      other.exec('PRAGMA synchronous = NORMAL');
      assert.throws(() => new NodeSqliteDialect(other), /synchronous must be FULL/);
    } finally {
      other.close();
    }
  });
});
