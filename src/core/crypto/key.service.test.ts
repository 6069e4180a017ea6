// An integration test: the service runs on the real key store and a real database of each dialect
// (STYLE.md 2.4, "we never mock our own database"); eslint.config.js lets core tests import adapters.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openDatabase, type DatabaseHandle } from '../../adapters/db/database.ts';
import { migrateToLatest } from '../../adapters/db/migrate.ts';
import { KEY_STORE_MIGRATIONS, KyselyKeyStore, type KeyStoreTables } from '../../adapters/keys/key-store.ts';
import { StaticMasterKeyRing } from '../../adapters/keys/master-key-ring.ts';
import { createTestDatabase, dialectsUnderTest, type TestDatabase } from '../../../test/support/dialects.ts';
import type { Clock } from '../shared/clock.ts';
import { IntegrityError } from '../shared/errors.ts';
import { KeyService } from './key.service.ts';

const OLD_MASTER = { id: 'mk-2026-01-01-a1a1a1a1', key: Buffer.alloc(32, 0xa1).toString('base64') };
const NEW_MASTER = { id: 'mk-2027-01-01-b2b2b2b2', key: Buffer.alloc(32, 0xb2).toString('base64') };
const TENANT_A = '0193a5d0-0000-7000-8000-00000000000a';
const TENANT_B = '0193a5d0-0000-7000-8000-00000000000b';
const clock: Clock = { now: () => Date.UTC(2026, 10, 22, 17, 0, 0) };

const dialects = await dialectsUnderTest();

