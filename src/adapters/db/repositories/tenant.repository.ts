import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { TenantRepository } from '../../../core/tenants/ports.ts';
import type { Tenant, TenantSettingsPatch } from '../../../core/tenants/tenant.types.ts';
import { PreparedStatement } from '../prepared-statement.ts';
import type { Database, TenantTable } from '../tables.ts';

// Statements every upload runs, built once (see PreparedStatement).
const FIND_STORAGE_USE = new PreparedStatement((db, id: string) =>
  db
    .selectFrom('tenants')
    .select((eb) => [
      'quota_bytes',
      'used_bytes',
      eb
        .selectFrom('uploads')
        .select((sub) => sub.fn.sum<number>('length').as('pending'))
        .where('uploads.tenant_id', '=', id)
        .where('uploads.completed_at', 'is', null)
        .as('pending'),
    ])
    .where('id', '=', id),
);
const CHARGE_BYTES = new PreparedStatement((db, id: string, bytes: number) =>
  db
    .updateTable('tenants')
    .set({ used_bytes: sql`used_bytes + ${bytes}` })
    .where('id', '=', id)
    .where(sql<boolean>`used_bytes + ${bytes} <= quota_bytes`),
);

export class KyselyTenantRepository implements TenantRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(t: Tenant): Promise<void> {
    await this.#db
      .insertInto('tenants')
      .values({
        id: t.id,
        slug: t.slug,
        name: t.name,
        status: t.status,
        quota_bytes: t.quotaBytes,
        used_bytes: t.usedBytes,
        keep_versions: t.keepVersions,
        require_mfa: t.requireMfa ? 1 : 0,
        created_at: t.createdAt,
        suspended_at: t.suspendedAt,
      })
      .execute();
  }

  async findById(id: string): Promise<Tenant | undefined> {
    const row = await this.#db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTenant(row) : undefined;
  }

  async findStorageUse(
    id: string,
  ): Promise<{ quotaBytes: number; usedBytes: number; pendingUploadBytes: number } | undefined> {
    const row = await FIND_STORAGE_USE.executeTakeFirst(this.#db, id);
    return row
      ? {
          quotaBytes: Number(row.quota_bytes),
          usedBytes: Number(row.used_bytes),
          pendingUploadBytes: Number(row.pending ?? 0),
        }
      : undefined;
  }

  async findBySlug(slug: string): Promise<Tenant | undefined> {
    const row = await this.#db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst();
    return row ? toTenant(row) : undefined;
  }

  async listForAllTenants(): Promise<Tenant[]> {
    const rows = await this.#db.selectFrom('tenants').selectAll().orderBy('created_at').execute();
    return rows.map(toTenant);
  }

  async update(
    id: string,
    patch: TenantSettingsPatch & { status?: Tenant['status']; suspendedAt?: number | null },
  ): Promise<void> {
    const values: Updateable<TenantTable> = {};
    if (patch.name !== undefined) {
      values.name = patch.name;
    }
    if (patch.requireMfa !== undefined) {
      values.require_mfa = patch.requireMfa ? 1 : 0;
    }
    if (patch.keepVersions !== undefined) {
      values.keep_versions = patch.keepVersions;
    }
    if (patch.quotaBytes !== undefined) {
      values.quota_bytes = patch.quotaBytes;
    }
    if (patch.status !== undefined) {
      values.status = patch.status;
    }
    if (patch.suspendedAt !== undefined) {
      values.suspended_at = patch.suspendedAt;
    }
    if (Object.keys(values).length === 0) {
      return;
    }
    await this.#db.updateTable('tenants').set(values).where('id', '=', id).execute();
  }

  async chargeBytes(id: string, bytes: number): Promise<boolean> {
    return (await CHARGE_BYTES.executeCountingRows(this.#db, id, bytes)) === 1;
  }

  async releaseBytes(id: string, bytes: number): Promise<void> {
    await this.#db
      .updateTable('tenants')
      .set({ used_bytes: sql`CASE WHEN used_bytes >= ${bytes} THEN used_bytes - ${bytes} ELSE 0 END` })
      .where('id', '=', id)
      .execute();
  }
}

function toTenant(row: Selectable<TenantTable>): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status === 'suspended' ? 'suspended' : 'active',
    quotaBytes: Number(row.quota_bytes),
    usedBytes: Number(row.used_bytes),
    keepVersions: row.keep_versions,
    requireMfa: row.require_mfa === 1,
    createdAt: Number(row.created_at),
    suspendedAt: row.suspended_at === null ? null : Number(row.suspended_at),
  };
}
