import type { AuditLog } from '../audit/ports.ts';
import type { UnitOfWork } from '../shared/transaction.ts';
import type {
  AlertDelivery,
  AlertDetails,
  AlertRule,
  AlertWithDeliveries,
  DeliveryStatus,
  FiredAlert,
  WatchedEvent,
} from './alert.types.ts';
import type { WindowQuery } from './rules.ts';

/** Alerting's repositories, bound to one connection or one transaction. */
export interface AlertRepos {
  alerts: AlertRepository;
  audit: AuditLog;
}

export interface AlertStore extends UnitOfWork<AlertRepos> {
  repos: AlertRepos;
}

/** Rules, cursors, fired alerts and deliveries. Every tenant-owned query takes the tenant id. */
export interface AlertRepository {
  insertRule(rule: AlertRule): Promise<void>;
  updateRule(
    tenantId: string,
    id: string,
    patch: Partial<Omit<AlertRule, 'id' | 'tenantId' | 'kind' | 'createdAt' | 'createdBy'>>,
  ): Promise<void>;
  deleteRule(tenantId: string, id: string): Promise<void>;
  findRule(tenantId: string, id: string): Promise<AlertRule | undefined>;
  listRules(tenantId: string): Promise<AlertRule[]>;
  /** The tenant's allowed ranges (CIDR text); empty means "anywhere". */
  getAllowedIpRanges(tenantId: string): Promise<string[]>;
  setAllowedIpRanges(tenantId: string, ranges: string[]): Promise<void>;
  /** "Display name <e-mail>" of a user, for the tenant's own admins; undefined if unknown. */
  accountLabel(userId: string): Promise<string | undefined>;

  /** Tenants that have at least one rule (enabled or not): their cursors keep moving. Jobs only. */
  listTenantsWithRulesForAllTenants(): Promise<string[]>;
  /** The log's current last seq (0 for an empty log). */
  headSeq(logId: string): Promise<number>;
  /** Sets the cursor to `seq` (creating it); used when a tenant's first rule is made. */
  resetCursor(logId: string, seq: number, now: number): Promise<void>;
  /**
   * Locks the log's cursor until the transaction ends and returns its seq; undefined when another
   * evaluator holds it (it is doing this log's work right now) or the cursor does not exist.
   */
  lockCursor(logId: string): Promise<number | undefined>;
  advanceCursor(logId: string, seq: number, now: number): Promise<void>;
  /** Events after `afterSeq`, oldest first. */
  readEvents(logId: string, afterSeq: number, limit: number): Promise<WatchedEvent[]>;
  /** The events a lookback needs (indexed by log + actor / ip + seq). */
  windowEvents(logId: string, query: WindowQuery): Promise<WatchedEvent[]>;

  findLatestAlert(tenantId: string, ruleId: string, subject: string): Promise<FiredAlert | undefined>;
  /** Insert-or-ignore on (tenant, rule, dedupe key): false when that occurrence already fired. */
  insertAlert(alert: FiredAlert): Promise<boolean>;
  extendAlert(tenantId: string, id: string, lastSeq: number, details: AlertDetails): Promise<void>;
  findAlert(tenantId: string, id: string): Promise<FiredAlert | undefined>;
  listAlerts(tenantId: string, limit: number): Promise<AlertWithDeliveries[]>;
  acknowledgeAlert(tenantId: string, id: string, by: string, at: number): Promise<void>;

  insertDelivery(delivery: AlertDelivery): Promise<void>;
  /**
   * Due pending deliveries of every tenant, each leased for `leaseMs` (its next_attempt_at pushed out)
   * so no other worker takes it meanwhile. Jobs only.
   */
  claimDueDeliveriesForAllTenants(now: number, limit: number, leaseMs: number): Promise<AlertDelivery[]>;
  recordAttempt(
    tenantId: string,
    id: string,
    result: {
      status: DeliveryStatus;
      attempts: number;
      nextAttemptAt: number | null;
      lastError: string | null;
      deliveredAt: number | null;
    },
  ): Promise<void>;
}

/** Posts a signed webhook. Resolves with the status; rejects on network failure or timeout. */
export interface WebhookSender {
  post(input: { url: string; body: string; headers: Record<string, string> }): Promise<{ status: number }>;
}

/** Sends an e-mail through the configured SMTP server. */
export interface MailSender {
  readonly isConfigured: boolean;
  send(input: { to: string[]; subject: string; text: string }): Promise<void>;
}

/** Seals small secrets under a tenant's own 'secrets' key. */
export interface TenantSecretBox {
  seal(tenantId: string, plaintext: string, context: string): Promise<string>;
  open(tenantId: string, sealed: string, context: string): Promise<string>;
}
