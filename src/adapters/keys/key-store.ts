import type { Kysely, Migration } from 'kysely';
import type { DataKeyRecord, KeyStore, TenantKeyRecord } from '../../core/crypto/ports.ts';
import * as createKeyTables from './migrations/20261122170100_create_key_tables.ts';

export const KEY_STORE_MIGRATIONS: Record<string, Migration> = {
  '20261122170100_create_key_tables': createKeyTables,
};

export interface KeyStoreTables {
  tenant_keys: {
    tenant_id: string;
    purpose: string;
    version: number;
    wrapped: string;
    master_key_id: string;
    created_at: number;
  };
  data_keys: { id: string; tenant_id: string; kek_version: number; wrapped: string; created_at: number };
}

/** The key store on its own database (SQLite file by default, or PostgreSQL). */
export class KyselyKeyStore implements KeyStore {
  readonly #db: Kysely<KeyStoreTables>;

  constructor(db: Kysely<KeyStoreTables>) {
    this.#db = db;
  }

  async findTenantKey(tenantId: string, purpose: string): Promise<TenantKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('tenant_keys')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('purpose', '=', purpose)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toTenantKey(row) : undefined;
  }

  async insertTenantKey(record: TenantKeyRecord): Promise<void> {
    await this.#db.insertInto('tenant_keys').values(fromTenantKey(record)).execute();
  }

  async listTenantKeysForAllTenants(): Promise<TenantKeyRecord[]> {
    const rows = await this.#db.selectFrom('tenant_keys').selectAll().execute();
    return rows.map(toTenantKey);
  }

  async rewrapTenantKeys(records: TenantKeyRecord[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const r of records) {
        await trx
          .updateTable('tenant_keys')
          .set({ wrapped: r.wrapped, master_key_id: r.masterKeyId })
          .where('tenant_id', '=', r.tenantId)
          .where('purpose', '=', r.purpose)
          .where('version', '=', r.version)
          .execute();
      }
    });
  }

  async destroyTenantKeys(tenantId: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('data_keys').where('tenant_id', '=', tenantId).execute();
      await trx.deleteFrom('tenant_keys').where('tenant_id', '=', tenantId).execute();
    });
  }

  async insertDataKeys(records: DataKeyRecord[]): Promise<void> {
    await this.#db
      .insertInto('data_keys')
      .values(
        records.map((r) => ({
          id: r.id,
          tenant_id: r.tenantId,
          kek_version: r.kekVersion,
          wrapped: r.wrapped,
          created_at: r.createdAt,
        })),
      )
      .execute();
  }

  async findDataKey(tenantId: string, id: string): Promise<DataKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('data_keys')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row
      ? {
          id: row.id,
          tenantId: row.tenant_id,
          kekVersion: row.kek_version,
          wrapped: row.wrapped,
          createdAt: row.created_at,
        }
      : undefined;
  }

  async deleteDataKeys(tenantId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) {
      return;
    }
    await this.#db.deleteFrom('data_keys').where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
  }
}

function toTenantKey(row: KeyStoreTables['tenant_keys']): TenantKeyRecord {
  return {
    tenantId: row.tenant_id,
    purpose: row.purpose,
    version: row.version,
    wrapped: row.wrapped,
    masterKeyId: row.master_key_id,
    createdAt: row.created_at,
  };
}

function fromTenantKey(r: TenantKeyRecord): KeyStoreTables['tenant_keys'] {
  return {
    tenant_id: r.tenantId,
    purpose: r.purpose,
    version: r.version,
    wrapped: r.wrapped,
    master_key_id: r.masterKeyId,
    created_at: r.createdAt,
  };
}
