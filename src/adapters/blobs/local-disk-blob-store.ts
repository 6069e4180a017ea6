import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, type BlobStore } from '../../core/files/ports.ts';

const KEY_PATTERN = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const TEMP_DIR = '.incoming';

/**
 * Blobs as files under one directory. A put writes to `.incoming/<writer>.<random>.part`, fsyncs,
 * renames into place and fsyncs the directory, so a crash leaves either no object or the whole
 * object. A leftover temp file names the process that wrote it, so `sweepPartialWrites()` can remove
 * it once that process is gone, even with several app nodes sharing the directory.
 */
export class LocalDiskBlobStore implements BlobStore {
  readonly #root: string;
  readonly #writerId: string;

  /** `writerId`: this process's id in the ProcessRegistry ([A-Za-z0-9-], no dots). */
  constructor(root: string, options: { writerId?: string } = {}) {
    this.#root = root;
    this.#writerId = options.writerId ?? 'unregistered';
    if (!/^[A-Za-z0-9-]+$/.test(this.#writerId)) {
      throw new Error(`Invalid blob writer id: ${JSON.stringify(this.#writerId)}`);
    }
  }

  async init(): Promise<void> {
    await mkdir(join(this.#root, TEMP_DIR), { recursive: true, mode: 0o700 });
  }

  /** Deletes half-written temp files left by a crash. Safe only when no other process writes here. */
  async sweepIncoming(): Promise<number> {
    const dir = join(this.#root, TEMP_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(join(dir, n), { force: true })));
    return names.length;
  }

  async sweepPartialWrites(listLiveWriters: () => Promise<ReadonlySet<string>>): Promise<number> {
    const dir = join(this.#root, TEMP_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    if (names.length === 0) {
      return 0;
    }
    const live = await listLiveWriters();
    const abandoned = names.filter((name) => !live.has(name.split('.')[0] ?? ''));
    await Promise.all(abandoned.map((name) => rm(join(dir, name), { force: true })));
    return abandoned.length;
  }

  async put(key: string, data: Readable | AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const target = this.#path(key);
    const temp = join(this.#root, TEMP_DIR, `${this.#writerId}.${randomBytes(12).toString('hex')}.part`);
    let size = 0;
    try {
      const out = createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 });
      await pipeline(
        data,
        async function* (source: AsyncIterable<Uint8Array>) {
          for await (const chunk of source) {
            size += chunk.length;
            yield chunk;
          }
        },
        out,
      );
      await fsyncPath(temp);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(temp, target);
      await fsyncPath(dirname(target));
      return { size };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const path = this.#path(key);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    return createReadStream(path, {
      fd: handle,
      start: range?.start,
      end: range?.end,
      highWaterMark: 256 * 1024,
    });
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const info = await stat(this.#path(key)).catch(() => undefined);
    return info ? { size: info.size } : undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }> {
    // The folder part of the prefix is checked like a key, so '../' cannot walk outside the root.
    const start = prefix.includes('/') ? this.#path(prefix.slice(0, prefix.lastIndexOf('/'))) : this.#root;
    for await (const path of walk(start)) {
      const key = relative(this.#root, path).split(sep).join('/');
      if (key.startsWith(`${TEMP_DIR}/`) || !key.startsWith(prefix)) {
        continue;
      }
      const info = await stat(path).catch(() => undefined);
      if (info) {
        yield { key, size: info.size, modifiedAt: info.mtimeMs };
      }
    }
  }

  #path(key: string): string {
    // A key inside TEMP_DIR would be hidden from list() and deleted by sweepIncoming().
    const parts = key.split('/');
    if (
      !KEY_PATTERN.test(key) ||
      parts.some((part) => part === '.' || part === '..') ||
      parts[0] === TEMP_DIR
    ) {
      throw new Error(`Invalid blob key: ${JSON.stringify(key)}`);
    }
    return join(this.#root, ...key.split('/'));
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function* walk(dir: string): AsyncIterable<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walk(path);
    } else if (entry.isFile()) {
      yield path;
    }
  }
}
