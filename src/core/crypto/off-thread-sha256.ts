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
  /** Positions shared with the worker (see WRITTEN, HASHED, IDLE). */
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  readonly #digest: Promise<string>;
  #written = 0;
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
    Atomics.store(this.#control, IDLE, 1); // nothing to hash yet: the first bytes need a message
    worker.ref(); // while anything is being hashed
    worker.postMessage({ type: 'start', id: this.#id, ring: this.#ring, control: this.#control.buffer });
  }

  /** Queues `chunk` for hashing; a promise means the ring is full: wait for it before the next chunk. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      const free = RING_BYTES - this.#pending();
      if (free === 0) {
        return this.#untilHashed().then(() => this.update(chunk.subarray(offset)));
      }
      const start = this.#written % RING_BYTES;
      const length = Math.min(chunk.length - offset, free, RING_BYTES - start);
      this.#ringBytes.set(chunk.subarray(offset, offset + length), start);
      offset += length;
      this.#written = (this.#written + length) % POSITION_MODULUS;
      Atomics.store(this.#control, WRITTEN, this.#written);
    }
    // A busy worker picks new bytes up by itself; an idle one is woken only once a batch is waiting.
    if (this.#pending() >= WAKE_BYTES) {
      this.#wake();
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
    return (this.#written - Atomics.load(this.#control, HASHED) + POSITION_MODULUS) % POSITION_MODULUS;
  }

  /** Sends the worker a message if it has gone idle (exactly one sender wins the flag). */
  #wake(): void {
    if (Atomics.compareExchange(this.#control, IDLE, 1, 0) === 1) {
      hashWorker().postMessage({ type: 'data', id: this.#id });
    }
  }

  /** Resolves once the worker has hashed everything written so far; rejects if the session failed. */
  #untilHashed(): Promise<void> {
    const session = sessions.get(this.#id);
    if (!session) {
      return this.#digest.then(() => undefined); // settled: rejects with the worker's error
    }
    return new Promise((resolve, reject) => {
      session.onProgress = resolve;
      session.onFailure = reject;
      Atomics.store(this.#control, IDLE, 0);
      hashWorker().postMessage({ type: 'data', id: this.#id, wake: true });
    });
  }
}

/** Ring size per upload: the worker hashes far faster than uploads arrive, so this rarely fills. */
const RING_BYTES = 4 * 1024 * 1024;
/**
 * An idle worker is woken (one message) once this many bytes wait for it. The worker hashes several
 * times faster than an upload arrives, so it is idle most of the time: every wake-up costs both
 * threads a message and a context switch, and fewer, larger batches keep that small.
 */
const WAKE_BYTES = 1024 * 1024;
/** Slots of the control array: bytes written by the event loop, hashed by the worker, and whether the worker is idle. */
const WRITTEN = 0;
const HASHED = 1;
const IDLE = 2;
const CONTROL_SLOTS = 3;
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
const WRITTEN = ${WRITTEN};
const HASHED = ${HASHED};
const IDLE = ${IDLE};
const sessions = new Map();

/** Hashes from the session's position up to \`upTo\`. */
function hashUpTo(s, upTo) {
  while (s.position !== upTo) {
    const start = s.position % RING_BYTES;
    const available = (upTo - s.position + POSITION_MODULUS) % POSITION_MODULUS;
    const length = Math.min(available, RING_BYTES - start);
    s.hash.update(s.ring.subarray(start, start + length));
    s.position = (s.position + length) % POSITION_MODULUS;
    Atomics.store(s.control, HASHED, s.position);
  }
}

/** Hashes whatever the event loop has written, until nothing more arrives; then marks the session idle. */
function drain(s) {
  for (;;) {
    hashUpTo(s, Atomics.load(s.control, WRITTEN));
    Atomics.store(s.control, IDLE, 1);
    // Bytes written after the load above but before the flag was set would wait for no one: look again.
    if (Atomics.load(s.control, WRITTEN) === s.position) {
      return;
    }
    Atomics.store(s.control, IDLE, 0);
  }
}

parentPort.on('message', (m) => {
  if (m.type === 'start') {
    sessions.set(m.id, {
      hash: createHash('sha256'),
      ring: Buffer.from(m.ring),
      control: new Int32Array(m.control),
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
    if (m.type === 'end') {
      hashUpTo(s, m.upTo);
      sessions.delete(m.id);
      parentPort.postMessage({ id: m.id, digest: s.hash.digest('hex') });
      return;
    }
    drain(s);
    if (m.wake) {
      parentPort.postMessage({ id: m.id, progress: true });
    }
  } catch (error) {
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, error: String(error) });
  }
});
`;
