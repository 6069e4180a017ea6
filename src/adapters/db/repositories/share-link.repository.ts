import { sql, type Kysely, type Selectable } from 'kysely';
import type { ShareLinkRepository } from '../../../core/sharing/ports.ts';
import type { ShareLink } from '../../../core/sharing/share.types.ts';
import type { Database, ShareLinkTable } from '../tables.ts';

export class KyselyShareLinkRepository implements ShareLinkRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(l: ShareLink): Promise<void> {
    await this.#db
      .insertInto('share_links')
      .values({
        id: l.id,
        tenant_id: l.tenantId,
        node_id: l.nodeId,
        token_hash: l.tokenHash,
        token_prefix: l.tokenPrefix,
        password_hash: l.passwordHash,
        expires_at: l.expiresAt,
        max_downloads: l.maxDownloads,
        download_count: l.downloadCount,
        created_by: l.createdBy,
        created_at: l.createdAt,
        revoked_at: l.revokedAt,
      })
      .execute();
  }

  async findByTokenHash(tokenHash: string): Promise<ShareLink | undefined> {
    const row = await this.#db
      .selectFrom('share_links')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? toShareLink(row) : undefined;
  }

  async find(tenantId: string, id: string): Promise<ShareLink | undefined> {
    const row = await this.#db
      .selectFrom('share_links')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toShareLink(row) : undefined;
  }

  async listByNode(tenantId: string, nodeId: string): Promise<ShareLink[]> {
    const rows = await this.#db
      .selectFrom('share_links')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('node_id', '=', nodeId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toShareLink);
  }

  async revoke(tenantId: string, id: string, at: number): Promise<void> {
    await this.#db
      .updateTable('share_links')
      .set({ revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async countDownload(tenantId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('share_links')
      .set({ download_count: sql`download_count + 1` })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where((eb) =>
        eb.or([eb('max_downloads', 'is', null), eb('download_count', '<', eb.ref('max_downloads'))]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

function toShareLink(row: Selectable<ShareLinkTable>): ShareLink {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    nodeId: row.node_id,
    tokenHash: row.token_hash,
    tokenPrefix: row.token_prefix,
    passwordHash: row.password_hash,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    maxDownloads: row.max_downloads,
    downloadCount: row.download_count,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}
