// What the disk itself can do: the baselines a storage server is measured against.
import { createHash, randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.ts';

export { GIB, makeRandomFile, makeSmallFiles, measureDd, measureCpWithSync, syncAll, megabytesPerSecond };

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** MB = 10^6 bytes, as dd prints it. */
function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

/**
 * Flushes every dirty page to disk. Called before each timed step so that write-back left over
 * from the previous step (the kernel delays it by up to 30 s) is not charged to the next one.
 */
async function syncAll(): Promise<void> {
  await run('sync', []);
}

/**
 * Random, so that nothing on the way (disk, file system, server) can take a shortcut on zeros.
 * Returns the sha256 to check downloads against. The file stays in the page cache afterwards,
 * so every upload reads its source from memory and only the write side is measured.
 */
async function makeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(MIB);
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < size; written += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - written));
      randomFillSync(part);
      hash.update(part);
      await file.write(part);
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** Distinct random contents, so no server can deduplicate them. */
function makeSmallFiles(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, () => randomFillSync(Buffer.alloc(size)));
}

/** `dd … conv=fsync`: the sequential write rate of the disk when the data must really be on it. */
async function measureDd(dir: string): Promise<number> {
  const target = join(dir, 'dd.bin');
  await syncAll();
  const started = performance.now();
  const { stderr } = await run('dd', ['if=/dev/zero', `of=${target}`, 'bs=1M', 'count=1024', 'conv=fsync']);
  const ownSeconds = (performance.now() - started) / 1000;
  await rm(target);
  // dd's own figures exclude process start-up; its summary line reads
  // "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.87 s, 574 MB/s".
  const match = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr);
  if (!match) {
    return megabytesPerSecond(GIB, ownSeconds);
  }
  return megabytesPerSecond(Number(match[1]), Number(match[2]));
}

/** `cp a b && sync b`: a plain file copy made durable, the floor any upload path adds to. */
async function measureCpWithSync(source: string, dir: string, size: number): Promise<number> {
  const target = join(dir, 'cp.bin');
  await syncAll();
  const started = performance.now();
  await run('cp', [source, target]);
  await run('sync', [target]);
  const seconds = (performance.now() - started) / 1000;
  await rm(target);
  return megabytesPerSecond(size, seconds);
}
