import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { OffThreadSha256 } from '../crypto/off-thread-sha256.ts';
import { DecryptingStream, EncryptingStream, cipherRangeFor, sealBlob } from '../crypto/segmented-format.ts';
import type { KeyService } from '../crypto/key.service.ts';
import type { Clock } from '../shared/clock.ts';
import { noteBufferTraffic } from '../shared/buffer-traffic.ts';
import { IntegrityError, QuotaExceededError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { LengthMismatchError } from './files.errors.ts';
import { BlobNotFoundError, type BlobStore } from './ports.ts';
import type { BlobIntentRepository, InlineBlobRepository } from './ports.repos.ts';

export interface SealedBlob {
  blobKey: string;
  dataKeyId: string;
  size: number;
  sha256: string;
  /** True when write() recorded a blob intent, which the commit of its version must release. */
  isIntentRecorded?: boolean;
  /**
   * The sealed bytes of a small file that is kept in the database: the commit of its version
   * inserts them (InlineBlobRepository) in the same transaction, so they exist exactly when it does.
   */
  inline?: Buffer;
}

/** Uploads that announce at most this many bytes are read into memory and sealed in one go. */
const SMALL_BODY = 256 * 1024;

/** Where a tenant's blobs live in the store; the sweep lists by this prefix. */
export function tenantBlobPrefix(tenantId: string): string {
  return `t/${tenantId}/`;
}

/** Keys of blobs kept in the database; never looked up in (or swept from) the blob store. */
const INLINE_KEY_PREFIX = 'inline/';

export function isInlineBlobKey(blobKey: string): boolean {
  return blobKey.startsWith(INLINE_KEY_PREFIX);
}

/**
 * Encrypted content in the blob store: every byte written is sealed under a fresh data key, every
 * byte read is authenticated before it is released. Knows nothing of folders or versions.
 *
 * Uploads announced (Content-Length) at no more than `inlineMaxBytes` are sealed the same way but
 * kept in the database with their version instead (SealedBlob.inline): a blob file costs an open,
 * an fsync, a rename and a folder fsync, plus an intent committed beside it, where the version's
 * own commit — whose WAL fsync concurrent uploads share — already makes the bytes durable.
 */
export class SealedContent {
  readonly #blobs: BlobStore;
  readonly #keys: KeyService;
  readonly #intents: BlobIntentRepository;
  readonly #inlineBlobs: InlineBlobRepository;
  readonly #inlineMaxBytes: number;
  readonly #processId: string;
  readonly #clock: Clock;

  constructor(deps: {
    blobs: BlobStore;
    keys: KeyService;
    /** Where write() records each blob before its first byte, so a crash mid-write can be swept. */
    intents: BlobIntentRepository;
    /** Where small files' sealed bytes are read and deleted (they are inserted by the version commit). */
    inlineBlobs: InlineBlobRepository;
    /** Uploads announced at no more than this many bytes are kept in the database; 0: none are. */
    inlineMaxBytes: number;
    /** This process (ProcessRegistry.selfId): the owner recorded on its intents. */
    processId: string;
    clock: Clock;
  }) {
    if (deps.inlineMaxBytes > SMALL_BODY) {
      throw new Error(`inlineMaxBytes is at most ${SMALL_BODY}: such bodies are read whole`);
    }
    this.#blobs = deps.blobs;
    this.#keys = deps.keys;
    this.#intents = deps.intents;
    this.#inlineBlobs = deps.inlineBlobs;
    this.#inlineMaxBytes = deps.inlineMaxBytes;
    this.#processId = deps.processId;
    this.#clock = deps.clock;
  }

  /**
   * Streams `source` into a new sealed blob. Stops with QuotaExceededError as soon as more than
   * `maxBytes` arrive, and with LengthMismatchError when `declaredLength` is not met exactly; in
   * every failure nothing is left in the store. A blob intent is recorded before the first byte, so if
   * this process dies before the version commits, MaintenanceService.sweepAbandonedWrites removes it.
   * A small body is sealed into memory instead (SealedBlob.inline) and nothing is stored yet.
   */
  async write(
    tenantId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; declaredLength?: number },
  ): Promise<SealedBlob> {
    if (limits.declaredLength !== undefined && limits.declaredLength <= this.#inlineMaxBytes) {
      return this.#sealInline(tenantId, source, { ...limits, declaredLength: limits.declaredLength });
    }
    const dataKey = await this.#keys.allocateDataKey(tenantId);
    const blobKey = `${tenantBlobPrefix(tenantId)}${newId()}`;
    // The bytes go to the store while the intent commits (its fsync overlaps theirs); the store
    // publishes the blob only once the intent is durable, so a crash can never leave a blob that
    // no intent names. A half-written temp object is the store's own to sweep.
    const intent = this.#intents.insert({
      tenantId,
      blobKey,
      dataKeyId: dataKey.id,
      processId: this.#processId,
      createdAt: this.#clock.now(),
    });
    intent.catch(() => undefined); // awaited below; a rejection before then must not go unhandled
    let written: { size: number; sha256: string };
    try {
      written =
        limits.declaredLength !== undefined && limits.declaredLength <= SMALL_BODY
          ? await this.#writeSmall(blobKey, dataKey.key, source, limits, intent)
          : await this.#writeStream(blobKey, dataKey.key, source, limits, intent);
      await intent;
    } catch (error) {
      await this.#keys.destroyDataKeys(tenantId, [dataKey.id]).catch(() => undefined);
      // Only once the insert has settled, or the delete could run before it on another connection.
      await intent.catch(() => undefined);
      await this.#intents.deleteMany(tenantId, [blobKey]).catch(() => undefined);
      throw error;
    }
    if (limits.declaredLength !== undefined && written.size !== limits.declaredLength) {
      await this.destroy(tenantId, [{ blobKey, dataKeyId: dataKey.id }]);
      throw new LengthMismatchError(limits.declaredLength, written.size);
    }
    return {
      blobKey,
      dataKeyId: dataKey.id,
      size: written.size,
      sha256: written.sha256,
      isIntentRecorded: true,
    };
  }

  /** A small body, read whole and sealed in memory, for its version's commit to store (SealedBlob.inline). */
  async #sealInline(
    tenantId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; declaredLength: number },
  ): Promise<SealedBlob> {
    const dataKey = await this.#keys.allocateDataKey(tenantId);
    const blobKey = `${INLINE_KEY_PREFIX}${tenantId}/${newId()}`;
    try {
      const { sealed, size, sha256 } = await readAndSeal(source, limits, dataKey.key, blobKey);
      if (size !== limits.declaredLength) {
        throw new LengthMismatchError(limits.declaredLength, size);
      }
      return { blobKey, dataKeyId: dataKey.id, size, sha256, inline: Buffer.concat(sealed) };
    } catch (error) {
      await this.#keys.destroyDataKeys(tenantId, [dataKey.id]).catch(() => undefined);
      throw error;
    }
  }

  /** Streams `source` through the meter and the cipher into the store, never holding more than a few segments. */
  async #writeStream(
    blobKey: string,
    key: Buffer,
    source: Readable | AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; declaredLength?: number },
    publishAfter: Promise<unknown>,
  ): Promise<{ size: number; sha256: string }> {
    const meter = new MeteringStream(limits.maxBytes, limits.declaredLength);
    const encrypt = new EncryptingStream({ key, blobId: blobKey });
    const sealed = pipeline(
      source instanceof Readable ? source : Readable.from(source),
      meter,
      encrypt,
      () => undefined,
    );
    try {
      await this.#blobs.put(blobKey, sealed, { publishAfter });
    } catch (error) {
      meter.destroy();
      throw meter.failure ?? error;
    }
    try {
      return { size: meter.bytes, sha256: await meter.digest() };
    } catch (error) {
      await this.#blobs.delete(blobKey).catch(() => undefined); // stored, but its hash is unknown
      throw error;
    }
  }

  /**
   * A body announced as small is read whole and sealed in one go, then handed to the store as a
   * list of buffers: the same bytes on disk as the streaming path, without its per-stream machinery,
   * which costs more than the crypto for a few KiB.
   */
  async #writeSmall(
    blobKey: string,
    key: Buffer,
    source: Readable | AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; declaredLength?: number },
    publishAfter: Promise<unknown>,
  ): Promise<{ size: number; sha256: string }> {
    const { sealed, size, sha256 } = await readAndSeal(source, limits, key, blobKey);
    await this.#blobs.put(blobKey, sealed, { publishAfter });
    return { size, sha256 };
  }

  /**
   * Plaintext bytes [start, end] of a blob holding `size` bytes. The first segment is authenticated
   * before this returns, so a tampered small file fails here (before any response is sent); a later
   * failure destroys the stream with IntegrityError and no unauthenticated byte is ever emitted.
   */
  async open(
    tenantId: string,
    blob: { blobKey: string; dataKeyId: string; size: number },
    range: { start: number; end: number },
  ): Promise<Readable> {
    const key = await this.#keys.getDataKey(tenantId, blob.dataKeyId);
    const cipherRange = cipherRangeFor(blob.size, range.start, range.end);
    const raw = await this.#readSealed(tenantId, blob.blobKey, cipherRange);
    const plain = pipeline(
      raw,
      new DecryptingStream({
        key,
        blobId: blob.blobKey,
        size: blob.size,
        start: range.start,
        end: range.end,
      }),
      () => undefined,
    );
    return primeStream(plain);
  }

  /** The sealed bytes [start, end] of a blob, from the database or the blob store. */
  async #readSealed(
    tenantId: string,
    blobKey: string,
    range: { start: number; end: number },
  ): Promise<Readable> {
    const missing = () => new IntegrityError('The stored content is missing', { blobKey });
    if (isInlineBlobKey(blobKey)) {
      const sealed = await this.#inlineBlobs.find(tenantId, blobKey);
      if (!sealed) {
        throw missing();
      }
      // A cut-short blob reads short, as from a file; the decrypting stream then fails on it.
      return Readable.from([sealed.subarray(range.start, range.end + 1)]);
    }
    try {
      return await this.#blobs.get(blobKey, range);
    } catch (error) {
      if (error instanceof BlobNotFoundError) {
        throw missing();
      }
      throw error;
    }
  }

  /**
   * Destroys data keys first (cryptographic erasure, covers backups), then the blobs, then any
   * intent still recorded for them.
   */
  async destroy(tenantId: string, blobs: Array<{ blobKey: string; dataKeyId: string }>): Promise<void> {
    if (blobs.length === 0) {
      return;
    }
    await this.#keys.destroyDataKeys(
      tenantId,
      blobs.map((b) => b.dataKeyId),
    );
    const inline = blobs.filter((b) => isInlineBlobKey(b.blobKey)).map((b) => b.blobKey);
    const stored = blobs.filter((b) => !isInlineBlobKey(b.blobKey)).map((b) => b.blobKey);
    await this.#inlineBlobs.deleteMany(tenantId, inline);
    await Promise.all(stored.map((key) => this.#blobs.delete(key)));
    await this.#intents.deleteMany(tenantId, stored);
  }
}

