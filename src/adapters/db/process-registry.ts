import { readFileSync, readlinkSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Clock } from '../../core/shared/clock.ts';
import { newId } from '../../core/shared/ids.ts';
import type { ProcessRegistry } from '../../core/shared/processes.ts';
import type { Database, ProcessLeaseTable } from './tables.ts';

/** How long a lease lasts without renewal; renewed three times per period. */
export const DEFAULT_LEASE_MS = 60_000;

/**
 * Process leases in the shared database. A process is live while its lease is unexpired — except that
 * a process on this very machine (same boot, same pid namespace) whose pid no longer runs is gone at
 * once, so a restart after kill -9 cleans up without waiting for the lease. On other machines only the
 * lease counts, which is what makes the sweep safe with N nodes: a live node renews, a dead one stops.
 */
export class KyselyProcessRegistry implements ProcessRegistry {
  readonly selfId = newId();
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  readonly #scope = hostScope();
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: { db: Kysely<Database>; clock: Clock; leaseMs?: number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Takes the lease and keeps renewing it (the timer does not keep the process alive). */
  async start(): Promise<void> {
    await this.#insert();
    this.#timer = setInterval(() => void this.renew().catch(() => undefined), this.#leaseMs / 3);
    this.#timer.unref();
  }

  /** Extends the lease; takes a new one if another process presumed this one gone and dropped it. */
  async renew(): Promise<void> {
    const result = await this.#db
      .updateTable('process_leases')
      .set({ expires_at: this.#clock.now() + this.#leaseMs })
      .where('id', '=', this.selfId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      await this.#insert();
    }
  }

  /** Stops renewing and gives the lease up (clean shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#db.deleteFrom('process_leases').where('id', '=', this.selfId).execute();
  }

  async listLive(): Promise<ReadonlySet<string>> {
    const rows = await this.#db.selectFrom('process_leases').selectAll().execute();
    const now = this.#clock.now();
    const live = new Set(rows.filter((row) => this.#isLive(row, now)).map((row) => row.id));
    live.add(this.selfId);
    return live;
  }

  async forgetGone(): Promise<number> {
    const rows = await this.#db.selectFrom('process_leases').selectAll().execute();
    const now = this.#clock.now();
    const gone = rows.filter((row) => row.id !== this.selfId && !this.#isLive(row, now)).map((row) => row.id);
    if (gone.length > 0) {
      await this.#db.deleteFrom('process_leases').where('id', 'in', gone).execute();
    }
    return gone.length;
  }

  #isLive(row: ProcessLeaseTable, now: number): boolean {
    if (row.id === this.selfId) {
      return true;
    }
    if (row.expires_at <= now) {
      return false;
    }
    // Same machine and pid namespace: the pid says for sure (a reused pid errs on the side of live).
    return row.host_scope === null || row.host_scope !== this.#scope || isRunning(row.pid);
  }

  async #insert(): Promise<void> {
    const now = this.#clock.now();
    await this.#db
      .insertInto('process_leases')
      .values({
        id: this.selfId,
        host_scope: this.#scope,
        pid: process.pid,
        started_at: now,
        expires_at: now + this.#leaseMs,
      })
      .execute();
  }
}

/**
 * Where a pid means the same process to us: the kernel's boot id plus our pid namespace (Linux).
 * Elsewhere null, and only leases count.
 */
function hostScope(): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
