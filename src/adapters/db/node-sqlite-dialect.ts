import fs from 'node:fs';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

/**
 * Kysely over node:sqlite (DatabaseSync), with what Kysely's own SqliteDialect lacks:
 *
 * - Prepared statements are cached by SQL text. Compiling SQL costs far more than running the small
 *   statements we issue, and Kysely asks for a fresh statement on every execution.
 *
 * - Group commit. Transactions (and single writes made outside one) that run close together share
 *   one SQLite transaction: each runs in its own SAVEPOINT (a failing one rolls back alone), and the
 *   shared COMMIT runs once the event loop has handled the I/O that was ready, i.e. after everybody
 *   who could join has. `commitTransaction`, and a write made outside a transaction, resolve only
 *   once that COMMIT is durable, and fail if it fails. Until then other queries on this connection
 *   can see the new rows, as they would in any one-connection setup; nobody is told they are stored.
 *
 * - The WAL fsync off the event loop (`walPath`). node:sqlite runs everything on the event loop, so
 *   under synchronous=FULL every COMMIT stalled every request for an fsync of the WAL (over a
 *   millisecond here, once per upload). Given the WAL's path, the database runs with
 *   synchronous=NORMAL (SQLite writes the WAL at COMMIT but does not fsync it; checkpoints and WAL
 *   restarts are still synced by SQLite) and the driver fdatasyncs the WAL itself, on libuv's thread
 *   pool, before it reports the COMMIT done. An fsync covers every COMMIT written before it started,
 *   so commits that finish while one runs share the next. What a caller is told is stored is exactly
 *   as durable as under FULL. If that fsync fails, whether the rows survive a crash is unknown while
 *   other requests may already see them; the process then stops (`onLostDurability`, as PostgreSQL
 *   does on a failed fsync), and recovery plus the start-up sweeps decide from what is on disk.
 */
export class NodeSqliteDialect implements Dialect {
  readonly #db: DatabaseSync;
  readonly #wal: WalSyncs | undefined;

  /**
   * `walPath`: the database's `-wal` file, to fsync it off the event loop (the database must be in
   * WAL mode; synchronous is set to NORMAL here). Without it, synchronous must be FULL or above, so
   * that SQLite makes every COMMIT durable itself.
   */
  constructor(
    db: DatabaseSync,
    options: {
      walPath?: string;
      syncFile?: (path: string) => Promise<void>;
      onLostDurability?: (error: unknown) => void;
    } = {},
  ) {
    this.#db = db;
    if (options.walPath === undefined) {
      if (Number(db.prepare('PRAGMA synchronous').get()?.synchronous) < SYNCHRONOUS_FULL) {
        throw new Error('NodeSqliteDialect: synchronous must be FULL unless walPath is given');
      }
      return;
    }
    if (String(db.prepare('PRAGMA journal_mode').get()?.journal_mode).toLowerCase() !== 'wal') {
      throw new Error('NodeSqliteDialect: walPath needs the database in WAL mode');
    }
    db.exec('PRAGMA synchronous = NORMAL');
    const wal = new KeptOpenFile();
    this.#wal = new WalSyncs(
      options.walPath,
      options.syncFile ?? ((path) => wal.sync(path)),
      options.onLostDurability ?? stopProcess,
      () => wal.close(),
    );
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new GroupCommitDriver(this.#db, this.#wal);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
}

/** `PRAGMA synchronous` value of FULL. */
const SYNCHRONOUS_FULL = 2;
/** A transaction member's savepoint (members never overlap: each holds the connection lock). */
const MEMBER = 'custodia_member';
/** Prepared statements kept (least recently used dropped first): `IN (?, ?, …)` lists make new texts. */
const STATEMENT_CACHE_SIZE = 256;

type Param = null | number | bigint | string | NodeJS.ArrayBufferView;

interface Batch {
  /** Settles when the shared COMMIT has succeeded or failed. */
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One use of the connection (Kysely acquires it per query or per transaction). */
class Connection implements DatabaseConnection {
  readonly #driver: GroupCommitDriver;
  isInTransaction = false;
  /** Wrote something that the caller may consider stored only once the batch commits. */
  hasWritten = false;
  isReleased = false;

  constructor(driver: GroupCommitDriver) {
    this.#driver = driver;
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return Promise.resolve(this.#driver.execute<R>(this, query));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (query.query.kind !== 'SelectQueryNode') {
      throw new Error('Sqlite driver only supports streaming of select queries');
    }
    for (const row of this.#driver.iterate(query)) {
      yield { rows: [row as R] };
    }
  }
}

class GroupCommitDriver implements Driver {
  readonly #db: DatabaseSync;
  readonly #wal: WalSyncs | undefined;
  readonly #lock = new FifoLock();
  readonly #statements = new Map<string, { statement: StatementSync; isReader: boolean }>();
  #batch: Batch | undefined;
  #isCommitScheduled = false;

