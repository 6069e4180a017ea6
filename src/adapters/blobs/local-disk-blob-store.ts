import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, type BlobStore } from '../../core/files/ports.ts';

const KEY_PATTERN = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const TEMP_DIR = '.incoming';
/** Bytes per read of a stored object. */
const READ_CHUNK = 1024 * 1024;
/** Bytes an upload may queue for the disk while earlier ones are being written. */
const WRITE_BUFFER = 2 * 1024 * 1024;
/**
 * A streamed put gathers chunks until this many bytes are waiting, then writes them with one writev.
 * Every write is a round trip to libuv's thread pool (a wake-up of a pool thread, then of the event
 * loop); sealed segments arrive as several small parts each, and writing them as they came meant
 * thousands of round trips per GiB, each costing both threads a context switch.
 */
const WRITE_BATCH = 1024 * 1024;
/** While a put is streaming, written data is flushed to the disk every this many bytes. */
const SYNC_EVERY = 32 * 1024 * 1024;

/**
 * Blobs as files under one directory. A put writes to `.incoming/<writer>.<random>.part`, fsyncs,
 * renames into place and fsyncs the directory, so a crash leaves either no object or the whole
 * object. A leftover temp file names the process that wrote it, so `sweepPartialWrites()` can remove
 * it once that process is gone, even with several app nodes sharing the directory.
 */
export class LocalDiskBlobStore implements BlobStore {
  readonly #root: string;
  readonly #writerId: string;
  readonly #dirSyncs = new DirectorySyncs();

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

  async put(
    key: string,
    data: Readable | AsyncIterable<Uint8Array> | readonly Uint8Array[],
    options: { publishAfter?: Promise<unknown> } = {},
  ): Promise<{ size: number }> {
    const target = this.#path(key);
    const temp = join(this.#root, TEMP_DIR, `${this.#writerId}.${randomBytes(12).toString('hex')}.part`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx', 0o600);
      let size: number;
      if (Array.isArray(data)) {
        // Already in memory (a small upload): one writev, no stream.
        size = await writeAll(handle, data as readonly Uint8Array[]);
      } else {
        const sink = new FileSink(handle);
        await pipeline(data as Readable | AsyncIterable<Uint8Array>, sink);
        size = sink.bytes;
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await options.publishAfter;
      await this.#renameIntoPlace(temp, target);
      await this.#dirSyncs.sync(dirname(target));
      return { size };
    } catch (error) {
      await handle?.close().catch(() => undefined);
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
      // Large reads: fewer syscalls and stream chunks per byte; the decrypting reader takes views of them.
      highWaterMark: READ_CHUNK,
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

  /** Renames without a mkdir per put: the folder is created only when the first rename into it fails. */
  async #renameIntoPlace(temp: string, target: string): Promise<void> {
    try {
      await rename(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw error;
      }
      const first = await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(temp, target);
      if (first !== undefined) {
        // Each folder mkdir made is a new entry in its parent: make those durable too (the caller
        // syncs the target's own folder).
        for (let dir = dirname(target); dir.length >= first.length; dir = dirname(dir)) {
          await fsyncPath(dirname(dir));
        }
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

/**
 * Makes renames into a folder durable with as few fsyncs of it as possible. An fsync of a folder
 * covers every rename done before it started, so a caller arriving while one runs waits for the next,
 * which then covers everybody who arrived in the meantime: concurrent small uploads into one folder
 * share a single folder fsync instead of paying one each.
 */
class DirectorySyncs {
  readonly #byDir = new Map<string, { running: Promise<void>; next?: Promise<void> }>();

  sync(dir: string): Promise<void> {
    const state = this.#byDir.get(dir);
    if (!state) {
      return this.#start(dir);
    }
    // The running fsync may have started before our rename: only one started after it covers us.
    state.next ??= state.running.then(
      () => this.#start(dir),
      () => this.#start(dir),
    );
    return state.next;
  }

  #start(dir: string): Promise<void> {
    const running = fsyncPath(dir);
    this.#byDir.set(dir, { running });
    const settle = () => {
      const state = this.#byDir.get(dir);
      if (state?.running === running && !state.next) {
        this.#byDir.delete(dir);
      }
    };
    running.then(settle, settle);
    return running;
  }
}

/** Appends `buffers` to the file with one writev; returns the number of bytes. */
async function writeAll(handle: FileHandle, buffers: readonly Uint8Array[]): Promise<number> {
  let total = 0;
  for (const buffer of buffers) {
    total += buffer.byteLength;
  }
  if (total === 0) {
    return 0;
  }
  let written = (await handle.writev(buffers as Uint8Array[])).bytesWritten;
  // libuv completes short writes itself; this only guards against a platform that does not.
  while (written < total) {
    const rest = Buffer.concat(buffers).subarray(written);
    written += (await handle.write(rest)).bytesWritten;
  }
  return total;
}

/**
 * The write side of put(): gathers chunks into batches of WRITE_BATCH bytes and appends each batch to
 * the temp file with one writev, counts the bytes, and flushes written data to the disk every
 * SYNC_EVERY bytes while the upload goes on, so the fsync before the rename has only the tail left
 * to write instead of the whole object (durability overlaps the transfer rather than following it).
 * A chunk is acknowledged once it is in the batch; the last, partial batch is written by _final, and
 * a failed write or flush fails the put (at the next chunk, or at the end).
 */
class FileSink extends Writable {
  bytes = 0;
  readonly #handle: FileHandle;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #syncedUpTo = 0;
  #sync: Promise<void> | undefined;
  #syncError: Error | undefined;

  constructor(handle: FileHandle) {
    super({ highWaterMark: WRITE_BUFFER });
    this.#handle = handle;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.#add(chunk);
    this.#writeIfFull(done);
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    done: (error?: Error | null) => void,
  ): void {
    for (const { chunk } of chunks) {
      this.#add(chunk);
    }
    this.#writeIfFull(done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#writeBatch()
      .then(() => this.#sync)
      .then(() => done(this.#syncError), done);
  }

  #add(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.#batch.push(chunk);
      this.#batchBytes += chunk.length;
    }
  }

  #writeIfFull(done: (error?: Error | null) => void): void {
    if (this.#syncError) {
      done(this.#syncError);
    } else if (this.#batchBytes >= WRITE_BATCH) {
      this.#writeBatch().then(() => done(), done);
    } else {
      done();
    }
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    this.bytes += await writeAll(this.#handle, batch);
    if (!this.#sync && this.bytes - this.#syncedUpTo >= SYNC_EVERY) {
      this.#syncedUpTo = this.bytes;
      this.#sync = this.#handle.datasync().then(
        () => {
          this.#sync = undefined;
        },
        (error: Error) => {
          this.#sync = undefined;
          this.#syncError = error;
        },
      );
    }
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
