import { randomFillSync } from 'node:crypto';

/**
 * Time-ordered ids (UUIDv7, RFC 9562): portable text keys that index well on both dialects.
 *
 * Laid out as the `uuid` package's v7() lays them out (48-bit millisecond time, a 31-bit counter
 * seeded at random each millisecond so that ids from this process only ever increase, then random
 * bits), but with the random bytes taken from a pool refilled 256 ids at a time: ids are made several
 * times per request, and a getRandomValues call per id was most of their cost.
 */
export function newId(): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const random = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  const now = Date.now();
  if (now > lastMsecs) {
    seq = random.readUInt32BE(6) & 0x7fffffff;
    lastMsecs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) {
      lastMsecs++;
    }
  }
  bytes.writeUIntBE(lastMsecs, 0, 6);
  bytes.writeUInt16BE(0x7000 | ((seq >>> 20) & 0x0fff), 6);
  bytes.writeUInt16BE(0x8000 | ((seq >>> 6) & 0x3fff), 8);
  bytes.writeUInt8(((seq << 2) & 0xff) | (random.readUInt8(10) & 0x03), 10);
  random.copy(bytes, 11, 11, 16);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
const bytes = Buffer.alloc(16);
let lastMsecs = -Infinity;
let seq = 0;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `value` has the shape of an id we issue; anything else can be answered 404 at once. */
export function isId(value: string): boolean {
  return UUID_PATTERN.test(value);
}
