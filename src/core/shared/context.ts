/**
 * Who is acting, for which tenant, through which channel and from where. Every service call that reads
 * or changes tenant data takes one of these, and every audit event is built from it.
 */
export type MemberRole = 'owner' | 'admin' | 'compliance_officer' | 'member' | 'guest';
export type Channel = 'web' | 'api' | 'webdav' | 'share_link' | 'cli' | 'system';

export interface RequestOrigin {
  channel: Channel;
  ip?: string;
  userAgent?: string;
}

export interface TenantActor extends RequestOrigin {
  kind: 'member';
  tenantId: string;
  userId: string;
  role: MemberRole;
  /** Set when the call is made with an API token rather than a session. */
  tokenId?: string;
}

export interface OperatorActor extends RequestOrigin {
  kind: 'operator';
  userId: string;
}

export interface SystemActor extends RequestOrigin {
  kind: 'system';
  tenantId?: string;
}

export type Actor = TenantActor | OperatorActor | SystemActor;

export const ROLES: readonly MemberRole[] = ['owner', 'admin', 'compliance_officer', 'member', 'guest'];
