import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChainRange, ChainRangeVerification } from '../../core/audit/chain-range.ts';
import type { ChainRangeVerifier } from '../../core/audit/ports.ts';
import type { ChainRangeTask } from './chain-range.worker.ts';

/**
 * Verifies each range of a log on a worker thread of its own that reads it with a connection of
 * its own (chain-range.worker.ts), so that the database driver's parsing and the hashing run on
 * every core and no entry crosses threads: only the range goes in and a small verdict comes out.
 * Needs a database other threads can open: PostgreSQL, or SQLite in a file (not `:memory:`).
 */
export class WorkerChainRangeVerifier implements ChainRangeVerifier {
  readonly parallelism: number;
  readonly #databaseUrl: string;
  readonly #pageSize: number;

  constructor(options: { databaseUrl: string; parallelism?: number; pageSize?: number }) {
    this.#databaseUrl = options.databaseUrl;
    this.parallelism = options.parallelism ?? availableParallelism();
    this.#pageSize = options.pageSize ?? 10_000;
  }

  /** Whether ranges of the database at `url` can be read from other threads. */
  static canRead(url: string): boolean {
    return url.startsWith('postgres') || (url.startsWith('sqlite:') && url !== 'sqlite::memory:');
  }

  verifyRange(
    range: ChainRange,
    publicKeys: Array<[string, string]>,
    signal: AbortSignal,
  ): Promise<ChainRangeVerification> {
    const task: ChainRangeTask = {
      databaseUrl: this.#databaseUrl,
      range,
      publicKeys,
      pageSize: this.#pageSize,
    };
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new Error('the range verification was stopped'));
        return;
      }
      const worker = new Worker(new URL('./chain-range.worker.ts', import.meta.url), { workerData: task });
      const stop = () => void worker.terminate();
      signal.addEventListener('abort', stop, { once: true });
      worker.once('message', (reply: { verification?: ChainRangeVerification; error?: string }) => {
        if (reply.verification) {
          resolve(reply.verification);
        } else {
          reject(new Error(`range verification failed: ${reply.error}`));
        }
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        signal.removeEventListener('abort', stop);
        // Settles nothing once the reply came; otherwise the thread ended without an answer.
        reject(new Error(`the range verification thread exited with code ${code}`));
      });
    });
  }
}
