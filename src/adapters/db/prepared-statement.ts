import type { CompiledQuery, Compilable, Insertable, Kysely, QueryResult } from 'kysely';
import type { Database } from './tables.ts';

interface Template {
  compiled: CompiledQuery;
  /** For each parameter of `compiled`: the argument it takes, or -1 for a value fixed at build time. */
  slots: number[];
}

/**
 * A statement whose shape never changes, built and compiled by Kysely once per dialect; each run
 * only puts its arguments in place of the placeholders `build` was given. For statements on every
 * request, where building and compiling (5–15 µs each) costs as much as SQLite takes to run them.
 *
 * `build` must pass each argument to Kysely as a value (a where operand, an inserted value, a limit)
 * and use it in nothing else: it is called once, with placeholder strings. Pass null, never
 * undefined (Kysely leaves undefined columns out of an INSERT, so the shape would change).
 */
export class PreparedStatement<Row, Args extends unknown[]> {
  readonly #build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>;
  /** By adapter class: SQLite and PostgreSQL compile to different SQL. */
  readonly #templates = new Map<unknown, Template>();

  constructor(build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>) {
    this.#build = build;
  }

  async execute(db: Kysely<Database>, ...args: Args): Promise<Row[]> {
    return (await this.#run(db, args)).rows;
  }

  async executeTakeFirst(db: Kysely<Database>, ...args: Args): Promise<Row | undefined> {
    return (await this.execute(db, ...args))[0];
  }

  /** Runs an UPDATE, DELETE or INSERT and answers how many rows it changed. */
  async executeCountingRows(db: Kysely<Database>, ...args: Args): Promise<number> {
    return Number((await this.#run(db, args)).numAffectedRows ?? 0);
  }

  #run(db: Kysely<Database>, args: Args): Promise<QueryResult<Row>> {
    const template = this.#template(db, args.length);
    const parameters = template.slots.map((slot, i) =>
      slot >= 0 ? args[slot] : template.compiled.parameters[i],
    );
    return db.executeQuery<Row>({ ...template.compiled, parameters });
  }

  #template(db: Kysely<Database>, arity: number): Template {
    const dialect = db.getExecutor().adapter.constructor;
    let template = this.#templates.get(dialect);
    if (!template) {
      const placeholders = Array.from({ length: arity }, (_, i) => `\u0000prepared-argument-${i}\u0000`);
      const compiled = this.#build(db, ...(placeholders as Args)).compile();
      const slots = compiled.parameters.map((value) => placeholders.indexOf(value as string));
      const unused = placeholders.filter((p) => !compiled.parameters.includes(p));
      if (unused.length > 0 || compiled.sql.includes('\u0000')) {
        throw new Error('A prepared statement must pass each argument to Kysely as a value, once or more');
      }
      template = { compiled, slots };
      this.#templates.set(dialect, template);
    }
    return template;
  }
}

/**
 * A one-row INSERT into `table` of exactly `columns`, as a PreparedStatement: the row is passed as an
 * object, and a column it leaves undefined is inserted as null (its shape never changes).
 */
export class PreparedInsert<T extends keyof Database & string> {
  readonly #columns: ReadonlyArray<keyof Database[T] & string>;
  readonly #statement: PreparedStatement<unknown, unknown[]>;

  constructor(table: T, columns: ReadonlyArray<keyof Database[T] & string>) {
    this.#columns = columns;
    this.#statement = new PreparedStatement((db, ...values: unknown[]) =>
      db
        .insertInto(table)
        .values(Object.fromEntries(columns.map((column, i) => [column, values[i]])) as never),
    );
  }

  #isRowChecked = false;

  async execute(db: Kysely<Database>, row: Insertable<Database[T]>): Promise<void> {
    const values = row as Record<string, unknown>;
    if (!this.#isRowChecked) {
      // Once: a column missing from the list would otherwise be dropped without a word.
      const unlisted = Object.keys(values).filter((key) => !this.#columns.includes(key as never));
      if (unlisted.length > 0) {
        throw new Error(`PreparedInsert: columns not in its list: ${unlisted.join(', ')}`);
      }
      this.#isRowChecked = true;
    }
    await this.#statement.execute(db, ...this.#columns.map((column) => values[column] ?? null));
  }
}
