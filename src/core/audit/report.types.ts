/**
 * Activity reports over a tenant's log: what was done, by whom, from where, to which file. Filters
 * combine (AND); results are newest first and paged by `seq` (keyset), never by offset or COUNT.
 */

/** `exact` matches one action; `prefix` matches a family (`file.` → file.upload, file.download, …). */
export type ActionFilter = { kind: 'exact'; value: string } | { kind: 'prefix'; value: string };

export interface ReportFilter {
  /** Events about this file, across its versions, moves, renames and shares (audit_events.file_id). */
  fileId?: string;
  /** A user id (includes that user's API tokens) or one token actor `userId/tokenId`. */
  actorId?: string;
  ip?: string;
  action?: ActionFilter;
  /** Inclusive bounds on occurred_at, epoch ms. */
  from?: number;
  to?: number;
}

export interface ReportQuery {
  filter: ReportFilter;
  /** Entries with seq below this only (from the cursor). */
  beforeSeq?: number;
  limit: number;
}

/** One log entry as a report shows it, with display names resolved where cheap. */
export interface ReportEntry {
  seq: number;
  occurredAt: number;
  action: string;
  outcome: string;
  actorType: string;
  actorId: string | null;
  /** Display name and e-mail of the acting user, when that user is (still) a member of the tenant. */
  actorName: string | null;
  actorEmail: string | null;
  targetType: string | null;
  targetId: string | null;
  fileId: string | null;
  /** The file's current name, when it still exists in the tenant. */
  fileName: string | null;
  channel: string;
  /** Null once telemetry retention has expunged it. */
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
  /** The chain hash of this entry (null for entries written before the chain existed). */
  entryHash: string | null;
}

export interface ReportPage {
  entries: ReportEntry[];
  /** Opaque; pass back as `cursor` for the next (older) page. Null when there is none. */
  nextCursor: string | null;
}

/** A signed checkpoint: everything up to `seq` is pinned by `entryHash` and the signature. */
export interface ReportCheckpoint {
  seq: number;
  entryHash: string;
  createdAt: number;
  keyId: string;
  signature: string;
  /** The public half of the signing key (base64 SPKI DER or as stored), when known. */
  publicKey: string | null;
}
