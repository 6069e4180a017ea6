import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../shared/errors.ts';

/**
 * The at-rest format of every blob (DESIGN.md "Envelope encryption at rest"):
 *
 *   header (16 bytes): "CSTDSEG1" | u32 BE segment size | u32 reserved (0)
 *   segment i:         nonce (12) | AES-256-GCM ciphertext (≤ segment size) | tag (16)
 *
 * Each segment is authenticated with AAD = header | blob id | u64 BE index | final flag, so a flipped
 * bit, a truncated tail (the new last segment was not sealed as final), reordered segments, or a blob
 * swapped in from another file (other key, other id) all fail authentication. Nonces are random: the
 * last segment of a resumable upload may be sealed twice (partial, then complete) under one key.
 */
export const SEGMENT_SIZE = 64 * 1024;
export const HEADER_SIZE = 16;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const SEGMENT_OVERHEAD = NONCE_SIZE + TAG_SIZE;
const MAGIC = Buffer.from('CSTDSEG1', 'ascii');

export function formatHeader(segmentSize = SEGMENT_SIZE): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(segmentSize, 8);
  return header;
}

/** Number of segments a plaintext of `size` bytes is stored in (an empty file still has one). */
export function segmentCount(size: number, segmentSize = SEGMENT_SIZE): number {
  return Math.max(1, Math.ceil(size / segmentSize));
}

/** Size on disk of a blob holding `size` plaintext bytes. */
export function encryptedSize(size: number, segmentSize = SEGMENT_SIZE): number {
  return HEADER_SIZE + size + segmentCount(size, segmentSize) * SEGMENT_OVERHEAD;
}

/** Byte offset in the blob where segment `index` starts. */
export function segmentOffset(index: number, segmentSize = SEGMENT_SIZE): number {
  return HEADER_SIZE + index * (segmentSize + SEGMENT_OVERHEAD);
}

function segmentAad(header: Buffer, blobId: string, index: number, isFinal: boolean): Buffer {
  const id = Buffer.from(blobId, 'utf8');
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail[8] = isFinal ? 1 : 0;
  return Buffer.concat([header, id, tail]);
}

