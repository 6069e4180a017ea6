import { auditOrigin } from '../audit/audit.types.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import { isPlausibleEmail, normaliseEmail } from '../identity/secrets.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { BadRequestError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import {
  webhookSecretContext,
  type AlertDeliveryService,
  type TestResult,
} from './alert-delivery.service.ts';
import { ALERT_KINDS, type AlertKind, type AlertRule, type AlertWithDeliveries } from './alert.types.ts';
import { CidrParseError, MAX_IP_RANGES, parseCidr } from './ip-ranges.ts';
import type { AlertRepos, AlertStore, MailSender, TenantSecretBox } from './ports.ts';
import { RULE_DEFAULTS, RULE_LIMITS } from './rules.ts';
import { newWebhookSecret, webhookUrlProblem } from './webhook.ts';

export interface RuleInput {
  kind: AlertKind;
  name?: string;
  threshold?: number;
  windowSeconds?: number;
  isEnabled?: boolean;
  webhookUrl?: string | null;
  emailTo?: string[];
}
export type RulePatch = Partial<Omit<RuleInput, 'kind'>>;

/** A rule as shown, plus its webhook secret when it was just made (shown once, never again). */
export interface RuleResult {
  rule: AlertRule;
  webhookSecret?: string;
}

const MAX_RECIPIENTS = 10;

/**
 * A tenant's alert rules, fired alerts and allowed IP ranges. Owners, admins and the compliance
 * officer (who read the activity log) manage them; every change is in the activity log. Another
 * tenant's rule or alert is "not found".
 */
export class AlertRulesService {
  readonly #store: AlertStore;
  readonly #clock: Clock;
  readonly #box: TenantSecretBox;
  readonly #mail: MailSender;
  readonly #delivery: AlertDeliveryService;
  readonly #allowLoopbackWebhooks: boolean;

  constructor(deps: {
    store: AlertStore;
    clock: Clock;
    box: TenantSecretBox;
    mail: MailSender;
    delivery: AlertDeliveryService;
    allowLoopbackWebhooks: boolean;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#box = deps.box;
    this.#mail = deps.mail;
    this.#delivery = deps.delivery;
    this.#allowLoopbackWebhooks = deps.allowLoopbackWebhooks;
  }

  async listRules(actor: TenantActor): Promise<AlertRule[]> {
    this.#authorise(actor);
    return this.#store.repos.alerts.listRules(actor.tenantId);
  }

  async getRule(actor: TenantActor, id: string): Promise<AlertRule> {
    this.#authorise(actor);
    return this.#getRule(this.#store.repos, actor.tenantId, id);
  }

  /** Creates a rule; unset fields take the kind's defaults. Returns the webhook secret once. */
  async createRule(actor: TenantActor, input: RuleInput): Promise<RuleResult> {
    this.#authorise(actor);
    if (!ALERT_KINDS.includes(input.kind)) {
      throw new BadRequestError('invalid_alert_kind', `The kind must be one of ${ALERT_KINDS.join(', ')}.`);
    }
    const defaults = RULE_DEFAULTS[input.kind];
    const now = this.#clock.now();
    const id = newId();
    const fields = this.#validate({
      name: input.name ?? defaults.name,
      threshold: input.threshold ?? defaults.threshold,
      windowSeconds: input.windowSeconds ?? defaults.windowSeconds,
      webhookUrl: input.webhookUrl ?? null,
      emailTo: input.emailTo ?? [],
    });
    const secret = fields.webhookUrl ? newWebhookSecret() : undefined;
    const rule: AlertRule = {
      id,
      tenantId: actor.tenantId,
      kind: input.kind,
      ...fields,
      isEnabled: input.isEnabled ?? true,
      webhookSecretEnc: secret
        ? await this.#box.seal(actor.tenantId, secret, webhookSecretContext(id))
        : null,
      createdBy: actor.userId,
      createdAt: now,
      updatedAt: now,
    };
    await this.#store.withTransaction(async (tx) => {
      const isFirst = (await tx.alerts.listRules(actor.tenantId)).length === 0;
      await tx.alerts.insertRule(rule);
      if (isFirst) {
        // Start reading the log here: a tenant's first rule does not judge its whole history.
        await tx.alerts.resetCursor(actor.tenantId, await tx.alerts.headSeq(actor.tenantId), now);
      }
      await this.#audit(tx, actor, 'alert_rule.create', rule);
    });
    return { rule, webhookSecret: secret };
  }

  /** Changes a rule. Setting a webhook URL on a rule without a secret makes one (returned once). */
  async updateRule(actor: TenantActor, id: string, patch: RulePatch): Promise<RuleResult> {
    this.#authorise(actor);
    const current = await this.#getRule(this.#store.repos, actor.tenantId, id);
    const fields = this.#validate({
      name: patch.name ?? current.name,
      threshold: patch.threshold ?? current.threshold,
      windowSeconds: patch.windowSeconds ?? current.windowSeconds,
      webhookUrl: patch.webhookUrl === undefined ? current.webhookUrl : patch.webhookUrl,
      emailTo: patch.emailTo ?? current.emailTo,
    });
    const secret = fields.webhookUrl && !current.webhookSecretEnc ? newWebhookSecret() : undefined;
    const webhookSecretEnc = !fields.webhookUrl
      ? null
      : secret
        ? await this.#box.seal(actor.tenantId, secret, webhookSecretContext(id))
        : current.webhookSecretEnc;
    const updated: AlertRule = {
      ...current,
      ...fields,
      isEnabled: patch.isEnabled ?? current.isEnabled,
      webhookSecretEnc,
      updatedAt: this.#clock.now(),
    };
    await this.#store.withTransaction(async (tx) => {
      const { id: _id, tenantId: _t, kind: _k, createdAt: _c, createdBy: _b, ...changes } = updated;
      await tx.alerts.updateRule(actor.tenantId, id, changes);
      await this.#audit(tx, actor, 'alert_rule.update', updated);
    });
    return { rule: updated, webhookSecret: secret };
  }

  /** Replaces the webhook secret; the old one stops verifying at once. */
  async rotateWebhookSecret(actor: TenantActor, id: string): Promise<RuleResult> {
    this.#authorise(actor);
    const current = await this.#getRule(this.#store.repos, actor.tenantId, id);
    if (!current.webhookUrl) {
      throw new ValidationError('no_webhook', 'This rule has no webhook to sign for.');
    }
    const secret = newWebhookSecret();
    const updated = {
      ...current,
      webhookSecretEnc: await this.#box.seal(actor.tenantId, secret, webhookSecretContext(id)),
      updatedAt: this.#clock.now(),
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.alerts.updateRule(actor.tenantId, id, {
        webhookSecretEnc: updated.webhookSecretEnc,
        updatedAt: updated.updatedAt,
      });
      await this.#audit(tx, actor, 'alert_rule.rotate_secret', updated);
    });
    return { rule: updated, webhookSecret: secret };
  }

  async deleteRule(actor: TenantActor, id: string): Promise<void> {
    this.#authorise(actor);
    await this.#store.withTransaction(async (tx) => {
      const rule = await this.#getRule(tx, actor.tenantId, id);
      await tx.alerts.deleteRule(actor.tenantId, id);
      await this.#audit(tx, actor, 'alert_rule.delete', rule);
    });
  }

  /** Sends a sample alert on each of the rule's channels now and says how each went. */
  async testRule(actor: TenantActor, id: string): Promise<TestResult[]> {
    this.#authorise(actor);
    const rule = await this.#getRule(this.#store.repos, actor.tenantId, id);
    const results = await this.#delivery.sendTest(rule);
    await this.#store.withTransaction((tx) =>
      this.#audit(tx, actor, 'alert_rule.test', rule, {
        results: results.map((r) => ({ channel: r.channel, isDelivered: r.isDelivered })),
      }),
    );
    return results;
  }

  async listAlerts(actor: TenantActor, limit: number): Promise<AlertWithDeliveries[]> {
    this.#authorise(actor);
    return this.#store.repos.alerts.listAlerts(actor.tenantId, Math.min(Math.max(limit, 1), 200));
  }

  /** Marks an alert as seen and dealt with. Acknowledging twice keeps the first acknowledgement. */
  async acknowledgeAlert(actor: TenantActor, id: string): Promise<void> {
    this.#authorise(actor);
    await this.#store.withTransaction(async (tx) => {
      const alert = await tx.alerts.findAlert(actor.tenantId, id);
      if (!alert) {
        throw new NotFoundError('alert_not_found', 'Alert not found.');
      }
      if (alert.acknowledgedAt !== null) {
        return;
      }
      await tx.alerts.acknowledgeAlert(actor.tenantId, id, actor.userId, this.#clock.now());
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'alert.acknowledge',
        targetType: 'alert',
        targetId: id,
        ...auditOrigin(actor),
        details: { ruleId: alert.ruleId, kind: alert.kind },
      });
    });
  }

  async getAllowedIpRanges(actor: TenantActor): Promise<string[]> {
    this.#authorise(actor);
    return this.#store.repos.alerts.getAllowedIpRanges(actor.tenantId);
  }

  /** Replaces the allowed ranges (CIDR, IPv4 or IPv6; a bare address is one host). Empty = anywhere. */
  async setAllowedIpRanges(actor: TenantActor, ranges: string[]): Promise<string[]> {
    this.#authorise(actor);
    if (ranges.length > MAX_IP_RANGES) {
      throw new BadRequestError('too_many_ip_ranges', `List at most ${MAX_IP_RANGES} ranges.`);
    }
    const canonical: string[] = [];
    for (const range of ranges) {
      try {
        canonical.push(parseCidr(range).canonical);
      } catch (error) {
        if (error instanceof CidrParseError) {
          throw new BadRequestError('invalid_ip_range', error.message, { range });
        }
        throw error;
      }
    }
    const unique = [...new Set(canonical)];
    await this.#store.withTransaction(async (tx) => {
      await tx.alerts.setAllowedIpRanges(actor.tenantId, unique);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'tenant.allowed_ip_ranges_update',
        targetType: 'tenant',
        targetId: actor.tenantId,
        ...auditOrigin(actor),
        details: { ranges: unique },
      });
    });
    return unique;
  }

  #authorise(actor: TenantActor): void {
    // Alerts are about the activity log; whoever may read the log may watch it.
    if (!hasCapability(actor.role, 'audit.read')) {
      throw new NotAllowedError('manage alerts');
    }
  }

  async #getRule(repos: AlertRepos, tenantId: string, id: string): Promise<AlertRule> {
    const rule = await repos.alerts.findRule(tenantId, id);
    if (!rule) {
      throw new NotFoundError('alert_rule_not_found', 'Alert rule not found.');
    }
    return rule;
  }

  #validate(input: {
    name: string;
    threshold: number;
    windowSeconds: number;
    webhookUrl: string | null;
    emailTo: string[];
  }): {
    name: string;
    threshold: number;
    windowSeconds: number;
    webhookUrl: string | null;
    emailTo: string[];
  } {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) {
      throw new BadRequestError('invalid_name', 'Give the rule a name of 1 to 200 characters.');
    }
    const { threshold, windowSeconds } = RULE_LIMITS;
    if (
      !Number.isInteger(input.threshold) ||
      input.threshold < threshold.min ||
      input.threshold > threshold.max
    ) {
      throw new BadRequestError(
        'invalid_threshold',
        `The threshold must be ${threshold.min} to ${threshold.max}.`,
      );
    }
    if (
      !Number.isInteger(input.windowSeconds) ||
      input.windowSeconds < windowSeconds.min ||
      input.windowSeconds > windowSeconds.max
    ) {
      throw new BadRequestError(
        'invalid_window',
        `The window must be ${windowSeconds.min} to ${windowSeconds.max} seconds.`,
      );
    }
    const webhookUrl = input.webhookUrl?.trim() || null;
    const urlProblem = webhookUrl
      ? webhookUrlProblem(webhookUrl, { allowLoopbackHttp: this.#allowLoopbackWebhooks })
      : undefined;
    if (urlProblem) {
      throw new BadRequestError('invalid_webhook_url', urlProblem);
    }
    const emailTo = [...new Set(input.emailTo.map(normaliseEmail))];
    if (emailTo.length > MAX_RECIPIENTS || emailTo.some((e) => !isPlausibleEmail(e) || /[,;<>]/.test(e))) {
      throw new BadRequestError(
        'invalid_email',
        `Give up to ${MAX_RECIPIENTS} valid e-mail addresses for the alert e-mails.`,
      );
    }
    if (emailTo.length > 0 && !this.#mail.isConfigured) {
      throw new ValidationError(
        'email_not_configured',
        'This installation has no SMTP server configured (CUSTODIA_SMTP_URL), so alerts cannot be e-mailed.',
      );
    }
    return { name, threshold: input.threshold, windowSeconds: input.windowSeconds, webhookUrl, emailTo };
  }

  async #audit(
    tx: AlertRepos,
    actor: TenantActor,
    action: string,
    rule: AlertRule,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await tx.audit.append({
      tenantId: actor.tenantId,
      action,
      targetType: 'alert_rule',
      targetId: rule.id,
      ...auditOrigin(actor),
      details: {
        kind: rule.kind,
        name: rule.name,
        threshold: rule.threshold,
        windowSeconds: rule.windowSeconds,
        isEnabled: rule.isEnabled,
        hasWebhook: rule.webhookUrl !== null,
        emailRecipients: rule.emailTo.length,
        ...extra,
      },
    });
  }
}
