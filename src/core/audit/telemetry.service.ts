import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Repos, Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { auditOrigin, OPERATOR_LOG_ID } from './audit.types.ts';
import type { AuditChainStore, TelemetryPolicy } from './ports.ts';

/** Bounds of a tenant's telemetry retention, in days (issue 4: "30–90 days, default 90"). */
export const MIN_TELEMETRY_DAYS = 30;
export const MAX_TELEMETRY_DAYS = 90;
const DAY_MS = 86_400_000;
const MAX_REASON_LENGTH = 500;

/**
 * Telemetry retention of the activity logs. IP addresses and user agents are personal data (GDPR
 * Art. 5(1)(c) and (e), data minimisation and storage limitation; POPIA s.14) and are expunged after
 * the tenant's period, unless a forensic hold keeps them for an investigation. The chain commits to
 * a hash of the telemetry, not to the telemetry, so the log still verifies afterwards.
 *
 * Owners, admins and compliance officers (audit.read) read and change the policy; every change is
 * recorded in the tenant's log.
 */
export class TelemetryRetentionService {
  readonly #store: Store;
  readonly #chain: AuditChainStore;
  readonly #clock: Clock;
  readonly #operatorRetentionDays: number;

  constructor(deps: { store: Store; chain: AuditChainStore; clock: Clock; operatorRetentionDays?: number }) {
    this.#store = deps.store;
    this.#chain = deps.chain;
    this.#clock = deps.clock;
    this.#operatorRetentionDays = deps.operatorRetentionDays ?? MAX_TELEMETRY_DAYS;
  }

  async getPolicy(actor: TenantActor): Promise<TelemetryPolicy> {
    requireAuditManager(actor, 'see the activity log settings');
    return this.#find(actor.tenantId);
  }

  /** Throws ValidationError (telemetry_retention_out_of_range) outside 30..90 whole days. */
  async setRetentionDays(actor: TenantActor, days: number): Promise<TelemetryPolicy> {
    requireAuditManager(actor, 'change how long addresses are kept in the activity log');
    if (!Number.isInteger(days) || days < MIN_TELEMETRY_DAYS || days > MAX_TELEMETRY_DAYS) {
      throw new ValidationError(
        'telemetry_retention_out_of_range',
        `Telemetry retention must be a whole number of days from ${MIN_TELEMETRY_DAYS} to ${MAX_TELEMETRY_DAYS}.`,
        { min: MIN_TELEMETRY_DAYS, max: MAX_TELEMETRY_DAYS },
      );
    }
    return this.#store.withTransaction(async (tx) => {
      const before = await this.#find(actor.tenantId, tx.telemetryPolicies);
      await tx.telemetryPolicies.setRetentionDays(actor.tenantId, days);
      await record(tx, actor, 'audit.retention_update', { before: before.retentionDays, after: days });
      return { ...before, retentionDays: days };
    });
  }

  /**
   * Stops telemetry expiry for the tenant until lifted. Throws ConflictError (forensic_hold_active)
   * when a hold is already in place, ValidationError when the reason is empty or too long.
   */
  async placeForensicHold(actor: TenantActor, reason: string): Promise<TelemetryPolicy> {
    requireAuditManager(actor, 'place a forensic hold');
    const trimmed = reason.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_REASON_LENGTH) {
      throw new ValidationError(
        'hold_reason_required',
        `Give the reason for the hold (1 to ${MAX_REASON_LENGTH} characters).`,
      );
    }
    return this.#store.withTransaction(async (tx) => {
      const before = await this.#find(actor.tenantId, tx.telemetryPolicies);
      if (before.forensicHold) {
        throw new ConflictError('forensic_hold_active', 'A forensic hold is already in place.', {
          since: before.forensicHold.since,
        });
      }
      const hold = { since: this.#clock.now(), reason: trimmed };
      await tx.telemetryPolicies.setForensicHold(actor.tenantId, hold);
      await record(tx, actor, 'audit.forensic_hold_place', { reason: trimmed });
      return { ...before, forensicHold: hold };
    });
  }

  /** Lets expiry resume. Throws ConflictError (forensic_hold_not_active) when there is no hold. */
  async liftForensicHold(actor: TenantActor, reason: string): Promise<TelemetryPolicy> {
    requireAuditManager(actor, 'lift a forensic hold');
    return this.#store.withTransaction(async (tx) => {
      const before = await this.#find(actor.tenantId, tx.telemetryPolicies);
      if (!before.forensicHold) {
        throw new ConflictError('forensic_hold_not_active', 'There is no forensic hold to lift.');
      }
      await tx.telemetryPolicies.setForensicHold(actor.tenantId, null);
      await record(tx, actor, 'audit.forensic_hold_lift', {
        reason: reason.trim().slice(0, MAX_REASON_LENGTH),
        heldSince: before.forensicHold.since,
      });
      return { ...before, forensicHold: null };
    });
  }

  /**
   * The recurring job: in every log not under a forensic hold, erases the ip, user agent and salt of
   * entries older than the tenant's period (the operator log: operatorRetentionDays). Each log where
   * something was erased gets an audit.telemetry_expire entry.
   */
  async expireAllDue(): Promise<{ logs: number; entries: number; held: number }> {
    const now = this.#clock.now();
    let logs = 0;
    let entries = 0;
    let held = 0;
    const policies = await this.#store.repos.telemetryPolicies.listForAllTenants();
    const targets: Array<{ logId: string; days: number }> = [
      { logId: OPERATOR_LOG_ID, days: this.#operatorRetentionDays },
    ];
    for (const p of policies) {
      if (p.forensicHold) {
        held++;
      } else {
        targets.push({ logId: p.tenantId, days: p.retentionDays });
      }
    }
    for (const { logId, days } of targets) {
      const occurredBefore = now - days * DAY_MS;
      const count = await this.#chain.expireTelemetry(logId, { occurredBefore, now });
      if (count > 0) {
        logs++;
        entries += count;
        await this.#store.repos.audit.append({
          tenantId: logId === OPERATOR_LOG_ID ? null : logId,
          action: 'audit.telemetry_expire',
          actorType: 'system',
          channel: 'system',
          targetType: 'audit_log',
          targetId: logId,
          details: { entries: count, occurredBefore, retentionDays: days },
        });
      }
    }
    return { logs, entries, held };
  }

  async #find(tenantId: string, repo = this.#store.repos.telemetryPolicies): Promise<TelemetryPolicy> {
    const policy = await repo.find(tenantId);
    if (!policy) {
      throw new NotFoundError('tenant_not_found', 'Organisation not found.');
    }
    return policy;
  }
}

/** Records a change of the tenant's telemetry policy in its own log, in the change's transaction. */
function record(
  tx: Repos,
  actor: TenantActor,
  action: string,
  details: Record<string, unknown>,
): Promise<void> {
  return tx.audit.append({
    tenantId: actor.tenantId,
    action,
    targetType: 'tenant',
    targetId: actor.tenantId,
    ...auditOrigin(actor),
    details,
  });
}

function requireAuditManager(actor: TenantActor, what: string): void {
  if (!hasCapability(actor.role, 'audit.read')) {
    throw new NotAllowedError(what);
  }
}
