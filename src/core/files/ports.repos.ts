import type { FileVersion, FolderGrant, StoredNode, Upload, UploadPart } from './file.types.ts';

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

/**
 * A blob being written, recorded before its first byte and released in the transaction that commits
 * its version. An intent whose process is gone marks a blob (or half a blob) nobody will commit.
 */
export interface BlobIntent {
  tenantId: string;
  blobKey: string;
  dataKeyId: string;
  processId: string;
  createdAt: number;
}

export interface BlobIntentRepository {
  insert(intent: BlobIntent): Promise<void>;
  /** Deletes the intent; true when it was there, so exactly one of the writer and the sweep wins it. */
  release(tenantId: string, blobKey: string): Promise<boolean>;
  /** Deletes the intents of these blobs, if any (the writer gave up and destroyed them). */
  deleteMany(tenantId: string, blobKeys: string[]): Promise<void>;
  /** Blob keys with an intent, for the orphan sweep. */
  listBlobKeys(tenantId: string): Promise<Set<string>>;
  /** Every intent of every tenant (for the crash sweep only: there are as many as uploads in flight). */
  listForAllTenants(): Promise<BlobIntent[]>;
}

/**
 * Small files' sealed bytes, kept in the database instead of the blob store (SealedContent decides
 * which). Inserted inside the transaction that commits the version, so they exist exactly when it does.
 */
export interface InlineBlobRepository {
  insert(blob: { tenantId: string; blobKey: string; sealed: Buffer; createdAt: number }): Promise<void>;
  /** The sealed bytes, or undefined when there is no such blob in this tenant. */
  find(tenantId: string, blobKey: string): Promise<Buffer | undefined>;
  deleteMany(tenantId: string, blobKeys: string[]): Promise<void>;
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
  /**
   * Moves an unfinished upload's durable offset from `from` to `to` (and its expiry on); false when the
   * offset was no longer `from` or the upload is gone or finished, so two writers never both advance it.
   */
  advance(
    tenantId: string,
    id: string,
    change: { from: number; to: number; updatedAt: number; expiresAt: number },
  ): Promise<boolean>;
  /** Marks an unfinished upload whose every byte is staged as finished; false when it was not that. */
  markCompleted(
    tenantId: string,
    id: string,
    patch: { completedAt: number; nodeId: string },
  ): Promise<boolean>;
  /**
   * Deletes an unfinished upload (only one that expired before `expiredBefore`, when given); true when
   * this call deleted it, so exactly one of a terminate, a sweep and a completion wins.
   */
  deletePending(tenantId: string, id: string, options?: { expiredBefore?: number }): Promise<boolean>;
  /** Forgets finished uploads whose expiry has passed (their files are ordinary files by then). */
  deleteCompletedForAllTenants(expiredBefore: number): Promise<number>;
  /** The recorded parts of an upload, in order. */
  listParts(tenantId: string, uploadId: string): Promise<UploadPart[]>;
  /** Records a part; a part recorded before at the same first segment (a partial one) is replaced. */
  savePart(part: UploadPart): Promise<void>;
  deleteParts(tenantId: string, uploadId: string): Promise<void>;
}
