/** The four kinds of alert rule a tenant can set up (docs/ALERTS.md). */
export const ALERT_KINDS = [
  'bulk_download',
  'sign_in_failures',
  'outside_ip_ranges',
  'share_link_many_ips',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export type DeliveryChannel = 'webhook' | 'email';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A tenant's rule: what to watch for, and where to say so. The webhook secret never leaves sealed. */
export interface AlertRule {
  id: string;
  tenantId: string;
  kind: AlertKind;
  name: string;
  threshold: number;
  windowSeconds: number;
  isEnabled: boolean;
  webhookUrl: string | null;
  /** Sealed with the tenant's 'secrets' key; opened only to sign a delivery. */
  webhookSecretEnc: string | null;
  /** Recipients; empty for no e-mail. */
  emailTo: string[];
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One occurrence of a rule's condition: fired once, extended while the burst goes on. */
export interface FiredAlert {
  id: string;
  tenantId: string;
  ruleId: string;
  kind: AlertKind;
  /** Rule-specific occurrence key; (tenant, rule, dedupeKey) is unique, so nothing fires twice. */
  dedupeKey: string;
  /** Who or what the alert is about: `account:<id>`, `ip:<address>`, `share_link:<id>`... */
  subject: string;
  summary: string;
  details: AlertDetails;
  firstSeq: number;
  lastSeq: number;
  firedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
}

/** Facts about the occurrence. Never file contents or names; an account and an address at most. */
export interface AlertDetails {
  count: number;
  threshold: number;
  windowSeconds: number;
  /** When the condition last held; the occurrence ends once a full window passes without it. */
  lastAt: number;
  accountId?: string;
  account?: string;
  ip?: string;
  shareLinkId?: string;
}

export interface AlertDelivery {
  id: string;
  tenantId: string;
  alertId: string;
  channel: DeliveryChannel;
  /** The webhook URL, or the comma-separated recipients. */
  target: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

export interface AlertWithDeliveries extends FiredAlert {
  ruleName: string;
  deliveries: AlertDelivery[];
}

/** What the evaluator reads of an audit event. */
export interface WatchedEvent {
  seq: number;
  occurredAt: number;
  action: string;
  outcome: string;
  actorType: string;
  actorId: string | null;
  targetId: string | null;
  ip: string | null;
}
