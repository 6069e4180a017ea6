import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { runBlobStoreContract } from '../../../test/support/blob-store-contract.ts';
import { LocalDiskBlobStore } from './local-disk-blob-store.ts';

runBlobStoreContract(`${LocalDiskBlobStore.name} contract`, async () => {
  const root = mkdtempSync(join(tmpdir(), 'custodia-blobs-'));
  const store = new LocalDiskBlobStore(root);
  await store.init();
  return { store, cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe(LocalDiskBlobStore.name, () => {
  let parent: string;
  let root: string;
  let store: LocalDiskBlobStore;

  beforeEach(async () => {
    parent = mkdtempSync(join(tmpdir(), 'custodia-blobs-'));
    root = join(parent, 'store');
    store = new LocalDiskBlobStore(root);
    await store.init();
  });

  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  describe('put', () => {
    it('should leave no file under .incoming after the source fails', async () => {
      await store
        .put('tenant-a/blobs/broken', failingAfter([Buffer.alloc(300 * 1024, 'x')]))
        .catch(() => undefined);

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should leave no file under .incoming after the source fails before its first byte', async () => {
      await store.put('tenant-a/blobs/broken', failingAfter([])).catch(() => undefined);

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should leave no file under .incoming after a successful put', async () => {
      await store.put('tenant-a/blobs/ok', iterate([Buffer.from('Lease agreement, unit 4B')]));

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should reject with ENOTDIR when a parent of the target is a regular file', async () => {
      await writeFile(join(root, 'tenant-a'), 'a stray file where a folder should be');

      await assert.rejects(
        store.put('tenant-a/blobs/payslip', iterate([Buffer.from('Payslip, April 2026')])),
        { code: 'ENOTDIR' },
      );
    });

    it('should leave no temp file when the target directory cannot be made', async () => {
      await writeFile(join(root, 'tenant-a'), 'a stray file where a folder should be');

      await store
        .put('tenant-a/blobs/payslip', iterate([Buffer.from('Payslip, April 2026')]))
        .catch(() => undefined);

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should leave no temp file when the target is a directory and rename fails', async () => {
      await store.put('tenant-a/folder/child', iterate([Buffer.from('child object')]));

      await assert.rejects(store.put('tenant-a/folder', iterate([Buffer.from('would replace a folder')])));

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should store every byte of a stream of many small, uneven chunks', async () => {
      // Chunks are gathered into batches before they are written: 3 MiB in odd pieces spans several
      // batches and ends with a partial one.
      const content = randomBytes(3 * 1024 * 1024 + 4321);
      const pieces: Buffer[] = [];
      for (let offset = 0, size = 1; offset < content.length; offset += size, size = (size * 7) % 9001) {
        pieces.push(content.subarray(offset, offset + size));
      }

      const { size } = await store.put('tenant-a/blobs/pieces', Readable.from(pieces));

      assert.equal(size, content.length);
      assert.ok((await readFile(join(root, 'tenant-a', 'blobs', 'pieces'))).equals(content));
    });

    it('should leave nothing when the source fails after whole batches were written', async () => {
      const batches = Array.from({ length: 3 }, () => Buffer.alloc(1024 * 1024, 'x'));

      await assert.rejects(store.put('tenant-a/blobs/broken', failingAfter(batches)), /source failed midway/);

      assert.deepEqual(await readdir(join(root, '.incoming')), []);
      assert.equal(await store.stat('tenant-a/blobs/broken'), undefined);
    });

    it('should write the object as a file under the root', async () => {
      await store.put('tenant-a/blobs/ok', iterate([Buffer.from('Lease agreement, unit 4B')]));

      assert.deepEqual(await readdir(join(root, 'tenant-a', 'blobs')), ['ok']);
    });
  });

  describe('sweepIncoming', () => {
    it('should remove files left in .incoming by a crash', async () => {
      await writeFile(join(root, '.incoming', 'a1b2c3.part'), 'half an upload');
      await writeFile(join(root, '.incoming', 'd4e5f6.part'), 'another half');

      const removed = await store.sweepIncoming();

      assert.equal(removed, 2);
      assert.deepEqual(await readdir(join(root, '.incoming')), []);
    });

    it('should leave stored objects alone', async () => {
      await store.put('tenant-a/blobs/keep', iterate([Buffer.from('keep me')]));
      await writeFile(join(root, '.incoming', 'a1b2c3.part'), 'half an upload');

      await store.sweepIncoming();

      assert.deepEqual(await store.stat('tenant-a/blobs/keep'), { size: 7 });
    });

    it('should return 0 when .incoming does not exist', async () => {
      const fresh = new LocalDiskBlobStore(join(parent, 'never-initialised'));

      assert.equal(await fresh.sweepIncoming(), 0);
    });
  });

  describe('list', () => {
    it('should not yield temp files of uploads in progress', async () => {
      await writeFile(join(root, '.incoming', 'a1b2c3.part'), 'half an upload');

      const keys: string[] = [];
      for await (const object of store.list('')) {
        keys.push(object.key);
      }

      assert.deepEqual(keys, []);
    });

    it('should yield a key whose first name merely starts with .incoming', async () => {
      await store.put('.incoming-archive/report', iterate([Buffer.from('archived report')]));

      const keys: string[] = [];
      for await (const object of store.list('')) {
        keys.push(object.key);
      }

      assert.deepEqual(keys, ['.incoming-archive/report']);
    });

    it('should yield nothing outside the root for a prefix that climbs out of it', async () => {
      await mkdir(join(parent, 'elsewhere'));
      await writeFile(join(parent, 'elsewhere', 'secret'), 'not part of the store');

      const keys: string[] = [];
      const listing = (async () => {
        for await (const object of store.list('../elsewhere/')) {
          keys.push(object.key);
        }
      })();
      await listing.catch(() => undefined);

      assert.deepEqual(keys, []);
    });
  });

  const invalidKeys = ['../x', 'a//b', 'a/./b', '', 'a\0b', '/absolute', 'trailing/', '.incoming/x'];
  const operations: Array<[string, (key: string) => Promise<unknown>]> = [
    ['put', (key) => store.put(key, iterate([Buffer.from('x')]))],
    ['get', (key) => store.get(key)],
    ['stat', (key) => store.stat(key)],
    ['delete', (key) => store.delete(key)],
  ];
  for (const [operation, call] of operations) {
    describe(operation, () => {
      for (const key of invalidKeys) {
        it(`should reject the invalid key ${JSON.stringify(key)}`, async () => {
          await assert.rejects(call(key), /Invalid blob key/);
        });
      }
    });
  }
});

async function* iterate(chunks: Buffer[]): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
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
