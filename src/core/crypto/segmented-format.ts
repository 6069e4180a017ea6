import { KeyObject, createCipheriv, createDecipheriv, createSecretKey, randomFillSync } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { noteBufferTraffic } from '../shared/buffer-traffic.ts';
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
  const aad = new SegmentAad(header, blobId);
  return aad.for(index, isFinal);
}

/**
 * The AAD of every segment of one blob, built once: header | blob id | u64 BE index | final flag.
 * `for()` rewrites the index and flag in place and returns the same buffer (setAAD copies it).
 */
class SegmentAad {
  readonly #bytes: Buffer;
  readonly #tail: number;

  constructor(header: Buffer, blobId: string) {
    const id = Buffer.from(blobId, 'utf8');
    this.#bytes = Buffer.alloc(header.length + id.length + 9);
    header.copy(this.#bytes, 0);
    id.copy(this.#bytes, header.length);
    this.#tail = header.length + id.length;
  }

  for(index: number, isFinal: boolean): Buffer {
    this.#bytes.writeUIntBE(Math.floor(index / 2 ** 32), this.#tail, 4);
    this.#bytes.writeUInt32BE(index % 2 ** 32, this.#tail + 4);
    this.#bytes[this.#tail + 8] = isFinal ? 1 : 0;
    return this.#bytes;
  }
}

/** A data key as given (raw bytes) or already imported; importing once per blob, not per segment, saves most of the per-segment setup. */
export type SegmentKey = Buffer | KeyObject;

function asKeyObject(key: SegmentKey): KeyObject {
  return key instanceof KeyObject ? key : createSecretKey(key);
}

/**
 * Random nonces drawn from the CSPRNG a batch at a time (one call per 1,024 segments instead of one
 * per segment), shared by every blob. Each nonce is still fresh random bytes, handed out once; a spent
 * batch is never refilled, because the views handed out may still be queued for writing.
 */
class NonceSource {
  static readonly #BATCH = 1024;
  #pool = Buffer.alloc(0);
  #offset = 0;

  next(): Buffer {
    if (this.#offset + NONCE_SIZE > this.#pool.length) {
      this.#pool = randomFillSync(Buffer.allocUnsafe(NONCE_SIZE * NonceSource.#BATCH));
      this.#offset = 0;
    }
    const nonce = this.#pool.subarray(this.#offset, this.#offset + NONCE_SIZE);
    this.#offset += NONCE_SIZE;
    return nonce;
  }
}

const nonces = new NonceSource();

/** Seals consecutive segments of one blob; setup that does not change per segment is done once. */
class SegmentSealer {
  readonly #key: KeyObject;
  readonly #aad: SegmentAad;
  #index: number;

  constructor(options: { key: SegmentKey; blobId: string; header: Buffer; startIndex: number }) {
    this.#key = asKeyObject(options.key);
    this.#aad = new SegmentAad(options.header, options.blobId);
    this.#index = options.startIndex;
  }

  /**
   * Seals `pieces` (together at most one segment of plaintext) as the next segment and hands its
   * parts to `emit` in order: nonce, ciphertext of each piece, tag. Nothing is copied.
   */
  seal(pieces: readonly Buffer[], isFinal: boolean, emit: (part: Buffer) => void): void {
    const nonce = nonces.next();
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(this.#aad.for(this.#index++, isFinal));
    emit(nonce);
    for (const piece of pieces) {
      if (piece.length > 0) {
        emit(cipher.update(piece));
      }
    }
    cipher.final();
    emit(cipher.getAuthTag());
  }
}

/**
 * A whole plaintext held in memory (a small upload) sealed exactly as EncryptingStream seals a stream:
 * header, then its segments, the last one final. Returned as parts, ready for one writev.
 */
export function sealBlob(options: { key: SegmentKey; blobId: string; plaintext: Buffer }): Buffer[] {
  const header = formatHeader();
  const sealer = new SegmentSealer({ key: options.key, blobId: options.blobId, header, startIndex: 0 });
  const parts = [header];
  const emit = (part: Buffer) => {
    parts.push(part);
  };
  const { plaintext } = options;
  const count = segmentCount(plaintext.length);
  for (let index = 0; index < count; index++) {
    const piece = plaintext.subarray(index * SEGMENT_SIZE, (index + 1) * SEGMENT_SIZE);
    sealer.seal([piece], index === count - 1, emit);
  }
  return parts;
}

export function sealSegment(options: {
  key: SegmentKey;
  blobId: string;
  index: number;
  isFinal: boolean;
  plaintext: Buffer;
  header?: Buffer;
}): Buffer {
  const nonce = nonces.next();
  const cipher = createCipheriv('aes-256-gcm', options.key, nonce);
  cipher.setAAD(segmentAad(options.header ?? formatHeader(), options.blobId, options.index, options.isFinal));
  const sealed = Buffer.allocUnsafe(options.plaintext.length + SEGMENT_OVERHEAD);
  nonce.copy(sealed, 0);
  const body = cipher.update(options.plaintext);
  body.copy(sealed, NONCE_SIZE);
  cipher.final();
  cipher.getAuthTag().copy(sealed, NONCE_SIZE + body.length);
  return sealed;
}

export function openSegment(options: {
  key: SegmentKey;
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
    const plain = decipher.update(sealed.subarray(NONCE_SIZE, sealed.length - TAG_SIZE));
    decipher.final();
    return plain;
  } catch {
    throw new IntegrityError('Stored bytes failed authentication', { segment: options.index });
  }
}

/**
 * Plaintext in, sealed blob out. Holds at most one segment plus one incoming chunk in memory. The
 * segment that ends the stream is sealed as final, which is why a full segment is held back until
 * either more bytes or the end arrive. `startIndex` and `writeHeader` let a resumable upload continue
 * an existing blob.
 *
 * Nothing is copied on the way through: incoming chunks are held as they are (views, no
 * concatenation) and fed to the cipher piece by piece, and each sealed segment is pushed as its parts
 * (nonce, ciphertext pieces, tag), which a file sink writes with one writev. The only allocation per
 * segment is the ciphertext itself.
 */
export class EncryptingStream extends Transform {
  readonly #header = formatHeader();
  readonly #sealer: SegmentSealer;
  readonly #emit = (part: Buffer): void => {
    this.push(part);
  };
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #headerWritten: boolean;

  constructor(options: { key: SegmentKey; blobId: string; startIndex?: number; writeHeader?: boolean }) {
    // Sealed output is pushed as several small parts per segment: let a few segments queue up.
    super({ readableHighWaterMark: 4 * SEGMENT_SIZE });
    this.#sealer = new SegmentSealer({
      key: options.key,
      blobId: options.blobId,
      header: this.#header,
      startIndex: options.startIndex ?? 0,
    });
    this.#headerWritten = options.writeHeader === false;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#writeHeaderOnce();
    let rest = chunk;
    // Seal only segments known not to be last: strictly more than one segment's bytes have arrived.
    while (this.#pendingLength + rest.length > SEGMENT_SIZE) {
      const take = SEGMENT_SIZE - this.#pendingLength;
      this.#pending.push(rest.subarray(0, take));
      rest = rest.subarray(take);
      this.#seal(false);
    }
    if (rest.length > 0) {
      this.#pending.push(rest);
      this.#pendingLength += rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#writeHeaderOnce();
    this.#seal(true);
    done();
  }

  /** Seals the pending bytes (at most one segment) as the next segment and pushes its parts. */
  #seal(isFinal: boolean): void {
    this.#sealer.seal(this.#pending, isFinal, this.#emit);
    this.#pending = [];
    this.#pendingLength = 0;
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
 *
 * Incoming chunks are held as views (never concatenated) until a whole sealed segment is there; its
 * ciphertext is fed to the decipher piece by piece and the plaintext pieces are pushed only after the
 * tag has checked out. Only a nonce or tag split across two chunks is copied (12 or 16 bytes).
 */
export class DecryptingStream extends Transform {
  readonly #key: KeyObject;
  readonly #aad: SegmentAad;
  readonly #size: number;
  readonly #start: number;
  readonly #end: number;
  readonly #lastSegment: number;
  readonly #finalSegment: number;
  readonly #header = formatHeader();
  #index: number;
  #parts: Buffer[] = [];
  #partsLength = 0;
  #isHeaderPending: boolean;

  constructor(options: { key: SegmentKey; blobId: string; size: number; start: number; end: number }) {
    super({ readableHighWaterMark: 4 * SEGMENT_SIZE });
    this.#key = asKeyObject(options.key);
    this.#aad = new SegmentAad(this.#header, options.blobId);
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
    noteBufferTraffic(chunk.length);
    if (chunk.length > 0) {
      this.#parts.push(chunk);
      this.#partsLength += chunk.length;
    }
    try {
      if (this.#isHeaderPending) {
        if (this.#partsLength < HEADER_SIZE) {
          done();
          return;
        }
        // The AAD authenticates the header we expect; the stored one must be that header, byte for byte.
        if (!this.#takeBytes(HEADER_SIZE).equals(this.#header)) {
          throw new IntegrityError('The stored blob header is not valid');
        }
        this.#isHeaderPending = false;
      }
      while (this.#index <= this.#lastSegment) {
        const need = this.#sealedLength(this.#index);
        if (this.#partsLength < need) {
          break;
        }
        this.#openSegment(need);
      }
      if (this.#index > this.#lastSegment && this.#partsLength > 0) {
        throw new IntegrityError('The stored blob is longer than its recorded size');
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.#isHeaderPending || this.#index <= this.#lastSegment) {
      done(new IntegrityError('The stored blob is shorter than its recorded size', { segment: this.#index }));
      return;
    }
    done();
  }

  #sealedLength(index: number): number {
    const plain = Math.min(SEGMENT_SIZE, this.#size - index * SEGMENT_SIZE);
    return Math.max(plain, 0) + SEGMENT_OVERHEAD;
  }

  /** Authenticates the next sealed segment (`sealedLength` bytes, all buffered) and pushes its range part. */
  #openSegment(sealedLength: number): void {
    const index = this.#index++;
    const plain: Buffer[] = [];
    try {
      const nonce = this.#takeBytes(NONCE_SIZE);
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
      decipher.setAAD(this.#aad.for(index, index === this.#finalSegment));
      let body = sealedLength - SEGMENT_OVERHEAD;
      while (body > 0) {
        const piece = this.#takeView(body);
        plain.push(decipher.update(piece));
        body -= piece.length;
      }
      decipher.setAuthTag(this.#takeBytes(TAG_SIZE));
      decipher.final();
    } catch {
      throw new IntegrityError('Stored bytes failed authentication', { segment: index });
    }
    // Only the requested range [start, end] of this segment's plaintext goes out.
    const base = index * SEGMENT_SIZE;
    let from = Math.max(this.#start - base, 0);
    let to = Math.min(this.#end - base + 1, sealedLength - SEGMENT_OVERHEAD);
    for (const piece of plain) {
      if (to > 0 && from < piece.length) {
        this.push(
          from === 0 && to >= piece.length ? piece : piece.subarray(from, Math.min(to, piece.length)),
        );
      }
      from = Math.max(from - piece.length, 0);
      to -= piece.length;
    }
  }

  /** Up to `max` buffered bytes from the front, as a view into one incoming chunk. */
  #takeView(max: number): Buffer {
    const first = this.#parts[0] as Buffer; // callers check #partsLength first
    if (first.length <= max) {
      this.#parts.shift();
      this.#partsLength -= first.length;
      return first;
    }
    this.#parts[0] = first.subarray(max);
    this.#partsLength -= max;
    return first.subarray(0, max);
  }

  /** Exactly `length` buffered bytes from the front: a view when they sit in one chunk, else a small copy. */
  #takeBytes(length: number): Buffer {
    const view = this.#takeView(length);
    if (view.length === length) {
      return view;
    }
    const bytes = Buffer.allocUnsafe(length);
    view.copy(bytes, 0);
    let filled = view.length;
    while (filled < length) {
      const next = this.#takeView(length - filled);
      next.copy(bytes, filled);
      filled += next.length;
    }
    return bytes;
  }
}
