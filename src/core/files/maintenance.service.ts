import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { ProcessRegistry } from '../shared/processes.ts';
import type { BlobStore } from './ports.ts';
import { tenantBlobPrefix, type SealedContent } from './sealed-content.ts';
import { isUploadStagingKey } from './upload-staging.ts';

/**
 * Housekeeping that keeps storage honest after crashes: blobs that no version or unfinished upload
 * refers to (a crash between "bytes durable" and "row committed") and resumable uploads left to expire.
 */
export class MaintenanceService {
  readonly #store: Store;
  readonly #blobs: BlobStore;
  readonly #content: SealedContent;
  readonly #clock: Clock;
  readonly #processes: ProcessRegistry;

  constructor(deps: {
    store: Store;
    blobs: BlobStore;
    content: SealedContent;
    clock: Clock;
    processes: ProcessRegistry;
  }) {
    this.#store = deps.store;
    this.#blobs = deps.blobs;
    this.#content = deps.content;
    this.#clock = deps.clock;
    this.#processes = deps.processes;
  }

  /**
   * Cleans up after processes that died mid-write (kill -9, power loss, out of memory) on any node:
   * a blob whose intent belongs to a gone process is destroyed with its data key, and temp files of
   * gone writers are removed. Safe at any time on any node: a live writer's intents and files are
   * never touched, and a writer wrongly presumed gone loses the race for its intent and fails its
   * commit instead of committing a swept blob. Listing comes before the liveness read, so a process
   * that started meanwhile is seen as live.
   */
  async sweepAbandonedWrites(): Promise<{ deleted: number; partialWrites: number }> {
    const intents = await this.#store.repos.blobIntents.listForAllTenants();
    const live = await this.#processes.listLive();
    let deleted = 0;
    for (const intent of intents.filter((i) => !live.has(i.processId))) {
      if (await this.#store.repos.blobIntents.release(intent.tenantId, intent.blobKey)) {
        await this.#content.destroy(intent.tenantId, [intent]);
        deleted++;
      }
    }
    const partialWrites = (await this.#blobs.sweepPartialWrites?.(() => this.#processes.listLive())) ?? 0;
    await this.#processes.forgetGone();
    return { deleted, partialWrites };
  }

  /**
   * Deletes blobs older than `graceMs` that nothing refers to. The grace period protects uploads in
   * flight on other nodes; a single-process installation passes 0 at start-up.
   */
  async sweepOrphanBlobs(graceMs: number): Promise<{ deleted: number }> {
    const cutoff = this.#clock.now() - graceMs;
    let deleted = 0;
    for (const tenant of await this.#store.repos.tenants.listForAllTenants()) {
      const candidates: string[] = [];
      for await (const blob of this.#blobs.list(tenantBlobPrefix(tenant.id))) {
        if (blob.modifiedAt <= cutoff) {
          candidates.push(blob.key);
        }
      }
      if (candidates.length === 0) {
        continue;
      }
      // Read the references after listing, so a blob committed meanwhile is seen as referenced; and
      // intents and uploads before versions: a commit turns one into the other in one transaction.
      const intents = await this.#store.repos.blobIntents.listBlobKeys(tenant.id);
      const uploads = await this.#store.repos.uploads.listBlobKeys(tenant.id);
      const versions = await this.#store.repos.versions.listBlobKeys(tenant.id);
      for (const key of candidates) {
        const isUploadPart = [...uploads].some((u) => key === u || isUploadStagingKey(u, key));
        if (!versions.has(key) && !intents.has(key) && !isUploadPart) {
          await this.#blobs.delete(key);
          deleted++;
        }
      }
    }
    return { deleted };
  }

  /**
   * Removes resumable uploads past their expiry, with their staged parts and data keys, and forgets
   * finished uploads past theirs. An upload that made progress or finished since it was listed is
   * left alone (the delete re-checks), so its data key is never destroyed under a new version.
   */
  async sweepExpiredUploads(): Promise<{ deleted: number }> {
    const now = this.#clock.now();
    const expired = await this.#store.repos.uploads.listExpiredForAllTenants(now);
    let deleted = 0;
    for (const upload of expired) {
      const parts = await this.#store.repos.uploads.listParts(upload.tenantId, upload.id);
      const isDeleted = await this.#store.withTransaction(async (tx) => {
        if (!(await tx.uploads.deletePending(upload.tenantId, upload.id, { expiredBefore: now }))) {
          return false;
        }
        await tx.uploads.deleteParts(upload.tenantId, upload.id);
        await tx.audit.append({
          tenantId: upload.tenantId,
          action: 'upload.expire',
          actorType: 'system',
          channel: 'system',
          targetType: 'upload',
          targetId: upload.id,
        });
        return true;
      });
      if (!isDeleted) {
        continue;
      }
      // Key first: staged bytes are unreadable from then on. Parts never recorded (a crash between
      // writing and recording one) are unreferenced now, so the orphan sweep takes them.
      await this.#content.destroy(upload.tenantId, [
        { blobKey: upload.blobKey, dataKeyId: upload.dataKeyId },
      ]);
      await Promise.all(parts.map((p) => this.#blobs.delete(p.blobKey)));
      deleted++;
    }
    await this.#store.repos.uploads.deleteCompletedForAllTenants(now);
    return { deleted };
  }

  /** Deletes sessions past their expiry (they no longer authenticate anyway; this keeps the table small). */
  async purgeExpiredSessions(): Promise<{ deleted: number }> {
    return { deleted: await this.#store.repos.sessions.deleteExpiredForAllUsers(this.#clock.now()) };
  }
}