  constructor(db: DatabaseSync, wal: WalSyncs | undefined) {
    this.#db = db;
    this.#wal = wal;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock.acquire();
    return new Connection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    this.#openBatch();
    this.#db.exec(`SAVEPOINT ${MEMBER}`);
    (connection as Connection).isInTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const member = connection as Connection;
    this.#db.exec(`RELEASE ${MEMBER}`);
    member.isInTransaction = false;
    const batch = member.hasWritten ? this.#batch : undefined;
    this.#release(member);
    await batch?.done;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const member = connection as Connection;
    if (!member.isInTransaction) {
      return; // Kysely rolls back after a failed commit; by then the member has left its savepoint.
    }
    member.isInTransaction = false;
    member.hasWritten = false;
    this.#rollbackMember();
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#db.exec(`SAVEPOINT ${quoteName(name)}`);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#db.exec(`ROLLBACK TO ${quoteName(name)}`);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#db.exec(`RELEASE ${quoteName(name)}`);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const member = connection as Connection;
    if (member.isReleased) {
      return;
    }
    const batch = member.hasWritten ? this.#batch : undefined;
    this.#release(member);
    await batch?.done;
  }

  async destroy(): Promise<void> {
    await this.#lock.acquire();
    try {
      this.#commitBatch();
    } finally {
      this.#statements.clear();
      this.#db.close();
      this.#lock.release();
    }
    await this.#wal?.close();
  }

  execute<R>(connection: Connection, query: CompiledQuery): QueryResult<R> {
    const isWrite = writes(query);
    if (!isWrite) {
      return this.#run<R>(query);
    }
    connection.hasWritten = true;
    if (connection.isInTransaction) {
      return this.#run<R>(query);
    }
    // A write outside a transaction joins the batch as a member of its own.
    this.#openBatch();
    this.#db.exec(`SAVEPOINT ${MEMBER}`);
    try {
      const result = this.#run<R>(query);
      this.#db.exec(`RELEASE ${MEMBER}`);
      return result;
    } catch (error) {
      this.#rollbackMember();
      throw error;
    }
  }

  iterate(query: CompiledQuery): Iterable<unknown> {
    // A statement of its own: an open cursor must not be reset by another query reusing a cached one.
    return this.#db.prepare(query.sql).iterate(...bind(query.parameters));
  }

  #run<R>(query: CompiledQuery): QueryResult<R> {
    const { statement, isReader } = this.#prepare(query.sql);
    const parameters = bind(query.parameters);
    if (isReader) {
      return { rows: statement.all(...parameters) as R[] };
    }
    const { changes, lastInsertRowid } = statement.run(...parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  #prepare(sql: string): { statement: StatementSync; isReader: boolean } {
    let entry = this.#statements.get(sql);
    if (entry) {
      this.#statements.delete(sql); // re-inserted below: the Map's order is the recency order
    } else {
      const statement = this.#db.prepare(sql);
      entry = { statement, isReader: statement.columns().length > 0 };
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.delete(this.#statements.keys().next().value as string);
      }
    }
    this.#statements.set(sql, entry);
    return entry;
  }

  #openBatch(): void {
    if (this.#batch) {
      return;
    }
    // IMMEDIATE: take the write lock now (waiting up to busy_timeout for another process), so the
    // batch can never fail later for want of it.
    this.#db.exec('BEGIN IMMEDIATE');
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // members observe the failure; an unawaited batch must not crash
    this.#batch = { done, resolve, reject };
  }

  /** Lets the next waiter in and, if a batch is open, makes sure it gets committed. */
  #release(connection: Connection): void {
    connection.isReleased = true;
    this.#lock.release();
    if (this.#batch && !this.#isCommitScheduled) {
      this.#isCommitScheduled = true;
      // After the I/O callbacks that are ready now (uploads finishing alongside) have had their turn,
      // and after the WAL fsync under way, if any: whoever commits meanwhile would have to wait for
      // the next fsync anyway, so they may as well join this batch (one COMMIT writes a page that
      // several of them changed once, not once each).
      setImmediate(() => {
        void (this.#wal?.idle() ?? Promise.resolve())
          .then(() => this.#lock.acquire())
          .then(() => {
            this.#isCommitScheduled = false;
            try {
              this.#commitBatch();
            } finally {
              this.#lock.release();
            }
          });
      });
    }
  }

  /**
   * Undoes the current member's work. Some errors (a full disk, an I/O error) make SQLite roll back
   * the whole transaction by itself; then the batch is lost and every member still waiting in it is
   * told so, rather than told later that a COMMIT with nothing to commit succeeded.
   */
  #rollbackMember(): void {
    if (this.#db.isTransaction) {
      try {
        this.#db.exec(`ROLLBACK TO ${MEMBER}`);
        this.#db.exec(`RELEASE ${MEMBER}`);
        return;
      } catch (error) {
        this.#abandonBatch(error);
        throw error;
      }
    }
    this.#abandonBatch(new Error('SQLite rolled the transaction back'));
  }

