import type { KeyObject } from 'node:crypto';
import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Store } from '../repos.ts';
import { IntegrityError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import type { Actor, TenantActor } from '../shared/context.ts';
import { auditOrigin, OPERATOR_LOG_ID } from './audit.types.ts';
import { ChainVerifier, type ChainPosition, type Checkpoint, type VerificationResult } from './chain.ts';
import { joinChainRanges, joinResults, readEntryPages, type ChainRangeVerification } from './chain-range.ts';
import type { AuditCheckpointService } from './checkpoint.service.ts';
import { checkpointLine, entryLine, headerLine } from './export-format.ts';
import type { AuditChainStore, ChainRangeVerifier, SigningKeyRecord } from './ports.ts';

export interface LogVerification extends VerificationResult {
  logId: string;
  verifiedAt: number;
}

/**
 * Verifying and exporting activity logs: live, entry by entry in seq order (keyset pages), and as a
 * self-contained JSON Lines export. Tenant callers need the audit.read capability (owner, admin,
 * compliance officer) and reach only their own log; the CLI acts for the operator on any log.
 * Every verification and export is itself recorded (audit.verify, audit.export) in the log concerned.
 */
export class AuditVerificationService {
  readonly #chain: AuditChainStore;
  readonly #checkpoints: AuditCheckpointService;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #pageSize: number;
  readonly #ranges: ChainRangeVerifier | undefined;
  readonly #offThreadFrom: number;

  constructor(deps: {
    chain: AuditChainStore;
    checkpoints: AuditCheckpointService;
    store: Store;
    clock: Clock;
    pageSize?: number;
    /** Verifies large logs in seq ranges on worker threads; without it, logs are read on this thread. */
    ranges?: ChainRangeVerifier;
    /** Logs with at least this many entries go to `ranges` (tests set 0 to cover it). */
    offThreadFrom?: number;
  }) {
    this.#chain = deps.chain;
    this.#checkpoints = deps.checkpoints;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#pageSize = deps.pageSize ?? 10_000;
    this.#ranges = deps.ranges;
    this.#offThreadFrom = deps.offThreadFrom ?? 50_000;
  }

  /** Verifies the actor's tenant log. Throws NotAllowedError without audit.read. */
  async verifyTenantLog(actor: TenantActor): Promise<LogVerification> {
    requireAuditRead(actor);
    return this.verifyLog(actor.tenantId, actor);
  }

  /** Verifies one log (a tenant id or OPERATOR_LOG_ID) and records that it did, with the outcome. */
  async verifyLog(logId: string, actor: Actor): Promise<LogVerification> {
    const result = await this.#verify(logId);
    await this.#store.repos.audit.append({
      tenantId: logId === OPERATOR_LOG_ID ? null : logId,
      action: 'audit.verify',
      outcome: result.isValid ? 'success' : 'failure',
      targetType: 'audit_log',
      targetId: logId,
      ...auditOrigin(actor),
      details: {
        entries: result.entries,
        lastSeq: result.lastSeq,
        checkpointSeq: result.lastCheckpoint?.seq ?? null,
        ...(result.firstProblem ? { firstProblem: result.firstProblem } : {}),
      },
    });
    return result;
  }

  /** The public checkpoint-signing keys (PEM), for verifying exports offline. */
  async listPublicKeys(): Promise<SigningKeyRecord[]> {
    return this.#checkpoints.listPublicKeys();
  }

  /** The actor's tenant log as an export. Throws NotAllowedError without audit.read. */
  async exportTenantLog(actor: TenantActor): Promise<AsyncIterable<string>> {
    requireAuditRead(actor);
    return this.exportLog(actor.tenantId, actor);
  }

  /**
   * Records the export (audit.export), seals the log with a checkpoint so the export ends on a
   * signed entry, and returns the export's lines, read page by page as they are consumed.
   */
  async exportLog(logId: string, actor: Actor): Promise<AsyncIterable<string>> {
    await this.#store.repos.audit.append({
      tenantId: logId === OPERATOR_LOG_ID ? null : logId,
      action: 'audit.export',
      targetType: 'audit_log',
      targetId: logId,
      ...auditOrigin(actor),
      details: { format: 'jsonl' },
    });
    await this.#checkpoints.checkpoint(logId).catch((error: unknown) => {
      // A log that no longer verifies is exported as it is: the export is how it gets examined.
      if (!(error instanceof IntegrityError)) {
        throw error;
      }
    });
    const head = await this.#chain.readHead(logId);
    const tenant = logId === OPERATOR_LOG_ID ? undefined : await this.#store.repos.tenants.findById(logId);
    const keys = await this.#checkpoints.listPublicKeys();
    const header = headerLine({
      logId,
      tenant: tenant ? { id: tenant.id, slug: tenant.slug, name: tenant.name } : null,
      exportedAt: this.#clock.now(),
      lastSeq: head?.seq ?? 0,
      publicKeys: keys.map((k) => ({ keyId: k.keyId, publicKeyPem: k.publicKeyPem })),
    });
    return this.#lines(logId, header, head?.seq ?? 0);
  }

  async *#lines(logId: string, header: string, lastSeq: number): AsyncGenerator<string> {
    yield header;
    for await (const page of this.#pages(logId, lastSeq)) {
      yield page.map(entryLine).join('');
    }
    for (const checkpoint of await this.#chain.listCheckpoints(logId)) {
      if (checkpoint.seq <= lastSeq) {
        yield checkpointLine(checkpoint);
      }
    }
  }

  async #verify(logId: string): Promise<LogVerification> {
    const verifiedAt = this.#clock.now();
    // Checkpoints before the last seq: each one read then pins an entry that is there to be read.
    const input = {
      checkpoints: await this.#chain.listCheckpoints(logId),
      publicKeys: await this.#checkpoints.publicKeys(),
      logId,
    };
    const lastSeq = await this.#chain.findLastSeq(logId);
    const result =
      this.#ranges && lastSeq >= this.#offThreadFrom
        ? await this.#verifyInRanges(this.#ranges, input, lastSeq)
        : await this.#verifyFrom(input, lastSeq);
    return { ...result, logId, verifiedAt };
  }

  /** One verifier over the log up to `lastSeq`, on this thread: from the start, or from `from`. */
  async #verifyFrom(
    input: VerifierInput,
    lastSeq: number,
    from?: ChainPosition,
  ): Promise<VerificationResult> {
    const verifier = new ChainVerifier({ ...input, from });
    const range = { logId: input.logId, afterSeq: from?.seq ?? 0, toSeq: lastSeq };
    pages: for await (const page of readEntryPages(this.#chain, range, this.#pageSize)) {
      for (const entry of page) {
        if (!verifier.add(entry)) {
          break pages;
        }
      }
    }
    return verifier.finish();
  }

  /**
   * A large log: split into as many seq ranges as the range verifier has cores, each read and
   * hashed on a thread of its own, then joined in seq order (see chain-range.ts). Once a range
   * shows a problem, the ranges after it cannot change the verdict and are stopped.
   */
  async #verifyInRanges(
    ranges: ChainRangeVerifier,
    input: VerifierInput,
    lastSeq: number,
  ): Promise<VerificationResult> {
    const logId = input.logId;
    const size = Math.ceil(lastSeq / Math.max(1, Math.min(ranges.parallelism, lastSeq)));
    const count = Math.max(1, Math.ceil(lastSeq / size));
    const publicKeys = [...input.publicKeys].map(([keyId, key]): [string, string] => [
      keyId,
      key.export({ type: 'spki', format: 'pem' }).toString(),
    ]);
    const abort = new AbortController();
    try {
      const pending = Array.from({ length: count }, (_, i) =>
        ranges.verifyRange(
          // The last range runs to the last entry stored when it starts reading.
          { logId, afterSeq: i * size, ...(i < count - 1 ? { toSeq: (i + 1) * size } : {}) },
          publicKeys,
          abort.signal,
        ),
      );
      pending.forEach((p) => p.catch(() => undefined)); // awaited in order below, or aborted
      const done: ChainRangeVerification[] = [];
      for (const range of pending) {
        done.push(await range);
        if (done.at(-1)?.result.firstProblem) {
          break; // the ranges after it cannot change the verdict
        }
      }
      const { result, resumeFrom } = joinChainRanges(done);
      if (!resumeFrom) {
        return result;
      }
      return joinResults(result, await this.#verifyFrom(input, lastSeq, resumeFrom));
    } finally {
      abort.abort();
    }
  }

  /** The log's entries up to `lastSeq` in seq order, a page at a time (for exports). */
  #pages(logId: string, lastSeq: number) {
    return readEntryPages(this.#chain, { logId, afterSeq: 0, toSeq: lastSeq }, this.#pageSize);
  }
}

type VerifierInput = { checkpoints: Checkpoint[]; publicKeys: Map<string, KeyObject>; logId: string };

function requireAuditRead(actor: TenantActor): void {
  if (!hasCapability(actor.role, 'audit.read')) {
    throw new NotAllowedError('verify or export the activity log');
  }
}
