import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of a long byte stream, computed on a worker thread. Hashing is the largest single CPU cost
 * of a large upload on the event loop (more than AES-GCM); here the event loop only copies each
 * chunk into a ring buffer shared with the worker (a memcpy), and the hashing runs on another core. One worker serves every upload; it is started on first use and does not keep the
 * process alive when nothing is being hashed.
 *
 * Usage: `update()` every chunk in order (when it returns a promise, wait for it before the next
 * chunk: the ring is full), then `digest()` once; or `abort()`.
 */
export class OffThreadSha256 {
  readonly #id = nextSessionId++;
  readonly #ring = new SharedArrayBuffer(RING_BYTES);
  readonly #ringBytes = Buffer.from(this.#ring);
  /** Bytes the worker has hashed, modulo 2^30 (it stores, we load). */
  readonly #hashed = new Int32Array(new SharedArrayBuffer(4));
  readonly #digest: Promise<string>;
  #written = 0;
  #announced = 0;
  #isClosed = false;

  constructor() {
    let resolve!: (digest: string) => void;
    let reject!: (error: Error) => void;
    this.#digest = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#digest.catch(() => undefined); // observed through digest(); an aborted session must not crash
    const worker = hashWorker();
    sessions.set(this.#id, { resolve, reject });
    worker.ref(); // while anything is being hashed
    worker.postMessage({ type: 'start', id: this.#id, ring: this.#ring, hashed: this.#hashed.buffer });
  }

  /** Queues `chunk` for hashing; a promise means the ring is full: wait for it before the next chunk. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      const free = RING_BYTES - this.#pending();
      if (free === 0) {
        this.#announced = this.#written;
        return this.#untilHashed().then(() => this.update(chunk.subarray(offset)));
      }
      const start = this.#written % RING_BYTES;
      const length = Math.min(chunk.length - offset, free, RING_BYTES - start);
      this.#ringBytes.set(chunk.subarray(offset, offset + length), start);
      offset += length;
      this.#written = (this.#written + length) % POSITION_MODULUS;
    }
    if (this.#pendingAnnouncement() >= ANNOUNCE_BYTES) {
      this.#announce();
    }
    return undefined;
  }

  /** Hex digest of everything passed to update(). */
  digest(): Promise<string> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      hashWorker().postMessage({ type: 'end', id: this.#id, upTo: this.#written });
    }
    return this.#digest;
  }

  /** Forgets the session (the upload failed); digest() then rejects. */
  abort(): void {
    if (!this.#isClosed) {
      this.#isClosed = true;
      hashWorker().postMessage({ type: 'abort', id: this.#id });
      settle(this.#id, new Error('hashing aborted'));
    }
  }

  /** Bytes in the ring that the worker has not hashed yet. */
  #pending(): number {
    return (this.#written - Atomics.load(this.#hashed, 0) + POSITION_MODULUS) % POSITION_MODULUS;
  }

  #pendingAnnouncement(): number {
    return (this.#written - this.#announced + POSITION_MODULUS) % POSITION_MODULUS;
  }

  /** Tells the worker how far it may hash. */
  #announce(): void {
    if (this.#announced !== this.#written) {
      this.#announced = this.#written;
      hashWorker().postMessage({ type: 'data', id: this.#id, upTo: this.#written });
    }
  }

  /** Resolves once the worker has hashed everything announced so far; rejects if the session failed. */
  #untilHashed(): Promise<void> {
    const session = sessions.get(this.#id);
    if (!session) {
      return this.#digest.then(() => undefined); // settled: rejects with the worker's error
    }
    return new Promise((resolve, reject) => {
      session.onProgress = resolve;
      session.onFailure = reject;
      hashWorker().postMessage({ type: 'data', id: this.#id, upTo: this.#written, wake: true });
    });
  }
}

/** Ring size per upload: the worker hashes far faster than uploads arrive, so this rarely fills. */
const RING_BYTES = 4 * 1024 * 1024;
/** The worker is told about new bytes in steps of this size (one message each). */
const ANNOUNCE_BYTES = 512 * 1024;
/** Positions wrap at 2^30 (a multiple of RING_BYTES), so they fit an Int32Array for Atomics. */
const POSITION_MODULUS = 2 ** 30;

let nextSessionId = 1;
interface Session {
  resolve: (digest: string) => void;
  reject: (error: Error) => void;
  /** Set while update() waits for room in the ring. */
  onProgress?: () => void;
  onFailure?: (error: Error) => void;
}

const sessions = new Map<number, Session>();
let worker: Worker | undefined;

/** Ends a session with its digest or an error; the worker stops keeping the process alive when none is left. */
function settle(id: number, outcome: string | Error): void {
  const session = sessions.get(id);
  if (!session) {
    return;
  }
  sessions.delete(id);
  if (typeof outcome === 'string') {
    session.resolve(outcome);
  } else {
    session.reject(outcome);
    session.onFailure?.(outcome);
  }
  if (sessions.size === 0) {
    worker?.unref();
  }
}

function hashWorker(): Worker {
  if (worker) {
    return worker;
  }
  const started = new Worker(WORKER_SOURCE, { eval: true });
  started.on('message', (message: { id: number; digest?: string; error?: string; progress?: true }) => {
    if (message.progress) {
      const session = sessions.get(message.id);
      const onProgress = session?.onProgress;
      if (session) {
        session.onProgress = undefined;
        session.onFailure = undefined;
      }
      onProgress?.();
    } else {
      settle(message.id, message.digest ?? new Error(message.error ?? 'hashing failed'));
    }
  });
  const fail = (error: Error) => {
    if (worker === started) {
      worker = undefined;
    }
    for (const id of [...sessions.keys()]) {
      settle(id, error);
    }
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the hashing thread exited with code ${code}`)));
  worker = started;
  return started;
}

/** The worker: one SHA-256 per session, fed from that session's ring up to the announced position. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const RING_BYTES = ${RING_BYTES};
const POSITION_MODULUS = ${POSITION_MODULUS};
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'start') {
    sessions.set(m.id, {
      hash: createHash('sha256'),
      ring: Buffer.from(m.ring),
      hashed: new Int32Array(m.hashed),
      position: 0,
    });
    return;
  }
  const s = sessions.get(m.id);
  if (!s) {
    return;
  }
  if (m.type === 'abort') {
    sessions.delete(m.id);
    return;
  }
  try {
    while (s.position !== m.upTo) {
      const start = s.position % RING_BYTES;
      const available = (m.upTo - s.position + POSITION_MODULUS) % POSITION_MODULUS;
      const length = Math.min(available, RING_BYTES - start);
      s.hash.update(s.ring.subarray(start, start + length));
      s.position = (s.position + length) % POSITION_MODULUS;
      Atomics.store(s.hashed, 0, s.position);
    }
    if (m.wake) {
      parentPort.postMessage({ id: m.id, progress: true });
    }
    if (m.type === 'end') {
      sessions.delete(m.id);
      parentPort.postMessage({ id: m.id, digest: s.hash.digest('hex') });
    }
  } catch (error) {
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, error: String(error) });
  }
});
`;
