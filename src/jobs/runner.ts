import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../adapters/db/tables.ts';
import type { DialectName } from '../adapters/db/database.ts';
import type { Clock } from '../core/shared/clock.ts';
import { newId } from '../core/shared/ids.ts';

/** Every job the worker knows, with its payload type. */
export interface JobPayloads {
  'sweep-orphan-blobs': { graceMs: number };
  'sweep-abandoned-writes': Record<string, never>;
  'sweep-expired-uploads': Record<string, never>;
  'purge-expired-sessions': Record<string, never>;
  'checkpoint-audit-logs': Record<string, never>;
  'expire-audit-telemetry': Record<string, never>;
  'evaluate-alerts': Record<string, never>;
  'deliver-alerts': Record<string, never>;
  'purge-finished-jobs': { keepMs: number };
}
export type JobName = keyof JobPayloads;
export type JobHandler<N extends JobName> = (
  payload: JobPayloads[N],
) => Promise<Record<string, unknown> | void>;

export interface RecurringJob<N extends JobName = JobName> {
  name: N;
  payload: JobPayloads[N];
  everyMs: number;
}

const LEASE_MS = 10 * 60_000;
const MAX_ATTEMPTS = 5;

/**
 * A job queue in the database, so N app nodes share one queue. A job is claimed by setting a lease;
 * on PostgreSQL the claim uses FOR UPDATE SKIP LOCKED so two workers never take the same row; on
 * SQLite one process runs jobs. A job whose worker died is claimed again once its lease runs out.
 */
export class JobRunner {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;
  readonly #clock: Clock;
  readonly #handlers = new Map<JobName, JobHandler<JobName>>();
  readonly #workerId = `${hostname()}:${process.pid}:${newId().slice(-8)}`;
  readonly #log: (entry: Record<string, unknown>, message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: {
    db: Kysely<Database>;
    dialect: DialectName;
    clock: Clock;
    log?: (entry: Record<string, unknown>, message: string) => void;
  }) {
    this.#db = deps.db;
    this.#dialect = deps.dialect;
    this.#clock = deps.clock;
    this.#log = deps.log ?? (() => undefined);
  }

  register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    this.#handlers.set(name, handler as JobHandler<JobName>);
  }

  async enqueue<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    runAt = this.#clock.now(),
  ): Promise<string> {
    const id = newId();
    await this.#db
      .insertInto('jobs')
      .values({
        id,
        name,
        payload: JSON.stringify(payload),
        run_at: runAt,
        created_at: this.#clock.now(),
        claimed_by: null,
        claimed_until: null,
        done_at: null,
        last_error: null,
      })
      .execute();
    return id;
  }

  /** Makes sure each recurring job has exactly one pending row (idempotent across nodes and restarts). */
  async schedule(jobs: RecurringJob[]): Promise<void> {
    for (const job of jobs) {
      const pending = await this.#db
        .selectFrom('jobs')
        .select('id')
        .where('name', '=', job.name)
        .where('done_at', 'is', null)
        .executeTakeFirst();
      if (!pending) {
        await this.enqueue(job.name, job.payload);
      }
    }
  }

  /**
   * Deletes jobs that finished successfully more than `keepMs` ago. Recurring jobs leave one finished
   * row per run (every few seconds for alerting), so without this the table only grows. Failed jobs
   * (with last_error) are kept for inspection.
   */
  async purgeFinished(keepMs: number): Promise<{ deleted: number }> {
    const result = await this.#db
      .deleteFrom('jobs')
      .where('done_at', '<', this.#clock.now() - keepMs)
      .where('last_error', 'is', null)
      .executeTakeFirst();
    return { deleted: Number(result.numDeletedRows) };
  }

  /** Claims and runs due jobs until none is left; returns how many ran. */
  async runDue(recurring: RecurringJob[] = []): Promise<number> {
    let ran = 0;
    for (let job = await this.#claim(); job; job = await this.#claim()) {
      await this.#run(job, recurring);
      ran++;
    }
    return ran;
  }

  /** Polls every `intervalMs` until stop(). */
  start(recurring: RecurringJob[], intervalMs = 30_000): void {
    const tick = async () => {
      try {
        await this.schedule(recurring);
        await this.runDue(recurring);
      } catch (error) {
        this.#log({ err: error }, 'job worker tick failed');
      }
    };
    this.#running = tick();
    this.#timer = setInterval(() => {
      this.#running = tick();
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async #claim(): Promise<{ id: string; name: string; payload: string; attempts: number } | undefined> {
    const now = this.#clock.now();
    return this.#db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('jobs')
        .select(['id', 'name', 'payload', 'attempts'])
        .where('done_at', 'is', null)
        .where('run_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
        .orderBy('run_at')
        .limit(1);
      if (this.#dialect === 'postgres') {
        query = query.forUpdate().skipLocked();
      }
      const row = await query.executeTakeFirst();
      if (!row) {
        return undefined;
      }
      await trx
        .updateTable('jobs')
        .set({ claimed_by: this.#workerId, claimed_until: now + LEASE_MS, attempts: sql`attempts + 1` })
        .where('id', '=', row.id)
        .execute();
      return { ...row, attempts: row.attempts + 1 };
    });
  }

  async #run(
    job: { id: string; name: string; payload: string; attempts: number },
    recurring: RecurringJob[],
  ): Promise<void> {
    const handler = this.#handlers.get(job.name as JobName);
    const now = () => this.#clock.now();
    try {
      if (!handler) {
        throw new Error(`No handler for job ${job.name}`);
      }
      const result = await handler(JSON.parse(job.payload) as JobPayloads[JobName]);
      await this.#db
        .updateTable('jobs')
        .set({ done_at: now(), claimed_until: null, last_error: null })
        .where('id', '=', job.id)
        .execute();
      this.#log({ job: job.name, jobId: job.id, ...(result ?? {}) }, 'job done');
      const repeat = recurring.find((r) => r.name === job.name);
      if (repeat) {
        await this.enqueue(repeat.name, repeat.payload, now() + repeat.everyMs);
      }
    } catch (error) {
      const isFinal = job.attempts >= MAX_ATTEMPTS;
      // Back off exponentially; a job that keeps failing stops after MAX_ATTEMPTS and stays visible.
      await this.#db
        .updateTable('jobs')
        .set({
          claimed_until: null,
          last_error: (error as Error).message.slice(0, 1000),
          run_at: now() + 2 ** job.attempts * 60_000,
          done_at: isFinal ? now() : null,
        })
        .where('id', '=', job.id)
        .execute();
      this.#log({ job: job.name, jobId: job.id, attempts: job.attempts, err: error }, 'job failed');
    }
  }
}
