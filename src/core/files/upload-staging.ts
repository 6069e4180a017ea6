import { randomBytes, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  SEGMENT_OVERHEAD,
  SEGMENT_SIZE,
  formatHeader,
  openSegment,
  sealSegment,
  segmentCount,
} from '../crypto/segmented-format.ts';
import { IntegrityError } from '../shared/errors.ts';
import type { UploadPart } from './file.types.ts';
import { BlobNotFoundError, type BlobStore } from './ports.ts';
import { UploadLengthExceededError } from './upload.errors.ts';

/**
 * How an unfinished resumable upload sits in the blob store. Its finished blob will live at the
 * upload's `blobKey`; until then its bytes are staged beside it as parts `<blobKey>.part-<first
 * segment>-<random>`, each holding whole sealed segments of that very blob (same data key, same
 * blob id in the AAD, global segment indexes), so finishing is a concatenation, not a re-encryption.
 * A trailing partial segment is staged alone; the next chunk opens it and seals it again, longer
 * (with a fresh random nonce). Keys are flat siblings, not `<blobKey>/…`: on a file-system store a
 * key cannot be both an object and a folder, and no empty folders are left behind.
 *
 * Every part key is new (never overwritten); the database records which parts count. A writer that
 * loses a race, or dies between writing a part and recording it, leaves only an unrecorded part.
 */
export function uploadStagingPrefix(blobKey: string): string {
  return `${blobKey}.`;
}

/** True when `key` is a staged part of the upload whose finished blob is `blobKey`. */
export function isUploadStagingKey(blobKey: string, key: string): boolean {
  return key.startsWith(uploadStagingPrefix(blobKey));
}

export function newPartKey(blobKey: string, firstSegment: number): string {
  return `${uploadStagingPrefix(blobKey)}part-${firstSegment}-${randomBytes(6).toString('hex')}`;
}

export interface SealedSegment {
  index: number;
  plainLength: number;
  sealed: Buffer;
  /** A segment cut short by the end of the chunk (not the end of the upload): it is staged alone. */
  isPartial: boolean;
}

/**
 * Seals the plaintext of one chunk into segments of the upload's blob, starting with `carried` (the
 * staged partial segment at `offset`, opened again). The upload's last segment is held back until the
 * chunk ends, so a body longer than Upload-Length is refused (UploadLengthExceededError) before the
 * last segment can be staged.
 */
export async function* sealSegments(
  source: AsyncIterable<Uint8Array>,
  options: { key: Buffer; blobId: string; length: number; offset: number; carried: Buffer },
): AsyncGenerator<SealedSegment> {
  const header = formatHeader();
  const lastIndex = segmentCount(options.length) - 1;
  let index = Math.floor(options.offset / SEGMENT_SIZE);
  let buffer = options.carried;
  let received = options.offset;
  const seal = (plaintext: Buffer, isFinal: boolean) =>
    sealSegment({ key: options.key, blobId: options.blobId, index, isFinal, plaintext, header });

  for await (const chunk of source) {
    if (received + chunk.length > options.length) {
      throw new UploadLengthExceededError(options.length, received + chunk.length);
    }
    received += chunk.length;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    buffer = buffer.length === 0 ? bytes : Buffer.concat([buffer, bytes]);
    let at = 0;
    while (buffer.length - at >= SEGMENT_SIZE && index < lastIndex) {
      yield {
        index,
        plainLength: SEGMENT_SIZE,
        sealed: seal(buffer.subarray(at, at + SEGMENT_SIZE), false),
        isPartial: false,
      };
      index++;
      at += SEGMENT_SIZE;
    }
    buffer = buffer.subarray(at);
  }
  if (received === options.offset) {
    return; // Nothing new: the staged partial segment stays as it is.
  }
  const isComplete = received === options.length;
  if (buffer.length > 0 || isComplete) {
    yield { index, plainLength: buffer.length, sealed: seal(buffer, isComplete), isPartial: !isComplete };
  }
}

/**
 * Streams `segments` into new parts of at most `maxSegments` each (a partial segment always alone),
 * calling `record` once each part is durable. When `record` throws (e.g. another writer got there
 * first), the unrecorded part is deleted and the error passes on. Stops at the first failure: parts
 * recorded before it stay valid.
 */
