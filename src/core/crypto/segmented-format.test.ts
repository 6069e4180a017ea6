import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { IntegrityError } from '../shared/errors.ts';
import {
  DecryptingStream,
  EncryptingStream,
  HEADER_SIZE,
  NONCE_SIZE,
  SEGMENT_OVERHEAD,
  SEGMENT_SIZE,
  cipherRangeFor,
  encryptedSize,
  openSegment,
  sealSegment,
  segmentOffset,
} from './segmented-format.ts';

const S = SEGMENT_SIZE;
const KEY = Buffer.alloc(32, 0x11);
const OTHER_KEY = Buffer.alloc(32, 0x22);
const BLOB_ID = '0193a5d0-7c1e-7b4a-9f00-000000000001';
const OTHER_BLOB_ID = '0193a5d0-7c1e-7b4a-9f00-000000000002';
/** Odd write sizes, so segment edges never line up with chunk edges. */
const ODD_CHUNKS = [1, 7, 4093, S + 1, 13, 2 * S - 5];

const SIZES: Array<[string, number]> = [
  ['0 bytes', 0],
  ['1 byte', 1],
  ['SEGMENT_SIZE-1 bytes', S - 1],
  ['SEGMENT_SIZE bytes', S],
  ['SEGMENT_SIZE+1 bytes', S + 1],
  ['3*SEGMENT_SIZE bytes', 3 * S],
  ['3*SEGMENT_SIZE+17 bytes', 3 * S + 17],
];

describe(EncryptingStream.name, () => {
  describe('round trip through DecryptingStream', () => {
    for (const [label, size] of SIZES) {
      it(`should restore ${label} written in odd chunk sizes`, async () => {
        const plaintext = patternBytes(size);
        const sealed = await encrypt(plaintext);

        const result = await decryptWhole(sealed, size);

        assert.equal(result.error, undefined);
        assert.ok(result.pushed.equals(plaintext));
      });
    }
  });

  describe('output', () => {
    it('should seal an empty plaintext as a header and one empty final segment', async () => {
      const sealed = await encrypt(Buffer.alloc(0));

      assert.equal(sealed.length, HEADER_SIZE + SEGMENT_OVERHEAD);
    });

    it('should start with the magic "CSTDSEG1" and the segment size', async () => {
      const sealed = await encrypt(patternBytes(10));

      assert.equal(sealed.subarray(0, 8).toString('ascii'), 'CSTDSEG1');
      assert.equal(sealed.readUInt32BE(8), S);
    });

    it('should not contain the plaintext', async () => {
      const plaintext = Buffer.from('ID 8001015009087, Thandi Nkosi, +27 82 555 0101');

      const sealed = await encrypt(plaintext);

      assert.equal(sealed.indexOf(plaintext.subarray(0, 16)), -1);
    });

    it('should seal the same plaintext differently each time', async () => {
      const plaintext = patternBytes(100);

      const [first, second] = [await encrypt(plaintext), await encrypt(plaintext)];

      assert.ok(!first.equals(second));
    });
  });
});

describe(encryptedSize.name, () => {
  for (const [label, size] of SIZES) {
    it(`should equal the sealed length of ${label}`, async () => {
      const sealed = await encrypt(patternBytes(size));

      assert.equal(encryptedSize(size), sealed.length);
    });
  }
});