  #abandonBatch(error: unknown): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (this.#db.isTransaction) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // Nothing more to undo.
      }
    }
    batch?.reject(error);
  }

  /** Commits the open batch, if any (the caller holds the lock). */
  #commitBatch(): void {
    const batch = this.#batch;
    if (!batch) {
      return;
    }
    this.#batch = undefined;
    try {
      if (!this.#db.isTransaction) {
        throw new Error('SQLite rolled the transaction back');
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // SQLite may already have rolled the transaction back itself.
      }
      batch.reject(error);
      return;
    }
    if (this.#wal) {
      // On failure the process has already been stopped (or, in a test, told): see WalSyncs.
      this.#wal.sync().then(batch.resolve, batch.reject);
    } else {
      batch.resolve();
    }
  }
}

/**
 * fdatasyncs the WAL after COMMITs, as few times as possible: an fsync covers every COMMIT written
 * before it started, so a caller arriving while one runs waits for the next one, which then covers
 * everybody who arrived in the meantime.
 */
class WalSyncs {
  readonly #path: string;
  readonly #syncFile: (path: string) => Promise<void>;
  readonly #onLostDurability: (error: unknown) => void;
  readonly #onClose: () => void;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #failure: unknown;

  constructor(
    path: string,
    syncFile: (path: string) => Promise<void>,
    onLostDurability: (error: unknown) => void,
    onClose: () => void = () => undefined,
  ) {
    this.#path = path;
    this.#syncFile = syncFile;
    this.#onLostDurability = onLostDurability;
    this.#onClose = onClose;
  }

  /** Once the syncs under way are over, releases what syncing held (the kept descriptor). */
  async close(): Promise<void> {
    await this.idle();
    this.#onClose();
  }

  /** Resolves once no fsync is running (whatever its outcome). */
  idle(): Promise<void> {
    return (this.#next ?? this.#running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  sync(): Promise<void> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failure as Error);
    }
    if (!this.#running) {
      return this.#start();
    }
    // The running fsync may have started before our COMMIT: only one started after it covers us.
    this.#next ??= this.#running.then(
      () => this.#start(),
      () => this.#start(),
    );
    return this.#next;
  }

  #start(): Promise<void> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failure as Error);
    }
    const running = this.#syncFile(this.#path).catch((error: unknown) => {
      // Linux may drop the pages it failed to write and report the next fsync clean: never retry.
      this.#failure ??= error;
      this.#onLostDurability(error);
      throw error;
    });
    this.#running = running;
    this.#next = undefined;
    const settle = () => {
      if (this.#running === running && !this.#next) {
        this.#running = undefined;
      }
    };
    running.then(settle, settle);
    return running;
  }
}

/**
 * fdatasyncs a file through a descriptor opened at the first sync and kept: one call per sync
 * instead of open, sync and close (the promise plumbing of those showed as 5% of the event loop's
 * time with small uploads). SQLite deletes or replaces the WAL only when its last connection closes
 * — this one, in destroy() — so the descriptor stays the WAL's for as long as syncs are asked for.
 */
class KeptOpenFile {
  #fd: Promise<number | undefined> | undefined;

  sync(path: string): Promise<void> {
    this.#fd ??= new Promise<number | undefined>((resolve, reject) => {
      fs.open(path, 'r', (error, fd) => {
        if (error?.code === 'ENOENT') {
          // SQLite removes the WAL only after checkpointing it into the database and syncing that.
          this.#fd = undefined;
          resolve(undefined);
        } else if (error) {
          this.#fd = undefined;
          reject(error);
        } else {
          resolve(fd);
        }
      });
    });
    return this.#fd.then((fd) =>
      fd === undefined
        ? undefined
        : new Promise<void>((resolve, reject) => {
            fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
          }),
    );
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    void fd?.then(
      (descriptor) => descriptor !== undefined && fs.close(descriptor, () => undefined),
      () => undefined,
    );
  }
}

/** A COMMIT other requests can already see may not be on disk: stop, and let recovery decide. */
function stopProcess(error: unknown): void {
  process.stderr.write(
    `custodia: fsync of the SQLite WAL failed (${String(error)}); stopping so that recovery decides what is stored\n`,
  );
  process.exit(70);
}

/** Whether a statement may change the database (and so must be committed before its caller goes on). */
function writes(query: CompiledQuery): boolean {
  const kind = query.query.kind;
  if (kind === 'SelectQueryNode') {
    return false;
  }
  if (kind === 'RawNode') {
    return !/^\s*(select|pragma|explain)\b/i.test(query.sql);
  }
  return true;
}

function bind(parameters: ReadonlyArray<unknown>): Param[] {
  return parameters.map((p) =>
    typeof p === 'boolean' ? (p ? 1 : 0) : p === undefined ? null : (p as Param),
  );
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A mutex that hands the lock over in arrival order. */
class FifoLock {
  #isHeld = false;
  readonly #waiting: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.#isHeld) {
      this.#isHeld = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) {
      next();
    } else {
      this.#isHeld = false;
    }
  }
}
