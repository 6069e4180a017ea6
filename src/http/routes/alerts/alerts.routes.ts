import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../../compose.ts';
import type { AlertRule, AlertWithDeliveries } from '../../../core/alerts/alert.types.ts';
import { RULE_DEFAULTS, RULE_LIMITS } from '../../../core/alerts/rules.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { IdParams, Ok, withErrors } from '../common.schemas.ts';
import {
  AlertListQuery,
  AlertView,
  IpRangesBody,
  IpRangesView,
  RuleCreateBody,
  RuleList,
  RulePatchBody,
  RuleResult,
  RuleView,
  TestResults,
} from './alerts.schemas.ts';
import { Type } from 'typebox';

/** Alert rules, fired alerts and the organisation's allowed IP ranges (owner, admin, compliance officer). */
export const alertsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, alerts, config } = services;
  const tags = ['alerts'];

  app.get(
    '/alert-rules',
    {
      schema: {
        tags,
        summary: 'Alert rules, with the defaults offered for new ones',
        response: withErrors({ 200: RuleList }),
      },
    },
    async (request) => {
      const rules = await alerts.listRules(tenantActor(request, auth));
      return {
        items: rules.map(ruleView),
        defaults: RULE_DEFAULTS,
        limits: RULE_LIMITS,
        emailAvailable: Boolean(config.smtpUrl),
      };
    },
  );

  app.post(
    '/alert-rules',
    {
      schema: {
        tags,
        summary: 'Create an alert rule (the webhook secret is in this answer only)',
        body: RuleCreateBody,
        response: withErrors({ 201: RuleResult }),
      },
    },
    async (request, reply) => {
      const { enabled, ...input } = request.body;
      const result = await alerts.createRule(tenantActor(request, auth), { ...input, isEnabled: enabled });
      return reply.code(201).send({ rule: ruleView(result.rule), webhookSecret: result.webhookSecret });
    },
  );

  app.get(
    '/alert-rules/:id',
    {
      schema: { tags, summary: 'One alert rule', params: IdParams, response: withErrors({ 200: RuleView }) },
    },
    async (request) => ruleView(await alerts.getRule(tenantActor(request, auth), request.params.id)),
  );

  app.patch(
    '/alert-rules/:id',
    {
      schema: {
        tags,
        summary: 'Change, enable or disable an alert rule',
        params: IdParams,
        body: RulePatchBody,
        response: withErrors({ 200: RuleResult }),
      },
    },
    async (request) => {
      const { enabled, ...patch } = request.body;
      const result = await alerts.updateRule(tenantActor(request, auth), request.params.id, {
        ...patch,
        isEnabled: enabled,
      });
      return { rule: ruleView(result.rule), webhookSecret: result.webhookSecret };
    },
  );

  app.delete(
    '/alert-rules/:id',
    {
      schema: { tags, summary: 'Delete an alert rule', params: IdParams, response: withErrors({ 200: Ok }) },
    },
    async (request) => {
      await alerts.deleteRule(tenantActor(request, auth), request.params.id);
      return { ok: true as const };
    },
  );

  app.post(
    '/alert-rules/:id/test',
    {
      schema: {
        tags,
        summary: "Send a test alert on the rule's webhook and e-mail now",
        params: IdParams,
        response: withErrors({ 200: TestResults }),
      },
    },
    async (request) => {
      const results = await alerts.testRule(tenantActor(request, auth), request.params.id);
      return {
        results: results.map((r) => ({
          channel: r.channel,
          target: r.target,
          delivered: r.isDelivered,
          error: r.error,
        })),
      };
    },
  );

  app.post(
    '/alert-rules/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Replace the webhook signing secret (the new one is in this answer only)',
        params: IdParams,
        response: withErrors({ 200: RuleResult }),
      },
    },
    async (request) => {
      const result = await alerts.rotateWebhookSecret(tenantActor(request, auth), request.params.id);
      return { rule: ruleView(result.rule), webhookSecret: result.webhookSecret };
    },
  );

  app.get(
    '/alerts',
    {
      schema: {
        tags,
        summary: 'Fired alerts, newest first, with their deliveries',
        querystring: AlertListQuery,
        response: withErrors({ 200: Type.Object({ items: Type.Array(AlertView) }) }),
      },
    },
    async (request) => {
      const items = await alerts.listAlerts(tenantActor(request, auth), Number(request.query.limit ?? 50));
      return { items: items.map(alertView) };
    },
  );

  app.post(
    '/alerts/:id/acknowledge',
    {
      schema: { tags, summary: 'Acknowledge an alert', params: IdParams, response: withErrors({ 200: Ok }) },
    },
    async (request) => {
      await alerts.acknowledgeAlert(tenantActor(request, auth), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/tenant/allowed-ip-ranges',
    {
      schema: {
        tags,
        summary: 'Address ranges members are expected to work from (empty: anywhere)',
        response: withErrors({ 200: IpRangesView }),
      },
    },
    async (request) => ({ ranges: await alerts.getAllowedIpRanges(tenantActor(request, auth)) }),
  );

  app.put(
    '/tenant/allowed-ip-ranges',
    {
      schema: {
        tags,
        summary: 'Replace the allowed address ranges (CIDR, IPv4 or IPv6)',
        body: IpRangesBody,
        response: withErrors({ 200: IpRangesView }),
      },
    },
    async (request) => ({
      ranges: await alerts.setAllowedIpRanges(tenantActor(request, auth), request.body.ranges),
    }),
  );
};

function ruleView(rule: AlertRule) {
  return {
    id: rule.id,
    kind: rule.kind,
    name: rule.name,
    threshold: rule.threshold,
    windowSeconds: rule.windowSeconds,
    enabled: rule.isEnabled,
    webhookUrl: rule.webhookUrl,
    hasWebhookSecret: rule.webhookSecretEnc !== null,
    emailTo: rule.emailTo,
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

function alertView(alert: AlertWithDeliveries) {
  return {
    id: alert.id,
    ruleId: alert.ruleId,
    ruleName: alert.ruleName,
    kind: alert.kind,
    summary: alert.summary,
    subject: alert.subject,
    count: alert.details.count,
    account: alert.details.account ?? null,
    ip: alert.details.ip ?? null,
    firstSeq: alert.firstSeq,
    lastSeq: alert.lastSeq,
    firedAt: alert.firedAt,
    acknowledgedAt: alert.acknowledgedAt,
    acknowledgedBy: alert.acknowledgedBy,
    deliveries: alert.deliveries.map((d) => ({
      id: d.id,
      channel: d.channel,
      target: d.target,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.nextAttemptAt,
      lastError: d.lastError,
      deliveredAt: d.deliveredAt,
    })),
  };
}