describe(DecryptingStream.name, () => {
  describe('ranged read', () => {
    const size = 3 * S + 17;
    const plaintext = patternBytes(size);
    const sealedOnce = encrypt(plaintext);
    const edges = [0, S - 1, S, S + 1, 2 * S - 1, 2 * S, 3 * S - 1, 3 * S, size - 1];
    const ranges: Array<[number, number]> = [];
    for (const start of edges) {
      for (const end of edges) {
        if (end >= start) {
          ranges.push([start, end]);
        }
      }
    }

    for (const [start, end] of ranges) {
      it(`should return exactly plaintext bytes ${start}-${end} of ${size}`, async () => {
        const sealed = await sealedOnce;
        const range = cipherRangeFor(size, start, end);

        const result = await decrypt(sealed.subarray(range.start, range.end + 1), { size, start, end });

        assert.equal(result.error, undefined);
        assert.ok(
          result.pushed.equals(plaintext.subarray(start, end + 1)),
          `got ${result.pushed.length} bytes`,
        );
      });
    }

    it('should return the last byte of a plaintext that fills its segments exactly', async () => {
      const exact = patternBytes(2 * S);
      const sealed = await encrypt(exact);
      const range = cipherRangeFor(2 * S, 2 * S - 1, 2 * S - 1);

      const result = await decrypt(sealed.subarray(range.start, range.end + 1), {
        size: 2 * S,
        start: 2 * S - 1,
        end: 2 * S - 1,
      });

      assert.ok(result.pushed.equals(exact.subarray(2 * S - 1)));
    });

    it('should reject a tampered segment inside the range before pushing any of it', async () => {
      const sealed = flipBit(await sealedOnce, segmentOffset(2) + NONCE_SIZE + 100, 0x01);
      const range = cipherRangeFor(size, 2 * S + 5, 2 * S + 10);

      const result = await decrypt(sealed.subarray(range.start, range.end + 1), {
        size,
        start: 2 * S + 5,
        end: 2 * S + 10,
      });

      assert.ok(result.error instanceof IntegrityError);
      assert.equal(result.pushed.length, 0);
    });
  });

  describe('tamper detection', () => {
    const size = 3 * S + 17;
    const plaintext = patternBytes(size);
    const sealedOnce = encrypt(plaintext);

    it('should reject a flipped bit in the header', async () => {
      const sealed = flipBit(await sealedOnce, 3, 0x01);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 0);
    });

    it('should reject a changed segment size in the header', async () => {
      const sealed = Buffer.from(await sealedOnce);
      sealed.writeUInt32BE(4096, 8);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 0);
    });

    it('should reject a blob cut off inside its header', async () => {
      const sealed = (await sealedOnce).subarray(0, HEADER_SIZE - 6);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 0);
    });

    it('should reject a flipped bit in a nonce', async () => {
      const sealed = flipBit(await sealedOnce, segmentOffset(1) + 5, 0x80);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 1);
    });

    it('should reject a flipped bit in the ciphertext', async () => {
      const sealed = flipBit(await sealedOnce, segmentOffset(2) + NONCE_SIZE + 1000, 0x04);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 2);
    });

    it('should reject a flipped bit in a tag', async () => {
      const sealed = flipBit(await sealedOnce, segmentOffset(2) - 1, 0x01);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 1);
    });

    it('should reject a flipped bit in the final segment', async () => {
      const sealed = flipBit(await sealedOnce, segmentOffset(3) + NONCE_SIZE + 3, 0x10);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 3);
    });

    it('should reject a blob truncated at a segment boundary (final segment dropped)', async () => {
      const sealed = (await sealedOnce).subarray(0, segmentOffset(3));

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 3);
    });

    it('should reject a blob truncated at a segment boundary even when the recorded size agrees', async () => {
      const sealed = (await sealedOnce).subarray(0, segmentOffset(3));

      const result = await decryptWhole(sealed, 3 * S);

      assertDetected(result, plaintext, 2);
    });

    it('should reject a blob truncated in the middle of a segment', async () => {
      const sealed = (await sealedOnce).subarray(0, segmentOffset(1) + 500);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 1);
    });

    it('should reject a blob truncated in the middle of the final segment', async () => {
      const full = await sealedOnce;
      const sealed = full.subarray(0, full.length - 5);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 3);
    });

    it('should reject a blob whose recorded size is shorter than its content', async () => {
      const sealed = await sealedOnce;

      const result = await decrypt(sealed.subarray(HEADER_SIZE), { size: 3 * S, start: 0, end: 3 * S - 1 });

      assertDetected(result, plaintext, 2);
    });

    it('should reject two swapped segments', async () => {
      const original = await sealedOnce;
      const length = S + SEGMENT_OVERHEAD;
      const sealed = Buffer.concat([
        original.subarray(0, segmentOffset(1)),
        original.subarray(segmentOffset(2), segmentOffset(2) + length),
        original.subarray(segmentOffset(1), segmentOffset(1) + length),
        original.subarray(segmentOffset(3)),
      ]);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 1);
    });

    it('should reject extra bytes appended after the final segment', async () => {
      const sealed = Buffer.concat([await sealedOnce, Buffer.from('appended by an attacker')]);

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 4);
    });

    it('should reject a blob sealed for another blob id', async () => {
      const sealed = await encrypt(plaintext, { blobId: OTHER_BLOB_ID });

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 0);
    });

    it('should reject a blob sealed under another key', async () => {
      const sealed = await encrypt(plaintext, { key: OTHER_KEY });

      const result = await decryptWhole(sealed, size);

      assertDetected(result, plaintext, 0);
    });
  });
});

describe(cipherRangeFor.name, () => {
  it('should cover exactly the sealed segments that hold the range', () => {
    const size = 3 * S + 17;

    const range = cipherRangeFor(size, S + 1, 2 * S);

    assert.deepEqual(range, {
      firstSegment: 1,
      lastSegment: 2,
      start: segmentOffset(1),
      end: segmentOffset(3) - 1,
    });
  });

  it('should include the header for a range that starts in the first segment', () => {
    const size = 3 * S + 17;

    const range = cipherRangeFor(size, 10, 20);

    assert.deepEqual(range, { firstSegment: 0, lastSegment: 0, start: 0, end: segmentOffset(1) - 1 });
  });

  it('should cover the whole blob for an empty plaintext', () => {
    const range = cipherRangeFor(0, 0, -1);

    assert.deepEqual(range, { firstSegment: 0, lastSegment: 0, start: 0, end: encryptedSize(0) - 1 });
  });

  it('should end at the last stored byte for a range that reaches the end', () => {
    const size = 3 * S + 17;

    const range = cipherRangeFor(size, 3 * S, size - 1);

    assert.equal(range.end, encryptedSize(size) - 1);
  });
});

