import { sql, type Kysely } from 'kysely';
import type { Checkpoint, StoredEntry } from '../../../core/audit/chain.ts';
import type { AuditChainStore, SigningKeyRecord } from '../../../core/audit/ports.ts';
import type { DialectName } from '../database.ts';
import type { Database } from '../tables.ts';

const EXPIRY_SLICE = 5000;

/**
 * The chain-level view of the activity logs: entries as the verifier reads them, checkpoints,
 * signing keys, and the telemetry expiry. Works per log id (a tenant id, or OPERATOR_LOG_ID);
 * methods named …ForAllLogs are for jobs only.
 */
export class KyselyAuditChainStore implements AuditChainStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;

  constructor(db: Kysely<Database>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  async listEntries(logId: string, afterSeq: number, span: number): Promise<StoredEntry[]> {
    // Columns aliased to the verifier's field names: each row is used as it comes, no mapping.
    const rows = await this.#db
      .selectFrom('audit_events')
      .select([
        'log_id as logId',
        'seq',
        'occurred_at as occurredAt',
        'actor_type as actorType',
        'actor_id as actorId',
        'action',
        'outcome',
        'target_type as targetType',
        'target_id as targetId',
        'file_id as fileId',
        'channel',
        'details',
        'ip',
        'user_agent as userAgent',
        'telemetry_salt as salt',
        sql<string>`coalesce(telemetry_hash, '')`.as('telemetryHash'),
        sql<string>`coalesce(payload_hash, '')`.as('payloadHash'),
        sql<string>`coalesce(prev_hash, '')`.as('prevHash'),
        sql<string>`coalesce(entry_hash, '')`.as('entryHash'),
      ])
      .where('log_id', '=', logId)
      .where('seq', '>', afterSeq)
      .where('seq', '<=', afterSeq + span)
      .orderBy('seq')
      .execute();
    return rows;
  }

  async findLastSeq(logId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('audit_events')
      .select('seq')
      .where('log_id', '=', logId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.seq) : 0;
  }

  async readHead(logId: string): Promise<{ seq: number; entryHash: string } | undefined> {
    const read = async (db: Kysely<Database>) => {
      let query = db.selectFrom('audit_heads').select(['seq', 'last_hash']).where('log_id', '=', logId);
      if (this.#dialect === 'postgres') {
        // Waits for an appender holding the head (FOR UPDATE) to commit, then reads what it wrote.
        query = query.forShare();
      }
      return query.executeTakeFirst();
    };
    const head =
      this.#dialect === 'postgres' ? await this.#db.transaction().execute(read) : await read(this.#db);
    return head?.last_hash ? { seq: Number(head.seq), entryHash: head.last_hash } : undefined;
  }

  async listCheckpoints(logId: string): Promise<Checkpoint[]> {
    const rows = await this.#db
      .selectFrom('audit_checkpoints')
      .select([
        'log_id as logId',
        'seq',
        'entry_hash as entryHash',
        'created_at as createdAt',
        'key_id as keyId',
        'signature',
      ])
      .where('log_id', '=', logId)
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), createdAt: Number(r.createdAt) }));
  }

  async findLastCheckpoint(logId: string): Promise<Checkpoint | undefined> {
    const row = await this.#db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('log_id', '=', logId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row
      ? {
          logId: row.log_id,
          seq: Number(row.seq),
          entryHash: row.entry_hash,
          createdAt: Number(row.created_at),
          keyId: row.key_id,
          signature: row.signature,
        }
      : undefined;
  }

  async insertCheckpoint(checkpoint: Checkpoint): Promise<boolean> {
    const result = await this.#db
      .insertInto('audit_checkpoints')
      .values({
        log_id: checkpoint.logId,
        seq: checkpoint.seq,
        entry_hash: checkpoint.entryHash,
        created_at: checkpoint.createdAt,
        key_id: checkpoint.keyId,
        signature: checkpoint.signature,
      })
      // Another node checkpointed the same entry first: one is enough.
      .onConflict((oc) => oc.columns(['log_id', 'seq']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async listLogsAwaitingCheckpointForAllLogs(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('audit_heads as h')
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('audit_checkpoints')
            .select(['log_id', (e) => e.fn.max('seq').as('last_seq')])
            .groupBy('log_id')
            .as('c'),
        (join) => join.onRef('c.log_id', '=', 'h.log_id'),
      )
      .select('h.log_id')
      .where((eb) => eb.or([eb('c.last_seq', 'is', null), eb('c.last_seq', '<', eb.ref('h.seq'))]))
      .execute();
    return rows.map((r) => r.log_id);
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.#db
      .insertInto('audit_signing_keys')
      .values({
        key_id: key.keyId,
        public_key: key.publicKeyPem,
        created_at: key.createdAt,
        retired_at: key.retiredAt,
      })
      .onConflict((oc) => oc.column('key_id').doNothing())
      .execute();
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.#db.selectFrom('audit_signing_keys').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({
      keyId: r.key_id,
      publicKeyPem: r.public_key,
      createdAt: Number(r.created_at),
      retiredAt: r.retired_at === null ? null : Number(r.retired_at),
    }));
  }

  async expireTelemetry(logId: string, options: { occurredBefore: number; now: number }): Promise<number> {
    // In slices, so a first run over months of entries never holds the write lock for long.
    let total = 0;
    for (;;) {
      const slice = this.#db
        .selectFrom('audit_events')
        .select('seq')
        .where('log_id', '=', logId)
        .where('occurred_at', '<', options.occurredBefore)
        .where('telemetry_expired_at', 'is', null)
        .where((eb) =>
          eb.or([
            eb('ip', 'is not', null),
            eb('user_agent', 'is not', null),
            eb('telemetry_salt', 'is not', null),
          ]),
        )
        .limit(EXPIRY_SLICE);
      const result = await this.#db
        .updateTable('audit_events')
        .set({ ip: null, user_agent: null, telemetry_salt: null, telemetry_expired_at: options.now })
        .where('log_id', '=', logId)
        .where('seq', 'in', slice)
        .executeTakeFirst();
      const count = Number(result.numUpdatedRows);
      total += count;
      if (count < EXPIRY_SLICE) {
        return total;
      }
    }
  }
}