export function sealSegment(options: {
  key: Buffer;
  blobId: string;
  index: number;
  isFinal: boolean;
  plaintext: Buffer;
  header?: Buffer;
}): Buffer {
  const nonce = randomBytes(NONCE_SIZE);
  const cipher = createCipheriv('aes-256-gcm', options.key, nonce);
  cipher.setAAD(segmentAad(options.header ?? formatHeader(), options.blobId, options.index, options.isFinal));
  const body = Buffer.concat([cipher.update(options.plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function openSegment(options: {
  key: Buffer;
  blobId: string;
  index: number;
  isFinal: boolean;
  sealed: Buffer;
  header?: Buffer;
}): Buffer {
  const { sealed } = options;
  if (sealed.length < SEGMENT_OVERHEAD) {
    throw new IntegrityError('A stored segment is truncated', { segment: options.index });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', options.key, sealed.subarray(0, NONCE_SIZE));
    decipher.setAAD(
      segmentAad(options.header ?? formatHeader(), options.blobId, options.index, options.isFinal),
    );
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    return Buffer.concat([
      decipher.update(sealed.subarray(NONCE_SIZE, sealed.length - TAG_SIZE)),
      decipher.final(),
    ]);
  } catch {
    throw new IntegrityError('Stored bytes failed authentication', { segment: options.index });
  }
}

/**
 * Plaintext in, sealed blob out. Holds at most one segment plus one incoming chunk in memory. The
 * segment that ends the stream is sealed as final, which is why a full segment is held back until
 * either more bytes or the end arrive. `startIndex` and `writeHeader` let a resumable upload continue
 * an existing blob.
 */
export class EncryptingStream extends Transform {
  readonly #key: Buffer;
  readonly #blobId: string;
  readonly #header = formatHeader();
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #index: number;
  #headerWritten: boolean;

  constructor(options: { key: Buffer; blobId: string; startIndex?: number; writeHeader?: boolean }) {
    super();
    this.#key = options.key;
    this.#blobId = options.blobId;
    this.#index = options.startIndex ?? 0;
    this.#headerWritten = options.writeHeader === false;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#writeHeaderOnce();
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    // Seal only segments known not to be last: strictly more than one segment is buffered.
    while (this.#pendingLength > SEGMENT_SIZE) {
      const all = Buffer.concat(this.#pending);
      this.push(
        sealSegment({
          key: this.#key,
          blobId: this.#blobId,
          index: this.#index++,
          isFinal: false,
          plaintext: all.subarray(0, SEGMENT_SIZE),
          header: this.#header,
        }),
      );
      const rest = all.subarray(SEGMENT_SIZE);
      this.#pending = [rest];
      this.#pendingLength = rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#writeHeaderOnce();
    this.push(
      sealSegment({
        key: this.#key,
        blobId: this.#blobId,
        index: this.#index++,
        isFinal: true,
        plaintext: Buffer.concat(this.#pending),
        header: this.#header,
      }),
    );
    done();
  }

  #writeHeaderOnce(): void {
    if (!this.#headerWritten) {
      this.push(this.#header);
      this.#headerWritten = true;
    }
  }
}

/**
 * Which stored bytes to fetch for plaintext bytes [start, end] (inclusive) of a blob of `size`, to feed
 * to DecryptingStream. A range in the first segment also fetches the header, so that it is checked.
 */
export function cipherRangeFor(
  size: number,
  start: number,
  end: number,
): { firstSegment: number; lastSegment: number; start: number; end: number } {
  const firstSegment = Math.floor(start / SEGMENT_SIZE);
  const lastSegment = Math.floor(Math.max(end, 0) / SEGMENT_SIZE);
  const lastLength = Math.min(SEGMENT_SIZE, size - lastSegment * SEGMENT_SIZE);
  return {
    firstSegment,
    lastSegment,
    start: firstSegment === 0 ? 0 : segmentOffset(firstSegment),
    end: segmentOffset(lastSegment) + Math.max(lastLength, 0) + SEGMENT_OVERHEAD - 1,
  };
}

/**
 * The stored bytes cipherRangeFor names in (the header, when the range starts in segment 0, then sealed
 * segments from `firstSegment`), plaintext bytes [start, end] out. Every segment is authenticated before
 * any of its bytes are pushed; a failure destroys the stream with IntegrityError.
 */
export class DecryptingStream extends Transform {
  readonly #key: Buffer;
  readonly #blobId: string;
  readonly #size: number;
  readonly #start: number;
  readonly #end: number;
  readonly #lastSegment: number;
  readonly #finalSegment: number;
  readonly #header = formatHeader();
  #index: number;
  #buffer: Buffer = Buffer.alloc(0);
  #isHeaderPending: boolean;

  constructor(options: { key: Buffer; blobId: string; size: number; start: number; end: number }) {
    super();
    this.#key = options.key;
    this.#blobId = options.blobId;
    this.#size = options.size;
    this.#start = options.start;
    this.#end = options.end;
    const range = cipherRangeFor(options.size, options.start, options.end);
    this.#index = range.firstSegment;
    this.#isHeaderPending = range.firstSegment === 0;
    this.#lastSegment = range.lastSegment;
    this.#finalSegment = segmentCount(options.size) - 1;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      if (this.#isHeaderPending) {
        if (this.#buffer.length < HEADER_SIZE) {
          done();
          return;
        }
        // The AAD authenticates the header we expect; the stored one must be that header, byte for byte.
        if (!this.#buffer.subarray(0, HEADER_SIZE).equals(this.#header)) {
          throw new IntegrityError('The stored blob header is not valid');
        }
        this.#buffer = this.#buffer.subarray(HEADER_SIZE);
        this.#isHeaderPending = false;
      }
      while (this.#index <= this.#lastSegment) {
        const need = this.#sealedLength(this.#index);
        if (this.#buffer.length < need) {
          break;
        }
        this.#emitSegment(this.#buffer.subarray(0, need));
        this.#buffer = this.#buffer.subarray(need);
      }
      if (this.#index > this.#lastSegment && this.#buffer.length > 0) {
        throw new IntegrityError('The stored blob is longer than its recorded size');
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.#index <= this.#lastSegment) {
      done(new IntegrityError('The stored blob is shorter than its recorded size', { segment: this.#index }));
      return;
    }
    done();
  }

  #sealedLength(index: number): number {
    const plain = Math.min(SEGMENT_SIZE, this.#size - index * SEGMENT_SIZE);
    return Math.max(plain, 0) + SEGMENT_OVERHEAD;
  }

  #emitSegment(sealed: Buffer): void {
    const index = this.#index++;
    const plain = openSegment({
      key: this.#key,
      blobId: this.#blobId,
      index,
      isFinal: index === this.#finalSegment,
      sealed,
      header: this.#header,
    });
    const expected = this.#sealedLength(index) - SEGMENT_OVERHEAD;
    if (plain.length !== expected) {
      throw new IntegrityError('A stored segment has the wrong length', { segment: index });
    }
    const base = index * SEGMENT_SIZE;
    const from = Math.max(this.#start - base, 0);
    const to = Math.min(this.#end - base + 1, plain.length);
    if (to > from) {
      this.push(plain.subarray(from, to));
    }
  }
}
