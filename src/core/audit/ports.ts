import type { AuditEvent, AuditEventInput } from './audit.types.ts';

/**
 * The append-only activity log. `append` runs inside the caller's transaction so the event and the
 * change it records commit together or not at all.
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
