import type { Readable } from 'node:stream';

/**
 * Where encrypted blob bytes live (local disk, S3-compatible). Keys are opaque paths made of
 * [A-Za-z0-9._-] segments joined by '/'. Every adapter passes test/support/blob-store-contract.ts.
 */
export interface BlobStore {
  /**
   * Stores `data` under `key`. The object becomes visible only once every byte is durable; on any
   * error (including the source stream failing) nothing is left under `key` or elsewhere.
   * `publishAfter`: the object is not made visible before this settles — bytes may be written
   * meanwhile — and if it rejects, nothing is stored and put rejects with its reason (an upload
   * writes while the record that lets a crash sweep find the object is still being committed).
   */
  put(
    key: string,
    data: Readable | AsyncIterable<Uint8Array> | readonly Uint8Array[],
    options?: { publishAfter?: Promise<unknown> },
  ): Promise<{ size: number }>;
  /** Streams bytes [start, end] (inclusive) or the whole object. Throws BlobNotFoundError. */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Size of the object, or undefined when there is none. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Removes the object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }>;
  /**
   * Removes partial writes (temp files, unfinished multipart uploads) whose writer is not among the
   * live writers (ProcessRegistry ids). `listLiveWriters` is called after the partial writes are
   * listed, so a writer that started meanwhile counts as live. Optional: a store that keeps no
   * partial state of its own needs none.
   */
  sweepPartialWrites?(listLiveWriters: () => Promise<ReadonlySet<string>>): Promise<number>;
}

/** Thrown by BlobStore.get for a key that holds nothing. */
export class BlobNotFoundError extends Error {
  constructor(key: string) {
    super(`No blob stored under ${key}`);
    this.name = 'BlobNotFoundError';
  }
}
