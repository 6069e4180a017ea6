import type { Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { AlertDelivery, AlertRule, DeliveryChannel, FiredAlert } from './alert.types.ts';
import type { AlertStore, MailSender, TenantSecretBox, WebhookSender } from './ports.ts';
import { formatWindow } from './rules.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook.ts';

/**
 * Waits after each failed attempt: 30 s, 2 min, 10 min, 1 h, 6 h, 8 h, 8 h. Eight attempts in all,
 * the last about 23 hours after the first; then the delivery is marked failed (and stays listed).
 */
export const RETRY_DELAYS_MS: readonly number[] = [
  30_000,
  120_000,
  600_000,
  3_600_000,
  6 * 3_600_000,
  8 * 3_600_000,
  8 * 3_600_000,
];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** How long a claimed delivery is hidden from other workers while one sends it. */
const LEASE_MS = 60_000;
const BATCH = 20;

/** A send that will not succeed on retry (the rule is gone, no SMTP server is configured). */
class PermanentDeliveryError extends Error {}

export interface TestResult {
  channel: DeliveryChannel;
  target: string;
  isDelivered: boolean;
  error?: string;
}

/**
 * Sends fired alerts by signed webhook and by e-mail, retrying with back-off until delivered or out
 * of attempts. Each attempt is counted on the delivery and written to the tenant's activity log.
 * Nothing is lost: a delivery stays pending (and is claimed again once its lease runs out) until an
 * attempt succeeds or the schedule is exhausted.
 */
export class AlertDeliveryService {
  readonly #store: AlertStore;
  readonly #clock: Clock;
  readonly #webhooks: WebhookSender;
  readonly #mail: MailSender;
  readonly #box: TenantSecretBox;
  readonly #publicUrl: string;

  constructor(deps: {
    store: AlertStore;
    clock: Clock;
    webhooks: WebhookSender;
    mail: MailSender;
    box: TenantSecretBox;
    publicUrl: string;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#webhooks = deps.webhooks;
    this.#mail = deps.mail;
    this.#box = deps.box;
    this.#publicUrl = deps.publicUrl;
  }

  /** Attempts every due delivery once. */
  async deliverDue(): Promise<{ delivered: number; retrying: number; failed: number }> {
    const counts = { delivered: 0, retrying: 0, failed: 0 };
    for (;;) {
      const due = await this.#store.withTransaction((tx) =>
        tx.alerts.claimDueDeliveriesForAllTenants(this.#clock.now(), BATCH, LEASE_MS),
      );
      for (const delivery of due) {
        const status = await this.#attempt(delivery);
        counts[status === 'pending' ? 'retrying' : status]++;
      }
      if (due.length < BATCH) {
        return counts;
      }
    }
  }

  /** Sends a sample alert for `rule` on each of its channels now, without retries. */
  async sendTest(rule: AlertRule): Promise<TestResult[]> {
    const now = this.#clock.now();
    const sample: FiredAlert = {
      id: newId(),
      tenantId: rule.tenantId,
      ruleId: rule.id,
      kind: rule.kind,
      dedupeKey: 'test',
      subject: 'test',
      summary: `Test of the alert rule "${rule.name}": no action is needed.`,
      details: { count: 0, threshold: rule.threshold, windowSeconds: rule.windowSeconds, lastAt: now },
      firstSeq: 0,
      lastSeq: 0,
      firedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
    };
    const results: TestResult[] = [];
    for (const [channel, target] of channelsOf(rule)) {
      try {
        await this.#send({
          channel,
          target,
          deliveryId: `test-${newId()}`,
          alert: sample,
          rule,
          isTest: true,
        });
        results.push({ channel, target, isDelivered: true });
      } catch (error) {
        results.push({ channel, target, isDelivered: false, error: describe(error) });
      }
    }
    return results;
  }

  async #attempt(delivery: AlertDelivery): Promise<'delivered' | 'pending' | 'failed'> {
    const alert = await this.#store.repos.alerts.findAlert(delivery.tenantId, delivery.alertId);
    const rule = alert ? await this.#store.repos.alerts.findRule(delivery.tenantId, alert.ruleId) : undefined;
    let error: unknown;
    try {
      if (!alert || !rule) {
        throw new PermanentDeliveryError('the alert rule was deleted');
      }
      await this.#send({
        channel: delivery.channel,
        target: delivery.target,
        deliveryId: delivery.id,
        alert,
        rule,
        isTest: false,
      });
    } catch (caught) {
      error = caught ?? new Error('unknown failure');
    }
    const now = this.#clock.now();
    const attempts = delivery.attempts + 1;
    const isGivingUp = error instanceof PermanentDeliveryError || attempts >= MAX_ATTEMPTS;
    const status = error === undefined ? 'delivered' : isGivingUp ? 'failed' : 'pending';
    await this.#store.withTransaction(async (tx) => {
      await tx.alerts.recordAttempt(delivery.tenantId, delivery.id, {
        status,
        attempts,
        nextAttemptAt: status === 'pending' ? now + (RETRY_DELAYS_MS[attempts - 1] ?? 0) : null,
        lastError: error === undefined ? null : describe(error),
        deliveredAt: status === 'delivered' ? now : null,
      });
      await tx.audit.append({
        tenantId: delivery.tenantId,
        action: 'alert.delivery_attempt',
        outcome: error === undefined ? 'success' : 'failure',
        actorType: 'system',
        channel: 'system',
        targetType: 'alert',
        targetId: delivery.alertId,
        details: { deliveryId: delivery.id, channel: delivery.channel, attempt: attempts, status },
      });
    });
    return status;
  }

  async #send(input: {
    channel: DeliveryChannel;
    target: string;
    deliveryId: string;
    alert: FiredAlert;
    rule: AlertRule;
    isTest: boolean;
  }): Promise<void> {
    const { alert, rule } = input;
    if (input.channel === 'email') {
      if (!this.#mail.isConfigured) {
        throw new PermanentDeliveryError('no SMTP server is configured (CUSTODIA_SMTP_URL)');
      }
      await this.#mail.send({
        to: input.target.split(',').map((t) => t.trim()),
        subject: `${input.isTest ? '[Test] ' : ''}Custodia alert: ${rule.name}`,
        text: emailText(alert, rule, `${this.#publicUrl}/alerts`),
      });
      return;
    }
    if (!rule.webhookSecretEnc) {
      throw new PermanentDeliveryError('the rule has no webhook secret');
    }
    const secret = await this.#box.open(rule.tenantId, rule.webhookSecretEnc, webhookSecretContext(rule.id));
    const body = JSON.stringify(webhookPayload({ ...input, alert, rule }));
    const { status } = await this.#webhooks.post({
      url: input.target,
      body,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(this.#clock.now() / 1000)),
        [DELIVERY_HEADER]: input.deliveryId,
      },
    });
    if (status < 200 || status > 299) {
      throw new Error(`the receiver answered HTTP ${status}`);
    }
  }
}

