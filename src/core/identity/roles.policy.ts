import type { MemberRole } from '../shared/context.ts';

/** What each tenant role may do. Guests get nothing tenant-wide: only the folders granted to them. */
export type Capability =
  | 'files.read'
  | 'files.write'
  | 'shares.manage'
  | 'members.manage'
  | 'tenant.settings'
  | 'tokens.create'
  | 'audit.read';

const CAPABILITIES: Record<MemberRole, readonly Capability[]> = {
  owner: [
    'files.read',
    'files.write',
    'shares.manage',
    'members.manage',
    'tenant.settings',
    'tokens.create',
    'audit.read',
  ],
  admin: [
    'files.read',
    'files.write',
    'shares.manage',
    'members.manage',
    'tenant.settings',
    'tokens.create',
    'audit.read',
  ],
  compliance_officer: ['files.read', 'tokens.create', 'audit.read'],
  member: ['files.read', 'files.write', 'shares.manage', 'tokens.create'],
  guest: [],
};

export function hasCapability(role: MemberRole, capability: Capability): boolean {
  return CAPABILITIES[role].includes(capability);
}

/** A role may hand out (to a token or a member) only a role whose powers it holds itself. */
export function canGrantRole(granter: MemberRole, granted: MemberRole): boolean {
  if (granted === 'owner') {
    return granter === 'owner';
  }
  return CAPABILITIES[granted].every((c) => CAPABILITIES[granter].includes(c));
}
