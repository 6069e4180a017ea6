import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Streams that move file bytes report them here, so that the buffers they leave behind are freed
 * cheaply.
 *
 * A large transfer allocates about two bytes of short-lived buffer memory per byte moved (socket
 * reads and cipher output on the way in, file reads and plaintext on the way out) but hardly any JS
 * objects. V8 frees such buffers for almost nothing in a young-generation collection (a scavenge),
 * yet scavenges are triggered by JS allocation, which a transfer barely does: left alone, the
 * buffers pile up until V8's external-memory limit (64 MB above the last full collection) starts a
 * full mark-compact instead. Measured on a 2-vCPU machine: ~30 mark-compacts per GiB, 2-4 s of GC
 * CPU per GiB moved, and a resident size that kept growing towards 300 MB. Asking for a scavenge
 * every 16 MiB moved (about 1 ms each) frees the buffers before that limit is reached.
 */
export function noteBufferTraffic(bytes: number): void {
  sinceLastScavenge += bytes;
  if (sinceLastScavenge >= SCAVENGE_EVERY) {
    sinceLastScavenge = 0;
    scavenge();
  }
}

const SCAVENGE_EVERY = 16 * 1024 * 1024;
let sinceLastScavenge = 0;

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

const scavenge = loadScavenger();

/**
 * V8's `gc()` (the one `--expose-gc` installs), obtained without exposing it globally: the flag is
 * set just long enough to create one context that has it. If that is not possible, no hints are
 * given and V8 collects on its own schedule.
 */
function loadScavenger(): () => void {
  try {
    let gc = (globalThis as { gc?: GcFunction }).gc;
    if (!gc) {
      setFlagsFromString('--expose-gc');
      try {
        gc = runInNewContext('gc') as GcFunction;
      } finally {
        setFlagsFromString('--no-expose-gc');
      }
    }
    if (typeof gc !== 'function') {
      return () => undefined;
    }
    const minor = gc;
    return () => minor({ type: 'minor' });
  } catch {
    return () => undefined;
  }
}
