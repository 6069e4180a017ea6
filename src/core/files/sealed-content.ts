import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { DecryptingStream, EncryptingStream, cipherRangeFor } from '../crypto/segmented-format.ts';
import type { KeyService } from '../crypto/key.service.ts';
import type { Clock } from '../shared/clock.ts';
import { IntegrityError, QuotaExceededError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { LengthMismatchError } from './files.errors.ts';
import { BlobNotFoundError, type BlobStore } from './ports.ts';
import type { BlobIntentRepository } from './ports.repos.ts';

export interface SealedBlob {
  blobKey: string;
  dataKeyId: string;
  size: number;
  sha256: string;
  /** True when write() recorded a blob intent, which the commit of its version must release. */
  isIntentRecorded?: boolean;
}

/** Where a tenant's blobs live in the store; the sweep lists by this prefix. */
export function tenantBlobPrefix(tenantId: string): string {
  return `t/${tenantId}/`;
}

/**
 * Encrypted content in the blob store: every byte written is sealed under a fresh data key, every
 * byte read is authenticated before it is released. Knows nothing of folders or versions.
 */
export class SealedContent {
  readonly #blobs: BlobStore;
  readonly #keys: KeyService;
  readonly #intents: BlobIntentRepository;
  readonly #processId: string;
  readonly #clock: Clock;

  constructor(deps: {
    blobs: BlobStore;
    keys: KeyService;
    /** Where write() records each blob before its first byte, so a crash mid-write can be swept. */
    intents: BlobIntentRepository;
    /** This process (ProcessRegistry.selfId): the owner recorded on its intents. */
    processId: string;
    clock: Clock;
  }) {
    this.#blobs = deps.blobs;
    this.#keys = deps.keys;
    this.#intents = deps.intents;
    this.#processId = deps.processId;
    this.#clock = deps.clock;
  }

  /**
   * Streams `source` into a new sealed blob. Stops with QuotaExceededError as soon as more than
   * `maxBytes` arrive, and with LengthMismatchError when `declaredLength` is not met exactly; in
   * every failure nothing is left in the store. A blob intent is recorded before the first byte, so if
   * this process dies before the version commits, MaintenanceService.sweepAbandonedWrites removes it.
   */
  async write(
    tenantId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    limits: { maxBytes: number; declaredLength?: number },
  ): Promise<SealedBlob> {
    const dataKey = await this.#keys.allocateDataKey(tenantId);
    const blobKey = `${tenantBlobPrefix(tenantId)}${newId()}`;
    await this.#intents.insert({
      tenantId,
      blobKey,
      dataKeyId: dataKey.id,
      processId: this.#processId,
      createdAt: this.#clock.now(),
    });
    const meter = new MeteringStream(limits.maxBytes, limits.declaredLength);
    const encrypt = new EncryptingStream({ key: dataKey.key, blobId: blobKey });
    const sealed = pipeline(
      source instanceof Readable ? source : Readable.from(source),
      meter,
      encrypt,
      () => undefined,
    );
    try {
      await this.#blobs.put(blobKey, sealed);
    } catch (error) {
      await this.#keys.destroyDataKeys(tenantId, [dataKey.id]).catch(() => undefined);
      await this.#intents.deleteMany(tenantId, [blobKey]).catch(() => undefined);
      throw meter.failure ?? error;
    }
    if (limits.declaredLength !== undefined && meter.bytes !== limits.declaredLength) {
      await this.destroy(tenantId, [{ blobKey, dataKeyId: dataKey.id }]);
      throw new LengthMismatchError(limits.declaredLength, meter.bytes);
    }
    return {
      blobKey,
      dataKeyId: dataKey.id,
      size: meter.bytes,
      sha256: meter.digest(),
      isIntentRecorded: true,
    };
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
    let raw: Readable;
    try {
      raw = await this.#blobs.get(blob.blobKey, { start: cipherRange.start, end: cipherRange.end });
    } catch (error) {
      if (error instanceof BlobNotFoundError) {
        throw new IntegrityError('The stored content is missing', { blobKey: blob.blobKey });
      }
      throw error;
    }
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
    await Promise.all(blobs.map((b) => this.#blobs.delete(b.blobKey)));
    await this.#intents.deleteMany(
      tenantId,
      blobs.map((b) => b.blobKey),
    );
  }
}

/** Counts and hashes plaintext on its way in and enforces the byte limits. */
class MeteringStream extends Transform {
  bytes = 0;
  failure: Error | undefined;
  readonly #hash = createHash('sha256');
  readonly #maxBytes: number;
  readonly #declared: number | undefined;

  constructor(maxBytes: number, declared: number | undefined) {
    super();
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
    this.#hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** Waits for the first chunk (or the end, or an error) and hands back a stream that replays it. */
async function primeStream(stream: Readable): Promise<Readable> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  const out = new PassThrough();
  if (first.done) {
    out.end();
    return out;
  }
  out.write(first.value);
  // If the reader goes away (client disconnect), stop reading the blob.
  out.once('close', () => stream.destroy());
  (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          break;
        }
        if (out.destroyed) {
          return;
        }
        if (!out.write(next.value)) {
          await new Promise((resolve) => {
            out.once('drain', resolve);
            out.once('close', resolve);
          });
        }
      }
      out.end();
    } catch (error) {
      out.destroy(error as Error);
    }
  })();
  return out;
}