/** A small body read whole and sealed in one go: its sealed parts, and the plaintext's size and sha256. */
async function readAndSeal(
  source: Readable | AsyncIterable<Uint8Array>,
  limits: { maxBytes: number; declaredLength?: number },
  key: Buffer,
  blobId: string,
): Promise<{ sealed: Buffer[]; size: number; sha256: string }> {
  const plaintext = await readWhole(source, limits);
  return {
    sealed: sealBlob({ key, blobId, plaintext }),
    size: plaintext.length,
    sha256: createHash('sha256').update(plaintext).digest('hex'),
  };
}

/** Reads a (small) body whole, enforcing the limits MeteringStream enforces on a stream. */
async function readWhole(
  source: Readable | AsyncIterable<Uint8Array>,
  limits: { maxBytes: number; declaredLength?: number },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const add = (chunk: Uint8Array | string): Error | undefined => {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    bytes += buffer.length;
    if (bytes > limits.maxBytes) {
      return new QuotaExceededError({ limitBytes: limits.maxBytes });
    }
    if (limits.declaredLength !== undefined && bytes > limits.declaredLength) {
      return new LengthMismatchError(limits.declaredLength, bytes);
    }
    chunks.push(buffer);
    return undefined;
  };
  if (source instanceof Readable) {
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        source.off('data', onData);
        source.off('end', onEnd);
        source.off('error', onError);
        source.off('close', onClose);
        if (error) {
          source.destroy();
          reject(error);
        } else {
          resolve();
        }
      };
      const onData = (chunk: Buffer) => {
        const error = add(chunk);
        if (error) {
          settle(error);
        }
      };
      const onEnd = () => settle();
      const onError = (error: Error) => settle(error);
      const onClose = () => settle(new Error('The upload ended before all of its bytes arrived'));
      source.on('data', onData);
      source.on('end', onEnd);
      source.on('error', onError);
      source.on('close', onClose);
    });
  } else {
    for await (const chunk of source) {
      const error = add(chunk);
      if (error) {
        throw error;
      }
    }
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes);
}

