import type { AlertKind, WatchedEvent } from './alert.types.ts';
import type { IpRanges } from './ip-ranges.ts';

/**
 * The pure half of alerting: which events a rule watches, which lookback it needs, how the window
 * is bounded and when a burst is one occurrence. No I/O; the evaluator feeds it events from the log.
 */

/** Reads of file content, on every channel (web/API/WebDAV downloads and previews, share links). */
export const READ_ACTIONS: readonly string[] = ['file.download', 'file.view', 'share.download'];
/** A refused sign-in: a wrong password, the attempt that locks the account, attempts while locked. */
export const SIGN_IN_FAILURE_ACTIONS: readonly string[] = ['auth.sign_in', 'auth.account_locked'];
export const SIGN_IN_FAILURE_OUTCOMES: readonly string[] = ['failure', 'denied'];
/** Share-link use as the audit log records it (page views, unlocks, downloads, refusals). */
export const SHARE_LINK_ACTIONS: readonly string[] = [
  'share.view',
  'share.unlock',
  'share.download',
  'share.access',
];

export const RULE_LIMITS = {
  threshold: { min: 1, max: 10_000 },
  /** Ten seconds to one day: long enough to mean something, short enough to look back cheaply. */
  windowSeconds: { min: 10, max: 86_400 },
} as const;

export interface RuleDefaults {
  name: string;
  threshold: number;
  windowSeconds: number;
  /** What the threshold counts, for forms and messages. */
  explanation: string;
}

/** What a new rule of each kind starts with; the portal offers these. */
export const RULE_DEFAULTS: Record<AlertKind, RuleDefaults> = {
  bulk_download: {
    name: 'Many downloads by one account',
    threshold: 50,
    windowSeconds: 600,
    explanation: 'Fires when one account (or share link) reads more than this many files within the window.',
  },
  sign_in_failures: {
    name: 'Repeated sign-in failures',
    threshold: 10,
    windowSeconds: 900,
    explanation:
      'Fires at this many failed sign-ins for one account, or from one address, within the window.',
  },
  outside_ip_ranges: {
    name: 'Activity from outside the allowed IP ranges',
    threshold: 1,
    windowSeconds: 3600,
    explanation:
      'Fires when a member works from an address outside the allowed ranges; again for the same account and address only after a quiet window.',
  },
  share_link_many_ips: {
    name: 'Share link used from many addresses',
    threshold: 5,
    windowSeconds: 3600,
    explanation: 'Fires when one share link is used from this many different addresses within the window.',
  },
};

/** A lookback over the log: events of one subject in the window that ends at the current event. */
export interface WindowQuery {
  /** Exclusive lower bound on occurredAt: the window is (at - window, at]. */
  afterMs: number;
  /** Inclusive upper bound on seq: what the log held when the current event was written. */
  uptoSeq: number;
  actions: readonly string[];
  outcomes?: readonly string[];
  /** An account's own events, through a session or any of its API tokens. */
  accountId?: string;
  shareLinkId?: string;
  ip?: string;
}

export type Measure = 'distinct_files' | 'distinct_ips' | 'events';

/** One condition to test at one event. `query` is absent when the event alone decides (outside_ip_ranges). */
export interface Check {
  subject: string;
  measure: Measure;
  query?: WindowQuery;
  accountId?: string;
  shareLinkId?: string;
  ip?: string;
}

/** The account behind a member event: a user id, with the token part of `<user>/<token>` dropped. */
export function accountOf(event: Pick<WatchedEvent, 'actorType' | 'actorId'>): string | undefined {
  if ((event.actorType !== 'user' && event.actorType !== 'token') || !event.actorId) {
    return undefined;
  }
  return event.actorId.split('/')[0];
}

/** The window ending at `at`: (at - windowSeconds, at]. An event exactly one window old is outside. */
export function windowStart(at: number, windowSeconds: number): number {
  return at - windowSeconds * 1000;
}

export function isInWindow(occurredAt: number, at: number, windowSeconds: number): boolean {
  return occurredAt > windowStart(at, windowSeconds) && occurredAt <= at;
}

/**
 * The checks `event` triggers under `rule`, in order of preference (for sign-in failures, the account
 * before the address, so one burst against one account from one address is one alert, not two).
 * Alerting's own events (`alert.*`) never trigger a rule.
 */
