import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { Membership, User } from '../../../core/identity/identity.types.ts';
import type { MembershipRepository, UserRepository } from '../../../core/identity/ports.ts';
import type { MemberRole } from '../../../core/shared/context.ts';
import type { Database, UserTable } from '../tables.ts';

export class KyselyUserRepository implements UserRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(u: User): Promise<void> {
    await this.#db.insertInto('users').values(fromUser(u)).execute();
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async update(id: string, patch: Partial<Omit<User, 'id' | 'createdAt'>>): Promise<void> {
    // The patch is partial: map it as a whole user, then keep only the fields it actually sets.
    const values: Updateable<UserTable> = Object.fromEntries(
      Object.entries(fromUser(patch as User)).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(values).length === 0) {
      return;
    }
    await this.#db.updateTable('users').set(values).where('id', '=', id).execute();
  }

  async addFailedSignIn(id: string, now: number): Promise<{ failures: number; lockedUntil: number | null }> {
    const hasLockRunOut = sql<boolean>`locked_until IS NOT NULL AND locked_until <= ${now}`;
    const row = await this.#db
      .updateTable('users')
      .set({
        failed_sign_ins: sql`CASE WHEN ${hasLockRunOut} THEN 1 ELSE failed_sign_ins + 1 END`,
        locked_until: sql`CASE WHEN ${hasLockRunOut} THEN NULL ELSE locked_until END`,
      })
      .where('id', '=', id)
      .returning(['failed_sign_ins', 'locked_until'])
      .executeTakeFirst();
    return {
      failures: Number(row?.failed_sign_ins ?? 0),
      lockedUntil:
        row?.locked_until === null || row?.locked_until === undefined ? null : Number(row.locked_until),
    };
  }

  async claimTotpStep(userId: string, step: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('users')
      .set({ totp_last_step: step })
      .where('id', '=', userId)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async countOperators(): Promise<number> {
    const row = await this.#db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('is_operator', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listOperators(): Promise<User[]> {
    const rows = await this.#db
      .selectFrom('users')
      .selectAll()
      .where('is_operator', '=', 1)
      .orderBy('created_at')
      .execute();
    return rows.map(toUser);
  }
}

export class KyselyMembershipRepository implements MembershipRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(m: Membership): Promise<void> {
    await this.#db
      .insertInto('memberships')
      .values({ tenant_id: m.tenantId, user_id: m.userId, role: m.role, created_at: m.createdAt })
      .execute();
  }

  async find(tenantId: string, userId: string): Promise<Membership | undefined> {
    const row = await this.#db
      .selectFrom('memberships')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row
      ? {
          tenantId: row.tenant_id,
          userId: row.user_id,
          role: row.role as MemberRole,
          createdAt: Number(row.created_at),
        }
      : undefined;
  }

  async listByTenant(
    tenantId: string,
  ): Promise<Array<Membership & { email: string; displayName: string; mfaEnabled: boolean }>> {
    const rows = await this.#db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select([
        'memberships.tenant_id',
        'memberships.user_id',
        'memberships.role',
        'memberships.created_at',
        'users.email',
        'users.display_name',
        'users.mfa_enabled_at',
      ])
      .where('memberships.tenant_id', '=', tenantId)
      .orderBy('users.email')
      .execute();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      userId: r.user_id,
      role: r.role as MemberRole,
      createdAt: Number(r.created_at),
      email: r.email,
      displayName: r.display_name,
      mfaEnabled: r.mfa_enabled_at !== null,
    }));
  }

  async listByUser(userId: string): Promise<Membership[]> {
    const rows = await this.#db
      .selectFrom('memberships')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      userId: r.user_id,
      role: r.role as MemberRole,
      createdAt: Number(r.created_at),
    }));
  }

  async updateRole(tenantId: string, userId: string, role: MemberRole): Promise<void> {
    await this.#db
      .updateTable('memberships')
      .set({ role })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
  }

  async delete(tenantId: string, userId: string): Promise<void> {
    await this.#db
      .deleteFrom('memberships')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
  }

  async countByRole(tenantId: string, role: MemberRole): Promise<number> {
    const row = await this.#db
      .selectFrom('memberships')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countOwnersForUpdate(tenantId: string): Promise<number> {
    // A no-op UPDATE rather than SELECT … FOR UPDATE: it row-locks on PostgreSQL and is valid SQLite
    // (where a write transaction already excludes every other writer).
    const rows = await this.#db
      .updateTable('memberships')
      .set({ role: sql`role` })
      .where('tenant_id', '=', tenantId)
      .where('role', '=', 'owner')
      .returning('user_id')
      .execute();
    return rows.length;
  }
}

function fromUser(u: User): Omit<Selectable<UserTable>, 'totp_last_step'> {
  return {
    id: u.id,
    email: u.email,
    display_name: u.displayName,
    password_hash: u.passwordHash,
    is_operator: u.isOperator === undefined ? (undefined as unknown as number) : u.isOperator ? 1 : 0,
    totp_secret_enc: u.totpSecretEnc,
    totp_pending_enc: u.totpPendingEnc,
    mfa_enabled_at: u.mfaEnabledAt,
    failed_sign_ins: u.failedSignIns,
    locked_until: u.lockedUntil,
    created_at: u.createdAt,
    disabled_at: u.disabledAt,
  };
}

export function toUser(row: Selectable<UserTable>): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    passwordHash: row.password_hash,
    isOperator: row.is_operator === 1,
    totpSecretEnc: row.totp_secret_enc,
    totpPendingEnc: row.totp_pending_enc,
    mfaEnabledAt: row.mfa_enabled_at === null ? null : Number(row.mfa_enabled_at),
    failedSignIns: row.failed_sign_ins,
    lockedUntil: row.locked_until === null ? null : Number(row.locked_until),
    createdAt: Number(row.created_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}
