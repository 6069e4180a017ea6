import { IntegrityError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { newKey, unwrapKey, wrapKey } from './key-wrap.ts';
import type { DataKeyRecord, KeyStore, MasterKeyRing, TenantKeyRecord } from './ports.ts';

export type KeyPurpose = 'content' | 'secrets' | 'index' | 'audit-signing';

/** Tenant id under which installation-wide keys (e.g. for TOTP secrets) are kept. */
export const SYSTEM_KEY_OWNER = '_system';

const DATA_KEY_BATCH = 32;

/**
 * The key hierarchy: master key → per-tenant key-encryption key → per-blob data key.
 * Data keys are created in batches (one key-store write per batch, not per small file) and handed out
 * from memory; a batch left unused by a crash is only a few orphan key records.
 */
export class KeyService {
  readonly #store: KeyStore;
  readonly #ring: MasterKeyRing;
  readonly #clock: Clock;
  readonly #keks = new Map<string, { version: number; key: Buffer }>();
  readonly #pools = new Map<string, Promise<Array<{ id: string; key: Buffer }>>>();

  constructor(deps: { store: KeyStore; ring: MasterKeyRing; clock: Clock }) {
    this.#store = deps.store;
    this.#ring = deps.ring;
    this.#clock = deps.clock;
  }

  /** Creates the tenant's key for `purpose` if it has none; idempotent. */
  async ensureTenantKey(tenantId: string, purpose: KeyPurpose = 'content'): Promise<void> {
    await this.getTenantKey(tenantId, purpose, { create: true });
  }

  /** The unwrapped tenant key for `purpose`. Throws IntegrityError if it was destroyed or cannot unwrap. */
  async getTenantKey(
    tenantId: string,
    purpose: KeyPurpose,
    options: { create?: boolean } = {},
  ): Promise<Buffer> {
    const cacheKey = `${tenantId}/${purpose}`;
    const cached = this.#keks.get(cacheKey);
    if (cached) {
      return cached.key;
    }
    let record = await this.#store.findTenantKey(tenantId, purpose);
    if (!record) {
      if (!options.create) {
        throw new IntegrityError('The tenant key is missing or has been destroyed', { purpose });
      }
      const key = newKey();
      const master = this.#ring.current();
      record = {
        tenantId,
        purpose,
        version: 1,
        wrapped: wrapKey(master.key, key, tenantKeyAad(tenantId, purpose, 1)),
        masterKeyId: master.id,
        createdAt: this.#clock.now(),
      };
      try {
        await this.#store.insertTenantKey(record);
      } catch (error) {
        // Another caller (in this process or on another node) created the key first: use theirs.
        const winner = await this.#store.findTenantKey(tenantId, purpose);
        if (!winner) {
          throw error;
        }
        record = winner;
      }
    }
    const key = unwrapKey(
      this.#ring.get(record.masterKeyId),
      record.wrapped,
      tenantKeyAad(tenantId, purpose, record.version),
    );
    this.#keks.set(cacheKey, { version: record.version, key });
    return key;
  }

  /** A fresh data key for one blob. The returned id is stored with the version that uses it. */
  async allocateDataKey(tenantId: string): Promise<{ id: string; key: Buffer }> {
    for (;;) {
      const batch = this.#pool(tenantId);
      const next = (await batch).pop();
      if (next) {
        return next;
      }
      // Only retire the batch that ran dry: another waiter may already have started the next one.
      if (this.#pools.get(tenantId) === batch) {
        this.#pools.delete(tenantId);
      }
    }
  }

  /** The data key with `id`; IntegrityError when it has been destroyed (erasure) or does not belong to the tenant. */
  async getDataKey(tenantId: string, id: string): Promise<Buffer> {
    const record = await this.#store.findDataKey(tenantId, id);
    if (!record) {
      throw new IntegrityError('The data key for this content has been destroyed');
    }
    const kek = await this.getTenantKey(tenantId, 'content');
    return unwrapKey(kek, record.wrapped, dataKeyAad(tenantId, id));
  }

  /** Cryptographic erasure of individual blobs: every copy, backups included, becomes unreadable. */
  async destroyDataKeys(tenantId: string, ids: string[]): Promise<void> {
    await this.#store.deleteDataKeys(tenantId, ids);
  }

  /**
   * Re-wraps every tenant key under the ring's current master key, in one key-store transaction.
   * Blobs are not touched: their data keys hang off the tenant keys, which keep their value.
   */
  async rewrapAllTenantKeys(): Promise<{ rewrapped: number; masterKeyId: string }> {
    const master = this.#ring.current();
    const records = await this.#store.listTenantKeysForAllTenants();
    const updated: TenantKeyRecord[] = records.map((r) => {
      const aad = tenantKeyAad(r.tenantId, r.purpose, r.version);
      const key = unwrapKey(this.#ring.get(r.masterKeyId), r.wrapped, aad);
      return { ...r, wrapped: wrapKey(master.key, key, aad), masterKeyId: master.id };
    });
    await this.#store.rewrapTenantKeys(updated);
    this.#keks.clear();
    return { rewrapped: updated.length, masterKeyId: master.id };
  }

  /** Master key ids still referenced by any tenant key (a rotation is finished when only the current one is left). */
  async masterKeyIdsInUse(): Promise<string[]> {
    const records = await this.#store.listTenantKeysForAllTenants();
    return [...new Set(records.map((r) => r.masterKeyId))];
  }

  #pool(tenantId: string): Promise<Array<{ id: string; key: Buffer }>> {
    let pool = this.#pools.get(tenantId);
    if (!pool) {
      pool = this.#createBatch(tenantId);
      this.#pools.set(tenantId, pool);
      pool.catch(() => this.#pools.delete(tenantId));
    }
    return pool;
  }

  async #createBatch(tenantId: string): Promise<Array<{ id: string; key: Buffer }>> {
    const kek = await this.getTenantKey(tenantId, 'content', { create: true });
    const cached = this.#keks.get(`${tenantId}/content`);
    const now = this.#clock.now();
    const keys = Array.from({ length: DATA_KEY_BATCH }, () => ({ id: newId(), key: newKey() }));
    const records: DataKeyRecord[] = keys.map((k) => ({
      id: k.id,
      tenantId,
      kekVersion: cached?.version ?? 1,
      wrapped: wrapKey(kek, k.key, dataKeyAad(tenantId, k.id)),
      createdAt: now,
    }));
    await this.#store.insertDataKeys(records);
    return keys.reverse();
  }
}

function tenantKeyAad(tenantId: string, purpose: string, version: number): string {
  return `tenant-key:${tenantId}:${purpose}:${version}`;
}

function dataKeyAad(tenantId: string, id: string): string {
  return `data-key:${tenantId}:${id}`;
}