export async function stageSegments(options: {
  blobs: BlobStore;
  blobKey: string;
  segments: AsyncIterable<SealedSegment>;
  maxSegments: number;
  record: (part: { firstSegment: number; plainEnd: number; blobKey: string }) => Promise<void>;
}): Promise<void> {
  const iterator = options.segments[Symbol.asyncIterator]();
  let next = await iterator.next();
  while (!next.done) {
    const firstSegment = next.value.index;
    const partKey = newPartKey(options.blobKey, firstSegment);
    let plainEnd = 0;
    let count = 0;
    // Reads one segment ahead, so a failure of the body (too long, a broken source) is seen before the
    // part holding the segment before it is stored.
    async function* partBody(): AsyncGenerator<Buffer> {
      while (!next.done && (count === 0 || (!next.value.isPartial && count < options.maxSegments))) {
        const segment = next.value;
        count++;
        plainEnd = segment.index * SEGMENT_SIZE + segment.plainLength;
        next = await iterator.next();
        yield segment.sealed;
      }
    }
    await options.blobs.put(partKey, partBody());
    try {
      await options.record({ firstSegment, plainEnd, blobKey: partKey });
    } catch (error) {
      await options.blobs.delete(partKey).catch(() => undefined);
      throw error;
    }
  }
}

/** Opens the staged partial segment `part` (the tail of an unfinished upload): its plaintext. */
export async function openPartialPart(options: {
  blobs: BlobStore;
  key: Buffer;
  blobId: string;
  part: UploadPart;
}): Promise<Buffer> {
  const { part } = options;
  const plainLength = part.plainEnd - part.firstSegment * SEGMENT_SIZE;
  if (plainLength <= 0 || plainLength >= SEGMENT_SIZE) {
    throw new IntegrityError('A staged upload part is not a partial segment', { part: part.blobKey });
  }
  const [sealed] = await collect(
    readSegments(await getPart(options.blobs, part), [plainLength + SEGMENT_OVERHEAD]),
  );
  return openSegment({
    key: options.key,
    blobId: options.blobId,
    index: part.firstSegment,
    isFinal: false,
    sealed: sealed ?? Buffer.alloc(0),
  });
}

/**
 * The finished blob of an upload of `length` bytes, as stored bytes: the format header, then every
 * staged segment in order. Each segment is authenticated (and its plaintext fed to `hash`) on the way
 * through, so staged bytes that were tampered with, lost or reordered fail here with IntegrityError
 * instead of becoming a version.
 */
export async function* composeStagedBlob(options: {
  blobs: BlobStore;
  key: Buffer;
  blobId: string;
  length: number;
  parts: UploadPart[];
  hash: Hash;
}): AsyncGenerator<Buffer> {
  const { key, blobId, length } = options;
  const header = formatHeader();
  const lastIndex = segmentCount(length) - 1;
  yield header;
  if (length === 0) {
    yield sealSegment({ key, blobId, index: 0, isFinal: true, plaintext: Buffer.alloc(0), header });
    return;
  }
  let index = 0;
  for (const part of options.parts) {
    if (part.firstSegment !== index || part.plainEnd > length) {
      throw new IntegrityError('The staged parts of the upload do not line up', { segment: index });
    }
    const plainLengths: number[] = [];
    for (let i = part.firstSegment; i * SEGMENT_SIZE < part.plainEnd; i++) {
      const plain = Math.min(SEGMENT_SIZE, part.plainEnd - i * SEGMENT_SIZE);
      if (plain < SEGMENT_SIZE && i !== lastIndex) {
        throw new IntegrityError('A staged segment is short', { segment: i });
      }
      plainLengths.push(plain);
    }
    const stream = await getPart(options.blobs, part);
    for await (const sealed of readSegments(
      stream,
      plainLengths.map((n) => n + SEGMENT_OVERHEAD),
    )) {
      const plain = openSegment({ key, blobId, index, isFinal: index === lastIndex, sealed, header });
      options.hash.update(plain);
      index++;
      yield sealed;
    }
  }
  if (index !== lastIndex + 1) {
    throw new IntegrityError('The staged parts of the upload are incomplete', { segment: index });
  }
}

async function getPart(blobs: BlobStore, part: UploadPart): Promise<Readable> {
  try {
    return await blobs.get(part.blobKey);
  } catch (error) {
    if (error instanceof BlobNotFoundError) {
      throw new IntegrityError('A staged upload part is missing', { part: part.blobKey });
    }
    throw error;
  }
}

/** Cuts a stream into pieces of exactly `sizes`; a stream shorter or longer than their sum fails. */
async function* readSegments(stream: Readable, sizes: number[]): AsyncGenerator<Buffer> {
  let buffer = Buffer.alloc(0);
  let next = 0;
  try {
    for await (const chunk of stream) {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let at = 0;
      while (next < sizes.length && buffer.length - at >= (sizes[next] ?? 0)) {
        const size = sizes[next++] ?? 0;
        yield buffer.subarray(at, at + size);
        at += size;
      }
      buffer = buffer.subarray(at);
      if (next === sizes.length && buffer.length > 0) {
        throw new IntegrityError('A staged upload part is longer than recorded');
      }
    }
  } finally {
    stream.destroy();
  }
  if (next < sizes.length) {
    throw new IntegrityError('A staged upload part is shorter than recorded');
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) {
    all.push(item);
  }
  return all;
}
