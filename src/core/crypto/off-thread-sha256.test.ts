import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OffThreadSha256 } from './off-thread-sha256.ts';

/** Feeds `data` in `chunk`-byte pieces, waiting whenever update() asks to. */
async function hashInPieces(data: Buffer, chunk: number): Promise<string> {
  const hash = new OffThreadSha256();
  for (let offset = 0; offset < data.length; offset += chunk) {
    const wait = hash.update(data.subarray(offset, offset + chunk));
    if (wait) {
      await wait;
    }
  }
  return hash.digest();
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe(OffThreadSha256.name, () => {
  for (const [label, size, chunk] of [
    ['nothing', 0, 1],
    ['one byte', 1, 1],
    ['exactly the ring (4 MiB) in 64 KiB pieces', 4 * 1024 * 1024, 64 * 1024],
    ['the ring and one byte in one piece', 4 * 1024 * 1024 + 1, 4 * 1024 * 1024 + 1],
    ['30 MB in 9 MB pieces', 30_000_000, 9_000_000],
    ['3 MB in odd pieces', 3_000_000, 65_537],
  ] as const) {
    it(`should hash ${label} like createHash`, async () => {
      const data = randomBytes(size);

      assert.equal(await hashInPieces(data, chunk), sha256(data));
    });
  }

  it('should hash bytes that trickle in while the worker goes idle between them', async () => {
    // Less than a wake-up's worth at a time, with pauses: the worker must still see every byte.
    const data = randomBytes(3_000_000);
    const hash = new OffThreadSha256();
    for (let offset = 0; offset < data.length; offset += 100_000) {
      await hash.update(data.subarray(offset, offset + 100_000));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }

    assert.equal(await hash.digest(), sha256(data));
  });

  it('should hash a short tail that never reached a wake-up', async () => {
    const data = randomBytes(1_500_000);
    const hash = new OffThreadSha256();
    await hash.update(data.subarray(0, 1_200_000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await hash.update(data.subarray(1_200_000));

    assert.equal(await hash.digest(), sha256(data));
  });

  it('should keep concurrent hashes apart', async () => {
    const inputs = Array.from({ length: 4 }, () => randomBytes(10_000_000));

    const digests = await Promise.all(inputs.map((data) => hashInPieces(data, 64 * 1024)));

    assert.deepEqual(digests, inputs.map(sha256));
  });

  it('should reject digest() after abort()', async () => {
    const hash = new OffThreadSha256();
    hash.update(Buffer.from('Thandi Nkosi, ID 8001015009087'));

    hash.abort();

    await assert.rejects(hash.digest(), /aborted/);
  });
});
