import type { MemberRole } from '../shared/context.ts';

export interface User {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string | null;
  isOperator: boolean;
  /** TOTP secret, encrypted under the installation's 'secrets' key; never plaintext at rest. */
  totpSecretEnc: string | null;
  totpPendingEnc: string | null;
  mfaEnabledAt: number | null;
  failedSignIns: number;
  lockedUntil: number | null;
  createdAt: number;
  disabledAt: number | null;
}

export interface Membership {
  tenantId: string;
  userId: string;
  role: MemberRole;
  createdAt: number;
}

export interface Session {
  id: string;
  tokenHash: string;
  userId: string;
  tenantId: string | null;
  csrfToken: string;
  isMfaComplete: boolean;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
}

export interface ApiToken {
  id: string;
  tenantId: string;
  userId: string;
  name: string;
  role: MemberRole;
  tokenHash: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface Invitation {
  id: string;
  /** null invites an operator admin. */
  tenantId: string | null;
  email: string;
  role: MemberRole | 'operator';
  tokenHash: string;
  createdBy: string | null;
  createdAt: number;
  expiresAt: number;
  acceptedAt: number | null;
}
