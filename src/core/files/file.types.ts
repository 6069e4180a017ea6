export type NodeKind = 'folder' | 'file';

/** A node in a tenant's folder tree. Named StoredNode to keep clear of the global `File`. */
export interface StoredNode {
  id: string;
  tenantId: string;
  parentId: string | null;
  kind: NodeKind;
  name: string;
  nameKey: string;
  currentVersionId: string | null;
  size: number;
  mimeType: string | null;
  createdBy: string | null;
  updatedBy: string | null;
  createdAt: number;
  updatedAt: number;
  trashedAt: number | null;
  trashedBy: string | null;
  /** The node the user sent to the trash (itself or an ancestor); restore brings back the whole subtree. */
  trashRootId: string | null;
}

export type VersionState = 'committed';

export interface FileVersion {
  id: string;
  tenantId: string;
  nodeId: string;
  number: number;
  state: VersionState;
  size: number;
  sha256: string | null;
  blobKey: string;
  dataKeyId: string;
  createdBy: string | null;
  createdAt: number;
  committedAt: number | null;
}

export type FolderAccess = 'read' | 'write';

export interface FolderGrant {
  tenantId: string;
  nodeId: string;
  userId: string;
  access: FolderAccess;
  createdAt: number;
}

export interface Upload {
  id: string;
  tenantId: string;
  userId: string;
  parentId: string;
  name: string;
  length: number;
  received: number;
  blobKey: string;
  dataKeyId: string;
  metadata: Record<string, string>;
  nodeId: string | null;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  completedAt: number | null;
}

/**
 * One staged piece of an unfinished resumable upload: sealed segments from `firstSegment` on, covering
 * plaintext bytes [firstSegment × segment size, plainEnd). Recorded only once its bytes are durable.
 */
export interface UploadPart {
  tenantId: string;
  uploadId: string;
  firstSegment: number;
  plainEnd: number;
  blobKey: string;
  createdAt: number;
}

export type SortField = 'name' | 'size' | 'updatedAt';
