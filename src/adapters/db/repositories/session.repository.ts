import { sql, type Kysely, type Selectable } from 'kysely';
import type { ApiToken, Invitation, Session } from '../../../core/identity/identity.types.ts';
import type {
  ApiTokenRepository,
  ApiTokenWithHolder,
  InvitationRepository,
  RecoveryCodeRepository,
  SessionRepository,
  ThrottleRepository,
} from '../../../core/identity/ports.ts';
import type { MemberRole } from '../../../core/shared/context.ts';
import type { ApiTokenTable, Database, InvitationTable, SessionTable } from '../tables.ts';
import { PreparedStatement } from '../prepared-statement.ts';
import { toUser } from './user.repository.ts';

export class KyselySessionRepository implements SessionRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(s: Session): Promise<void> {
    await this.#db
      .insertInto('sessions')
      .values({
        id: s.id,
        token_hash: s.tokenHash,
        user_id: s.userId,
        tenant_id: s.tenantId,
        csrf_token: s.csrfToken,
        is_mfa_complete: s.isMfaComplete ? 1 : 0,
        created_at: s.createdAt,
        last_seen_at: s.lastSeenAt,
        expires_at: s.expiresAt,
        ip: s.ip,
        user_agent: s.userAgent,
      })
      .execute();
  }

  async findByTokenHash(tokenHash: string): Promise<Session | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async update(
    id: string,
    patch: Partial<Pick<Session, 'lastSeenAt' | 'expiresAt' | 'isMfaComplete' | 'tenantId'>>,
  ): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({
        last_seen_at: patch.lastSeenAt,
        expires_at: patch.expiresAt,
        is_mfa_complete: patch.isMfaComplete === undefined ? undefined : patch.isMfaComplete ? 1 : 0,
        tenant_id: patch.tenantId,
      })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('id', '=', id).execute();
  }

  async listByUser(userId: string): Promise<Session[]> {
    const rows = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('last_seen_at', 'desc')
      .execute();
    return rows.map(toSession);
  }

  async deleteExpiredForAllUsers(now: number): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteByUserInTenant(userId: string, tenantId: string): Promise<number> {
    const result = await this.#db
      .deleteFrom('sessions')
      .where('user_id', '=', userId)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteByUser(userId: string, keepId?: string): Promise<number> {
    let query = this.#db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepId) {
      query = query.where('id', '!=', keepId);
    }
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/**
 * A token with its holder in one statement instead of four (every API request runs it): the user's and
 * tenant's columns come prefixed (u_, n_), and a missing joined row shows as a null key column.
 */
const TOKEN_WITH_HOLDER = new PreparedStatement((db, tokenHash: string) =>
  db
    .selectFrom('api_tokens as t')
    .leftJoin('users as u', 'u.id', 't.user_id')
    .leftJoin('memberships as m', (join) =>
      join.onRef('m.tenant_id', '=', 't.tenant_id').onRef('m.user_id', '=', 't.user_id'),
    )
    .leftJoin('tenants as n', 'n.id', 't.tenant_id')
    .selectAll('t')
    .select([
      'u.id as u_id',
      'u.email as u_email',
      'u.display_name as u_display_name',
      'u.password_hash as u_password_hash',
      'u.is_operator as u_is_operator',
      'u.totp_secret_enc as u_totp_secret_enc',
      'u.totp_pending_enc as u_totp_pending_enc',
      'u.totp_last_step as u_totp_last_step',
      'u.mfa_enabled_at as u_mfa_enabled_at',
      'u.failed_sign_ins as u_failed_sign_ins',
      'u.locked_until as u_locked_until',
      'u.created_at as u_created_at',
      'u.disabled_at as u_disabled_at',
      'm.role as m_role',
      'm.created_at as m_created_at',
      'n.id as n_id',
      'n.status as n_status',
      'n.require_mfa as n_require_mfa',
    ])
    .where('t.token_hash', '=', tokenHash),
);

export class KyselyApiTokenRepository implements ApiTokenRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(t: ApiToken): Promise<void> {
    await this.#db
      .insertInto('api_tokens')
      .values({
        id: t.id,
        tenant_id: t.tenantId,
        user_id: t.userId,
        name: t.name,
        role: t.role,
        token_hash: t.tokenHash,
        prefix: t.prefix,
        created_at: t.createdAt,
        expires_at: t.expiresAt,
        revoked_at: t.revokedAt,
        last_used_at: t.lastUsedAt,
      })
      .execute();
  }

  async findByHashWithHolder(tokenHash: string): Promise<ApiTokenWithHolder | undefined> {
    const row = await TOKEN_WITH_HOLDER.executeTakeFirst(this.#db, tokenHash);
    if (!row) {
      return undefined;
    }
    const token = toApiToken(row);
    return {
      token,
      user:
        row.u_id === null
          ? undefined
          : toUser({
              id: row.u_id,
              email: row.u_email ?? '',
              display_name: row.u_display_name ?? '',
              password_hash: row.u_password_hash,
              is_operator: row.u_is_operator ?? 0,
              totp_secret_enc: row.u_totp_secret_enc,
              totp_pending_enc: row.u_totp_pending_enc,
              totp_last_step: row.u_totp_last_step,
              mfa_enabled_at: row.u_mfa_enabled_at,
              failed_sign_ins: row.u_failed_sign_ins ?? 0,
              locked_until: row.u_locked_until,
              created_at: row.u_created_at ?? 0,
              disabled_at: row.u_disabled_at,
            }),
      membership:
        row.m_role === null
          ? undefined
          : {
              tenantId: token.tenantId,
              userId: token.userId,
              role: row.m_role as MemberRole,
              createdAt: Number(row.m_created_at),
            },
      tenant:
        row.n_id === null
          ? undefined
          : {
              status: row.n_status === 'suspended' ? 'suspended' : 'active',
              requireMfa: row.n_require_mfa === 1,
            },
    };
  }

  async findById(tenantId: string, id: string): Promise<ApiToken | undefined> {
    const row = await this.#db
      .selectFrom('api_tokens')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toApiToken(row) : undefined;
  }

  async listByTenant(tenantId: string): Promise<ApiToken[]> {
    const rows = await this.#db
      .selectFrom('api_tokens')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toApiToken);
  }

  async update(
    tenantId: string,
    id: string,
    patch: Partial<Pick<ApiToken, 'revokedAt' | 'lastUsedAt'>>,
  ): Promise<void> {
    await this.#db
      .updateTable('api_tokens')
      .set({ revoked_at: patch.revokedAt, last_used_at: patch.lastUsedAt })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async revokeByUser(tenantId: string, userId: string, at: number): Promise<void> {
    await this.#db
      .updateTable('api_tokens')
      .set({ revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}

export class KyselyInvitationRepository implements InvitationRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(i: Invitation): Promise<void> {
    await this.#db
      .insertInto('invitations')
      .values({
        id: i.id,
        tenant_id: i.tenantId,
        email: i.email,
        role: i.role,
        token_hash: i.tokenHash,
        created_by: i.createdBy,
        created_at: i.createdAt,
        expires_at: i.expiresAt,
        accepted_at: i.acceptedAt,
      })
      .execute();
  }

  async findByTokenHash(tokenHash: string): Promise<Invitation | undefined> {
    const row = await this.#db
      .selectFrom('invitations')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? toInvitation(row) : undefined;
  }

  async listPending(tenantId: string | null, now: number): Promise<Invitation[]> {
    const rows = await this.#db
      .selectFrom('invitations')
      .selectAll()
      .where((eb) => (tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', tenantId)))
      .where('accepted_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toInvitation);
  }

  async markAccepted(id: string, at: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('invitations')
      .set({ accepted_at: at })
      .where('id', '=', id)
      .where('accepted_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

export class KyselyRecoveryCodeRepository implements RecoveryCodeRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async replaceAll(userId: string, codeHashes: string[]): Promise<void> {
    await this.#db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    if (codeHashes.length > 0) {
      await this.#db
        .insertInto('recovery_codes')
        .values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash, used_at: null })))
        .execute();
    }
  }

  async consume(userId: string, codeHash: string, at: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('recovery_codes')
      .set({ used_at: at })
      .where('user_id', '=', userId)
      .where('code_hash', '=', codeHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async countUnused(userId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export class KyselyThrottleRepository implements ThrottleRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    // One statement, so concurrent nodes cannot lose a hit: restart the window when it has passed.
    const row = await this.#db
      .insertInto('throttles')
      .values({ key, window_started_at: now, count: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          count: sql`CASE WHEN throttles.window_started_at <= ${now - windowMs} THEN 1 ELSE throttles.count + 1 END`,
          window_started_at: sql`CASE WHEN throttles.window_started_at <= ${now - windowMs} THEN ${now} ELSE throttles.window_started_at END`,
        }),
      )
      .returning('count')
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async count(key: string, now: number, windowMs: number): Promise<number> {
    const row = await this.#db.selectFrom('throttles').selectAll().where('key', '=', key).executeTakeFirst();
    if (!row || Number(row.window_started_at) <= now - windowMs) {
      return 0;
    }
    return Number(row.count);
  }

  async reset(key: string): Promise<void> {
    await this.#db.deleteFrom('throttles').where('key', '=', key).execute();
  }
}

function toSession(row: Selectable<SessionTable>): Session {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    userId: row.user_id,
    tenantId: row.tenant_id,
    csrfToken: row.csrf_token,
    isMfaComplete: row.is_mfa_complete === 1,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    ip: row.ip,
    userAgent: row.user_agent,
  };
}

function toApiToken(row: Selectable<ApiTokenTable>): ApiToken {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    role: row.role as MemberRole,
    tokenHash: row.token_hash,
    prefix: row.prefix,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

function toInvitation(row: Selectable<InvitationTable>): Invitation {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    email: row.email,
    role: row.role as Invitation['role'],
    tokenHash: row.token_hash,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    acceptedAt: row.accepted_at === null ? null : Number(row.accepted_at),
  };
}
