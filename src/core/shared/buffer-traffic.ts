import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
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
 * every 8 MiB moved (about 1 ms each) frees the buffers before that limit is reached, and halves
 * how much dead buffer memory can pile up between two scavenges (which the C allocator keeps).
 */
export function noteBufferTraffic(bytes: number): void {
  sinceLastScavenge += bytes;
  if (sinceLastScavenge >= SCAVENGE_EVERY) {
    sinceLastScavenge = 0;
    scavenge();
  }
}

const SCAVENGE_EVERY = 8 * 1024 * 1024;
let sinceLastScavenge = 0;

/**
 * Keeps the JS heap within a bounded distance of its live size, checked every `intervalMs`: once its
 * old generation has grown by more than a quarter of its smallest size seen since the last
 * collection (and at least `minGrowthBytes`), a full collection is asked for. Returns a function
 * that stops the checks.
 *
 * Why: V8 lets the old generation grow to a multiple of what survived its last full collection
 * before it collects again (package.json's start script fixes that multiple at 2, see
 * docs/ARCHITECTURE.md). Steady request traffic promotes short-lived request objects, so a busy
 * server sat near twice its live heap — tens of MB of garbage on top of the buffer memory a large
 * transfer leaves with the C allocator. Asking earlier keeps the resident size down, at the price of
 * a full collection (an atomic one: on the 2-vCPU machine it paused the event loop for 10-90 ms,
 * depending on other load) each time the old generation has grown that much. A timer is used instead of a lower growth
 * multiple because V8's own incremental marking, when started with little room left, kept
 * restarting during large transfers (a collection every 100-200 ms and seconds of CPU per GiB).
 */
export function startHeapGovernor(
  options: {
    intervalMs?: number;
    minGrowthBytes?: number;
    /** Bytes of JS heap in use outside the young generation (V8's figure unless given, for tests). */
    heapUsed?: () => number;
    /** Asks for a full collection (V8's unless given, for tests). */
    collect?: () => void;
  } = {},
): () => void {
  const intervalMs = options.intervalMs ?? 250;
  const minGrowthBytes = options.minGrowthBytes ?? 8 * 1024 * 1024;
  const heapUsed = options.heapUsed ?? oldGenerationUsed;
  const collect = options.collect ?? collectSoon;
  let floor = Number.POSITIVE_INFINITY;
  const timer = setInterval(() => {
    const used = heapUsed();
    if (used < floor) {
      floor = used;
    } else if (used - floor > Math.max(minGrowthBytes, floor / 4)) {
      collect();
      floor = used; // lowered again by the next checks once the collection has freed something
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The heap in use minus the young generation: that part fills and empties with every scavenge (up to
 * about 12 MB here), and counting it made the governor ask for a full collection about once a second
 * under steady small uploads, each pausing the event loop, for garbage a scavenge was about to free.
 */
export function oldGenerationUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith('new_')) {
      used += space.space_used_size;
    }
  }
  return used;
}

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

const gcFunction = loadGc();
const scavenge = gcFunction ? () => gcFunction({ type: 'minor' }) : () => undefined;
const collectSoon = gcFunction ? () => gcFunction({ type: 'major', execution: 'async' }) : () => undefined;

/**
 * V8's `gc()` (the one `--expose-gc` installs), obtained without exposing it globally: the flag is
 * set just long enough to create one context that has it. If that is not possible, no hints are
 * given and V8 collects on its own schedule.
 */
function loadGc(): GcFunction | undefined {
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
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined;
  }
}
