import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { auditOrigin } from '../audit/audit.types.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestOrigin, TenantActor } from '../shared/context.ts';
import { ConflictError, ForbiddenError, NotFoundError, ThrottledError } from '../shared/errors.ts';
import type { Authenticated } from './auth.service.ts';
import { InvalidSecondFactorError, NotAllowedError } from './identity.errors.ts';
import type { SecretBox } from './ports.ts';
import { hasCapability, canGrantRole } from './roles.policy.ts';
import { hashSecret } from './secrets.ts';

const RECOVERY_CODE_COUNT = 10;
const MFA_WINDOW_MS = 15 * 60_000;
const MFA_MAX_FAILURES = 10;

/**
 * Two-factor sign-in with TOTP (RFC 6238, 30 s, 6 digits, ±1 step) and single-use recovery codes.
 * Seeds are sealed under the installation's secrets key; recovery codes are stored hashed.
 */
export class MfaService {
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #issuer: string;

  constructor(deps: { store: Store; box: SecretBox; clock: Clock; issuer?: string }) {
    this.#store = deps.store;
    this.#box = deps.box;
    this.#clock = deps.clock;
    this.#issuer = deps.issuer ?? 'Custodia';
  }

  /**
   * Starts enrolment: a new secret is kept pending until a code from the app confirms it. Only a
   * browser session may do this: an API token must not change how its owner signs in.
   */
  async beginEnrollment(auth: Authenticated): Promise<{ secret: string; otpauthUrl: string }> {
    requireSession(auth);
    if (auth.user.mfaEnabledAt !== null) {
      throw new ConflictError(
        'mfa_already_enabled',
        'Two-factor sign-in is already on. Turn it off first to enrol a new device.',
      );
    }
    const secret = new Secret({ size: 20 });
    await this.#store.repos.users.update(auth.user.id, {
      totpPendingEnc: await this.#box.seal(secret.base32, `totp:${auth.user.id}`),
    });
    return { secret: secret.base32, otpauthUrl: this.#totp(secret.base32, auth.user.email).toString() };
  }

  /** Confirms enrolment with a current code; returns the recovery codes (shown once). */
  async confirmEnrollment(
    auth: Authenticated,
    code: string,
    from: RequestOrigin,
  ): Promise<{ recoveryCodes: string[] }> {
    requireSession(auth);
    const user = await this.#store.repos.users.findById(auth.user.id);
    if (!user?.totpPendingEnc) {
      throw new ConflictError('mfa_enrollment_not_started', 'Start two-factor set-up first.');
    }
    const secret = await this.#box.open(user.totpPendingEnc, `totp:${user.id}`);
    if (!this.#check(secret, user.email, code)) {
      throw new InvalidSecondFactorError();
    }
    const codes = newRecoveryCodes();
    const now = this.#clock.now();
    await this.#store.withTransaction(async (tx) => {
      await tx.users.update(user.id, {
        totpSecretEnc: await this.#box.seal(secret, `totp:${user.id}`),
        totpPendingEnc: null,
        mfaEnabledAt: now,
      });
      await tx.recoveryCodes.replaceAll(user.id, codes.map(hashRecoveryCode));
      if (auth.session) {
        await tx.sessions.update(auth.session.id, { isMfaComplete: true });
      }
      await tx.audit.append({
        tenantId: auth.session?.tenantId ?? auth.membership?.tenantId ?? null,
        action: 'auth.mfa_enable',
        actorType: 'user',
        actorId: user.id,
        targetType: 'user',
        targetId: user.id,
        channel: from.channel,
        ip: from.ip,
        userAgent: from.userAgent,
      });
    });
    return { recoveryCodes: codes };
  }

  /** Finishes a sign-in that is waiting for its second factor (TOTP code or recovery code). */
  async verifySecondFactor(
    auth: Authenticated,
    code: string,
    from: RequestOrigin,
  ): Promise<{ recoveryCodesLeft: number }> {
    if (!auth.session || !auth.isSecondFactorPending) {
      throw new ConflictError('second_factor_not_pending', 'This session does not need a second factor.');
    }
    const session = auth.session;
    const now = this.#clock.now();
    const key = `mfa:${auth.user.id}`;
    if ((await this.#store.repos.throttles.count(key, now, MFA_WINDOW_MS)) >= MFA_MAX_FAILURES) {
      throw new ThrottledError(Math.ceil(MFA_WINDOW_MS / 1000));
    }
    const user = await this.#store.repos.users.findById(auth.user.id);
    const secret = user?.totpSecretEnc
      ? await this.#box.open(user.totpSecretEnc, `totp:${auth.user.id}`)
      : undefined;
    const trimmed = code.replace(/\s+/g, '');
    let method: 'totp' | 'recovery_code' | undefined;
    const step =
      secret && /^\d{6}$/.test(trimmed) ? this.#matchStep(secret, auth.user.email, trimmed) : undefined;
    // RFC 6238 §5.2: each code is good once; claiming its time step is atomic, so a replay loses.
    if (step !== undefined && (await this.#store.repos.users.claimTotpStep(auth.user.id, step))) {
      method = 'totp';
    } else if (await this.#store.repos.recoveryCodes.consume(auth.user.id, hashRecoveryCode(trimmed), now)) {
      method = 'recovery_code';
    }
    if (!method) {
      await this.#store.repos.throttles.hit(key, now, MFA_WINDOW_MS);
      await this.#store.repos.audit.append({
        tenantId: session.tenantId,
        action: 'auth.second_factor',
        outcome: 'failure',
        actorType: 'user',
        actorId: auth.user.id,
        channel: from.channel,
        ip: from.ip,
        userAgent: from.userAgent,
      });
      throw new InvalidSecondFactorError();
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.sessions.update(session.id, { isMfaComplete: true });
      await tx.audit.append({
        tenantId: session.tenantId,
        action: 'auth.second_factor',
        actorType: 'user',
        actorId: auth.user.id,
        channel: from.channel,
        ip: from.ip,
        userAgent: from.userAgent,
        details: { method },
      });
    });
    await this.#store.repos.throttles.reset(key);
    return { recoveryCodesLeft: await this.#store.repos.recoveryCodes.countUnused(auth.user.id) };
  }

  /** Issues a fresh set of recovery codes, voiding the old ones (browser sessions only, as above). */
  async regenerateRecoveryCodes(auth: Authenticated): Promise<{ recoveryCodes: string[] }> {
    requireSession(auth);
    if (auth.user.mfaEnabledAt === null) {
      throw new ConflictError('mfa_not_enabled', 'Turn on two-factor sign-in first.');
    }
    const codes = newRecoveryCodes();
    await this.#store.repos.recoveryCodes.replaceAll(auth.user.id, codes.map(hashRecoveryCode));
    return { recoveryCodes: codes };
  }

  /** An owner/admin resets a member's two-factor (lost phone); the member enrols again at next sign-in. */
  async resetForMember(actor: TenantActor, userId: string): Promise<void> {
    if (!hasCapability(actor.role, 'members.manage')) {
      throw new NotAllowedError("reset members' two-factor sign-in");
    }
    const member = await this.#store.repos.memberships.find(actor.tenantId, userId);
    if (!member) {
      throw new NotFoundError('member_not_found', 'Member not found.');
    }
    if (!canGrantRole(actor.role, member.role)) {
      throw new NotAllowedError("reset this member's two-factor sign-in");
    }
    // The reset is account-wide (and signs out every session): an organisation may not weaken an
    // account that also reaches another organisation or the operator console.
    const [user, memberships] = await Promise.all([
      this.#store.repos.users.findById(userId),
      this.#store.repos.memberships.listByUser(userId),
    ]);
    if (user?.isOperator || memberships.some((m) => m.tenantId !== actor.tenantId)) {
      throw new NotAllowedError('reset two-factor sign-in for an account that is also used elsewhere');
    }
    await this.#reset(userId, actor.tenantId, auditOrigin(actor));
  }

  /** The console `custodia user reset-mfa` path (someone with server access). */
  async resetFromConsole(userId: string): Promise<void> {
    await this.#reset(userId, null, { actorType: 'system', channel: 'cli' });
  }

  async #reset(userId: string, tenantId: string | null, who: ReturnType<typeof auditOrigin>): Promise<void> {
    await this.#store.withTransaction(async (tx) => {
      await tx.users.update(userId, { totpSecretEnc: null, totpPendingEnc: null, mfaEnabledAt: null });
      await tx.recoveryCodes.replaceAll(userId, []);
      await tx.sessions.deleteByUser(userId);
      await tx.audit.append({
        tenantId,
        action: 'auth.mfa_reset',
        targetType: 'user',
        targetId: userId,
        ...who,
      });
    });
  }

  #totp(secret: string, label: string): TOTP {
    return new TOTP({
      issuer: this.#issuer,
      label,
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      secret: Secret.fromBase32(secret),
    });
  }

  #check(secret: string, label: string, code: string): boolean {
    return this.#matchStep(secret, label, code) !== undefined;
  }

  /** The 30-second time step the code belongs to (now ±1 step), or undefined when it matches none. */
  #matchStep(secret: string, label: string, code: string): number | undefined {
    const now = this.#clock.now();
    const delta = this.#totp(secret, label).validate({
      token: code.replace(/\s+/g, ''),
      timestamp: now,
      window: 1,
    });
    return delta === null ? undefined : Math.floor(now / 30_000) + delta;
  }
}

/** Sign-in factors are changed from a browser session: an API token is not a way to sign in. */
function requireSession(auth: Authenticated): void {
  if (!auth.session) {
    throw new ForbiddenError(
      'session_required',
      'Manage two-factor sign-in from a signed-in browser, not with an API token.',
    );
  }
}

function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const raw = randomBytes(5).toString('hex');
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
}

function hashRecoveryCode(code: string): string {
  return hashSecret(`recovery:${code.trim().toLowerCase()}`);
}
