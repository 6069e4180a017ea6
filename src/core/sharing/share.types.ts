export interface ShareLink {
  id: string;
  tenantId: string;
  nodeId: string;
  tokenHash: string;
  tokenPrefix: string;
  passwordHash: string | null;
  expiresAt: number | null;
  maxDownloads: number | null;
  downloadCount: number;
  createdBy: string | null;
  createdAt: number;
  revokedAt: number | null;
}