/**
 * Counts and hashes plaintext on its way in and enforces the byte limits. The hash is computed on a
 * worker thread (OffThreadSha256), which takes the largest single cost off the event loop.
 */
class MeteringStream extends Transform {
  bytes = 0;
  failure: Error | undefined;
  readonly #hash = new OffThreadSha256();
  readonly #maxBytes: number;
  readonly #declared: number | undefined;

  constructor(maxBytes: number, declared: number | undefined) {
    // Request chunks are up to 64 KiB; a 16 KiB mark would pause the socket after every one of them.
    super({ highWaterMark: 256 * 1024 });
    this.#maxBytes = maxBytes;
    this.#declared = declared;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#maxBytes) {
      this.failure = new QuotaExceededError({ limitBytes: this.#maxBytes });
      done(this.failure);
      return;
    }
    if (this.#declared !== undefined && this.bytes > this.#declared) {
      this.failure = new LengthMismatchError(this.#declared, this.bytes);
      done(this.failure);
      return;
    }
    noteBufferTraffic(chunk.length);
    const isRingFull = this.#hash.update(chunk);
    if (isRingFull) {
      isRingFull.then(() => done(null, chunk), done);
      return;
    }
    done(null, chunk);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (error || !this.writableFinished) {
      this.#hash.abort();
    }
    done(error);
  }

  digest(): Promise<string> {
    return this.#hash.digest();
  }
}

/**
 * Resolves with `stream` itself once its first chunk is buffered (or it has ended), so that a failure
 * of the first segment surfaces before any response is sent; rejects if it fails first. Nothing is
 * copied or re-piped: the caller reads the same stream, with backpressure all the way to the blob.
 */
function primeStream(stream: Readable): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off('readable', onReadable);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (error) {
        reject(error);
      } else {
        resolve(stream);
      }
    };
    const onReadable = () => settle();
    const onError = (error: Error) => settle(error);
    const onClose = () => settle(new Error('The content stream closed before its first byte'));
    stream.on('readable', onReadable);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
