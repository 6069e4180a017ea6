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
 * Kysely over node:sqlite (DatabaseSync), with two things Kysely's own SqliteDialect lacks:
 *
 * - Prepared statements are cached by SQL text. Compiling SQL costs far more than running the small
 *   statements we issue, and Kysely asks for a fresh statement on every execution.
 *
 * - Group commit. With synchronous=FULL every COMMIT waits for the disk (an fsync of the WAL), and
 *   node:sqlite does that on the event loop, so one commit per upload would cap small uploads at one
 *   fsync each and stall every other request meanwhile. Here transactions (and single writes made
 *   outside one) that run close together share one SQLite transaction: each runs in its own
 *   SAVEPOINT (a failing one rolls back alone), and the shared COMMIT runs once the event loop has
 *   handled the I/O that was ready, i.e. after everybody who could join has. Durability is unchanged:
 *   `commitTransaction`, and a write made outside a transaction, resolve only after that COMMIT (and
 *   so its fsync) has succeeded, and fail if it fails. Until then other queries on this connection
 *   can see the new rows, as they would in any one-connection setup; nobody is told they are stored.
 */
export class NodeSqliteDialect implements Dialect {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new GroupCommitDriver(this.#db);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
}

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
  readonly #lock = new FifoLock();
  readonly #statements = new Map<string, { statement: StatementSync; isReader: boolean }>();
  #batch: Batch | undefined;
  #isCommitScheduled = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
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
      // After the I/O callbacks that are ready now (uploads finishing alongside) have had their turn.
      setImmediate(() => {
        void this.#lock.acquire().then(() => {
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
      batch.resolve();
    } catch (error) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // SQLite may already have rolled the transaction back itself.
      }
      batch.reject(error);
    }
  }
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
