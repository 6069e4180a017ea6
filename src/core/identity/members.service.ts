import { auditOrigin } from '../audit/audit.types.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { MemberRole, OperatorActor, RequestOrigin, TenantActor } from '../shared/context.ts';
import { ROLES } from '../shared/context.ts';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import type { AuthService } from './auth.service.ts';
import { AuthService as Auth } from './auth.service.ts';
import { InvitationNotFoundError, NotAllowedError } from './identity.errors.ts';
import type { ApiToken, Invitation, User } from './identity.types.ts';
import { canGrantRole, hasCapability } from './roles.policy.ts';
import { hashSecret, newSecret } from './secrets.ts';

const INVITATION_TTL_MS = 7 * 24 * 3600_000;
const SETUP_TOKEN_KEY = 'setup_token_hash';

/**
 * Who belongs where: first-run setup of the operator admin, invitations, roles, removal and API tokens.
 */
export class MembersService {
  readonly #store: Store;
  readonly #auth: AuthService;
  readonly #clock: Clock;

  constructor(deps: { store: Store; auth: AuthService; clock: Clock }) {
    this.#store = deps.store;
    this.#auth = deps.auth;
    this.#clock = deps.clock;
  }

  /** True until the first operator admin exists. */
  async isSetupPending(): Promise<boolean> {
    return (await this.#store.repos.users.countOperators()) === 0;
  }

  /**
   * Issues the one-time setup token printed at first start (replacing any earlier one). Returns
   * undefined once setup is done.
   */
  async issueSetupToken(): Promise<string | undefined> {
    if (!(await this.isSetupPending())) {
      return undefined;
    }
    const secret = newSecret('setup_');
    await this.#store.repos.settings.set(SETUP_TOKEN_KEY, secret.hash);
    return secret.token;
  }

  /**
   * Creates the first operator admin. Needs the setup token, unless `isLocalConsole` (the `custodia
   * setup` command run by someone with access to the server's files).
   */
  async completeSetup(input: {
    setupToken?: string;
    isLocalConsole?: boolean;
    email: string;
    displayName: string;
    password: string;
    origin: RequestOrigin;
  }): Promise<User> {
    if (!(await this.isSetupPending())) {
      throw new ConflictError('setup_already_done', 'Setup has already been completed. Sign in instead.');
    }
    if (!input.isLocalConsole) {
      const expected = await this.#store.repos.settings.get(SETUP_TOKEN_KEY);
      if (!expected || !input.setupToken || hashSecret(input.setupToken) !== expected) {
        throw new NotFoundError(
          'setup_token_invalid',
          'This setup link is not valid. Use the newest link printed by the server at start-up.',
        );
      }
    }
    const user = await this.#newUser({
      email: input.email,
      displayName: input.displayName,
      password: input.password,
      isOperator: true,
    });
    await this.#store.withTransaction(async (tx) => {
      await tx.users.insert(user);
      await tx.settings.delete(SETUP_TOKEN_KEY);
      await tx.audit.append({
        tenantId: null,
        action: 'operator.setup',
        actorType: 'user',
        actorId: user.id,
        targetType: 'user',
        targetId: user.id,
        channel: input.origin.channel,
        ip: input.origin.ip,
        userAgent: input.origin.userAgent,
      });
    });
    return user;
  }

  /** Invites someone into a tenant with a role; returns the one-time link token. */
  async inviteMember(
    actor: TenantActor | OperatorActor,
    input: { tenantId: string; email: string; role: MemberRole },
  ): Promise<{ invitation: Invitation; token: string }> {
    if (actor.kind === 'member') {
      if (actor.tenantId !== input.tenantId || !hasCapability(actor.role, 'members.manage')) {
        throw new NotAllowedError('invite members');
      }
      if (!canGrantRole(actor.role, input.role)) {
        throw new NotAllowedError(`invite someone as ${input.role}`);
      }
    }
    if (!ROLES.includes(input.role)) {
      throw new ValidationError('invalid_role', `Role must be one of ${ROLES.join(', ')}.`);
    }
    const tenant = await this.#store.repos.tenants.findById(input.tenantId);
    if (!tenant) {
      throw new NotFoundError('tenant_not_found', 'Organisation not found.');
    }
    const email = Auth.checkEmail(input.email);
    const existing = await this.#store.repos.users.findByEmail(email);
    if (existing && (await this.#store.repos.memberships.find(input.tenantId, existing.id))) {
      throw new ConflictError('already_member', `${email} is already a member.`);
    }
    return this.#createInvitation(actor, { tenantId: input.tenantId, email, role: input.role });
  }

  /** Invites another operator admin (operator console). */
  async inviteOperator(
    actor: OperatorActor,
    input: { email: string },
  ): Promise<{ invitation: Invitation; token: string }> {
    return this.#createInvitation(actor, {
      tenantId: null,
      email: Auth.checkEmail(input.email),
      role: 'operator',
    });
  }

  /** What an invitation link is for, without accepting it. */
  async describeInvitation(
    token: string,
  ): Promise<{ email: string; role: string; tenantName: string | null; hasAccount: boolean }> {
    const invitation = await this.#validInvitation(token);
    const tenant = invitation.tenantId
      ? await this.#store.repos.tenants.findById(invitation.tenantId)
      : undefined;
    const user = await this.#store.repos.users.findByEmail(invitation.email);
    return {
      email: invitation.email,
      role: invitation.role,
      tenantName: tenant?.name ?? null,
      hasAccount: Boolean(user?.passwordHash),
    };
  }

  /**
   * Accepts an invitation. A new person sets a name and password; someone who already has an account
   * proves it with their password. Returns the user, who can then sign in.
   */
  async acceptInvitation(input: {
    token: string;
    displayName?: string;
    password: string;
    origin: RequestOrigin;
  }): Promise<User> {
    const invitation = await this.#validInvitation(input.token);
    const now = this.#clock.now();
    let user = await this.#store.repos.users.findByEmail(invitation.email);
    let isNewUser = false;
    if (user?.passwordHash) {
      // Existing accounts are joined only by their owner: check the password they already have.
      const signIn = await this.#auth.signIn({
        email: invitation.email,
        password: input.password,
        origin: input.origin,
      });
      await this.#store.repos.sessions.delete(signIn.session.id);
    } else {
      user = await this.#newUser({
        email: invitation.email,
        displayName: input.displayName ?? '',
        password: input.password,
        isOperator: invitation.role === 'operator',
      }).catch(async (error: unknown) => {
        // The account may have been made meanwhile by another acceptance of this very link: then
        // this one is simply too late (404), not a clash of addresses.
        if (error instanceof ConflictError) {
          await this.#validInvitation(input.token);
        }
        throw error;
      });
      isNewUser = true;
    }
    const joined = user;
    await this.#store.withTransaction(async (tx) => {
      // First, so that of two concurrent acceptances of one link the second finds it used.
      if (!(await tx.invitations.markAccepted(invitation.id, now))) {
        throw new InvitationNotFoundError();
      }
      if (isNewUser) {
        await tx.users.insert(joined);
      }
      if (invitation.tenantId && invitation.role !== 'operator') {
        // Two invitations to one address can both be pending; only the first one joins.
        if (await tx.memberships.find(invitation.tenantId, joined.id)) {
          throw new ConflictError('already_member', `${joined.email} is already a member.`);
        }
        await tx.memberships.insert({
          tenantId: invitation.tenantId,
          userId: joined.id,
          role: invitation.role,
          createdAt: now,
        });
      } else if (!joined.isOperator) {
        await tx.users.update(joined.id, { isOperator: true });
      }
      await tx.audit.append({
        tenantId: invitation.tenantId,
        action: 'member.join',
        actorType: 'user',
        actorId: joined.id,
        targetType: 'user',
        targetId: joined.id,
        channel: input.origin.channel,
        ip: input.origin.ip,
        userAgent: input.origin.userAgent,
        details: { role: invitation.role, invitationId: invitation.id },
      });
    });
    return joined;
  }

  async listMembers(
    actor: TenantActor,
  ): Promise<Awaited<ReturnType<Store['repos']['memberships']['listByTenant']>>> {
    if (actor.role === 'guest') {
      throw new NotAllowedError('see the member list');
    }
    return this.#store.repos.memberships.listByTenant(actor.tenantId);
  }

  async listPendingInvitations(actor: TenantActor): Promise<Invitation[]> {
    this.#requireManage(actor, 'see invitations');
    return this.#store.repos.invitations.listPending(actor.tenantId, this.#clock.now());
  }

  /** Changes a member's role. The last owner cannot be demoted; only owners make or unmake owners. */
  async changeRole(actor: TenantActor, userId: string, role: MemberRole): Promise<void> {
    this.#requireManage(actor, 'change roles');
    if (!ROLES.includes(role)) {
      throw new ValidationError('invalid_role', `Role must be one of ${ROLES.join(', ')}.`);
    }
    const member = await this.#getMember(actor.tenantId, userId);
    if (!canGrantRole(actor.role, role) || !canGrantRole(actor.role, member.role)) {
      throw new NotAllowedError(`change this member to ${role}`);
    }
    await this.#store.withTransaction(async (tx) => {
      if (
        member.role === 'owner' &&
        role !== 'owner' &&
        (await tx.memberships.countOwnersForUpdate(actor.tenantId)) <= 1
      ) {
        throw new ConflictError(
          'last_owner',
          'An organisation needs at least one owner. Make someone else owner first.',
        );
      }
      await tx.memberships.updateRole(actor.tenantId, userId, role);
      // Tokens carry a role of their own; a demotion must not leave stronger tokens behind.
      await tx.apiTokens.revokeByUser(actor.tenantId, userId, this.#clock.now());
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'member.role_change',
        targetType: 'user',
        targetId: userId,
        ...auditOrigin(actor),
        details: { from: member.role, to: role },
      });
    });
  }

  /** Removes a member: their tokens are revoked and their folder grants dropped. */
  async removeMember(actor: TenantActor, userId: string): Promise<void> {
    this.#requireManage(actor, 'remove members');
    const member = await this.#getMember(actor.tenantId, userId);
    if (!canGrantRole(actor.role, member.role)) {
      throw new NotAllowedError('remove this member');
    }
    await this.#store.withTransaction(async (tx) => {
      if (member.role === 'owner' && (await tx.memberships.countOwnersForUpdate(actor.tenantId)) <= 1) {
        throw new ConflictError('last_owner', 'An organisation needs at least one owner.');
      }
      await tx.memberships.delete(actor.tenantId, userId);
      await tx.apiTokens.revokeByUser(actor.tenantId, userId, this.#clock.now());
      await tx.sessions.deleteByUserInTenant(userId, actor.tenantId);
      for (const grant of await tx.grants.listByUser(actor.tenantId, userId)) {
        await tx.grants.delete(actor.tenantId, grant.nodeId, userId);
      }
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'member.remove',
        targetType: 'user',
        targetId: userId,
        ...auditOrigin(actor),
        details: { role: member.role },
      });
    });
  }

  /** Creates an API token for the acting user; the secret is returned once and stored hashed. */
  async createToken(
    actor: TenantActor,
    input: { name: string; role?: MemberRole; expiresAt?: number | null },
  ): Promise<{ token: string; record: ApiToken }> {
    if (!hasCapability(actor.role, 'tokens.create') && actor.role !== 'guest') {
      throw new NotAllowedError('create API tokens');
    }
    const role = input.role ?? actor.role;
    if (!canGrantRole(actor.role, role)) {
      throw new NotAllowedError(`create a token with the ${role} role`);
    }
    const name = input.name.trim();
    if (name.length === 0 || name.length > 100) {
      throw new ValidationError(
        'invalid_name',
        'Name the token (1 to 100 characters) so you can recognise it later.',
      );
    }
    const now = this.#clock.now();
    if (input.expiresAt !== undefined && input.expiresAt !== null && input.expiresAt <= now) {
      throw new ValidationError('invalid_expiry', 'The expiry must be in the future.');
    }
    const secret = newSecret('cst_');
    const record: ApiToken = {
      id: newId(),
      tenantId: actor.tenantId,
      userId: actor.userId,
      name,
      role,
      tokenHash: secret.hash,
      prefix: secret.display,
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.apiTokens.insert(record);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'token.create',
        targetType: 'token',
        targetId: record.id,
        ...auditOrigin(actor),
        details: { name, role, expiresAt: record.expiresAt },
      });
    });
    return { token: secret.token, record };
  }

  /** Owners/admins see every token of the tenant; others see their own. */
  async listTokens(actor: TenantActor): Promise<ApiToken[]> {
    const tokens = await this.#store.repos.apiTokens.listByTenant(actor.tenantId);
    return hasCapability(actor.role, 'members.manage')
      ? tokens
      : tokens.filter((t) => t.userId === actor.userId);
  }

  async revokeToken(actor: TenantActor, tokenId: string): Promise<void> {
    const token = await this.#store.repos.apiTokens.findById(actor.tenantId, tokenId);
    if (!token || (token.userId !== actor.userId && !hasCapability(actor.role, 'members.manage'))) {
      throw new NotFoundError('token_not_found', 'Token not found.');
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.apiTokens.update(actor.tenantId, tokenId, { revokedAt: this.#clock.now() });
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'token.revoke',
        targetType: 'token',
        targetId: tokenId,
        ...auditOrigin(actor),
      });
    });
  }

  async #createInvitation(
    actor: TenantActor | OperatorActor,
    input: { tenantId: string | null; email: string; role: Invitation['role'] },
  ): Promise<{ invitation: Invitation; token: string }> {
    const now = this.#clock.now();
    const secret = newSecret('inv_');
    const invitation: Invitation = {
      id: newId(),
      tenantId: input.tenantId,
      email: input.email,
      role: input.role,
      tokenHash: secret.hash,
      createdBy: actor.userId,
      createdAt: now,
      expiresAt: now + INVITATION_TTL_MS,
      acceptedAt: null,
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.invitations.insert(invitation);
      await tx.audit.append({
        tenantId: input.tenantId,
        action: 'member.invite',
        targetType: 'invitation',
        targetId: invitation.id,
        ...auditOrigin(actor),
        details: { role: input.role },
      });
    });
    return { invitation, token: secret.token };
  }

  async #validInvitation(token: string): Promise<Invitation> {
    const invitation = await this.#store.repos.invitations.findByTokenHash(hashSecret(token));
    if (!invitation || invitation.acceptedAt !== null || invitation.expiresAt <= this.#clock.now()) {
      throw new InvitationNotFoundError();
    }
    return invitation;
  }

  async #newUser(input: {
    email: string;
    displayName: string;
    password: string;
    isOperator: boolean;
  }): Promise<User> {
    const email = Auth.checkEmail(input.email);
    if (await this.#store.repos.users.findByEmail(email)) {
      throw new ConflictError('email_taken', 'An account with this e-mail address already exists.');
    }
    const displayName = input.displayName.trim() || email.split('@')[0] || email;
    if (displayName.length > 200) {
      throw new ValidationError('invalid_display_name', 'Keep the name under 200 characters.');
    }
    return {
      id: newId(),
      email,
      displayName,
      passwordHash: await this.#auth.hashNewPassword(input.password),
      isOperator: input.isOperator,
      totpSecretEnc: null,
      totpPendingEnc: null,
      mfaEnabledAt: null,
      failedSignIns: 0,
      lockedUntil: null,
      createdAt: this.#clock.now(),
      disabledAt: null,
    };
  }

  async #getMember(tenantId: string, userId: string) {
    const member = await this.#store.repos.memberships.find(tenantId, userId);
    if (!member) {
      throw new NotFoundError('member_not_found', 'Member not found.');
    }
    return member;
  }

  #requireManage(actor: TenantActor, what: string): void {
    if (!hasCapability(actor.role, 'members.manage')) {
      throw new NotAllowedError(what);
    }
  }
}