describe(openSegment.name, () => {
  it('should open a segment sealed with the same parameters', () => {
    const plaintext = Buffer.from('Medical certificate, 3 days sick leave');
    const sealed = sealSegment({ key: KEY, blobId: BLOB_ID, index: 4, isFinal: false, plaintext });

    const opened = openSegment({ key: KEY, blobId: BLOB_ID, index: 4, isFinal: false, sealed });

    assert.ok(opened.equals(plaintext));
  });

  it('should reject a non-final segment opened as final', () => {
    const sealed = sealSegment({
      key: KEY,
      blobId: BLOB_ID,
      index: 4,
      isFinal: false,
      plaintext: Buffer.from('part'),
    });

    assert.throws(
      () => openSegment({ key: KEY, blobId: BLOB_ID, index: 4, isFinal: true, sealed }),
      IntegrityError,
    );
  });

  it('should reject a segment opened at another index', () => {
    const sealed = sealSegment({
      key: KEY,
      blobId: BLOB_ID,
      index: 4,
      isFinal: false,
      plaintext: Buffer.from('part'),
    });

    assert.throws(
      () => openSegment({ key: KEY, blobId: BLOB_ID, index: 5, isFinal: false, sealed }),
      IntegrityError,
    );
  });

  it('should reject a segment shorter than nonce and tag', () => {
    assert.throws(
      () =>
        openSegment({
          key: KEY,
          blobId: BLOB_ID,
          index: 0,
          isFinal: true,
          sealed: Buffer.alloc(SEGMENT_OVERHEAD - 1),
        }),
      IntegrityError,
    );
  });
});

interface DecryptResult {
  pushed: Buffer;
  error?: unknown;
}

/**
 * Tampering must fail with IntegrityError, and what was pushed before the failure must be genuine
 * plaintext from segments before `firstBadSegment` (never a byte of a bad segment or after it).
 */
function assertDetected(result: DecryptResult, plaintext: Buffer, firstBadSegment: number): void {
  assert.ok(result.error instanceof IntegrityError, `expected IntegrityError, got ${String(result.error)}`);
  assert.ok(
    result.pushed.length <= firstBadSegment * S,
    `pushed ${result.pushed.length} bytes, past segment ${firstBadSegment}`,
  );
  assert.ok(
    result.pushed.equals(plaintext.subarray(0, result.pushed.length)),
    'pushed bytes that are not the plaintext',
  );
}

async function encrypt(plaintext: Buffer, options: { key?: Buffer; blobId?: string } = {}): Promise<Buffer> {
  const stream = new EncryptingStream({ key: options.key ?? KEY, blobId: options.blobId ?? BLOB_ID });
  const out: Buffer[] = [];
  await pipeline(Readable.from(oddChunks(plaintext)), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      out.push(chunk);
    }
  });
  return Buffer.concat(out);
}

/** Decrypts a whole stored blob the way a reader does: fetch cipherRangeFor(size, 0, size - 1). */
function decryptWhole(sealed: Buffer, size: number): Promise<DecryptResult> {
  const range = cipherRangeFor(size, 0, size - 1);
  return decrypt(sealed.subarray(range.start), { size, start: 0, end: size - 1 });
}

async function decrypt(
  input: Buffer,
  options: { size: number; start: number; end: number },
): Promise<DecryptResult> {
  const stream = new DecryptingStream({ key: KEY, blobId: BLOB_ID, ...options });
  const pushed: Buffer[] = [];
  try {
    await pipeline(
      Readable.from(oddChunks(input, [4099, 1, 70_001, 333])),
      stream,
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          pushed.push(chunk);
        }
      },
    );
    return { pushed: Buffer.concat(pushed) };
  } catch (error) {
    return { pushed: Buffer.concat(pushed), error };
  }
}

/** A copy of `sealed` with the bits in `mask` flipped at `offset`. */
function flipBit(sealed: Buffer, offset: number, mask: number): Buffer {
  const copy = Buffer.from(sealed);
  copy.writeUInt8(copy.readUInt8(offset) ^ mask, offset);
  return copy;
}

function* oddChunks(buffer: Buffer, sizes = ODD_CHUNKS): Iterable<Buffer> {
  let offset = 0;
  for (let i = 0; offset < buffer.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    yield buffer.subarray(offset, offset + size);
    offset += size;
  }
}

/** Reproducible bytes with no short period (SHA-256 in counter mode), so an offset error shows. */
function patternBytes(size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < size; i++) {
    blocks.push(createHash('sha256').update(`segmented-format:${i}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, size);
}