describe(KeyService.name, () => {
  for (const dialect of dialects) {
    describe(`on ${dialect}`, () => {
      let testDb: TestDatabase;
      let handle: DatabaseHandle<KeyStoreTables>;
      let store: KyselyKeyStore;
      let oldRing: StaticMasterKeyRing;
      let service: KeyService;

      beforeEach(async () => {
        testDb = await createTestDatabase(dialect);
        handle = openDatabase<KeyStoreTables>(testDb.url);
        await migrateToLatest(handle.db, KEY_STORE_MIGRATIONS);
        store = new KyselyKeyStore(handle.db);
        oldRing = new StaticMasterKeyRing({
          current: OLD_MASTER.id,
          keys: { [OLD_MASTER.id]: OLD_MASTER.key },
        });
        service = new KeyService({ store, ring: oldRing, clock });
      });

      afterEach(async () => {
        await handle.close();
        await testDb.cleanup();
      });

      /** A service with an empty cache, as another app node or a restarted process would have. */
      function freshService(ring: StaticMasterKeyRing = oldRing): KeyService {
        return new KeyService({ store, ring, clock });
      }

      describe('ensureTenantKey', () => {
        it('should store one tenant key wrapped under the current master key', async () => {
          await service.ensureTenantKey(TENANT_A);

          const records = await store.listTenantKeysForAllTenants();
          assert.deepEqual(
            records.map((r) => ({
              tenantId: r.tenantId,
              purpose: r.purpose,
              version: r.version,
              masterKeyId: r.masterKeyId,
              createdAt: r.createdAt,
            })),
            [
              {
                tenantId: TENANT_A,
                purpose: 'content',
                version: 1,
                masterKeyId: OLD_MASTER.id,
                createdAt: clock.now(),
              },
            ],
          );
        });

        it('should not create a second key when called again', async () => {
          await service.ensureTenantKey(TENANT_A);

          await service.ensureTenantKey(TENANT_A);
          await freshService().ensureTenantKey(TENANT_A);

          assert.equal((await store.listTenantKeysForAllTenants()).length, 1);
        });

        it('should create one key when two callers ensure it at the same time', async () => {
          await Promise.all([service.ensureTenantKey(TENANT_A), service.ensureTenantKey(TENANT_A)]);

          assert.equal((await store.listTenantKeysForAllTenants()).length, 1);
        });

        it('should create one key when two app nodes ensure it at the same time', async () => {
          await Promise.all([
            freshService().ensureTenantKey(TENANT_A),
            freshService().ensureTenantKey(TENANT_A),
          ]);

          assert.equal((await store.listTenantKeysForAllTenants()).length, 1);
        });

        it('should keep keys of different purposes apart', async () => {
          await service.ensureTenantKey(TENANT_A, 'content');
          await service.ensureTenantKey(TENANT_A, 'index');

          const content = await service.getTenantKey(TENANT_A, 'content');
          const index = await service.getTenantKey(TENANT_A, 'index');

          assert.ok(!content.equals(index));
        });
      });

      describe('getTenantKey', () => {
        it('should return the same key to a service with an empty cache', async () => {
          const created = await service.getTenantKey(TENANT_A, 'content', { create: true });

          const reread = await freshService().getTenantKey(TENANT_A, 'content');

          assert.ok(reread.equals(created));
        });

        it('should give each tenant its own key', async () => {
          const keyA = await service.getTenantKey(TENANT_A, 'content', { create: true });

          const keyB = await service.getTenantKey(TENANT_B, 'content', { create: true });

          assert.ok(!keyA.equals(keyB));
        });

        it('should throw IntegrityError when the tenant has no key and create is not asked for', async () => {
          await assert.rejects(service.getTenantKey(TENANT_A, 'content'), IntegrityError);
        });

        it('should throw IntegrityError when the wrapped tenant key was tampered with', async () => {
          await service.ensureTenantKey(TENANT_A);
          const [record] = await store.listTenantKeysForAllTenants();
          await handle.db
            .updateTable('tenant_keys')
            .set({ wrapped: flipBit(record?.wrapped ?? '', 20) })
            .where('tenant_id', '=', TENANT_A)
            .execute();

          await assert.rejects(freshService().getTenantKey(TENANT_A, 'content'), IntegrityError);
        });

        it('should throw IntegrityError for a wrapped tenant key copied from another tenant', async () => {
          await service.ensureTenantKey(TENANT_A);
          await service.ensureTenantKey(TENANT_B);
          const recordA = await store.findTenantKey(TENANT_A, 'content');
          await handle.db
            .updateTable('tenant_keys')
            .set({ wrapped: recordA?.wrapped ?? '' })
            .where('tenant_id', '=', TENANT_B)
            .execute();

          await assert.rejects(freshService().getTenantKey(TENANT_B, 'content'), IntegrityError);
        });
      });

      describe('allocateDataKey', () => {
        it('should hand out unique ids and keys across several batches', async () => {
          const allocated = [];
          for (let i = 0; i < 70; i++) {
            allocated.push(await service.allocateDataKey(TENANT_A));
          }

          assert.equal(new Set(allocated.map((k) => k.id)).size, 70);
          assert.equal(new Set(allocated.map((k) => k.key.toString('hex'))).size, 70);
        });

        it('should hand out unique keys to concurrent callers', async () => {
          const allocated = await Promise.all(
            Array.from({ length: 40 }, () => service.allocateDataKey(TENANT_A)),
          );

          assert.equal(new Set(allocated.map((k) => k.id)).size, 40);
        });

        it('should write one batch per 32 keys when callers wait on an exhausted batch together', async () => {
          await Promise.all(Array.from({ length: 40 }, () => service.allocateDataKey(TENANT_A)));

          const stored = await handle.db
            .selectFrom('data_keys')
            .select((eb) => eb.fn.countAll<number>().as('count'))
            .executeTakeFirstOrThrow();
          assert.equal(Number(stored.count), 64);
        });

        it('should hand out unique ids across app nodes', async () => {
          const [fromNode1, fromNode2] = await Promise.all([
            freshService().allocateDataKey(TENANT_A),
            freshService().allocateDataKey(TENANT_A),
          ]);

          assert.notEqual(fromNode1?.id, fromNode2?.id);
        });

        it('should create the tenant key on first use', async () => {
          await service.allocateDataKey(TENANT_A);

          assert.ok(await store.findTenantKey(TENANT_A, 'content'));
        });
      });

      describe('getDataKey', () => {
        it('should return the key that was allocated', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);

          const key = await service.getDataKey(TENANT_A, allocated.id);

          assert.ok(key.equals(allocated.key));
        });

        it('should return the allocated key to a service with an empty cache', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);

          const key = await freshService().getDataKey(TENANT_A, allocated.id);

          assert.ok(key.equals(allocated.key));
        });

        it("should throw IntegrityError for another tenant's key id", async () => {
          const ofTenantA = await service.allocateDataKey(TENANT_A);
          await service.ensureTenantKey(TENANT_B);

          await assert.rejects(service.getDataKey(TENANT_B, ofTenantA.id), IntegrityError);
        });

        it("should throw IntegrityError for another tenant's key id when that tenant has no key yet", async () => {
          const ofTenantA = await service.allocateDataKey(TENANT_A);

          await assert.rejects(service.getDataKey(TENANT_B, ofTenantA.id), IntegrityError);
        });

        it('should throw IntegrityError for an id that was never allocated', async () => {
          await service.ensureTenantKey(TENANT_A);

          await assert.rejects(
            service.getDataKey(TENANT_A, '0193a5d0-0000-7000-8000-0000000000ff'),
            IntegrityError,
          );
        });

        it('should throw IntegrityError when the wrapped data key was tampered with', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);
          const record = await store.findDataKey(TENANT_A, allocated.id);
          await handle.db
            .updateTable('data_keys')
            .set({ wrapped: flipBit(record?.wrapped ?? '', 30) })
            .where('id', '=', allocated.id)
            .execute();

          await assert.rejects(service.getDataKey(TENANT_A, allocated.id), IntegrityError);
        });

        it('should throw IntegrityError for a wrapped data key copied to another id', async () => {
          const first = await service.allocateDataKey(TENANT_A);
          const second = await service.allocateDataKey(TENANT_A);
          const record = await store.findDataKey(TENANT_A, first.id);
          await handle.db
            .updateTable('data_keys')
            .set({ wrapped: record?.wrapped ?? '' })
            .where('id', '=', second.id)
            .execute();

          await assert.rejects(service.getDataKey(TENANT_A, second.id), IntegrityError);
        });
      });

      describe('destroyDataKeys', () => {
        it('should make getDataKey fail with IntegrityError', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);

          await service.destroyDataKeys(TENANT_A, [allocated.id]);

          await assert.rejects(service.getDataKey(TENANT_A, allocated.id), IntegrityError);
        });

        it('should leave the other data keys readable', async () => {
          const erased = await service.allocateDataKey(TENANT_A);
          const kept = await service.allocateDataKey(TENANT_A);

          await service.destroyDataKeys(TENANT_A, [erased.id]);

          assert.ok((await service.getDataKey(TENANT_A, kept.id)).equals(kept.key));
        });

        it("should not destroy another tenant's data key", async () => {
          const ofTenantA = await service.allocateDataKey(TENANT_A);

          await service.destroyDataKeys(TENANT_B, [ofTenantA.id]);

          assert.ok((await service.getDataKey(TENANT_A, ofTenantA.id)).equals(ofTenantA.key));
        });

        it('should accept an empty list', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);

          await service.destroyDataKeys(TENANT_A, []);

          assert.ok((await service.getDataKey(TENANT_A, allocated.id)).equals(allocated.key));
        });
      });

      describe('rewrapAllTenantKeys', () => {
        const rotatedRing = (): StaticMasterKeyRing =>
          new StaticMasterKeyRing({
            current: NEW_MASTER.id,
            keys: { [OLD_MASTER.id]: OLD_MASTER.key, [NEW_MASTER.id]: NEW_MASTER.key },
          });
        const newOnlyRing = (): StaticMasterKeyRing =>
          new StaticMasterKeyRing({ current: NEW_MASTER.id, keys: { [NEW_MASTER.id]: NEW_MASTER.key } });

        it('should report every tenant key as rewrapped under the new master key', async () => {
          await service.ensureTenantKey(TENANT_A);
          await service.ensureTenantKey(TENANT_B);

          const result = await freshService(rotatedRing()).rewrapAllTenantKeys();

          assert.deepEqual(result, { rewrapped: 2, masterKeyId: NEW_MASTER.id });
        });

        it('should leave only the new master key id in use', async () => {
          await service.ensureTenantKey(TENANT_A);
          await service.ensureTenantKey(TENANT_B);

          await freshService(rotatedRing()).rewrapAllTenantKeys();

          assert.deepEqual(await service.masterKeyIdsInUse(), [NEW_MASTER.id]);
        });

        it('should keep data keys readable with a ring that holds only the new master key', async () => {
          const allocated = await service.allocateDataKey(TENANT_A);

          await freshService(rotatedRing()).rewrapAllTenantKeys();

          assert.ok(
            (await freshService(newOnlyRing()).getDataKey(TENANT_A, allocated.id)).equals(allocated.key),
          );
        });

        it('should keep the tenant key value unchanged', async () => {
          const before = await service.getTenantKey(TENANT_A, 'content', { create: true });

          await freshService(rotatedRing()).rewrapAllTenantKeys();

          assert.ok((await freshService(newOnlyRing()).getTenantKey(TENANT_A, 'content')).equals(before));
        });

        it('should keep serving data keys from the service that did the rotation', async () => {
          const rotating = freshService(rotatedRing());
          const allocated = await rotating.allocateDataKey(TENANT_A);

          await rotating.rewrapAllTenantKeys();

          assert.ok((await rotating.getDataKey(TENANT_A, allocated.id)).equals(allocated.key));
        });
      });

      describe('masterKeyIdsInUse', () => {
        it('should return the master key id that wraps the tenant keys', async () => {
          await service.ensureTenantKey(TENANT_A);
          await service.ensureTenantKey(TENANT_B);

          assert.deepEqual(await service.masterKeyIdsInUse(), [OLD_MASTER.id]);
        });

        it('should return nothing when there are no tenant keys', async () => {
          assert.deepEqual(await service.masterKeyIdsInUse(), []);
        });
      });
    });
  }
});

/** `wrapped` (base64) with one bit flipped at byte `offset`. */
function flipBit(wrapped: string, offset: number): string {
  const raw = Buffer.from(wrapped, 'base64');
  raw.writeUInt8(raw.readUInt8(offset) ^ 0x01, offset);
  return raw.toString('base64');
}
