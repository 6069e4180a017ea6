import type { KeyObject } from 'node:crypto';
import { IntegrityError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import { ChainVerifier, signCheckpoint, type Checkpoint } from './chain.ts';
import type { AuditChainStore, AuditLog, SigningKeyRecord } from './ports.ts';
import { parsePublicKeyPem, signingKeyFromSeed, type SigningKey } from './signing-key.ts';

const SEGMENT_PAGE = 2000;

/**
 * Signed checkpoints of the activity logs (DESIGN.md: "signed checkpoints (Ed25519)"). A checkpoint
 * pins a log's latest entry under the installation's signing key, whose seed lives in the key store
 * (SYSTEM_KEY_OWNER, purpose 'audit-signing') and whose public half is recorded beside the logs.
 *
 * Before signing, the entries since the previous checkpoint are verified to chain from it: a
 * checkpoint never vouches for a segment that is already broken.
 */
export class AuditCheckpointService {
  readonly #chain: AuditChainStore;
  readonly #audit: AuditLog;
  readonly #seed: () => Promise<Buffer>;
  readonly #clock: Clock;
  #key: Promise<SigningKey> | undefined;
  readonly #pending = new Set<string>();

  constructor(deps: { chain: AuditChainStore; audit: AuditLog; seed: () => Promise<Buffer>; clock: Clock }) {
    this.#chain = deps.chain;
    this.#audit = deps.audit;
    this.#seed = deps.seed;
    this.#clock = deps.clock;
  }

  /** The current signing key, created (and its public half recorded, in the operator log too) on first use. */
  signingKey(): Promise<SigningKey> {
    this.#key ??= this.#loadKey();
    this.#key.catch(() => {
      this.#key = undefined;
    });
    return this.#key;
  }

  /** Every public key checkpoints may have been signed with, by key id. */
  async publicKeys(): Promise<Map<string, KeyObject>> {
    await this.signingKey();
    const records = await this.#chain.listSigningKeys();
    return new Map(records.map((r) => [r.keyId, parsePublicKeyPem(r.publicKeyPem)]));
  }

  async listPublicKeys(): Promise<SigningKeyRecord[]> {
    await this.signingKey();
    return this.#chain.listSigningKeys();
  }

  /**
   * Signs a checkpoint at the log's latest entry if it has entries past its last checkpoint.
   * Returns the new checkpoint, or undefined when there was nothing new (or another node was first).
   * Throws IntegrityError when the entries since the last checkpoint do not verify.
   */
  async checkpoint(logId: string): Promise<Checkpoint | undefined> {
    const head = await this.#chain.readHead(logId);
    const last = await this.#chain.findLastCheckpoint(logId);
    if (!head || (last && last.seq >= head.seq)) {
      return undefined;
    }
    const key = await this.signingKey();
    await this.#verifySegment(logId, last, head.seq);
    const checkpoint = signCheckpoint(
      { logId, seq: head.seq, entryHash: head.entryHash, createdAt: this.#clock.now(), keyId: key.keyId },
      key.privateKey,
    );
    return (await this.#chain.insertCheckpoint(checkpoint)) ? checkpoint : undefined;
  }

  /** Checkpoints every log with entries past its last checkpoint (the recurring job). */
  async checkpointAllDue(): Promise<{ checkpoints: number; failures: number }> {
    let checkpoints = 0;
    let failures = 0;
    for (const logId of await this.#chain.listLogsAwaitingCheckpointForAllLogs()) {
      try {
        checkpoints += (await this.checkpoint(logId)) ? 1 : 0;
      } catch (error) {
        if (!(error instanceof IntegrityError)) {
          throw error;
        }
        // One broken log must not stop the others from being pinned; the job reports the count.
        failures++;
      }
    }
    if (failures > 0) {
      throw new IntegrityError(
        `${failures} activity log(s) failed verification; no checkpoint signed for them`,
        {
          checkpoints,
        },
      );
    }
    return { checkpoints, failures };
  }

  /**
   * Asks for a checkpoint of `logId` soon, without waiting (called by the log writer when a log
   * completes a block of entries). Requests for a log already being checkpointed are merged; a
   * failure is left to the recurring job, which retries and reports it.
   */
  requestCheckpoint(logId: string): void {
    if (this.#pending.has(logId)) {
      return;
    }
    this.#pending.add(logId);
    setImmediate(() => {
      this.checkpoint(logId)
        .catch(() => undefined)
        .finally(() => this.#pending.delete(logId));
    });
  }

  /** Settles once requested checkpoints have been made (tests, and shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async #verifySegment(logId: string, from: Checkpoint | undefined, toSeq: number): Promise<void> {
    const verifier = new ChainVerifier({ checkpoints: [], publicKeys: new Map(), logId, from });
    for (let after = from?.seq ?? 0; after < toSeq; after += SEGMENT_PAGE) {
      const page = await this.#chain.listEntries(logId, after, Math.min(SEGMENT_PAGE, toSeq - after));
      if (!page.every((entry) => verifier.add(entry))) {
        break;
      }
    }
    const result = verifier.finish();
    if (!result.isValid || result.lastSeq !== toSeq) {
      const problem = result.firstProblem ?? { seq: result.lastSeq + 1, problem: 'missing_entry' };
      throw new IntegrityError('The activity log does not verify; no checkpoint was signed', {
        logId,
        seq: problem.seq,
        problem: problem.problem,
      });
    }
  }

  async #loadKey(): Promise<SigningKey> {
    const key = signingKeyFromSeed(await this.#seed());
    const known = await this.#chain.listSigningKeys();
    if (!known.some((k) => k.keyId === key.keyId)) {
      await this.#chain.insertSigningKey({
        keyId: key.keyId,
        publicKeyPem: key.publicKeyPem,
        createdAt: this.#clock.now(),
        retiredAt: null,
      });
      await this.#audit.append({
        tenantId: null,
        action: 'audit.signing_key_create',
        actorType: 'system',
        channel: 'system',
        targetType: 'signing_key',
        targetId: key.keyId,
      });
    }
    return key;
  }
}
