import type { Tenant, TenantSettingsPatch } from './tenant.types.ts';

export interface TenantRepository {
  insert(tenant: Tenant): Promise<void>;
  findById(id: string): Promise<Tenant | undefined>;
  findBySlug(slug: string): Promise<Tenant | undefined>;
  /** Every tenant; operator console only. */
  listForAllTenants(): Promise<Tenant[]>;
  update(
    id: string,
    patch: TenantSettingsPatch & { status?: Tenant['status']; suspendedAt?: number | null },
  ): Promise<void>;
  /**
   * The tenant's quota, its usage, and the bytes its unfinished resumable uploads have announced, in
   * one statement (every upload asks); undefined when there is no such tenant.
   */
  findStorageUse(
    id: string,
  ): Promise<{ quotaBytes: number; usedBytes: number; pendingUploadBytes: number } | undefined>;
  /** Adds `bytes` to the tenant's usage only if the result stays within quota; false otherwise. */
  chargeBytes(id: string, bytes: number): Promise<boolean>;
  releaseBytes(id: string, bytes: number): Promise<void>;
}
