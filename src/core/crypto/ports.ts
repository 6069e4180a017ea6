/** The master key ring: the root of the key hierarchy, held outside the databases (file, env, later KMS). */
export interface MasterKeyRing {
  /** The key new wrappings use. */
  current(): { id: string; key: Buffer };
  /** Any key still in the ring; throws when `id` is unknown (the key was retired or the ring is wrong). */
  get(id: string): Buffer;
}

export interface TenantKeyRecord {
  tenantId: string;
  purpose: string;
  version: number;
  wrapped: string;
  masterKeyId: string;
  createdAt: number;
}

export interface DataKeyRecord {
  id: string;
  tenantId: string;
  kekVersion: number;
  wrapped: string;
  createdAt: number;
}

/**
 * Where wrapped keys live, apart from the data they protect (backed up on its own, shorter cycle).
 * Deleting a record is what makes every copy of the data it protects unreadable.
 */
export interface KeyStore {
  findTenantKey(tenantId: string, purpose: string): Promise<TenantKeyRecord | undefined>;
  insertTenantKey(record: TenantKeyRecord): Promise<void>;
  /** Every tenant key, for master-key rotation. Operator-only path. */
  listTenantKeysForAllTenants(): Promise<TenantKeyRecord[]>;
  /** Replaces the wrapping of many tenant keys at once, atomically. */
  rewrapTenantKeys(records: TenantKeyRecord[]): Promise<void>;
  destroyTenantKeys(tenantId: string): Promise<void>;
  insertDataKeys(records: DataKeyRecord[]): Promise<void>;
  findDataKey(tenantId: string, id: string): Promise<DataKeyRecord | undefined>;
  deleteDataKeys(tenantId: string, ids: string[]): Promise<void>;
}
