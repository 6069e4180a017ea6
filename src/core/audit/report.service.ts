import { FileAccess } from '../files/files.access.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { auditOrigin } from './audit.types.ts';
import { describeFilter, encodeCursor, parseReportQuery, type RawReportQuery } from './report.query.ts';
import type { AuditReportRepository, ReportRow } from './report.ports.ts';
import type { ReportCheckpoint, ReportEntry, ReportFilter, ReportPage, ReportQuery } from './report.types.ts';

export type ExportFormat = 'csv' | 'json' | 'html';

/** An export ready to stream: its header facts and the entries, read page by page as they are sent. */
export interface ReportExport {
  tenantName: string;
  filter: ReportFilter;
  generatedAt: number;
  /** Entries are listed up to this seq (the checkpoint's for the printable report, else the head). */
  upToSeq: number;
  checkpoint: ReportCheckpoint | undefined;
  /** How many entries `entries` yields at most (PRINT_LIMIT for html, else Infinity). */
  printLimit: number;
  entries: AsyncIterable<ReportEntry>;
}

/** The printable report lists at most this many entries; the CSV and JSON exports have no limit. */
export const PRINT_LIMIT = 2000;
const EXPORT_PAGE = 500;

/**
 * Activity reports for a tenant's owners, admins and compliance officers (capability audit.read):
 * pages for the portal and API, streamed exports, and the printable report cut at the latest signed
 * checkpoint. Every export is itself recorded (audit.export) before its first byte leaves.
 */
export class ReportService {
  readonly #reports: AuditReportRepository;
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(deps: { reports: AuditReportRepository; store: Store; clock: Clock }) {
    this.#reports = deps.reports;
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** One page of the actor's tenant log. Throws NotAllowedError, InvalidReportQueryError. */
  async listEvents(actor: TenantActor, raw: RawReportQuery): Promise<ReportPage> {
    requireAuditRead(actor);
    return this.#page(actor.tenantId, parseReportQuery(raw));
  }

  /**
   * The history of one live file the actor can see. Missing, trashed and other tenants' files all
   * answer NodeNotFoundError; the history of a deleted file stays reachable via listEvents(file=).
   */
  async listFileActivity(actor: TenantActor, fileId: string, raw: RawReportQuery): Promise<ReportPage> {
    requireAuditRead(actor);
    const query = parseReportQuery({ ...raw, file: undefined });
    await new FileAccess(this.#store.repos).readable(actor, fileId);
    return this.#page(actor.tenantId, { ...query, filter: { ...query.filter, fileId } });
  }

  /**
   * Every matching entry up to now (csv, json), or up to the latest signed checkpoint, at most
   * PRINT_LIMIT of them (html). Records audit.export with the filter first. The cursor and limit of
   * the query are ignored: an export is always complete.
   */
  async exportEvents(actor: TenantActor, raw: RawReportQuery, format: ExportFormat): Promise<ReportExport> {
    requireAuditRead(actor);
    const { filter } = parseReportQuery({ ...raw, cursor: undefined, limit: undefined });
    const [headSeq, checkpoint, tenant] = await Promise.all([
      this.#reports.findHeadSeq(actor.tenantId),
      this.#reports.findLatestCheckpoint(actor.tenantId),
      this.#store.repos.tenants.findById(actor.tenantId),
    ]);
    const isCut = format === 'html' && checkpoint !== undefined;
    const upToSeq = isCut ? checkpoint.seq : headSeq;
    await this.#store.withTransaction((tx) =>
      tx.audit.append({
        tenantId: actor.tenantId,
        ...auditOrigin(actor),
        action: 'audit.export',
        targetType: 'audit_log',
        targetId: actor.tenantId,
        details: { format, filter: describeFilter(filter), upToSeq },
      }),
    );
    const printLimit = format === 'html' ? PRINT_LIMIT : Infinity;
    return {
      tenantName: tenant?.name ?? actor.tenantId,
      filter,
      generatedAt: this.#clock.now(),
      upToSeq,
      checkpoint,
      printLimit,
      entries: this.#stream(actor.tenantId, filter, upToSeq, printLimit),
    };
  }

  async #page(tenantId: string, query: ReportQuery): Promise<ReportPage> {
    // One row more than asked tells whether another page exists, without counting.
    const rows = await this.#reports.listEntries(tenantId, { ...query, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      entries: await this.#resolve(tenantId, page),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  async *#stream(
    tenantId: string,
    filter: ReportFilter,
    upToSeq: number,
    max: number,
  ): AsyncGenerator<ReportEntry> {
    let beforeSeq = upToSeq + 1;
    let sent = 0;
    while (sent < max) {
      const limit = Math.min(EXPORT_PAGE, max - sent);
      const rows = await this.#reports.listEntries(tenantId, { filter, beforeSeq, limit });
      yield* await this.#resolve(tenantId, rows);
      sent += rows.length;
      const last = rows.at(-1);
      if (!last || rows.length < limit) {
        return;
      }
      beforeSeq = last.seq;
    }
  }

  /** One batched lookup per page for people and one for files, both within the tenant. */
  async #resolve(tenantId: string, rows: ReportRow[]): Promise<ReportEntry[]> {
    const userIds = new Set<string>();
    const fileIds = new Set<string>();
    for (const row of rows) {
      const userId = row.actorId?.split('/')[0];
      if (userId && (row.actorType === 'user' || row.actorType === 'token')) {
        userIds.add(userId);
      }
      if (row.fileId) {
        fileIds.add(row.fileId);
      }
    }
    const [people, files] = await Promise.all([
      userIds.size > 0
        ? this.#reports.findMemberNames(tenantId, [...userIds])
        : new Map<string, { name: string; email: string }>(),
      fileIds.size > 0 ? this.#reports.findNodeNames(tenantId, [...fileIds]) : new Map<string, string>(),
    ]);
    return rows.map((row) => {
      const person = row.actorId ? people.get(row.actorId.split('/')[0] ?? '') : undefined;
      return {
        ...row,
        actorName: person?.name ?? null,
        actorEmail: person?.email ?? null,
        fileName: (row.fileId && files.get(row.fileId)) || null,
      };
    });
  }
}

function requireAuditRead(actor: TenantActor): void {
  if (!hasCapability(actor.role, 'audit.read')) {
    throw new NotAllowedError('read the activity log');
  }
}
