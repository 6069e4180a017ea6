import { createHash } from 'node:crypto';
import { auditOrigin, type AuditEventInput } from '../audit/audit.types.ts';
import { SEGMENT_SIZE } from '../crypto/segmented-format.ts';
import type { KeyService } from '../crypto/key.service.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { DomainError, IntegrityError, QuotaExceededError, ValidationError } from '../shared/errors.ts';
import { isId, newId } from '../shared/ids.ts';
import type { ContentService } from './content.service.ts';
import { FileAccess } from './files.access.ts';
import { NameTakenError, NodeNotFoundError } from './files.errors.ts';
import type { StoredNode, Upload, UploadPart } from './file.types.ts';
import { nameKey, validateName } from './names.ts';
import type { BlobStore } from './ports.ts';
import { tenantBlobPrefix } from './sealed-content.ts';
import {
  UploadCompletedError,
  UploadLengthExceededError,
  UploadNotFoundError,
  UploadOffsetMismatchError,
} from './upload.errors.ts';
import { composeStagedBlob, openPartialPart, sealSegments, stageSegments } from './upload-staging.ts';

export interface NewUpload {
  /** Total bytes the upload will have (tus Upload-Length; deferred lengths are not supported). */
  length: number;
  name: string;
  /** The folder to upload into; the tenant's root folder when absent. */
  parentId?: string;
  /** Client metadata kept with the upload (tus Upload-Metadata), e.g. `filetype`. */
  metadata?: Record<string, string>;
}

export interface AppendInput {
  /** Where the client says this chunk starts (tus Upload-Offset): must be the stored offset. */
  offset: number;
  /** Content-Length, when sent: a chunk that cannot fit is refused before any byte is read. */
  declaredLength?: number;
  /** The chunk. A source that ends early (a dropped connection) keeps what arrived. */
  content: AsyncIterable<Uint8Array>;
}

/** Parts of at most 8 MiB: a server crash mid-chunk loses at most this much of it. */
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

/**
 * Resumable uploads (tus 1.0): an upload is created with its length, receives its bytes in chunks
 * over any number of requests, and becomes a new file version once its last byte is durable.
 *
 * Bytes are staged encrypted (see upload-staging.ts). After every staged part the durable offset is
 * advanced with a compare-and-set, so a crash leaves the upload resumable at the last recorded part
 * (never with a gap) and two writers of one upload can never both count. When the offset reaches the
 * length, the parts are concatenated into the final blob and committed through ContentService in one
 * transaction with the version, the quota charge, the audit event and the upload's completion. That
 * step is repeatable: if it is cut short, the next HEAD or PATCH finishes it. Uploads belong to the
 * user who created them; anyone else (in any tenant) gets UploadNotFoundError.
 */
export class UploadService {
  readonly #store: Store;
  readonly #blobs: BlobStore;
  readonly #keys: KeyService;
  readonly #files: ContentService;
  readonly #clock: Clock;
  readonly #expiryMs: number;
  readonly #partSegments: number;

  constructor(deps: {
    store: Store;
    blobs: BlobStore;
    keys: KeyService;
    files: ContentService;
    clock: Clock;
    /** How long an unfinished upload lives after its last progress. */
    expiryMs: number;
    partBytes?: number;
  }) {
    this.#store = deps.store;
    this.#blobs = deps.blobs;
    this.#keys = deps.keys;
    this.#files = deps.files;
    this.#clock = deps.clock;
    this.#expiryMs = deps.expiryMs;
    this.#partSegments = Math.max(1, Math.floor((deps.partBytes ?? DEFAULT_PART_BYTES) / SEGMENT_SIZE));
  }

  /** The largest upload the actor's tenant can take now: quota left, unfinished uploads counted. */
  async maxUploadSize(actor: TenantActor): Promise<number> {
    return this.#files.availableBytes(actor.tenantId);
  }

