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
  /** Adds `bytes` to the tenant's usage only if the result stays within quota; false otherwise. */
  chargeBytes(id: string, bytes: number): Promise<boolean>;
  releaseBytes(id: string, bytes: number): Promise<void>;
}
