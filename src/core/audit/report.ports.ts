import type { ReportCheckpoint, ReportEntry, ReportQuery } from './report.types.ts';

/** An entry as stored, before display names are resolved. */
export type ReportRow = Omit<ReportEntry, 'actorName' | 'actorEmail' | 'fileName'>;

/**
 * Reads a tenant's activity log for reports. Every method is scoped to one tenant: its log
 * (log id = tenant id) and, for name lookups, its own members and files only.
 */
export interface AuditReportRepository {
  /**
   * Entries matching the filter, newest first, below `beforeSeq` and at or below `upToSeq`, at most
   * `limit`. Each filter is answered through an index on (log_id, column, seq).
   */
  listEntries(tenantId: string, query: ReportQuery & { upToSeq?: number }): Promise<ReportRow[]>;
  /** The highest seq in the tenant's log (0 when empty). */
  findHeadSeq(tenantId: string): Promise<number>;
  /** The newest signed checkpoint of the tenant's log, with its public key when known. */
  findLatestCheckpoint(tenantId: string): Promise<ReportCheckpoint | undefined>;
  /** Display name and e-mail of those users who are members of the tenant. */
  findMemberNames(tenantId: string, userIds: string[]): Promise<Map<string, { name: string; email: string }>>;
  /** Current names of those nodes that still exist in the tenant. */
  findNodeNames(tenantId: string, nodeIds: string[]): Promise<Map<string, string>>;
}
