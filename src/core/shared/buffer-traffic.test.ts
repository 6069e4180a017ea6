import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { oldGenerationUsed, startHeapGovernor } from './buffer-traffic.ts';

const MB = 1_000_000;

/** Runs the governor over a sequence of heap sizes (one per check) and returns the checks at which it collected. */
async function collectionsFor(sizes: number[], minGrowthBytes = 8 * MB): Promise<number[]> {
  const collectedAt: number[] = [];
  let check = -1;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const stop = startHeapGovernor({
    intervalMs: 1,
    minGrowthBytes,
    heapUsed: () => {
      check++;
      if (check === sizes.length - 1) {
        finished();
      }
      return sizes[Math.min(check, sizes.length - 1)] as number;
    },
    collect: () => collectedAt.push(check),
  });
  await done;
  stop();
  return collectedAt;
}

describe(startHeapGovernor.name, () => {
  it('should collect once the heap has grown by a quarter of its smallest size', async () => {
    assert.deepEqual(await collectionsFor([40 * MB, 45 * MB, 50 * MB, 51 * MB]), [3]);
  });

  it('should collect after at least the minimum growth when the heap is small', async () => {
    assert.deepEqual(await collectionsFor([10 * MB, 17 * MB, 19 * MB], 8 * MB), [2]);
  });

  it('should measure growth from the smallest size seen, not the first', async () => {
    assert.deepEqual(await collectionsFor([60 * MB, 40 * MB, 50 * MB, 51 * MB]), [3]);
  });

  it('should not collect again until the heap has grown past the size it collected at', async () => {
    // Collected at 51; the collection freed little (live data grew), so 60 is no reason for another.
    assert.deepEqual(await collectionsFor([40 * MB, 51 * MB, 48 * MB, 55 * MB, 60 * MB, 61 * MB]), [1, 5]);
  });

  it('should not keep the process alive', () => {
    const stop = startHeapGovernor();

    stop();
  });
});

describe('oldGenerationUsed', () => {
  it('should count the heap in use without the young generation, which short-lived garbage fills', () => {
    const before = oldGenerationUsed();
    // Short-lived objects, dropped at once: they land in the young generation only.
    let sink = 0;
    for (let i = 0; i < 50_000; i++) {
      sink += { i, text: `garbage ${i}` }.text.length;
    }
    const total = getHeapStatistics().used_heap_size;
    const after = oldGenerationUsed();

    assert.ok(sink > 0);
    assert.ok(after > 0 && after < total, `old ${after} of ${total}`);
    assert.ok(after - before < 2 * MB, `the old generation grew by ${after - before} bytes`);
  });
});
