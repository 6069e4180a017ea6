import type { Kysely } from 'kysely';
import type { InlineBlobRepository } from '../../../core/files/ports.repos.ts';
import { PreparedInsert } from '../prepared-statement.ts';
import type { Database } from '../tables.ts';

/** Every small upload runs it: built once (see PreparedStatement). */
const INSERT_INLINE_BLOB = new PreparedInsert('inline_blobs', [
  'tenant_id',
  'blob_key',
  'sealed',
  'created_at',
]);

export class KyselyInlineBlobRepository implements InlineBlobRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(blob: {
    tenantId: string;
    blobKey: string;
    sealed: Buffer;
    createdAt: number;
  }): Promise<void> {
    await INSERT_INLINE_BLOB.execute(this.#db, {
      tenant_id: blob.tenantId,
      blob_key: blob.blobKey,
      sealed: blob.sealed,
      created_at: blob.createdAt,
    });
  }

  async find(tenantId: string, blobKey: string): Promise<Buffer | undefined> {
    const row = await this.#db
      .selectFrom('inline_blobs')
      .select('sealed')
      .where('tenant_id', '=', tenantId)
      .where('blob_key', '=', blobKey)
      .executeTakeFirst();
    if (!row) {
      return undefined;
    }
    // node:sqlite answers a Uint8Array, pg a Buffer: one view type for the caller, no copy.
    return Buffer.isBuffer(row.sealed)
      ? row.sealed
      : Buffer.from(row.sealed.buffer, row.sealed.byteOffset, row.sealed.byteLength);
  }

  async deleteMany(tenantId: string, blobKeys: string[]): Promise<void> {
    if (blobKeys.length === 0) {
      return;
    }
    await this.#db
      .deleteFrom('inline_blobs')
      .where('tenant_id', '=', tenantId)
      .where('blob_key', 'in', blobKeys)
      .execute();
  }
}
