import type { Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { AlertDetails, AlertRule, FiredAlert, WatchedEvent } from './alert.types.ts';
import { ipRanges, type IpRanges } from './ip-ranges.ts';
import type { AlertRepos, AlertStore } from './ports.ts';
import {
  checksFor,
  continuesOccurrence,
  dedupeKey,
  isInWindow,
  isOverThreshold,
  measure,
  summarise,
  type Check,
} from './rules.ts';

const BATCH = 500;

/**
 * Reads each tenant's activity log from where it stopped (alert_cursors) and fires alerts.
 *
 * Exactly once: each batch is one transaction that locks the log's cursor, reads the events after
 * it, inserts the alerts and their deliveries and moves the cursor on, so a crash repeats the batch
 * whole and a second evaluator (another node) skips a log that is being read. An occurrence is keyed
 * by its subject and the seq of the event where the condition first held; while the condition keeps
 * holding within a window of the last time it held, that same alert is extended instead of a new one
 * fired ("until quiet again"). The unique index on (tenant, rule, key) backs this up.
 */
export class AlertEvaluator {
  readonly #store: AlertStore;
  readonly #clock: Clock;

  constructor(deps: { store: AlertStore; clock: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** One pass over every tenant with rules. Idempotent and safe to run on several nodes at once. */
  async evaluateAll(): Promise<{ events: number; fired: number }> {
    const total = { events: 0, fired: 0 };
    for (const tenantId of await this.#store.repos.alerts.listTenantsWithRulesForAllTenants()) {
      for (;;) {
        const batch = await this.evaluateLog(tenantId);
        total.events += batch.events;
        total.fired += batch.fired;
        if (batch.events < BATCH) {
          break;
        }
      }
    }
    return total;
  }

  /** Evaluates the next batch of one tenant's log, in one transaction. */
  async evaluateLog(tenantId: string): Promise<{ events: number; fired: number }> {
    return this.#store.withTransaction(async (tx) => {
      const cursor = await tx.alerts.lockCursor(tenantId);
      if (cursor === undefined) {
        return { events: 0, fired: 0 };
      }
      const events = await tx.alerts.readEvents(tenantId, cursor, BATCH);
      const last = events.at(-1);
      if (!last) {
        return { events: 0, fired: 0 };
      }
      const rules = (await tx.alerts.listRules(tenantId)).filter((r) => r.isEnabled);
      const ranges = rules.some((r) => r.kind === 'outside_ip_ranges')
        ? ipRanges(await tx.alerts.getAllowedIpRanges(tenantId))
        : undefined;
      let fired = 0;
      for (const event of events) {
        for (const rule of rules) {
          // A new rule judges what happens from its creation on, not the history before it.
          if (event.occurredAt >= rule.createdAt && (await this.#evaluate(tx, rule, event, ranges))) {
            fired++;
          }
        }
      }
      await tx.alerts.advanceCursor(tenantId, last.seq, this.#clock.now());
      return { events: events.length, fired };
    });
  }

  /**
   * Tests `rule` at `event`; fires (true) or extends an open occurrence (false). While an occurrence
   * is open (its subject did the watched thing less than a window ago) every such event extends it
   * without a lookback, so a long burst costs one small query per event instead of re-reading the
   * whole window each time.
   */
  async #evaluate(
    tx: AlertRepos,
    rule: AlertRule,
    event: WatchedEvent,
    ranges: IpRanges | undefined,
  ): Promise<boolean> {
    for (const check of checksFor(rule, event, ranges)) {
      const previous = await tx.alerts.findLatestAlert(rule.tenantId, rule.id, check.subject);
      if (previous && continuesOccurrence(previous.details.lastAt, event.occurredAt, rule.windowSeconds)) {
        await tx.alerts.extendAlert(rule.tenantId, previous.id, Math.max(previous.lastSeq, event.seq), {
          ...previous.details,
          lastAt: Math.max(previous.details.lastAt, event.occurredAt),
        });
        return false;
      }
      const window = check.query ? await tx.alerts.windowEvents(rule.tenantId, check.query) : [];
      const count = measure(check, window, event.occurredAt, rule.windowSeconds);
      if (!isOverThreshold(rule.kind, count, rule.threshold)) {
        continue;
      }
      const firstSeq = Math.min(
        event.seq,
        ...window
          .filter((e) => isInWindow(e.occurredAt, event.occurredAt, rule.windowSeconds))
          .map((e) => e.seq),
      );
      return this.#fire(tx, rule, event, check, { count, firstSeq });
    }
    return false;
  }

  async #fire(
    tx: AlertRepos,
    rule: AlertRule,
    event: WatchedEvent,
    check: Check,
    { count, firstSeq }: { count: number; firstSeq: number },
  ): Promise<boolean> {
    const now = this.#clock.now();
    const account = check.accountId ? await tx.alerts.accountLabel(check.accountId) : undefined;
    const details: AlertDetails = {
      count,
      threshold: rule.threshold,
      windowSeconds: rule.windowSeconds,
      lastAt: event.occurredAt,
      ...(check.accountId ? { accountId: check.accountId, account } : {}),
      ...(check.ip ? { ip: check.ip } : {}),
      ...(check.shareLinkId ? { shareLinkId: check.shareLinkId } : {}),
    };
    const alert: FiredAlert = {
      id: newId(),
      tenantId: rule.tenantId,
      ruleId: rule.id,
      kind: rule.kind,
      dedupeKey: dedupeKey(check.subject, event.seq),
      subject: check.subject,
      summary: summarise({
        kind: rule.kind,
        check,
        count,
        windowSeconds: rule.windowSeconds,
        accountLabel: account,
      }),
      details,
      firstSeq,
      lastSeq: event.seq,
      firedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
    };
    if (!(await tx.alerts.insertAlert(alert))) {
      return false;
    }
    const channels = [
      ...(rule.webhookUrl ? [{ channel: 'webhook' as const, target: rule.webhookUrl }] : []),
      ...(rule.emailTo.length > 0 ? [{ channel: 'email' as const, target: rule.emailTo.join(', ') }] : []),
    ];
    for (const { channel, target } of channels) {
      await tx.alerts.insertDelivery({
        id: newId(),
        tenantId: rule.tenantId,
        alertId: alert.id,
        channel,
        target,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        lastError: null,
        deliveredAt: null,
        createdAt: now,
      });
    }
    // Written by the system with no address or account, so no rule ever counts it (checksFor skips alert.*).
    await tx.audit.append({
      tenantId: rule.tenantId,
      action: 'alert.fired',
      actorType: 'system',
      channel: 'system',
      targetType: 'alert',
      targetId: alert.id,
      details: { ruleId: rule.id, kind: rule.kind, subject: check.subject, count, triggerSeq: event.seq },
    });
    return true;
  }
}
