import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Store } from '../repos.ts';
import { IntegrityError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import type { Actor, TenantActor } from '../shared/context.ts';
import { auditOrigin, OPERATOR_LOG_ID } from './audit.types.ts';
import { ChainVerifier, type VerificationResult } from './chain.ts';
import type { AuditCheckpointService } from './checkpoint.service.ts';
import { checkpointLine, entryLine, headerLine } from './export-format.ts';
import { OffThreadChainVerifier } from './off-thread-verifier.ts';
import type { AuditChainStore, SigningKeyRecord } from './ports.ts';

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
  readonly #offThreadFrom: number;

  constructor(deps: {
    chain: AuditChainStore;
    checkpoints: AuditCheckpointService;
    store: Store;
    clock: Clock;
    pageSize?: number;
    /** Logs with at least this many entries are checked on a worker thread (tests set 0 to cover it). */
    offThreadFrom?: number;
  }) {
    this.#chain = deps.chain;
    this.#checkpoints = deps.checkpoints;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#pageSize = deps.pageSize ?? 10_000;
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
    const input = {
      checkpoints: await this.#chain.listCheckpoints(logId),
      publicKeys: await this.#checkpoints.publicKeys(),
      logId,
    };
    const lastSeq = await this.#chain.findLastSeq(logId);
    if (lastSeq >= this.#offThreadFrom) {
      return { ...(await this.#verifyOffThread(logId, lastSeq, input)), logId, verifiedAt };
    }
    const verifier = new ChainVerifier(input);
    pages: for await (const page of this.#pages(logId, lastSeq)) {
      for (const entry of page) {
        if (!verifier.add(entry)) {
          break pages;
        }
      }
    }
    return { ...verifier.finish(), logId, verifiedAt };
  }

  /**
   * A large log: this thread reads pages while a worker checks the hashes of the previous one, so
   * reading and hashing overlap on two cores. At most two pages wait for the worker at a time.
   */
  async #verifyOffThread(
    logId: string,
    lastSeq: number,
    input: ConstructorParameters<typeof ChainVerifier>[0],
  ): Promise<VerificationResult> {
    const verifier = new OffThreadChainVerifier(input);
    try {
      const inFlight: Array<Promise<boolean>> = [];
      for await (const page of this.#pages(logId, lastSeq)) {
        inFlight.push(verifier.add(page));
        if (inFlight.length >= 2 && !(await inFlight.shift())) {
          break; // a problem was found: the rest cannot change the verdict
        }
      }
      await Promise.all(inFlight);
      return await verifier.finish();
    } finally {
      verifier.close();
    }
  }

  /**
   * The log's entries up to `lastSeq` in seq order, a seq range of pageSize at a time. The next
   * range is asked for before this one is handed out, so the database reads it meanwhile.
   */
  async *#pages(logId: string, lastSeq: number) {
    const read = (after: number) => {
      const page = this.#chain.listEntries(logId, after, Math.min(this.#pageSize, lastSeq - after));
      // Awaited on the next turn; if the reader stops early, its failure must not go unhandled.
      page.catch(() => undefined);
      return page;
    };
    let next = lastSeq > 0 ? read(0) : undefined;
    for (let after = 0; next; after += this.#pageSize) {
      const page = await next;
      next = after + this.#pageSize < lastSeq ? read(after + this.#pageSize) : undefined;
      if (page.length > 0) {
        yield page;
      }
    }
  }
}

function requireAuditRead(actor: TenantActor): void {
  if (!hasCapability(actor.role, 'audit.read')) {
    throw new NotAllowedError('verify or export the activity log');
  }
}
