import type { Actor, Channel } from '../shared/context.ts';

/** The operator's own log lives beside the tenants' logs (named by tenant id) under this id. */
export const OPERATOR_LOG_ID = 'operator';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** One thing that happened, as the domain describes it. The writer adds order, time and hashes. */
export interface AuditEventInput {
  /** null for the operator's own log (tenant lifecycle, operator sign-ins, key rotation). */
  tenantId: string | null;
  action: string;
  outcome?: AuditOutcome;
  actorType: 'user' | 'token' | 'system' | 'anonymous' | 'share_link';
  actorId?: string;
  targetType?: string;
  targetId?: string;
  /**
   * The file the event concerns, for "everything done with this file" reports. Defaults to
   * targetId when targetType is 'file'; set it when the target is something else about a file.
   */
  fileId?: string;
  channel: Channel;
  ip?: string;
  userAgent?: string;
  /** Structured facts (ids, sizes, names). Never passwords, tokens, keys or file contents. */
  details?: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  id: string;
  seq: number;
  occurredAt: number;
  outcome: AuditOutcome;
}

/** Builds the actor/channel part of an event from the acting context. */
export function auditOrigin(
  actor: Actor,
): Pick<AuditEventInput, 'actorType' | 'actorId' | 'channel' | 'ip' | 'userAgent'> {
  const base = { channel: actor.channel, ip: actor.ip, userAgent: actor.userAgent };
  if (actor.kind === 'member') {
    return {
      ...base,
      actorType: actor.tokenId ? 'token' : 'user',
      actorId: actor.tokenId ? `${actor.userId}/${actor.tokenId}` : actor.userId,
    };
  }
  if (actor.kind === 'operator') {
    return { ...base, actorType: 'user', actorId: actor.userId };
  }
  return { ...base, actorType: 'system' };
}
