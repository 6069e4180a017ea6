export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  quotaBytes: number;
  usedBytes: number;
  keepVersions: number;
  requireMfa: boolean;
  createdAt: number;
  suspendedAt: number | null;
}

export interface TenantSettingsPatch {
  name?: string;
  requireMfa?: boolean;
  keepVersions?: number;
  quotaBytes?: number;
}
