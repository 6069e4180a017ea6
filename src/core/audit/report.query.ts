import { isIP } from 'node:net';
import { BadRequestError } from '../shared/errors.ts';
import type { ActionFilter, ReportFilter, ReportQuery } from './report.types.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** A report query as it arrives from outside: every field an optional string. */
export interface RawReportQuery {
  file?: string;
  actor?: string;
  ip?: string;
  action?: string;
  from?: string;
  to?: string;
  cursor?: string;
  limit?: string;
}

/** The report query's parameters are malformed or contradictory; `details.field` names the culprit. */
export class InvalidReportQueryError extends BadRequestError {
  constructor(field: string, message: string) {
    super('invalid_report_query', message, { field });
  }
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** `file.download` (exact), `file.` or `file.*` (every action of that family). */
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const ACTION_PREFIX = /^([a-z][a-z0-9_]*\.)+$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;
const CURSOR_PREFIX = 'c1.';

/**
 * Turns outside input into a ReportQuery. Throws InvalidReportQueryError (400) naming the field for:
 * an id that is not one of ours, an action that is neither a name nor a `family.` prefix, an address
 * that is not IPv4/IPv6, an unreadable date, a period that ends before it starts, a cursor we did not
 * issue, a page size outside 1..500. Pure: no tenancy here; the repository scopes by log.
 */
export function parseReportQuery(raw: RawReportQuery): ReportQuery {
  const filter: ReportFilter = {};
  if (raw.file !== undefined) {
    filter.fileId = parseId('file', raw.file);
  }
  if (raw.actor !== undefined) {
    filter.actorId = parseActor(raw.actor);
  }
  if (raw.ip !== undefined) {
    filter.ip = parseIp(raw.ip);
  }
  if (raw.action !== undefined) {
    filter.action = parseAction(raw.action);
  }
  if (raw.from !== undefined) {
    filter.from = parseTime('from', raw.from, 'start');
  }
  if (raw.to !== undefined) {
    filter.to = parseTime('to', raw.to, 'end');
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new InvalidReportQueryError(
      'to',
      'The period ends before it starts: "to" must not be before "from".',
    );
  }
  return {
    filter,
    beforeSeq: raw.cursor === undefined ? undefined : decodeCursor(raw.cursor),
    limit: parseLimit(raw.limit),
  };
}

/** An opaque, versioned cursor: the seq the next page must stay below. */
export function encodeCursor(beforeSeq: number): string {
  return CURSOR_PREFIX + Buffer.from(String(beforeSeq), 'utf8').toString('base64url');
}

/** Reads a cursor made by encodeCursor; anything else is refused. */
export function decodeCursor(cursor: string): number {
  const bad = () => new InvalidReportQueryError('cursor', 'The cursor is not one this server issued.');
  if (!cursor.startsWith(CURSOR_PREFIX) || cursor.length > 40) {
    throw bad();
  }
  const text = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  if (!/^[1-9]\d{0,15}$/.test(text) || encodeCursor(Number(text)) !== cursor) {
    throw bad();
  }
  return Number(text);
}

/** The filter as plain facts, for the export's audit event and the printed report's header. */
export function describeFilter(filter: ReportFilter): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (filter.fileId) {
    out.file = filter.fileId;
  }
  if (filter.actorId) {
    out.actor = filter.actorId;
  }
  if (filter.ip) {
    out.ip = filter.ip;
  }
  if (filter.action) {
    out.action = filter.action.kind === 'prefix' ? `${filter.action.value}*` : filter.action.value;
  }
  if (filter.from !== undefined) {
    out.from = filter.from;
  }
  if (filter.to !== undefined) {
    out.to = filter.to;
  }
  return out;
}

function parseId(field: string, value: string): string {
  if (!ID.test(value)) {
    throw new InvalidReportQueryError(field, `"${field}" must be an id issued by Custodia.`);
  }
  return value;
}

function parseActor(value: string): string {
  const [user = '', token, ...rest] = value.split('/');
  if (rest.length > 0 || !ID.test(user) || (token !== undefined && !ID.test(token))) {
    throw new InvalidReportQueryError(
      'actor',
      '"actor" must be a user id (or userId/tokenId for one API token).',
    );
  }
  return value;
}

function parseIp(value: string): string {
  if (value.length > 64 || isIP(value) === 0) {
    throw new InvalidReportQueryError('ip', '"ip" must be an IPv4 or IPv6 address.');
  }
  // IPv6 is compared in the lower case Node's request.ip gives.
  return value.toLowerCase();
}

function parseAction(value: string): ActionFilter {
  const prefix = value.endsWith('*') ? value.slice(0, -1) : value;
  if (prefix.length <= 100 && ACTION_PREFIX.test(prefix)) {
    return { kind: 'prefix', value: prefix };
  }
  if (value.length <= 100 && ACTION.test(value)) {
    return { kind: 'exact', value };
  }
  throw new InvalidReportQueryError(
    'action',
    '"action" must be an action name such as file.download, or a family such as file. or file.*',
  );
}

/**
 * Epoch milliseconds, an ISO date (UTC day: `from` takes its first millisecond, `to` its last) or
 * an ISO date-time with a zone.
 */
function parseTime(field: 'from' | 'to', value: string, edge: 'start' | 'end'): number {
  let ms = Number.NaN;
  if (/^\d{1,15}$/.test(value)) {
    ms = Number(value);
  } else if (DATE_ONLY.test(value)) {
    const day = Date.parse(`${value}T00:00:00Z`);
    // Date.parse rolls 2026-02-30 over to March: only a day that reads back the same is real.
    const isReal = Number.isFinite(day) && new Date(day).toISOString().slice(0, 10) === value;
    ms = isReal ? day + (edge === 'end' ? DAY_MS - 1 : 0) : Number.NaN;
  } else if (DATE_TIME.test(value)) {
    ms = Date.parse(value);
  }
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new InvalidReportQueryError(
      field,
      `"${field}" must be a date (2026-11-22), a date and time with a zone (2026-11-22T10:00:00Z) or epoch milliseconds.`,
    );
  }
  return ms;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) {
    return DEFAULT_PAGE_SIZE;
  }
  const n = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE)) {
    throw new InvalidReportQueryError('limit', `"limit" must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  }
  return n;
}