export function checksFor(
  rule: { kind: AlertKind; windowSeconds: number },
  event: WatchedEvent,
  allowedRanges: IpRanges | undefined,
): Check[] {
  if (event.action.startsWith('alert.')) {
    return [];
  }
  const afterMs = windowStart(event.occurredAt, rule.windowSeconds);
  const base = { afterMs, uptoSeq: event.seq };
  const account = accountOf(event);
  switch (rule.kind) {
    case 'bulk_download': {
      if (!READ_ACTIONS.includes(event.action) || event.outcome !== 'success') {
        return [];
      }
      const query = { ...base, actions: READ_ACTIONS, outcomes: ['success'] };
      if (account) {
        return [
          {
            subject: `account:${account}`,
            measure: 'distinct_files',
            accountId: account,
            query: { ...query, accountId: account },
          },
        ];
      }
      if (event.actorType === 'share_link' && event.actorId) {
        const link = event.actorId;
        return [
          {
            subject: `share_link:${link}`,
            measure: 'distinct_files',
            shareLinkId: link,
            query: { ...query, shareLinkId: link },
          },
        ];
      }
      return [];
    }
    case 'sign_in_failures': {
      if (
        !SIGN_IN_FAILURE_ACTIONS.includes(event.action) ||
        !SIGN_IN_FAILURE_OUTCOMES.includes(event.outcome)
      ) {
        return [];
      }
      const query = { ...base, actions: SIGN_IN_FAILURE_ACTIONS, outcomes: SIGN_IN_FAILURE_OUTCOMES };
      const checks: Check[] = [];
      if (account) {
        checks.push({
          subject: `account:${account}`,
          measure: 'events',
          accountId: account,
          query: { ...query, accountId: account },
        });
      }
      if (event.ip) {
        checks.push({
          subject: `ip:${event.ip}`,
          measure: 'events',
          ip: event.ip,
          query: { ...query, ip: event.ip },
        });
      }
      return checks;
    }
    case 'outside_ip_ranges': {
      if (
        !account ||
        !event.ip ||
        !allowedRanges ||
        allowedRanges.isEmpty ||
        allowedRanges.contains(event.ip)
      ) {
        return [];
      }
      return [
        { subject: `account:${account}|ip:${event.ip}`, measure: 'events', accountId: account, ip: event.ip },
      ];
    }
    case 'share_link_many_ips': {
      if (event.actorType !== 'share_link' || !event.actorId || !event.ip) {
        return [];
      }
      const link = event.actorId;
      return [
        {
          subject: `share_link:${link}`,
          measure: 'distinct_ips',
          shareLinkId: link,
          query: { ...base, actions: SHARE_LINK_ACTIONS, shareLinkId: link },
        },
      ];
    }
  }
}

/** Applies `check`'s measure to the events of its window (the log may hand over a little more). */
export function measure(
  check: Check,
  events: readonly WatchedEvent[],
  at: number,
  windowSeconds: number,
): number {
  if (!check.query) {
    return 1;
  }
  const inWindow = events.filter(
    (e) => e.seq <= check.query!.uptoSeq && isInWindow(e.occurredAt, at, windowSeconds),
  );
  if (check.measure === 'events') {
    return inWindow.length;
  }
  const key = check.measure === 'distinct_files' ? 'targetId' : 'ip';
  return new Set(inWindow.map((e) => e[key]).filter((v) => v !== null)).size;
}

/** Bulk download fires above its threshold ("more than N files"); the others at it ("N failures"). */
export function isOverThreshold(kind: AlertKind, value: number, threshold: number): boolean {
  return kind === 'bulk_download' ? value > threshold : value >= threshold;
}

/**
 * Whether a condition holding at `at` is the same occurrence as an alert whose condition last held at
 * `lastAt`: yes until a whole window has passed without it ("until quiet again").
 */
export function continuesOccurrence(lastAt: number, at: number, windowSeconds: number): boolean {
  return at - lastAt < windowSeconds * 1000;
}

/** The occurrence key: the subject and the seq of the event at which it first held. Deterministic. */
export function dedupeKey(subject: string, seq: number): string {
  return `${subject}@${seq}`;
}

export function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0) {
    return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  }
  if (seconds % 60 === 0) {
    return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  }
  return `${seconds} seconds`;
}

/** One line saying what happened; an account label and an address at most, never file names. */
export function summarise(input: {
  kind: AlertKind;
  check: Check;
  count: number;
  windowSeconds: number;
  accountLabel?: string;
}): string {
  const { check, count } = input;
  const window = formatWindow(input.windowSeconds);
  const who =
    input.accountLabel ?? (check.shareLinkId ? `Share link …${check.shareLinkId.slice(-8)}` : 'Someone');
  switch (input.kind) {
    case 'bulk_download':
      return `${who} read ${count} files within ${window}`;
    case 'sign_in_failures':
      return check.accountId
        ? `${count} failed sign-ins for ${who} within ${window}`
        : `${count} failed sign-ins from ${check.ip ?? 'one address'} within ${window}`;
    case 'outside_ip_ranges':
      return `${who} was active from ${check.ip ?? 'an address'}, outside the allowed IP ranges`;
    case 'share_link_many_ips':
      return `${who} was used from ${count} different addresses within ${window}`;
  }
}
