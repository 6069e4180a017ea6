import { Type } from 'typebox';
import { RULE_LIMITS } from '../../../core/alerts/rules.ts';
import { NullableTimestamp, Timestamp } from '../common.schemas.ts';

export const AlertKindSchema = Type.Union([
  Type.Literal('bulk_download'),
  Type.Literal('sign_in_failures'),
  Type.Literal('outside_ip_ranges'),
  Type.Literal('share_link_many_ips'),
]);

const Threshold = Type.Integer({
  minimum: RULE_LIMITS.threshold.min,
  maximum: RULE_LIMITS.threshold.max,
  description: 'bulk_download: more than this many files; the others: this many or more.',
});
const WindowSeconds = Type.Integer({
  minimum: RULE_LIMITS.windowSeconds.min,
  maximum: RULE_LIMITS.windowSeconds.max,
  description: 'The sliding window, in seconds.',
});
const WebhookUrl = Type.Union([Type.String({ maxLength: 2048 }), Type.Null()], {
  description: 'https URL to POST signed alerts to; null for none.',
});
const EmailTo = Type.Array(Type.String({ maxLength: 320 }), {
  maxItems: 10,
  description: 'E-mail recipients.',
});

export const RuleView = Type.Object({
  id: Type.String(),
  kind: AlertKindSchema,
  name: Type.String(),
  threshold: Type.Integer(),
  windowSeconds: Type.Integer(),
  enabled: Type.Boolean(),
  webhookUrl: Type.Union([Type.String(), Type.Null()]),
  hasWebhookSecret: Type.Boolean(),
  emailTo: Type.Array(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const RuleCreateBody = Type.Object(
  {
    kind: AlertKindSchema,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    threshold: Type.Optional(Threshold),
    windowSeconds: Type.Optional(WindowSeconds),
    enabled: Type.Optional(Type.Boolean()),
    webhookUrl: Type.Optional(WebhookUrl),
    emailTo: Type.Optional(EmailTo),
  },
  { additionalProperties: false },
);

export const RulePatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    threshold: Type.Optional(Threshold),
    windowSeconds: Type.Optional(WindowSeconds),
    enabled: Type.Optional(Type.Boolean()),
    webhookUrl: Type.Optional(WebhookUrl),
    emailTo: Type.Optional(EmailTo),
  },
  { additionalProperties: false },
);

export const RuleResult = Type.Object({
  rule: RuleView,
  webhookSecret: Type.Optional(
    Type.String({ description: 'The webhook signing secret: shown this once, store it now.' }),
  ),
});

export const RuleList = Type.Object({
  items: Type.Array(RuleView),
  defaults: Type.Record(
    Type.String(),
    Type.Object({
      name: Type.String(),
      threshold: Type.Integer(),
      windowSeconds: Type.Integer(),
      explanation: Type.String(),
    }),
  ),
  limits: Type.Object({
    threshold: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
    windowSeconds: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
  }),
  emailAvailable: Type.Boolean(),
});

export const TestResults = Type.Object({
  results: Type.Array(
    Type.Object({
      channel: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
      target: Type.String(),
      delivered: Type.Boolean(),
      error: Type.Optional(Type.String()),
    }),
  ),
});

const DeliveryView = Type.Object({
  id: Type.String(),
  channel: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
  target: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  nextAttemptAt: NullableTimestamp,
  lastError: Type.Union([Type.String(), Type.Null()]),
  deliveredAt: NullableTimestamp,
});

export const AlertView = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ruleName: Type.String(),
  kind: AlertKindSchema,
  summary: Type.String(),
  subject: Type.String(),
  count: Type.Integer(),
  account: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  firstSeq: Type.Integer(),
  lastSeq: Type.Integer(),
  firedAt: Timestamp,
  acknowledgedAt: NullableTimestamp,
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  deliveries: Type.Array(DeliveryView),
});

export const AlertListQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1 to 200 (default 50)' })),
  },
  { additionalProperties: false },
);

export const IpRangesBody = Type.Object(
  { ranges: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }) },
  { additionalProperties: false },
);
export const IpRangesView = Type.Object({ ranges: Type.Array(Type.String()) });