/** The sealing context of a rule's webhook secret (binds the sealed text to its rule). */
export function webhookSecretContext(ruleId: string): string {
  return `alert-webhook:${ruleId}`;
}

function channelsOf(rule: AlertRule): Array<[DeliveryChannel, string]> {
  return [
    ...(rule.webhookUrl ? [['webhook', rule.webhookUrl] as [DeliveryChannel, string]] : []),
    ...(rule.emailTo.length > 0 ? [['email', rule.emailTo.join(', ')] as [DeliveryChannel, string]] : []),
  ];
}

/** The JSON a receiver gets. Facts about the occurrence only; never file names or contents. */
export function webhookPayload(input: {
  deliveryId: string;
  alert: FiredAlert;
  rule: AlertRule;
  isTest: boolean;
}) {
  const { alert, rule } = input;
  return {
    type: input.isTest ? 'alert.test' : 'alert.fired',
    deliveryId: input.deliveryId,
    tenantId: alert.tenantId,
    alert: {
      id: alert.id,
      ruleId: rule.id,
      ruleName: rule.name,
      kind: alert.kind,
      summary: alert.summary,
      subject: alert.subject,
      count: alert.details.count,
      threshold: alert.details.threshold,
      windowSeconds: alert.details.windowSeconds,
      account: alert.details.account ?? null,
      ip: alert.details.ip ?? null,
      shareLinkId: alert.details.shareLinkId ?? null,
      firstSeq: alert.firstSeq,
      lastSeq: alert.lastSeq,
      firedAt: new Date(alert.firedAt).toISOString(),
    },
  };
}

function emailText(alert: FiredAlert, rule: AlertRule, link: string): string {
  return [
    alert.summary,
    '',
    `Rule: ${rule.name} (threshold ${rule.threshold} within ${formatWindow(rule.windowSeconds)})`,
    `Fired: ${new Date(alert.firedAt).toISOString()}`,
    `Activity log entries: ${alert.firstSeq}–${alert.lastSeq}`,
    '',
    `Review and acknowledge it in Custodia: ${link}`,
  ].join('\n');
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  return (typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message).slice(
    0,
    500,
  );
}
