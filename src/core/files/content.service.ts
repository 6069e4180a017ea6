import type { Readable } from 'node:stream';
import { auditOrigin } from '../audit/audit.types.ts';
import type { Repos, Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import {
  IntegrityError,
  NotFoundError,
  PreconditionFailedError,
  QuotaExceededError,
  RangeNotSatisfiableError,
} from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { FileAccess } from './files.access.ts';
import {
  NameTakenError,
  UploadAbandonedError,
  VersionNotFoundError,
  WrongNodeKindError,
} from './files.errors.ts';
import type { FileVersion, StoredNode } from './file.types.ts';
import { guessMimeType, nameKey, validateName } from './names.ts';
import type { SealedBlob, SealedContent } from './sealed-content.ts';

export interface UploadInput {
  parentId: string;
  name: string;
  content: Readable | AsyncIterable<Uint8Array>;
  /** Content-Length when the client sent one: checked against the quota before any byte is read. */
  declaredLength?: number;
  /** Only replace the file if its current version is this one (If-Match). */
  ifMatchVersionId?: string;
  /** Only create; fail if the name exists (If-None-Match: *). */
  isCreateOnly?: boolean;
}

export interface OpenedContent {
  node: StoredNode;
  version: FileVersion;
  start: number;
  end: number;
  stream: Readable;
}

/**
 * File content: uploads become a new immutable version only once their last byte is durable and
 * their row is committed; downloads are authenticated segment by segment and always audited.
 */
export class ContentService {
  readonly #store: Store;
  readonly #content: SealedContent;
  readonly #clock: Clock;

  constructor(deps: { store: Store; content: SealedContent; clock: Clock }) {
    this.#store = deps.store;
    this.#content = deps.content;
    this.#clock = deps.clock;
  }

  /** Bytes the tenant may still store, counting unfinished resumable uploads as spoken for. */
  async availableBytes(tenantId: string, repos: Repos = this.#store.repos): Promise<number> {
    const use = await repos.tenants.findStorageUse(tenantId);
    if (!use) {
      throw new NotFoundError('tenant_not_found', 'Organisation not found.');
    }
    return Math.max(0, use.quotaBytes - use.usedBytes - use.pendingUploadBytes);
  }

  /** Streams a new file (or a new version of an existing one) into place. */
  async uploadFile(
    actor: TenantActor,
    input: UploadInput,
  ): Promise<{ node: StoredNode; version: FileVersion; isNew: boolean }> {
    const access = new FileAccess(this.#store.repos);
    const parent = await access.writableFolder(actor, input.parentId);
    const name = validateName(input.name);
    const existing = await this.#store.repos.nodes.findLiveChild(actor.tenantId, parent.id, nameKey(name));
    this.#checkPreconditions(existing, input);
    const available = await this.availableBytes(actor.tenantId);
    if (input.declaredLength !== undefined && input.declaredLength > available) {
      throw new QuotaExceededError({ requestedBytes: input.declaredLength, availableBytes: available });
    }
    const sealed = await this.#content.write(actor.tenantId, input.content, {
      maxBytes: available,
      declaredLength: input.declaredLength,
    });
    return this.commitSealedUpload(actor, { parentId: parent.id, name, sealed, input });
  }

  /**
   * Makes a sealed blob the newest version of `name` in `parentId`, all in one transaction with its
   * audit event; on any failure the blob is destroyed so nothing half-done stays behind. Also used by
   * resumable uploads once their last byte has arrived.
   */
  async commitSealedUpload(
    actor: TenantActor,
    options: {
      parentId: string;
      name: string;
      sealed: SealedBlob;
      input?: Pick<UploadInput, 'ifMatchVersionId' | 'isCreateOnly'>;
      channelDetails?: Record<string, unknown>;
      /**
       * Runs inside the commit transaction once the version and its audit event are written (a
       * resumable upload marks itself finished here); throwing rolls the whole commit back.
       */
      onCommit?: (tx: Repos, committed: { node: StoredNode; version: FileVersion }) => Promise<void>;
      /** False when the caller decides what happens to the blob if the commit fails. Default true. */
      shouldDestroyOnFailure?: boolean;
    },
  ): Promise<{ node: StoredNode; version: FileVersion; isNew: boolean }> {
    const { sealed } = options;
    const now = this.#clock.now();
    let pruned: FileVersion[] = [];
    try {
      const result = await this.#store.withTransaction(async (tx) => {
        // Exactly one of this commit and the crash sweep wins the intent; if the sweep won, the bytes are gone.
        if (sealed.isIntentRecorded && !(await tx.blobIntents.release(actor.tenantId, sealed.blobKey))) {
          throw new UploadAbandonedError();
        }
        if (sealed.inline) {
          await tx.inlineBlobs.insert({
            tenantId: actor.tenantId,
            blobKey: sealed.blobKey,
            sealed: sealed.inline,
            createdAt: now,
          });
        }
        const existing = await tx.nodes.findLiveChild(
          actor.tenantId,
          options.parentId,
          nameKey(options.name),
        );
        this.#checkPreconditions(existing, options.input ?? {});
        if (!(await tx.tenants.chargeBytes(actor.tenantId, sealed.size))) {
          throw new QuotaExceededError({ requestedBytes: sealed.size });
        }
        const versionId = newId();
        // A new file is inserted pointing at its first version already: one UPDATE fewer.
        const node: StoredNode = existing ?? {
          id: newId(),
          tenantId: actor.tenantId,
          parentId: options.parentId,
          kind: 'file',
          name: options.name,
          nameKey: nameKey(options.name),
          currentVersionId: versionId,
          size: sealed.size,
          mimeType: guessMimeType(options.name),
          createdBy: actor.userId,
          updatedBy: actor.userId,
          createdAt: now,
          updatedAt: now,
          trashedAt: null,
          trashedBy: null,
          trashRootId: null,
        };
        if (!existing) {
          await tx.nodes.insert(node);
        }
        const version: FileVersion = {
          id: versionId,
          tenantId: actor.tenantId,
          nodeId: node.id,
          number: existing ? await tx.versions.nextNumber(actor.tenantId, node.id) : 1,
          state: 'committed',
          size: sealed.size,
          sha256: sealed.sha256,
          blobKey: sealed.blobKey,
          dataKeyId: sealed.dataKeyId,
          createdBy: actor.userId,
          createdAt: now,
          committedAt: now,
        };
        await tx.versions.insert(version);
        const updated = {
          ...node,
          currentVersionId: version.id,
          size: version.size,
          updatedAt: now,
          updatedBy: actor.userId,
        };
        if (existing) {
          await tx.nodes.update(actor.tenantId, node.id, {
            currentVersionId: version.id,
            size: version.size,
            updatedAt: now,
            updatedBy: actor.userId,
          });
        }
        await tx.audit.append({
          tenantId: actor.tenantId,
          action: existing ? 'file.version_add' : 'file.upload',
          targetType: 'file',
          targetId: node.id,
          ...auditOrigin(actor),
          details: {
            versionId: version.id,
            number: version.number,
            size: version.size,
            sha256: version.sha256,
            parentId: options.parentId,
            name: options.name,
            ...options.channelDetails,
          },
        });
        await options.onCommit?.(tx, { node: updated, version });
        // A new file has one version and every tenant keeps at least one: nothing to prune.
        pruned = existing ? await this.#pruneVersions(tx, actor, node.id) : [];
        return { node: updated, version, isNew: !existing };
      });
      await this.#destroyUnreferenced(actor.tenantId, pruned);
      return result;
    } catch (error) {
      if (options.shouldDestroyOnFailure !== false) {
        await this.#content.destroy(actor.tenantId, [sealed]).catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Opens a file's content (current or a given version), whole or a byte range. Writes a
   * `file.download` audit event; an authentication failure of stored bytes writes
   * `file.integrity_failure` and throws IntegrityError.
   */
  async openContent(
    actor: TenantActor,
    nodeId: string,
    options: { versionId?: string; range?: { start: number; end?: number } } = {},
  ): Promise<OpenedContent> {
    const node = await new FileAccess(this.#store.repos).readable(actor, nodeId);
    if (node.kind !== 'file' || !node.currentVersionId) {
      throw new WrongNodeKindError('file');
    }
    const version = await this.#store.repos.versions.find(
      actor.tenantId,
      options.versionId ?? node.currentVersionId,
    );
    if (!version || version.nodeId !== node.id) {
      throw new VersionNotFoundError();
    }
    const { start, end } = resolveRange(version.size, options.range);
    let stream: Readable;
    try {
      stream = await this.#content.open(actor.tenantId, version, { start, end });
    } catch (error) {
      if (error instanceof IntegrityError) {
        await this.#recordIntegrityFailure(actor, node, version, error);
      }
      throw error;
    }
    stream.once('error', (error) => {
      if (error instanceof IntegrityError) {
        void this.#recordIntegrityFailure(actor, node, version, error).catch(() => undefined);
      }
    });
    await this.#store.repos.audit.append({
      tenantId: actor.tenantId,
      action: 'file.download',
      targetType: 'file',
      targetId: node.id,
      ...auditOrigin(actor),
      details: { versionId: version.id, ...(options.range ? { range: `${start}-${end}` } : {}) },
    });
    return { node, version, start, end, stream };
  }

  /** Metadata of a readable file's version (for HEAD and conditional requests); no audit, no bytes. */
  async describeContent(
    actor: TenantActor,
    nodeId: string,
    versionId?: string,
  ): Promise<{ node: StoredNode; version: FileVersion }> {
    const node = await new FileAccess(this.#store.repos).readable(actor, nodeId);
    if (node.kind !== 'file' || !node.currentVersionId) {
      throw new WrongNodeKindError('file');
    }
    const version = await this.#store.repos.versions.find(actor.tenantId, versionId ?? node.currentVersionId);
    if (!version || version.nodeId !== node.id) {
      throw new VersionNotFoundError();
    }
    return { node, version };
  }

  async listVersions(actor: TenantActor, nodeId: string): Promise<FileVersion[]> {
    const node = await new FileAccess(this.#store.repos).readable(actor, nodeId);
    if (node.kind !== 'file') {
      throw new WrongNodeKindError('file');
    }
    return this.#store.repos.versions.listByNode(actor.tenantId, node.id);
  }

  /** Makes an old version current again by adding it as the newest version (history is never rewritten). */
  async restoreVersion(
    actor: TenantActor,
    nodeId: string,
    versionId: string,
  ): Promise<{ node: StoredNode; version: FileVersion }> {
    const node = await new FileAccess(this.#store.repos).writable(actor, nodeId);
    const old = await this.#store.repos.versions.find(actor.tenantId, versionId);
    if (!old || old.nodeId !== node.id) {
      throw new VersionNotFoundError();
    }
    const now = this.#clock.now();
    let pruned: FileVersion[] = [];
    const result = await this.#store.withTransaction(async (tx) => {
      if (!(await tx.tenants.chargeBytes(actor.tenantId, old.size))) {
        throw new QuotaExceededError({ requestedBytes: old.size });
      }
      const version: FileVersion = {
        ...old,
        id: newId(),
        number: await tx.versions.nextNumber(actor.tenantId, node.id),
        createdBy: actor.userId,
        createdAt: now,
        committedAt: now,
      };
      await tx.versions.insert(version);
      await tx.nodes.update(actor.tenantId, node.id, {
        currentVersionId: version.id,
        size: version.size,
        updatedAt: now,
        updatedBy: actor.userId,
      });
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'file.version_restore',
        targetType: 'file',
        targetId: node.id,
        ...auditOrigin(actor),
        details: {
          fromVersionId: old.id,
          fromNumber: old.number,
          versionId: version.id,
          number: version.number,
        },
      });
      pruned = await this.#pruneVersions(tx, actor, node.id);
      return { node: { ...node, currentVersionId: version.id, size: version.size, updatedAt: now }, version };
    });
    await this.#destroyUnreferenced(actor.tenantId, pruned);
    return result;
  }

  /** Drops the oldest versions beyond the tenant's keep-N (never the current one); returns them. */
  async #pruneVersions(tx: Repos, actor: TenantActor, nodeId: string): Promise<FileVersion[]> {
    const tenant = await tx.tenants.findById(actor.tenantId);
    const versions = await tx.versions.listByNode(actor.tenantId, nodeId);
    const excess = versions.slice(tenant?.keepVersions ?? versions.length);
    if (excess.length === 0) {
      return [];
    }
    await tx.versions.deleteMany(
      actor.tenantId,
      excess.map((v) => v.id),
    );
    await tx.tenants.releaseBytes(
      actor.tenantId,
      excess.reduce((sum, v) => sum + v.size, 0),
    );
    await tx.audit.append({
      tenantId: actor.tenantId,
      action: 'file.versions_pruned',
      targetType: 'file',
      targetId: nodeId,
      actorType: 'system',
      channel: actor.channel,
      details: { versionIds: excess.map((v) => v.id), keep: tenant?.keepVersions },
    });
    return excess;
  }

  /** Destroys blobs (and their data keys) that no remaining version refers to. */
  async #destroyUnreferenced(tenantId: string, versions: FileVersion[]): Promise<void> {
    if (versions.length === 0) {
      return;
    }
    const inUse = await this.#store.repos.versions.listBlobKeysInUse(
      tenantId,
      versions.map((v) => v.blobKey),
    );
    const seen = new Set<string>();
    const gone = versions.filter((v) => !inUse.has(v.blobKey) && !seen.has(v.blobKey) && seen.add(v.blobKey));
    await this.#content.destroy(tenantId, gone);
  }

  #checkPreconditions(
    existing: StoredNode | undefined,
    input: Pick<UploadInput, 'ifMatchVersionId' | 'isCreateOnly'>,
  ): void {
    if (existing?.kind === 'folder') {
      throw new NameTakenError(existing.name, existing.id);
    }
    if (input.isCreateOnly && existing) {
      throw new PreconditionFailedError('already_exists', 'A file with this name already exists.', {
        existingId: existing.id,
      });
    }
    if (input.ifMatchVersionId !== undefined && existing?.currentVersionId !== input.ifMatchVersionId) {
      throw new PreconditionFailedError('version_mismatch', 'The file has changed since you last read it.', {
        currentVersionId: existing?.currentVersionId ?? null,
      });
    }
  }

  async #recordIntegrityFailure(
    actor: TenantActor,
    node: StoredNode,
    version: FileVersion,
    error: IntegrityError,
  ): Promise<void> {
    await this.#store.repos.audit.append({
      tenantId: actor.tenantId,
      action: 'file.integrity_failure',
      outcome: 'failure',
      targetType: 'file',
      targetId: node.id,
      ...auditOrigin(actor),
      details: { versionId: version.id, ...error.details },
    });
  }
}

/** Clamps an open-ended range to the file and rejects one that starts past its end. */
export function resolveRange(
  size: number,
  range?: { start: number; end?: number },
): { start: number; end: number } {
  if (!range) {
    return { start: 0, end: size - 1 };
  }
  if (range.start >= size || range.start < 0 || (range.end !== undefined && range.end < range.start)) {
    throw new RangeNotSatisfiableError(size);
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
