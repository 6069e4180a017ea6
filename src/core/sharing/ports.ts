import type { ShareLink } from './share.types.ts';

export interface ShareLinkRepository {
  insert(link: ShareLink): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<ShareLink | undefined>;
  find(tenantId: string, id: string): Promise<ShareLink | undefined>;
  listByNode(tenantId: string, nodeId: string): Promise<ShareLink[]>;
  revoke(tenantId: string, id: string, at: number): Promise<void>;
  /** Counts one download if the limit allows; false when the limit is already reached. */
  countDownload(tenantId: string, id: string): Promise<boolean>;
}
