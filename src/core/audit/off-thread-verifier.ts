import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Checkpoint, StoredEntry, VerificationResult } from './chain.ts';
import type { VerifyWorkerMessage } from './chain-verify.worker.ts';

type WorkerReply =
  | { type: 'page'; id: number; ok: boolean }
  | { type: 'result'; result: VerificationResult }
  | { type: 'error'; message: string };

/**
 * A ChainVerifier on a worker thread, so that checking hashes (half the cost of verifying a large
 * log) runs on another core while this thread reads the next pages from the database. Same
 * answers as ChainVerifier: pages go in seq order, `add` resolves false once a problem is found,
 * `finish` gives the result. One worker per verification; `close` ends it.
 */
export class OffThreadChainVerifier {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (ok: boolean) => void; reject: (e: Error) => void }>();
  #result: { resolve: (r: VerificationResult) => void; reject: (e: Error) => void } | undefined;
  #nextId = 1;
  #failure: Error | undefined;

  constructor(input: { checkpoints: Checkpoint[]; publicKeys: Map<string, KeyObject>; logId?: string }) {
    this.#worker = new Worker(new URL('./chain-verify.worker.ts', import.meta.url));
    this.#worker.on('message', (reply: WorkerReply) => this.#receive(reply));
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) =>
      this.#fail(new Error(`the verification thread exited with code ${code}`)),
    );
    this.#post({
      type: 'start',
      checkpoints: input.checkpoints,
      publicKeys: [...input.publicKeys].map(([keyId, key]) => [
        keyId,
        key.export({ type: 'spki', format: 'pem' }).toString(),
      ]),
      logId: input.logId,
    });
  }

  /** Queues the next page; resolves false once the log has shown a problem (stop reading then). */
  add(entries: StoredEntry[]): Promise<boolean> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#failure) {
        reject(this.#failure);
        return;
      }
      this.#waiting.set(id, { resolve, reject });
      this.#post({ type: 'page', id, entries });
    });
  }

  /** The verdict over every page added (the worker handles messages in order). */
  finish(): Promise<VerificationResult> {
    return new Promise((resolve, reject) => {
      if (this.#failure) {
        reject(this.#failure);
        return;
      }
      this.#result = { resolve, reject };
      this.#post({ type: 'finish' });
    });
  }

  close(): void {
    this.#failure ??= new Error('the verifier was closed');
    void this.#worker.terminate();
  }

  #post(message: VerifyWorkerMessage): void {
    this.#worker.postMessage(message);
  }

  #receive(reply: WorkerReply): void {
    if (reply.type === 'page') {
      this.#waiting.get(reply.id)?.resolve(reply.ok);
      this.#waiting.delete(reply.id);
    } else if (reply.type === 'result') {
      this.#result?.resolve(reply.result);
      this.#result = undefined;
    } else {
      this.#fail(new Error(`verification failed: ${reply.message}`));
    }
  }

  #fail(error: Error): void {
    if (this.#failure) {
      return;
    }
    this.#failure = error;
    for (const waiter of this.#waiting.values()) {
      waiter.reject(error);
    }
    this.#waiting.clear();
    this.#result?.reject(error);
    this.#result = undefined;
  }
}
