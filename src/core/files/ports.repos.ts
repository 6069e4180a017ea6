import type { FileVersion, FolderGrant, StoredNode, Upload } from './file.types.ts';

export interface NodeRepository {
  insert(node: StoredNode): Promise<void>;
  /** A live (not trashed) node of the tenant, or undefined. */
  findLive(tenantId: string, id: string): Promise<StoredNode | undefined>;
  /** Any node of the tenant, trashed or not. */
  findAny(tenantId: string, id: string): Promise<StoredNode | undefined>;
  findRoot(tenantId: string): Promise<StoredNode | undefined>;
  findLiveChild(tenantId: string, parentId: string, nameKey: string): Promise<StoredNode | undefined>;
  listLiveChildren(tenantId: string, parentId: string): Promise<StoredNode[]>;
  /** Every descendant of `id` (not itself), live or trashed with the same trash root. */
  listSubtree(tenantId: string, id: string, options: { trashRootId: string | null }): Promise<StoredNode[]>;
  /** Ancestors from the parent up to the root, nearest first. */
  listAncestors(tenantId: string, id: string): Promise<StoredNode[]>;
  listTrashRoots(tenantId: string): Promise<StoredNode[]>;
  update(
    tenantId: string,
    id: string,
    patch: Partial<Omit<StoredNode, 'id' | 'tenantId' | 'createdAt'>>,
  ): Promise<void>;
  /** Marks `ids` trashed under `trashRootId`. */
  markTrashed(
    tenantId: string,
    ids: string[],
    patch: { trashedAt: number; trashedBy: string; trashRootId: string },
  ): Promise<void>;
  clearTrash(tenantId: string, trashRootId: string): Promise<void>;
  deleteMany(tenantId: string, ids: string[]): Promise<void>;
}

export interface VersionRepository {
  insert(version: FileVersion): Promise<void>;
  find(tenantId: string, id: string): Promise<FileVersion | undefined>;
  listByNode(tenantId: string, nodeId: string): Promise<FileVersion[]>;
  listByNodes(tenantId: string, nodeIds: string[]): Promise<FileVersion[]>;
  nextNumber(tenantId: string, nodeId: string): Promise<number>;
  deleteMany(tenantId: string, ids: string[]): Promise<void>;
  /** Which of `blobKeys` are still used by some version (copies and restores share blobs). */
  listBlobKeysInUse(tenantId: string, blobKeys: string[]): Promise<Set<string>>;
  /** Blob keys of every version of the tenant, for the orphan sweep. */
  listBlobKeys(tenantId: string): Promise<Set<string>>;
}

export interface FolderGrantRepository {
  upsert(grant: FolderGrant): Promise<void>;
  delete(tenantId: string, nodeId: string, userId: string): Promise<void>;
  listByUser(tenantId: string, userId: string): Promise<FolderGrant[]>;
  listByNode(tenantId: string, nodeId: string): Promise<FolderGrant[]>;
}

export interface UploadRepository {
  insert(upload: Upload): Promise<void>;
  find(tenantId: string, id: string): Promise<Upload | undefined>;
  update(
    tenantId: string,
    id: string,
    patch: Partial<Pick<Upload, 'received' | 'updatedAt' | 'completedAt' | 'nodeId'>>,
  ): Promise<void>;
  delete(tenantId: string, id: string): Promise<void>;
  listExpiredForAllTenants(now: number): Promise<Upload[]>;
  listBlobKeys(tenantId: string): Promise<Set<string>>;
  /** Bytes promised to unfinished uploads, counted against the quota. */
  sumPendingBytes(tenantId: string): Promise<number>;
}
