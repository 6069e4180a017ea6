import type { AuditEvent, AuditEventInput } from './audit.types.ts';
import type { Checkpoint, StoredEntry } from './chain.ts';
import type { ChainRange, ChainRangeVerification } from './chain-range.ts';

/**
 * The append-only activity log. `append` inside a transaction joins it, so the event and the change
 * it records commit together or not at all. Outside one (an event that records no change: a read,
 * a failed attempt) it may be written in a batch with other such events; it resolves only once
 * the event is committed.
 */
export interface AuditLog {
  append(event: AuditEventInput): Promise<void>;
}

export interface AuditQuery {
  tenantId: string | null;
  targetId?: string;
  actorId?: string;
  action?: string;
  beforeSeq?: number;
  limit: number;
}

export interface AuditReader {
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

/** A public checkpoint-signing key as recorded beside the logs (the private seed is in the key store). */
export interface SigningKeyRecord {
  keyId: string;
  publicKeyPem: string;
  createdAt: number;
  retiredAt: number | null;
}

/**
 * The chain-level store of the activity logs, per log id (a tenant id or 'operator'). Reads are
 * plain: verification must see exactly what is stored, tampering included.
 */
export interface AuditChainStore {
  /**
   * The entries with afterSeq < seq <= afterSeq + span, in seq order (keyset paging by seq range:
   * an index range scan whatever the planner's statistics; fewer rows where entries are missing).
   */
  listEntries(logId: string, afterSeq: number, span: number): Promise<StoredEntry[]>;
  /** The highest seq stored in the log (0 when empty), whatever the head says. */
  findLastSeq(logId: string): Promise<number>;
  /**
   * The log's last committed seq and entry hash, after any append in flight has committed (on
   * PostgreSQL it waits for the head's row lock), or undefined for an empty log.
   */
  readHead(logId: string): Promise<{ seq: number; entryHash: string } | undefined>;
  listCheckpoints(logId: string): Promise<Checkpoint[]>;
  findLastCheckpoint(logId: string): Promise<Checkpoint | undefined>;
  /** false when the log already has a checkpoint at that seq. */
  insertCheckpoint(checkpoint: Checkpoint): Promise<boolean>;
  /** Logs with entries after their last checkpoint; jobs only. */
  listLogsAwaitingCheckpointForAllLogs(): Promise<string[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Erases ip, user agent and salt of entries that occurred before `occurredBefore`; returns how many. */
  expireTelemetry(logId: string, options: { occurredBefore: number; now: number }): Promise<number>;
}

/**
 * Verifies seq ranges of a log where they are read: each on a thread of its own with a database
 * connection of its own (verifyChainRange there), so that reading and hashing a large log run on
 * every core at once and no entry is copied between threads.
 */
export interface ChainRangeVerifier {
  /** How many ranges are worth running at once (the cores to use). */
  readonly parallelism: number;
  /** `publicKeys`: the checkpoint-signing keys as PEM by key id. Aborting stops the range. */
  verifyRange(
    range: ChainRange,
    publicKeys: Array<[string, string]>,
    signal: AbortSignal,
  ): Promise<ChainRangeVerification>;
}

/** A tenant's telemetry retention and forensic hold (columns of the tenant). */
export interface TelemetryPolicy {
  tenantId: string;
  /** Days IP addresses and user agents stay in the tenant's log (30–90). */
  retentionDays: number;
  /** While set, telemetry is kept (an investigation needs it). */
  forensicHold: { since: number; reason: string } | null;
}

export interface TelemetryPolicyRepository {
  find(tenantId: string): Promise<TelemetryPolicy | undefined>;
  setRetentionDays(tenantId: string, days: number): Promise<void>;
  setForensicHold(tenantId: string, hold: TelemetryPolicy['forensicHold']): Promise<void>;
  /** Every tenant's policy; jobs only. */
  listForAllTenants(): Promise<TelemetryPolicy[]>;
}
