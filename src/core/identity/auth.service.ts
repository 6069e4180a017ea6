import type { AuditEventInput } from '../audit/audit.types.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { MemberRole, RequestOrigin, TenantActor } from '../shared/context.ts';
import { ConflictError, ThrottledError, ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import {
  InvalidCredentialsError,
  NotSignedInError,
  SecondFactorEnrollmentRequiredError,
  SecondFactorRequiredError,
  TenantSuspendedError,
  WeakPasswordError,
} from './identity.errors.ts';
import type { ApiToken, Membership, Session, User } from './identity.types.ts';
import type { PasswordHasher } from './ports.ts';
import { hashSecret, isPlausibleEmail, newSecret, normaliseEmail } from './secrets.ts';

export const MIN_PASSWORD_LENGTH = 12;
const IP_WINDOW_MS = 15 * 60_000;
const IP_MAX_FAILURES = 50;

export interface AuthPolicy {
  /** Idle timeout: each use pushes the expiry this far out... */
  sessionTtlMs: number;
  /** ...but never past this long after sign-in (an absolute lifetime, OWASP session management). */
  sessionMaxAgeMs: number;
  maxFailures: number;
  lockoutMs: number;
}

/** Who a request is, once its session or token checks out. */
export interface Authenticated {
  user: User;
  session?: Session;
  token?: ApiToken;
  /** The tenant membership the request acts under, if any. */
  membership?: Membership;
  /** Second factor still owed (only the MFA endpoints may be used). */
  isSecondFactorPending: boolean;
  /** The tenant requires MFA and the user has none yet (only enrolment may be used). */
  isEnrollmentRequired: boolean;
  /** The session's organisation is suspended: tenant routes answer `tenant_suspended`. */
  isTenantSuspended?: boolean;
}

/**
 * Sign-in, sessions and API-token authentication. Sessions and throttling counters live in the
 * database so any app node can serve any request.
 */
export class AuthService {
  readonly #store: Store;
  readonly #hasher: PasswordHasher;
  readonly #clock: Clock;
  readonly #policy: AuthPolicy;
  #dummyHash: Promise<string> | undefined;

  constructor(deps: { store: Store; hasher: PasswordHasher; clock: Clock; policy: AuthPolicy }) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#clock = deps.clock;
    this.#policy = deps.policy;
  }

  /** Validates and hashes a new password. Throws WeakPasswordError. */
  async hashNewPassword(password: string): Promise<string> {
    if (password.length < MIN_PASSWORD_LENGTH || password.length > 1024) {
      throw new WeakPasswordError(MIN_PASSWORD_LENGTH);
    }
    return this.#hasher.hash(password);
  }

  /**
   * Checks e-mail and password and opens a new session (a fresh id every time: rotation at sign-in).
   * Repeated failures lock the account for a while; many failures from one address are throttled.
   */
  async signIn(input: {
    email: string;
    password: string;
    origin: RequestOrigin;
    previousSessionToken?: string;
  }): Promise<{ token: string; session: Session; user: User; isSecondFactorPending: boolean }> {
    const now = this.#clock.now();
    const { repos } = this.#store;
    const ipKey = `signin-ip:${input.origin.ip ?? 'unknown'}`;
    if ((await repos.throttles.count(ipKey, now, IP_WINDOW_MS)) >= IP_MAX_FAILURES) {
      throw new ThrottledError(Math.ceil(IP_WINDOW_MS / 1000));
    }
    const email = normaliseEmail(input.email);
    const user = await repos.users.findByEmail(email);
    if (user?.lockedUntil && user.lockedUntil > now) {
      await this.#audit({
        tenantId: await this.#homeTenant(user),
        action: 'auth.sign_in',
        outcome: 'denied',
        actorType: 'user',
        actorId: user.id,
        ...origin(input.origin),
        details: { reason: 'locked' },
      });
      throw new ThrottledError(Math.ceil((user.lockedUntil - now) / 1000));
    }
    // Count the attempt as failed before the (slow) password check; success resets the count. Guesses
    // sent in parallel each get their own number (and see a lock set meanwhile), so a burst cannot
    // try more passwords than the limit.
    const attempt = user ? await repos.users.addFailedSignIn(user.id, now) : undefined;
    if (user && attempt && (attempt.failures > this.#policy.maxFailures || attempt.lockedUntil !== null)) {
      const lockedUntil = attempt.lockedUntil ?? now + this.#policy.lockoutMs;
      await this.#store.withTransaction(async (tx) => {
        await tx.users.update(user.id, { lockedUntil });
        await tx.audit.append({
          tenantId: await this.#homeTenant(user, tx),
          action: 'auth.sign_in',
          outcome: 'denied',
          actorType: 'user',
          actorId: user.id,
          ...origin(input.origin),
          details: { reason: 'locked' },
        });
      });
      throw new ThrottledError(Math.ceil((lockedUntil - now) / 1000));
    }
    // Verify against a dummy hash for unknown users so timing does not reveal which e-mails exist.
    const isValid =
      user?.passwordHash && !user.disabledAt
        ? await this.#hasher.verify(user.passwordHash, input.password)
        : (await this.#hasher.verify(await this.#dummy(), input.password), false);
    if (!user || !isValid) {
      await repos.throttles.hit(ipKey, now, IP_WINDOW_MS);
      if (user) {
        // The count is not reset here: attempts already in flight must still see it over the limit.
        // It starts again with the first attempt after the lock has run out.
        const isLocking = (attempt?.failures ?? 0) >= this.#policy.maxFailures;
        await this.#store.withTransaction(async (tx) => {
          if (isLocking) {
            await tx.users.update(user.id, { lockedUntil: now + this.#policy.lockoutMs });
          }
          await tx.audit.append({
            tenantId: await this.#homeTenant(user, tx),
            action: isLocking ? 'auth.account_locked' : 'auth.sign_in',
            outcome: 'failure',
            actorType: 'user',
            actorId: user.id,
            ...origin(input.origin),
          });
        });
      } else {
        // No account to charge it to: the operator log keeps it (password spraying shows there).
        // The e-mail tried is personal data of someone who may not be a user: not recorded.
        await this.#audit({
          tenantId: null,
          action: 'auth.sign_in',
          outcome: 'failure',
          actorType: 'anonymous',
          ...origin(input.origin),
          details: { reason: 'unknown_account' },
        });
      }
      throw new InvalidCredentialsError();
    }
    if (input.previousSessionToken) {
      const previous = await repos.sessions.findByTokenHash(hashSecret(input.previousSessionToken));
      if (previous) {
        await repos.sessions.delete(previous.id);
      }
    }
    const memberships = await repos.memberships.listByUser(user.id);
    const secret = newSecret('sess_');
    const session: Session = {
      id: newId(),
      tokenHash: secret.hash,
      userId: user.id,
      tenantId: memberships[0]?.tenantId ?? null,
      csrfToken: newSecret('').token,
      isMfaComplete: user.mfaEnabledAt === null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + Math.min(this.#policy.sessionTtlMs, this.#policy.sessionMaxAgeMs),
      ip: input.origin.ip ?? null,
      userAgent: input.origin.userAgent?.slice(0, 512) ?? null,
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.sessions.insert(session);
      await tx.users.update(user.id, { failedSignIns: 0, lockedUntil: null });
      await tx.audit.append({
        tenantId: session.tenantId,
        action: 'auth.sign_in',
        actorType: 'user',
        actorId: user.id,
        ...origin(input.origin),
        details: { secondFactorPending: !session.isMfaComplete },
      });
    });
    return { token: secret.token, session, user, isSecondFactorPending: !session.isMfaComplete };
  }

  /** Resolves a session cookie. Throws NotSignedInError when it is unknown or expired. */
  async authenticateSession(token: string): Promise<Authenticated> {
    const now = this.#clock.now();
    const { repos } = this.#store;
    const session = await repos.sessions.findByTokenHash(hashSecret(token));
    if (!session || session.expiresAt <= now || now >= session.createdAt + this.#policy.sessionMaxAgeMs) {
      throw new NotSignedInError();
    }
    const user = await repos.users.findById(session.userId);
    if (!user || user.disabledAt) {
      throw new NotSignedInError();
    }
    // Slide the expiry, but write at most once a minute per session.
    if (now - session.lastSeenAt > 60_000) {
      await repos.sessions.update(session.id, {
        lastSeenAt: now,
        expiresAt: Math.min(
          now + this.#policy.sessionTtlMs,
          session.createdAt + this.#policy.sessionMaxAgeMs,
        ),
      });
    }
    const membership = session.tenantId ? await repos.memberships.find(session.tenantId, user.id) : undefined;
    const tenant = membership ? await repos.tenants.findById(membership.tenantId) : undefined;
    return {
      user,
      session,
      membership: tenant?.status === 'active' ? membership : undefined,
      isTenantSuspended: tenant?.status === 'suspended',
      isSecondFactorPending: !session.isMfaComplete,
      isEnrollmentRequired: Boolean(tenant?.requireMfa && user.mfaEnabledAt === null),
    };
  }

  /** Resolves an API token (`Authorization: Bearer cst_…`). */
  async authenticateToken(token: string): Promise<Authenticated> {
    const now = this.#clock.now();
    const { repos } = this.#store;
    const found = await repos.apiTokens.findByHashWithHolder(hashSecret(token));
    if (!found) {
      throw new NotSignedInError();
    }
    const { token: record, user, membership, tenant } = found;
    if (record.revokedAt || (record.expiresAt !== null && record.expiresAt <= now)) {
      throw new NotSignedInError();
    }
    if (!user || user.disabledAt || !membership || !tenant) {
      throw new NotSignedInError();
    }
    if (tenant.status !== 'active') {
      // The token is genuine; saying why it does not work spares its owner a support call.
      throw new TenantSuspendedError();
    }
    if (tenant.requireMfa && user.mfaEnabledAt === null) {
      // A token is not a way round the organisation's two-factor rule: it works again once its
      // owner has set up a second factor (which needs a signed-in session).
      throw new SecondFactorEnrollmentRequiredError();
    }
    if (record.lastUsedAt === null || now - record.lastUsedAt > 60_000) {
      await repos.apiTokens.update(record.tenantId, record.id, { lastUsedAt: now });
    }
    return {
      user,
      token: record,
      membership: { ...membership, role: record.role },
      isSecondFactorPending: false,
      isEnrollmentRequired: false,
    };
  }

  /** Ends one session. */
  async signOut(auth: Authenticated, from: RequestOrigin): Promise<void> {
    if (!auth.session) {
      return;
    }
    const session = auth.session;
    await this.#store.withTransaction(async (tx) => {
      await tx.sessions.delete(session.id);
      await tx.audit.append({
        tenantId: session.tenantId,
        action: 'auth.sign_out',
        actorType: 'user',
        actorId: auth.user.id,
        ...origin(from),
      });
    });
  }

  async listSessions(auth: Authenticated): Promise<Array<Session & { isCurrent: boolean }>> {
    const sessions = await this.#store.repos.sessions.listByUser(auth.user.id);
    const now = this.#clock.now();
    return sessions
      .filter((s) => s.expiresAt > now)
      .map((s) => ({ ...s, isCurrent: s.id === auth.session?.id }));
  }

  /** Signs out every other session of this user (e.g. after a lost laptop). */
  async signOutOtherSessions(auth: Authenticated, from: RequestOrigin): Promise<number> {
    return this.#store.withTransaction(async (tx) => {
      const count = await tx.sessions.deleteByUser(auth.user.id, auth.session?.id);
      await tx.audit.append({
        tenantId: auth.session?.tenantId ?? null,
        action: 'auth.sign_out_others',
        actorType: 'user',
        actorId: auth.user.id,
        ...origin(from),
        details: { count },
      });
      return count;
    });
  }

  /** Switches the session to another tenant the user belongs to. */
  async switchTenant(auth: Authenticated, tenantId: string): Promise<void> {
    if (!auth.session) {
      throw new ValidationError('session_required', 'Only a browser session can switch organisation.');
    }
    const membership = await this.#store.repos.memberships.find(tenantId, auth.user.id);
    if (!membership) {
      throw new ConflictError('not_a_member', 'You are not a member of that organisation.');
    }
    await this.#store.repos.sessions.update(auth.session.id, { tenantId });
  }

  /** Builds the acting context for tenant routes, enforcing the second-factor rules. */
  tenantActor(auth: Authenticated, from: RequestOrigin): TenantActor | undefined {
    if (auth.isSecondFactorPending) {
      throw new SecondFactorRequiredError();
    }
    if (auth.isEnrollmentRequired) {
      throw new SecondFactorEnrollmentRequiredError();
    }
    if (!auth.membership) {
      if (auth.isTenantSuspended) {
        throw new TenantSuspendedError();
      }
      return undefined;
    }
    return {
      kind: 'member',
      tenantId: auth.membership.tenantId,
      userId: auth.user.id,
      role: auth.membership.role,
      tokenId: auth.token?.id,
      ...from,
    };
  }

  /** Validates the shape of an e-mail address and returns its normal form. */
  static checkEmail(email: string): string {
    const normal = normaliseEmail(email);
    if (!isPlausibleEmail(normal)) {
      throw new ValidationError('invalid_email', 'Enter a valid e-mail address.');
    }
    return normal;
  }

  async #homeTenant(user: User, repos = this.#store.repos): Promise<string | null> {
    if (user.isOperator) {
      return null;
    }
    const memberships = await repos.memberships.listByUser(user.id);
    return memberships[0]?.tenantId ?? null;
  }

  async #audit(event: AuditEventInput): Promise<void> {
    await this.#store.repos.audit.append(event);
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= this.#hasher.hash('not-a-real-password-for-timing');
    return this.#dummyHash;
  }
}

function origin(from: RequestOrigin): { channel: RequestOrigin['channel']; ip?: string; userAgent?: string } {
  return { channel: from.channel, ip: from.ip, userAgent: from.userAgent };
}

export type { MemberRole };
