import type { Kysely, Selectable } from 'kysely';
import type {
  AlertDelivery,
  AlertDetails,
  AlertKind,
  AlertRule,
  AlertWithDeliveries,
  DeliveryChannel,
  DeliveryStatus,
  FiredAlert,
  WatchedEvent,
} from '../../../core/alerts/alert.types.ts';
import type { AlertRepository } from '../../../core/alerts/ports.ts';
import type { WindowQuery } from '../../../core/alerts/rules.ts';
import type { DialectName } from '../database.ts';
import type { AlertDeliveryTable, AlertRuleTable, AlertTable, Database } from '../tables.ts';

/** Most rows a lookback reads: twice the highest threshold, room for repeated reads of one file. */
const WINDOW_ROWS = 20_000;

const EVENT_COLUMNS = [
  'seq',
  'occurred_at',
  'action',
  'outcome',
  'actor_type',
  'actor_id',
  'target_id',
  'ip',
] as const;

/** Alert rules, cursors, fired alerts and deliveries over Kysely (both dialects). */
export class KyselyAlertRepository implements AlertRepository {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;

  constructor(db: Kysely<Database>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  async insertRule(rule: AlertRule): Promise<void> {
    await this.#db.insertInto('alert_rules').values(toRuleRow(rule)).execute();
  }

  async updateRule(tenantId: string, id: string, patch: Parameters<AlertRepository['updateRule']>[2]) {
    const row = toRuleRow({ ...emptyRule(), ...patch });
    const changes: Partial<Selectable<AlertRuleTable>> = {};
    for (const [key, column] of RULE_COLUMNS) {
      if (key in patch) {
        Object.assign(changes, { [column]: row[column] });
      }
    }
    await this.#db
      .updateTable('alert_rules')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async deleteRule(tenantId: string, id: string): Promise<void> {
    await this.#db.deleteFrom('alert_rules').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  async findRule(tenantId: string, id: string): Promise<AlertRule | undefined> {
    const row = await this.#db
      .selectFrom('alert_rules')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toRule(row) : undefined;
  }

  async listRules(tenantId: string): Promise<AlertRule[]> {
    const rows = await this.#db
      .selectFrom('alert_rules')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRule);
  }

  async getAllowedIpRanges(tenantId: string): Promise<string[]> {
    const row = await this.#db
      .selectFrom('tenants')
      .select('allowed_ip_ranges')
      .where('id', '=', tenantId)
      .executeTakeFirst();
    return row?.allowed_ip_ranges ? (JSON.parse(row.allowed_ip_ranges) as string[]) : [];
  }

  async setAllowedIpRanges(tenantId: string, ranges: string[]): Promise<void> {
    await this.#db
      .updateTable('tenants')
      .set({ allowed_ip_ranges: ranges.length > 0 ? JSON.stringify(ranges) : null })
      .where('id', '=', tenantId)
      .execute();
  }

  async accountLabel(userId: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .select(['display_name', 'email'])
      .where('id', '=', userId)
      .executeTakeFirst();
    return row ? `${row.display_name} <${row.email}>` : undefined;
  }

  async listTenantsWithRulesForAllTenants(): Promise<string[]> {
    const rows = await this.#db.selectFrom('alert_rules').select('tenant_id').distinct().execute();
    return rows.map((r) => r.tenant_id);
  }

  async headSeq(logId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('audit_heads')
      .select('seq')
      .where('log_id', '=', logId)
      .executeTakeFirst();
    return row ? Number(row.seq) : 0;
  }

  async resetCursor(logId: string, seq: number, now: number): Promise<void> {
    await this.#db
      .insertInto('alert_cursors')
      .values({ log_id: logId, last_seq: seq, updated_at: now })
      .onConflict((oc) => oc.column('log_id').doUpdateSet({ last_seq: seq, updated_at: now }))
      .execute();
  }

  async lockCursor(logId: string): Promise<number | undefined> {
    let query = this.#db.selectFrom('alert_cursors').select('last_seq').where('log_id', '=', logId);
    if (this.#dialect === 'postgres') {
      // Another node evaluating this log right now holds the row: skip it rather than wait and redo.
      query = query.forUpdate().skipLocked();
    }
    const row = await query.executeTakeFirst();
    return row ? Number(row.last_seq) : undefined;
  }

  async advanceCursor(logId: string, seq: number, now: number): Promise<void> {
    await this.#db
      .updateTable('alert_cursors')
      .set({ last_seq: seq, updated_at: now })
      .where('log_id', '=', logId)
      .execute();
  }

  async readEvents(logId: string, afterSeq: number, limit: number): Promise<WatchedEvent[]> {
    const rows = await this.#db
      .selectFrom('audit_events')
      .select(EVENT_COLUMNS)
      .where('log_id', '=', logId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toWatched);
  }

  async windowEvents(logId: string, query: WindowQuery): Promise<WatchedEvent[]> {
    let q = this.#db
      .selectFrom('audit_events')
      .select(EVENT_COLUMNS)
      .where('log_id', '=', logId)
      .where('seq', '<=', query.uptoSeq)
      .where('occurred_at', '>', query.afterMs)
      .where('action', 'in', [...query.actions]);
    if (query.outcomes) {
      q = q.where('outcome', 'in', [...query.outcomes]);
    }
    if (query.accountId) {
      // The account itself (sessions) or one of its API tokens (`<user>/<token>`); ids are UUIDs, so
      // the LIKE pattern holds no wildcard of the caller's.
      const accountId = query.accountId;
      q = q
        .where('actor_type', 'in', ['user', 'token'])
        .where((eb) => eb.or([eb('actor_id', '=', accountId), eb('actor_id', 'like', `${accountId}/%`)]));
    }
    if (query.shareLinkId) {
      q = q.where('actor_type', '=', 'share_link').where('actor_id', '=', query.shareLinkId);
    }
    if (query.ip) {
      q = q.where('ip', '=', query.ip);
    }
    // The newest rows suffice: the count only has to reach the threshold (at most 10,000).
    const rows = await q.orderBy('seq', 'desc').limit(WINDOW_ROWS).execute();
    return rows.map(toWatched).reverse();
  }

  async findLatestAlert(tenantId: string, ruleId: string, subject: string): Promise<FiredAlert | undefined> {
    const row = await this.#db
      .selectFrom('alerts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('rule_id', '=', ruleId)
      .where('subject', '=', subject)
      .orderBy('last_seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toAlert(row) : undefined;
  }

  async insertAlert(alert: FiredAlert): Promise<boolean> {
    const result = await this.#db
      .insertInto('alerts')
      .values({
        id: alert.id,
        tenant_id: alert.tenantId,
        rule_id: alert.ruleId,
        kind: alert.kind,
        dedupe_key: alert.dedupeKey,
        subject: alert.subject,
        summary: alert.summary,
        details: JSON.stringify(alert.details),
        first_seq: alert.firstSeq,
        last_seq: alert.lastSeq,
        fired_at: alert.firedAt,
        acknowledged_at: null,
        acknowledged_by: null,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'rule_id', 'dedupe_key']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async extendAlert(tenantId: string, id: string, lastSeq: number, details: AlertDetails): Promise<void> {
    await this.#db
      .updateTable('alerts')
      .set({ last_seq: lastSeq, details: JSON.stringify(details) })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async findAlert(tenantId: string, id: string): Promise<FiredAlert | undefined> {
    const row = await this.#db
      .selectFrom('alerts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toAlert(row) : undefined;
  }

  async listAlerts(tenantId: string, limit: number): Promise<AlertWithDeliveries[]> {
    const rows = await this.#db
      .selectFrom('alerts')
      .leftJoin('alert_rules', (j) =>
        j
          .onRef('alert_rules.id', '=', 'alerts.rule_id')
          .onRef('alert_rules.tenant_id', '=', 'alerts.tenant_id'),
      )
      .selectAll('alerts')
      .select('alert_rules.name as rule_name')
      .where('alerts.tenant_id', '=', tenantId)
      .orderBy('alerts.fired_at', 'desc')
      .orderBy('alerts.id', 'desc')
      .limit(limit)
      .execute();
    if (rows.length === 0) {
      return [];
    }
    const deliveries = await this.#db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where(
        'alert_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      ...toAlert(row),
      ruleName: row.rule_name ?? '(deleted rule)',
      deliveries: deliveries.filter((d) => d.alert_id === row.id).map(toDelivery),
    }));
  }

  async acknowledgeAlert(tenantId: string, id: string, by: string, at: number): Promise<void> {
    await this.#db
      .updateTable('alerts')
      .set({ acknowledged_at: at, acknowledged_by: by })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('acknowledged_at', 'is', null)
      .execute();
  }

  async insertDelivery(d: AlertDelivery): Promise<void> {
    await this.#db
      .insertInto('alert_deliveries')
      .values({
        id: d.id,
        tenant_id: d.tenantId,
        alert_id: d.alertId,
        channel: d.channel,
        target: d.target,
        status: d.status,
        attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt,
        last_error: d.lastError,
        delivered_at: d.deliveredAt,
        created_at: d.createdAt,
      })
      .execute();
  }

  async claimDueDeliveriesForAllTenants(
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<AlertDelivery[]> {
    let query = this.#db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit);
    if (this.#dialect === 'postgres') {
      query = query.forUpdate().skipLocked();
    }
    const rows = await query.execute();
    if (rows.length === 0) {
      return [];
    }
    await this.#db
      .updateTable('alert_deliveries')
      .set({ next_attempt_at: now + leaseMs })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map(toDelivery);
  }

  async recordAttempt(
    tenantId: string,
    id: string,
    result: Parameters<AlertRepository['recordAttempt']>[2],
  ): Promise<void> {
    await this.#db
      .updateTable('alert_deliveries')
      .set({
        status: result.status,
        attempts: result.attempts,
        next_attempt_at: result.nextAttemptAt,
        last_error: result.lastError,
        delivered_at: result.deliveredAt,
      })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }
}

const RULE_COLUMNS: ReadonlyArray<[keyof AlertRule, keyof AlertRuleTable]> = [
  ['name', 'name'],
  ['threshold', 'threshold'],
  ['windowSeconds', 'window_seconds'],
  ['isEnabled', 'enabled'],
  ['webhookUrl', 'webhook_url'],
  ['webhookSecretEnc', 'webhook_secret_enc'],
  ['emailTo', 'email_to'],
  ['updatedAt', 'updated_at'],
];

function emptyRule(): AlertRule {
  return {
    id: '',
    tenantId: '',
    kind: 'bulk_download',
    name: '',
    threshold: 0,
    windowSeconds: 0,
    isEnabled: true,
    webhookUrl: null,
    webhookSecretEnc: null,
    emailTo: [],
    createdBy: null,
    createdAt: 0,
    updatedAt: 0,
  };
}

function toRuleRow(rule: AlertRule) {
  return {
    id: rule.id,
    tenant_id: rule.tenantId,
    kind: rule.kind,
    name: rule.name,
    threshold: rule.threshold,
    window_seconds: rule.windowSeconds,
    enabled: rule.isEnabled ? 1 : 0,
    webhook_url: rule.webhookUrl,
    webhook_secret_enc: rule.webhookSecretEnc,
    email_to: rule.emailTo.length > 0 ? rule.emailTo.join(',') : null,
    created_by: rule.createdBy,
    created_at: rule.createdAt,
    updated_at: rule.updatedAt,
  };
}

function toRule(row: Selectable<AlertRuleTable>): AlertRule {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as AlertKind,
    name: row.name,
    threshold: Number(row.threshold),
    windowSeconds: Number(row.window_seconds),
    isEnabled: Number(row.enabled) === 1,
    webhookUrl: row.webhook_url,
    webhookSecretEnc: row.webhook_secret_enc,
    emailTo: row.email_to ? row.email_to.split(',') : [],
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toAlert(row: Selectable<AlertTable>): FiredAlert {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    ruleId: row.rule_id,
    kind: row.kind as AlertKind,
    dedupeKey: row.dedupe_key,
    subject: row.subject,
    summary: row.summary,
    details: JSON.parse(row.details ?? '{}') as AlertDetails,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    firedAt: Number(row.fired_at),
    acknowledgedAt: row.acknowledged_at === null ? null : Number(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
  };
}

function toDelivery(row: Selectable<AlertDeliveryTable>): AlertDelivery {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    alertId: row.alert_id,
    channel: row.channel as DeliveryChannel,
    target: row.target,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at),
    lastError: row.last_error,
    deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
    createdAt: Number(row.created_at),
  };
}

function toWatched(row: {
  seq: number;
  occurred_at: number;
  action: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  target_id: string | null;
  ip: string | null;
}): WatchedEvent {
  return {
    seq: Number(row.seq),
    occurredAt: Number(row.occurred_at),
    action: row.action,
    outcome: row.outcome,
    actorType: row.actor_type,
    actorId: row.actor_id,
    targetId: row.target_id,
    ip: row.ip,
  };
}