  /**
   * Creates an upload after checking, before any byte is sent, that the actor may write into the
   * folder, that the name is valid and not a folder's, and that the length fits the quota (which the
   * upload then holds until it finishes or ends). Writes `upload.create`. A zero-length upload
   * finishes at once.
   */
  async createUpload(actor: TenantActor, input: NewUpload): Promise<Upload> {
    if (!Number.isSafeInteger(input.length) || input.length < 0) {
      throw new ValidationError('invalid_upload_length', 'Upload-Length must be a whole number of bytes.');
    }
    const name = validateName(input.name);
    const parent = await this.#writableParent(actor, input.parentId);
    const existing = await this.#store.repos.nodes.findLiveChild(actor.tenantId, parent.id, nameKey(name));
    if (existing?.kind === 'folder') {
      throw new NameTakenError(existing.name, existing.id);
    }
    const dataKey = await this.#keys.allocateDataKey(actor.tenantId);
    const now = this.#clock.now();
    const upload: Upload = {
      id: newId(),
      tenantId: actor.tenantId,
      userId: actor.userId,
      parentId: parent.id,
      name,
      length: input.length,
      received: 0,
      blobKey: `${tenantBlobPrefix(actor.tenantId)}${newId()}`,
      dataKeyId: dataKey.id,
      metadata: input.metadata ?? {},
      nodeId: null,
      createdAt: now,
      updatedAt: now,
      expiresAt: now + this.#expiryMs,
      completedAt: null,
    };
    try {
      await this.#store.withTransaction(async (tx) => {
        // Two creations racing on PostgreSQL can both pass this check; the commit's charge still
        // enforces the quota, so at worst the later one fails when it finishes (upload.abort).
        const available = await this.#files.availableBytes(actor.tenantId, tx);
        if (upload.length > available) {
          throw new QuotaExceededError({ requestedBytes: upload.length, availableBytes: available });
        }
        await tx.uploads.insert(upload);
        await tx.audit.append(
          this.#event(actor, upload, 'upload.create', { parentId: parent.id, name, length: upload.length }),
        );
      });
    } catch (error) {
      await this.#keys.destroyDataKeys(actor.tenantId, [dataKey.id]).catch(() => undefined);
      throw error;
    }
    return upload.length === 0 ? this.#complete(actor, upload) : upload;
  }

  /**
   * The upload's state for a HEAD. An upload whose every byte is staged but whose commit was cut
   * short (a crash) is finished first, so "offset = length" always means the file is stored.
   */
  async describeUpload(actor: TenantActor, id: string): Promise<Upload> {
    const upload = await this.#findOwn(actor, id);
    if (upload.completedAt === null && upload.received === upload.length) {
      return this.#complete(actor, upload);
    }
    return upload;
  }

  /**
   * Appends one chunk at `offset` and returns the upload's new state; the chunk that brings the
   * upload to its length also commits the file version. Throws UploadOffsetMismatchError when
   * `offset` is not the durable offset (or another request advanced it meanwhile),
   * UploadLengthExceededError when the chunk goes past the length (nothing of it past the last full
   * part is kept, and nothing is committed), and the folder's access errors if the actor lost write
   * access.
   */
  async appendBytes(actor: TenantActor, id: string, input: AppendInput): Promise<Upload> {
    const upload = await this.#findOwn(actor, id);
    if (upload.completedAt !== null || input.offset !== upload.received) {
      throw new UploadOffsetMismatchError(upload.completedAt !== null ? upload.length : upload.received);
    }
    if (input.declaredLength !== undefined && input.offset + input.declaredLength > upload.length) {
      throw new UploadLengthExceededError(upload.length, input.offset + input.declaredLength);
    }
    await new FileAccess(this.#store.repos).writableFolder(actor, upload.parentId);
    if (upload.received === upload.length) {
      return this.#complete(actor, upload);
    }
    const key = await this.#keys.getDataKey(actor.tenantId, upload.dataKeyId);
    const parts = await this.#store.repos.uploads.listParts(actor.tenantId, upload.id);
    let tail = partialTail(parts, upload.received);
    const carried = tail
      ? await openPartialPart({ blobs: this.#blobs, key, blobId: upload.blobKey, part: tail })
      : Buffer.alloc(0);
    let received = upload.received;
    await stageSegments({
      blobs: this.#blobs,
      blobKey: upload.blobKey,
      maxSegments: this.#partSegments,
      segments: sealSegments(input.content, {
        key,
        blobId: upload.blobKey,
        length: upload.length,
        offset: upload.received,
        carried,
      }),
      record: async (part) => {
        const now = this.#clock.now();
        const isRecorded = await this.#store.withTransaction(async (tx) => {
          const change = {
            from: received,
            to: part.plainEnd,
            updatedAt: now,
            expiresAt: now + this.#expiryMs,
          };
          if (!(await tx.uploads.advance(actor.tenantId, upload.id, change))) {
            return false;
          }
          // A part starting where the partial tail starts replaces it (same first segment).
          await tx.uploads.savePart({
            ...part,
            tenantId: actor.tenantId,
            uploadId: upload.id,
            createdAt: now,
          });
          return true;
        });
        if (!isRecorded) {
          const current = await this.#store.repos.uploads.find(actor.tenantId, upload.id);
          throw current ? new UploadOffsetMismatchError(current.received) : new UploadNotFoundError();
        }
        received = part.plainEnd;
        upload.expiresAt = now + this.#expiryMs;
        if (tail) {
          await this.#blobs.delete(tail.blobKey).catch(() => undefined); // left over: the orphan sweep
          tail = undefined;
        }
      },
    });
    const advanced = { ...upload, received };
    return received === upload.length ? this.#complete(actor, advanced) : advanced;
  }

  /**
   * Terminates an unfinished upload (tus termination): destroys its data key, so every staged byte
   * is unreadable at once, then deletes its staged parts, and releases the quota it held. Writes
   * `upload.terminate`. A finished upload cannot be terminated (UploadCompletedError).
   */
  async terminateUpload(actor: TenantActor, id: string): Promise<void> {
    const upload = await this.#findOwn(actor, id);
    if (upload.completedAt !== null) {
      throw new UploadCompletedError(upload.nodeId);
    }
    if (!(await this.#discard(upload, this.#event(actor, upload, 'upload.terminate')))) {
      const current = await this.#store.repos.uploads.find(actor.tenantId, upload.id);
      throw current?.completedAt ? new UploadCompletedError(current.nodeId) : new UploadNotFoundError();
    }
  }

  /**
   * Turns a fully staged upload into a file version. Safe to run twice at once: both compose the same
   * bytes, only one commit wins, and the loser neither destroys nor reports an error. An upload that
   * can never commit (its name became a folder's, its folder went away, its staged bytes fail
   * authentication, the quota no longer allows it) is discarded with `upload.abort` and the error
   * is thrown; any other failure leaves it staged for a retry.
   */
  async #complete(actor: TenantActor, upload: Upload): Promise<Upload> {
    const parts = await this.#store.repos.uploads.listParts(actor.tenantId, upload.id);
    const hash = createHash('sha256');
    try {
      await new FileAccess(this.#store.repos).writableFolder(actor, upload.parentId);
      const key = await this.#keys.getDataKey(actor.tenantId, upload.dataKeyId);
      await this.#blobs.put(
        upload.blobKey,
        composeStagedBlob({
          blobs: this.#blobs,
          key,
          blobId: upload.blobKey,
          length: upload.length,
          parts,
          hash,
        }),
      );
      const completedAt = this.#clock.now();
      const result = await this.#files.commitSealedUpload(actor, {
        parentId: upload.parentId,
        name: upload.name,
        sealed: {
          blobKey: upload.blobKey,
          dataKeyId: upload.dataKeyId,
          size: upload.length,
          sha256: hash.digest('hex'),
        },
        channelDetails: { uploadId: upload.id, protocol: 'tus' },
        shouldDestroyOnFailure: false,
        onCommit: async (tx, { node }) => {
          if (
            !(await tx.uploads.markCompleted(actor.tenantId, upload.id, { completedAt, nodeId: node.id }))
          ) {
            throw new UploadNotFoundError();
          }
          await tx.uploads.deleteParts(actor.tenantId, upload.id);
        },
      });
      await this.#deleteParts(parts);
      return { ...upload, received: upload.length, completedAt, nodeId: result.node.id };
    } catch (error) {
      const current = await this.#store.repos.uploads.find(actor.tenantId, upload.id);
      if (current?.completedAt !== null && current?.completedAt !== undefined) {
        return current; // Another request finished it first.
      }
      if (!current) {
        throw new UploadNotFoundError();
      }
      if (error instanceof DomainError) {
        const event = this.#event(actor, upload, 'upload.abort', { code: error.code });
        await this.#discard(upload, { ...event, outcome: 'failure' });
      }
      throw error;
    }
  }

  /** Deletes an unfinished upload's row, parts and bytes; false if it was already gone or finished. */
  async #discard(upload: Upload, event: AuditEventInput): Promise<boolean> {
    const parts = await this.#store.repos.uploads.listParts(upload.tenantId, upload.id);
    const isDeleted = await this.#store.withTransaction(async (tx) => {
      if (!(await tx.uploads.deletePending(upload.tenantId, upload.id))) {
        return false;
      }
      await tx.uploads.deleteParts(upload.tenantId, upload.id);
      await tx.audit.append(event);
      return true;
    });
    if (isDeleted) {
      // The data key goes first: from then on every staged copy is unreadable, whatever is left.
      await this.#keys.destroyDataKeys(upload.tenantId, [upload.dataKeyId]);
      await this.#blobs.delete(upload.blobKey);
      await this.#deleteParts(parts);
    }
    return isDeleted;
  }

  /** Best effort: a part left behind is unreferenced once the upload row is gone or finished, so the orphan sweep takes it. */
  async #deleteParts(parts: UploadPart[]): Promise<void> {
    await Promise.all(parts.map((p) => this.#blobs.delete(p.blobKey).catch(() => undefined)));
  }

  async #findOwn(actor: TenantActor, id: string): Promise<Upload> {
    const upload = isId(id) ? await this.#store.repos.uploads.find(actor.tenantId, id) : undefined;
    const isLive = upload && (upload.completedAt !== null || upload.expiresAt > this.#clock.now());
    if (!upload || !isLive || upload.userId !== actor.userId) {
      throw new UploadNotFoundError();
    }
    return upload;
  }

  async #writableParent(actor: TenantActor, parentId: string | undefined): Promise<StoredNode> {
    const access = new FileAccess(this.#store.repos);
    if (parentId !== undefined) {
      return access.writableFolder(actor, parentId);
    }
    const root = await this.#store.repos.nodes.findRoot(actor.tenantId);
    if (!root) {
      throw new NodeNotFoundError();
    }
    return access.writableFolder(actor, root.id);
  }

  #event(
    actor: TenantActor,
    upload: Upload,
    action: string,
    details: Record<string, unknown> = {},
  ): AuditEventInput {
    return {
      tenantId: actor.tenantId,
      action,
      targetType: 'upload',
      targetId: upload.id,
      // Set once the upload has become (a version of) a file.
      ...(upload.nodeId ? { fileId: upload.nodeId } : {}),
      ...auditOrigin(actor),
      details: { received: upload.received, ...details },
    };
  }
}

/** The staged partial segment the next chunk continues, when the durable offset is mid-segment. */
function partialTail(parts: UploadPart[], received: number): UploadPart | undefined {
  if (received % SEGMENT_SIZE === 0) {
    return undefined;
  }
  const last = parts.at(-1);
  if (!last || last.plainEnd !== received || last.firstSegment !== Math.floor(received / SEGMENT_SIZE)) {
    throw new IntegrityError('The staged bytes of the upload do not match its offset', { received });
  }
  return last;
}
