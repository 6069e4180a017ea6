import type { Kysely } from 'kysely';
import type { BlobIntent, BlobIntentRepository } from '../../../core/files/ports.repos.ts';
import type { BlobIntentTable, Database } from '../tables.ts';

export class KyselyBlobIntentRepository implements BlobIntentRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(intent: BlobIntent): Promise<void> {
    await this.#db
      .insertInto('blob_intents')
      .values({
        tenant_id: intent.tenantId,
        blob_key: intent.blobKey,
        data_key_id: intent.dataKeyId,
        process_id: intent.processId,
        created_at: intent.createdAt,
      })
      .execute();
  }

  async release(tenantId: string, blobKey: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('blob_intents')
      .where('tenant_id', '=', tenantId)
      .where('blob_key', '=', blobKey)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async deleteMany(tenantId: string, blobKeys: string[]): Promise<void> {
    if (blobKeys.length === 0) {
      return;
    }
    await this.#db
      .deleteFrom('blob_intents')
      .where('tenant_id', '=', tenantId)
      .where('blob_key', 'in', blobKeys)
      .execute();
  }

  async listBlobKeys(tenantId: string): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom('blob_intents')
      .select('blob_key')
      .where('tenant_id', '=', tenantId)
      .execute();
    return new Set(rows.map((r) => r.blob_key));
  }

  async listForAllTenants(): Promise<BlobIntent[]> {
    return (await this.#db.selectFrom('blob_intents').selectAll().execute()).map(toBlobIntent);
  }
}

function toBlobIntent(row: BlobIntentTable): BlobIntent {
  return {
    tenantId: row.tenant_id,
    blobKey: row.blob_key,
    dataKeyId: row.data_key_id,
    processId: row.process_id,
    createdAt: row.created_at,
  };
}
