import type { ApiToken, Invitation, Membership, Session, User } from './identity.types.ts';
import type { MemberRole } from '../shared/context.ts';

export interface UserRepository {
  insert(user: User): Promise<void>;
  findById(id: string): Promise<User | undefined>;
  findByEmail(email: string): Promise<User | undefined>;
  update(id: string, patch: Partial<Omit<User, 'id' | 'createdAt'>>): Promise<void>;
  /**
   * Adds one to the user's failed sign-in count in a single statement (starting again from one once
   * an earlier lock has run out) and returns the count and any lock still in force, so sign-in
   * attempts that arrive together are each counted.
   */
  addFailedSignIn(id: string, now: number): Promise<{ failures: number; lockedUntil: number | null }>;
  countOperators(): Promise<number>;
  /** Records `step` as the user's last accepted TOTP time step if it is newer; false for a replay. */
  claimTotpStep(userId: string, step: number): Promise<boolean>;
  listOperators(): Promise<User[]>;
}

export interface MembershipRepository {
  insert(membership: Membership): Promise<void>;
  find(tenantId: string, userId: string): Promise<Membership | undefined>;
  listByTenant(
    tenantId: string,
  ): Promise<Array<Membership & { email: string; displayName: string; mfaEnabled: boolean }>>;
  listByUser(userId: string): Promise<Membership[]>;
  updateRole(tenantId: string, userId: string, role: MemberRole): Promise<void>;
  delete(tenantId: string, userId: string): Promise<void>;
  countByRole(tenantId: string, role: MemberRole): Promise<number>;
  /**
   * Counts the tenant's owners and, inside a transaction, holds their rows until it ends: of two
   * owners demoting each other at once, the second waits and then sees the first's change.
   */
  countOwnersForUpdate(tenantId: string): Promise<number>;
}

export interface SessionRepository {
  insert(session: Session): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<Session | undefined>;
  update(
    id: string,
    patch: Partial<Pick<Session, 'lastSeenAt' | 'expiresAt' | 'isMfaComplete' | 'tenantId'>>,
  ): Promise<void>;
  delete(id: string): Promise<void>;
  listByUser(userId: string): Promise<Session[]>;
  /** Removes sessions past their expiry, of every user (housekeeping job). */
  deleteExpiredForAllUsers(now: number): Promise<number>;
  /** Removes all of a user's sessions except `keepId`; returns how many went. */
  deleteByUser(userId: string, keepId?: string): Promise<number>;
  /** Ends a user's sessions that act in `tenantId` (after removal from that organisation). */
  deleteByUserInTenant(userId: string, tenantId: string): Promise<number>;
}

/** A token with what authenticating it takes: its holder, their membership, the organisation's standing. */
export interface ApiTokenWithHolder {
  token: ApiToken;
  /** Each undefined when its row is missing; the caller decides what that means. */
  user: User | undefined;
  membership: Membership | undefined;
  tenant: { status: 'active' | 'suspended'; requireMfa: boolean } | undefined;
}

export interface ApiTokenRepository {
  insert(token: ApiToken): Promise<void>;
  /** The token and its holder in one statement (every API request asks this). */
  findByHashWithHolder(tokenHash: string): Promise<ApiTokenWithHolder | undefined>;
  findById(tenantId: string, id: string): Promise<ApiToken | undefined>;
  listByTenant(tenantId: string): Promise<ApiToken[]>;
  update(
    tenantId: string,
    id: string,
    patch: Partial<Pick<ApiToken, 'revokedAt' | 'lastUsedAt'>>,
  ): Promise<void>;
  revokeByUser(tenantId: string, userId: string, at: number): Promise<void>;
}

export interface InvitationRepository {
  insert(invitation: Invitation): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<Invitation | undefined>;
  listPending(tenantId: string | null, now: number): Promise<Invitation[]>;
  /** Marks a pending invitation accepted; false if it already was (a concurrent acceptance won). */
  markAccepted(id: string, at: number): Promise<boolean>;
}

export interface RecoveryCodeRepository {
  replaceAll(userId: string, codeHashes: string[]): Promise<void>;
  /** Marks one unused code used; false if there was no such unused code. */
  consume(userId: string, codeHash: string, at: number): Promise<boolean>;
  countUnused(userId: string): Promise<number>;
}

/** Counters for throttling (sign-in attempts per address, etc.), shared by every app node. */
export interface ThrottleRepository {
  /** Adds one hit to `key` in a window of `windowMs`; returns the count in the current window. */
  hit(key: string, now: number, windowMs: number): Promise<number>;
  count(key: string, now: number, windowMs: number): Promise<number>;
  reset(key: string): Promise<void>;
}

/** Password hashing (argon2id) behind a port so core stays free of native modules. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/** Encrypts small secrets (TOTP seeds) under the installation's secrets key. */
export interface SecretBox {
  seal(plaintext: string, context: string): Promise<string>;
  open(sealed: string, context: string): Promise<string>;
}
