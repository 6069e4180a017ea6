import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BlobNotFoundError, type BlobStore } from '../../src/core/files/ports.ts';

/**
 * The behaviour every BlobStore adapter must show (DESIGN.md "Blob store interface"; STYLE.md 2.4).
 * `makeStore` gives each test a fresh, empty store; `cleanup` removes everything it made.
 */
export function runBlobStoreContract(
  name: string,
  makeStore: () => Promise<{ store: BlobStore; cleanup: () => Promise<void> }>,
): void {
  describe(name, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await cleanup();
    });

    describe('put', () => {
      it('should store bytes read from a Readable', async () => {
        const report = Buffer.from('Quarterly payroll report, March 2026\n');

        const result = await store.put(
          'tenant-a/blobs/payroll',
          Readable.from([report.subarray(0, 10), report.subarray(10)]),
        );

        assert.equal(result.size, report.length);
        assert.deepEqual(await readAll(await store.get('tenant-a/blobs/payroll')), report);
      });

      it('should store bytes read from an async iterable', async () => {
        const parts = ['Name: Thandi Nkosi\n', 'ID: 8001015009087\n', 'Phone: +27 82 555 0101\n'].map((s) =>
          Buffer.from(s),
        );

        const result = await store.put('tenant-a/blobs/contact-card', iterate(parts));

        assert.equal(result.size, Buffer.concat(parts).length);
        assert.deepEqual(await readAll(await store.get('tenant-a/blobs/contact-card')), Buffer.concat(parts));
      });

      it('should store an empty object', async () => {
        const result = await store.put('tenant-a/blobs/empty', iterate([]));

        assert.equal(result.size, 0);
        assert.equal((await readAll(await store.get('tenant-a/blobs/empty'))).length, 0);
      });

      it('should replace the previous object under the same key', async () => {
        await store.put(
          'tenant-a/blobs/contract',
          iterate([Buffer.from('Draft contract, version 1, long text')]),
        );

        await store.put('tenant-a/blobs/contract', iterate([Buffer.from('Signed contract v2')]));

        assert.deepEqual(
          await readAll(await store.get('tenant-a/blobs/contract')),
          Buffer.from('Signed contract v2'),
        );
      });

      it('should round-trip a 5 MiB object byte for byte', async () => {
        const big = patternBytes(5 * 1024 * 1024);

        const result = await store.put('tenant-a/blobs/scan-5mib', iterate(chunksOf(big, 64 * 1024 + 3)));

        assert.equal(result.size, big.length);
        assert.equal(sha256(await readAll(await store.get('tenant-a/blobs/scan-5mib'))), sha256(big));
      });

      it('should leave exactly one complete writer content when writers race on one key', async () => {
        const writers = ['A', 'B', 'C', 'D'].map((letter, i) => Buffer.alloc(512 * 1024 + i, letter));

        const results = await Promise.allSettled(
          writers.map((content) => store.put('tenant-a/blobs/raced', slowly(chunksOf(content, 16 * 1024)))),
        );

        assert.ok(results.some((r) => r.status === 'fulfilled'));
        const stored = await readAll(await store.get('tenant-a/blobs/raced'));
        assert.ok(
          writers.some((content) => content.equals(stored)),
          `stored ${stored.length} bytes that match no single writer`,
        );
      });
    });

    describe('put of a failing source', () => {
      it('should reject when an async iterable throws midway', async () => {
        const put = store.put('tenant-a/blobs/broken', failingAfter([Buffer.alloc(200 * 1024, 'x')]));

        await assert.rejects(put, /source failed midway/);
      });

      it('should leave nothing under the key when an async iterable throws midway', async () => {
        await store
          .put('tenant-a/blobs/broken', failingAfter([Buffer.alloc(200 * 1024, 'x')]))
          .catch(() => undefined);

        assert.equal(await store.stat('tenant-a/blobs/broken'), undefined);
        await assert.rejects(store.get('tenant-a/blobs/broken'), BlobNotFoundError);
      });

      it('should leave nothing under the key when a Readable errors midway', async () => {
        const source = new Readable({ read() {} });
        source.push(Buffer.alloc(100 * 1024, 'y'));
        setTimeout(() => source.destroy(new Error('source failed midway')), 20);

        await assert.rejects(store.put('tenant-a/blobs/broken', source), /source failed midway/);

        assert.equal(await store.stat('tenant-a/blobs/broken'), undefined);
      });

      it('should leave nothing under the key when the source fails before its first byte', async () => {
        await assert.rejects(store.put('tenant-a/blobs/broken', failingAfter([])), /source failed midway/);

        assert.equal(await store.stat('tenant-a/blobs/broken'), undefined);
      });

      it('should list nothing after a failed put', async () => {
        await store
          .put('tenant-a/blobs/broken', failingAfter([Buffer.alloc(200 * 1024, 'x')]))
          .catch(() => undefined);

        assert.deepEqual(await listAll(store, ''), []);
      });

      it('should keep the previous object when its replacement fails', async () => {
        await store.put('tenant-a/blobs/ledger', iterate([Buffer.from('Ledger 2025, closed')]));

        await store
          .put('tenant-a/blobs/ledger', failingAfter([Buffer.alloc(100 * 1024, 'z')]))
          .catch(() => undefined);

        assert.deepEqual(
          await readAll(await store.get('tenant-a/blobs/ledger')),
          Buffer.from('Ledger 2025, closed'),
        );
      });
    });

    describe('put with publishAfter', () => {
      it('should make the object visible only once publishAfter has resolved', async () => {
        let allow!: () => void;
        const publishAfter = new Promise<void>((resolve) => {
          allow = resolve;
        });
        const put = store.put('tenant-a/blobs/held', iterate([Buffer.from('Held until allowed')]), {
          publishAfter,
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const before = await store.stat('tenant-a/blobs/held');

        allow();
        await put;
        assert.deepEqual(
          [before, await readAll(await store.get('tenant-a/blobs/held'))],
          [undefined, Buffer.from('Held until allowed')],
        );
      });

      it('should store nothing and fail with its reason when publishAfter rejects', async () => {
        const publishAfter = Promise.reject(new Error('intent not recorded'));
        publishAfter.catch(() => undefined);

        await assert.rejects(
          store.put('tenant-a/blobs/refused', iterate([Buffer.from('Never published')]), { publishAfter }),
          /intent not recorded/,
        );
        assert.deepEqual(await listAll(store, ''), []);
      });
    });

    describe('get', () => {
      const content = patternBytes(1000);

      beforeEach(async () => {
        await store.put('tenant-a/blobs/thousand', iterate([content]));
      });

      it('should return the first byte for the range 0-0', async () => {
        const bytes = await readAll(await store.get('tenant-a/blobs/thousand', { start: 0, end: 0 }));

        assert.deepEqual(bytes, content.subarray(0, 1));
      });

      it('should return the last byte for the range 999-999', async () => {
        const bytes = await readAll(await store.get('tenant-a/blobs/thousand', { start: 999, end: 999 }));

        assert.deepEqual(bytes, content.subarray(999, 1000));
      });

      it('should return a middle range inclusive of both ends', async () => {
        const bytes = await readAll(await store.get('tenant-a/blobs/thousand', { start: 100, end: 199 }));

        assert.deepEqual(bytes, content.subarray(100, 200));
      });

      it('should return a single byte from the middle', async () => {
        const bytes = await readAll(await store.get('tenant-a/blobs/thousand', { start: 500, end: 500 }));

        assert.deepEqual(bytes, content.subarray(500, 501));
      });

      it('should return the tail range up to the last byte', async () => {
        const bytes = await readAll(await store.get('tenant-a/blobs/thousand', { start: 990, end: 999 }));

        assert.deepEqual(bytes, content.subarray(990));
      });

      it('should reject a missing key with BlobNotFoundError', async () => {
        await assert.rejects(store.get('tenant-a/blobs/never-stored'), BlobNotFoundError);
      });

      it('should reject a ranged read of a missing key with BlobNotFoundError', async () => {
        await assert.rejects(
          store.get('tenant-a/blobs/never-stored', { start: 0, end: 9 }),
          BlobNotFoundError,
        );
      });
    });

    describe('stat', () => {
      it('should report the stored size', async () => {
        await store.put(
          'tenant-a/blobs/invoice',
          iterate([Buffer.from('Invoice INV-2026-0042: R 12 500,00')]),
        );

        assert.deepEqual(await store.stat('tenant-a/blobs/invoice'), { size: 34 });
      });

      it('should return undefined for a missing key', async () => {
        assert.equal(await store.stat('tenant-a/blobs/never-stored'), undefined);
      });
    });

    describe('delete', () => {
      it('should remove the object', async () => {
        await store.put('tenant-a/blobs/old-cv', iterate([Buffer.from('Curriculum vitae, 2019')]));

        await store.delete('tenant-a/blobs/old-cv');

        assert.equal(await store.stat('tenant-a/blobs/old-cv'), undefined);
        await assert.rejects(store.get('tenant-a/blobs/old-cv'), BlobNotFoundError);
      });

      it('should accept a key that holds nothing', async () => {
        await store.delete('tenant-a/blobs/never-stored');

        assert.equal(await store.stat('tenant-a/blobs/never-stored'), undefined);
      });

      it('should leave other objects in place', async () => {
        await store.put('tenant-a/blobs/keep', iterate([Buffer.from('keep me')]));
        await store.put('tenant-a/blobs/drop', iterate([Buffer.from('drop me')]));

        await store.delete('tenant-a/blobs/drop');

        assert.deepEqual(await store.stat('tenant-a/blobs/keep'), { size: 7 });
      });
    });

    describe('list', () => {
      beforeEach(async () => {
        await store.put('tenant-a/versions/v1', iterate([Buffer.alloc(3, 'a')]));
        await store.put('tenant-a/versions/v2', iterate([Buffer.alloc(5, 'b')]));
        await store.put('tenant-a/exports/2026-03', iterate([Buffer.alloc(7, 'c')]));
        await store.put('tenant-ab/versions/v1', iterate([Buffer.alloc(11, 'd')]));
        await store.put('tenant-b/versions/v1', iterate([Buffer.alloc(13, 'e')]));
      });

      it('should yield only keys under a folder prefix, with their sizes', async () => {
        const listed = await listAll(store, 'tenant-a/versions/');

        assert.deepEqual(listed, [
          { key: 'tenant-a/versions/v1', size: 3 },
          { key: 'tenant-a/versions/v2', size: 5 },
        ]);
      });

      it('should not match a sibling whose name merely starts the same', async () => {
        const listed = await listAll(store, 'tenant-a/');

        assert.deepEqual(listed, [
          { key: 'tenant-a/exports/2026-03', size: 7 },
          { key: 'tenant-a/versions/v1', size: 3 },
          { key: 'tenant-a/versions/v2', size: 5 },
        ]);
      });

      it('should match a prefix that ends inside a name', async () => {
        const listed = await listAll(store, 'tenant-a');

        assert.deepEqual(
          listed.map((o) => o.key),
          [
            'tenant-a/exports/2026-03',
            'tenant-a/versions/v1',
            'tenant-a/versions/v2',
            'tenant-ab/versions/v1',
          ],
        );
      });

      it('should yield every object for the empty prefix', async () => {
        const listed = await listAll(store, '');

        assert.equal(listed.length, 5);
      });

      it('should yield nothing for a prefix that matches no key', async () => {
        assert.deepEqual(await listAll(store, 'tenant-z/'), []);
      });

      it('should report a modification time', async () => {
        const before = Date.now() - 60_000;
        const objects: number[] = [];

        for await (const object of store.list('tenant-b/')) {
          objects.push(object.modifiedAt);
        }

        assert.equal(objects.length, 1);
        assert.ok((objects[0] ?? 0) > before);
      });

      it('should not yield a deleted object', async () => {
        await store.delete('tenant-a/versions/v1');

        const listed = await listAll(store, 'tenant-a/versions/');

        assert.deepEqual(listed, [{ key: 'tenant-a/versions/v2', size: 5 }]);
      });
    });
  });
}

async function listAll(store: BlobStore, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const objects: Array<{ key: string; size: number }> = [];
  for await (const object of store.list(prefix)) {
    objects.push({ key: object.key, size: object.size });
  }
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

async function* iterate(chunks: Buffer[]): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
    yield chunk;
  }
}

/** Yields to the event loop between chunks so that concurrent writers interleave. */
async function* slowly(chunks: Buffer[]): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
}

async function* failingAfter(chunks: Buffer[]): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
  throw new Error('source failed midway');
}

function chunksOf(buffer: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buffer.length; offset += size) {
    chunks.push(buffer.subarray(offset, offset + size));
  }
  return chunks;
}

/** Reproducible bytes with no short period (SHA-256 in counter mode), so an offset error shows. */
function patternBytes(size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < size; i++) {
    blocks.push(createHash('sha256').update(`blob-store-contract:${i}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, size);
}

function sha256(buffer: Buffer): string {
  return createHash('sha256').update(buffer).digest('hex');
}
