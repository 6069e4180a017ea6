import { sql, type Kysely, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { AuditReportRepository, ReportRow } from '../../../core/audit/report.ports.ts';
import type { ReportCheckpoint, ReportFilter, ReportQuery } from '../../../core/audit/report.types.ts';
import type { DialectName } from '../database.ts';
import type { AuditEventTable, Database } from '../tables.ts';

/** Beyond this many values of one filter, one IN query (sorted by the database) beats the merge. */
const MAX_BRANCHES = 64;

/** Counting index entries stops here: enough to tell a cheap path from a costly one. */
const PERIOD_SCAN_CAP = 2_000;

type Column = 'file_id' | 'ip' | 'actor_id' | 'action';
type EventQuery = SelectQueryBuilder<Database, 'audit_events', Selectable<AuditEventTable>>;

/**
 * Report reads over audit_events. Every filter is answered by one of the indexes
 * (log_id, file_id | actor_id | ip | action | occurred_at, seq), or by (log_id, seq) when only a
 * period is given, so the newest page costs index reads proportional to the page, not to the log.
 *
 * A filter that stands for several values (an action family `file.`, or a user together with the
 * API tokens they acted through) would defeat "equality + seq order" as an IN list (each database
 * then sorts every match). Instead it runs one LIMITed query per value, each an ordered index range,
 * and merges them here: at most branches × limit rows are read for a page.
 */
export class KyselyAuditReportRepository implements AuditReportRepository {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;
  readonly #periodScanCap: number;

  /** `periodScanCap` is for tests, which need both period paths on a small log. */
  constructor(db: Kysely<Database>, options: { dialect: DialectName; periodScanCap?: number }) {
    this.#db = db;
    this.#dialect = options.dialect;
    this.#periodScanCap = options.periodScanCap ?? PERIOD_SCAN_CAP;
  }

  async listEntries(tenantId: string, query: ReportQuery & { upToSeq?: number }): Promise<ReportRow[]> {
    const { filter, limit } = query;
    const actions = filter.action ? await this.#actionValues(tenantId, filter.action) : undefined;
    const actors = filter.actorId ? await this.#actorValues(tenantId, filter.actorId) : undefined;
    if (actions?.length === 0 || actors?.length === 0) {
      return [];
    }
    if (!actions && !actors && filter.fileId === undefined && filter.ip === undefined) {
      return this.#periodOnly(tenantId, filter, query);
    }
    const span = await this.#periodSpan(tenantId, filter, query);
    if (span === 'empty') {
      return [];
    }
    const base = this.#base(tenantId, filter, { ...query, span, avoidOccurredIndex: true });
    // One equality is enough to drive an ordered index scan (file, ip, one person, one action);
    // only when every filter given stands for several values is the query split per value.
    const hasOneEquality =
      filter.fileId !== undefined || filter.ip !== undefined || actors?.length === 1 || actions?.length === 1;
    const branchOn: { column: Column; values: string[] } | undefined = hasOneEquality
      ? undefined
      : actors && actors.length <= MAX_BRANCHES
        ? { column: 'actor_id', values: actors }
        : actions && actions.length <= MAX_BRANCHES
          ? { column: 'action', values: actions }
          : undefined;
    const narrowed = (q: EventQuery, skip?: Column) => {
      let out = q;
      // A lone value as `=`, not `IN (…)`: SQLite orders by an index only after an equality.
      if (actions && skip !== 'action') {
        out =
          actions.length === 1
            ? out.where('action', '=', actions[0] ?? '')
            : out.where('action', 'in', actions);
      }
      if (actors && skip !== 'actor_id') {
        out =
          actors.length === 1
            ? out.where('actor_id', '=', actors[0] ?? '')
            : out.where('actor_id', 'in', actors);
      }
      return out.orderBy('seq', 'desc').limit(limit);
    };
    if (!branchOn) {
      return (await narrowed(base).execute()).map(toRow);
    }
    const pages = await Promise.all(
      branchOn.values.map((value) =>
        narrowed(base.where(branchOn.column, '=', value), branchOn.column).execute(),
      ),
    );
    return pages
      .flat()
      .map(toRow)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit);
  }

  async findHeadSeq(tenantId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('log_id', '=', tenantId)
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  async findLatestCheckpoint(tenantId: string): Promise<ReportCheckpoint | undefined> {
    const row = await this.#db
      .selectFrom('audit_checkpoints as c')
      .leftJoin('audit_signing_keys as k', 'k.key_id', 'c.key_id')
      .select(['c.seq', 'c.entry_hash', 'c.created_at', 'c.key_id', 'c.signature', 'k.public_key'])
      .where('c.log_id', '=', tenantId)
      .orderBy('c.seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) {
      return undefined;
    }
    return {
      seq: Number(row.seq),
      entryHash: row.entry_hash,
      createdAt: Number(row.created_at),
      keyId: row.key_id,
      signature: row.signature,
      publicKey: row.public_key ?? null,
    };
  }

  async findMemberNames(
    tenantId: string,
    userIds: string[],
  ): Promise<Map<string, { name: string; email: string }>> {
    const rows = await this.#db
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.display_name', 'u.email'])
      .where('m.tenant_id', '=', tenantId)
      .where('m.user_id', 'in', userIds)
      .execute();
    return new Map(rows.map((r) => [r.id, { name: r.display_name, email: r.email }]));
  }

  async findNodeNames(tenantId: string, nodeIds: string[]): Promise<Map<string, string>> {
    const rows = await this.#db
      .selectFrom('nodes')
      .select(['id', 'name'])
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', nodeIds)
      .execute();
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  /**
   * A period alone (or no filter). Scanning (log_id, seq) backwards and skipping entries outside the
   * period costs as many entries as lie after the period; reading the period on the occurred_at
   * index and keeping the highest seqs costs as many as lie within it. Both are counted on the
   * indexes, each stopping at PERIOD_SCAN_CAP, and the cheaper path is taken. The sort reads seq
   * alone from the covering occurred_at index (`seq + 0` keeps the planner off the seq index),
   * then fetches just the page's rows. No assumption that time and seq rise together.
   */
  async #periodOnly(
    tenantId: string,
    filter: ReportFilter,
    query: { beforeSeq?: number; upToSeq?: number; limit: number },
  ): Promise<ReportRow[]> {
    const { limit } = query;
    const base = this.#base(tenantId, filter, query);
    // Walking (log_id, seq) backwards: SQLite must not be offered the occurred_at index instead.
    const bySeq = async () =>
      (
        await this.#base(tenantId, filter, { ...query, avoidOccurredIndex: true })
          .orderBy('seq', 'desc')
          .limit(limit)
          .execute()
      ).map(toRow);
    if (filter.from === undefined && filter.to === undefined) {
      return bySeq();
    }
    const inPeriod = await this.#cappedCount(base);
    if (inPeriod >= this.#periodScanCap) {
      const after =
        filter.to === undefined
          ? 0
          : await this.#cappedCount(this.#base(tenantId, { from: filter.to + 1 }, query));
      if (after < this.#periodScanCap) {
        return bySeq();
      }
    }
    const top = await base
      .clearSelect()
      .select('seq')
      .orderBy(sql`seq + 0`, 'desc')
      .limit(limit)
      .execute();
    if (top.length === 0) {
      return [];
    }
    const rows = await this.#db
      .selectFrom('audit_events')
      .selectAll()
      .where('log_id', '=', tenantId)
      .where(
        'seq',
        'in',
        top.map((r) => Number(r.seq)),
      )
      .orderBy('seq', 'desc')
      .execute();
    return rows.map(toRow);
  }

  async #cappedCount(q: EventQuery): Promise<number> {
    const row = await this.#db
      .selectFrom(q.clearSelect().select('seq').limit(this.#periodScanCap).as('p'))
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * With another filter driving, a period narrows the scan by seq: the lowest and highest seq among
   * the period's entries, read off the covering occurred_at index when there are fewer than
   * PERIOD_SCAN_CAP of them (exact, whatever the clocks did). A longer period gives no span.
   */
  async #periodSpan(
    tenantId: string,
    filter: ReportFilter,
    query: { beforeSeq?: number; upToSeq?: number },
  ): Promise<{ min: number; max: number } | 'empty' | undefined> {
    if (filter.from === undefined && filter.to === undefined) {
      return undefined;
    }
    const inPeriod = this.#base(tenantId, { from: filter.from, to: filter.to }, query)
      .clearSelect()
      .select('seq')
      .limit(this.#periodScanCap);
    const row = await this.#db
      .selectFrom(inPeriod.as('p'))
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('seq').as('min'), eb.fn.max('seq').as('max')])
      .executeTakeFirst();
    const n = Number(row?.n ?? 0);
    if (n === 0) {
      return 'empty';
    }
    return n < this.#periodScanCap ? { min: Number(row?.min), max: Number(row?.max) } : undefined;
  }

  /**
   * The log, the equality and period filters, and the paging bounds; no ORDER BY yet. When another
   * filter drives, the equality index (bounded by the span, if any) must give the order, rather
   * than the period being read off the occurred_at index and sorted.
   */
  #base(
    tenantId: string,
    filter: ReportFilter,
    query: {
      beforeSeq?: number;
      upToSeq?: number;
      span?: { min: number; max: number };
      /** Another index gives the order: keep SQLite's planner off the occurred_at index. */
      avoidOccurredIndex?: boolean;
    },
  ): EventQuery {
    let q = this.#db.selectFrom('audit_events').selectAll().where('log_id', '=', tenantId);
    if (filter.fileId !== undefined) {
      q = q.where('file_id', '=', filter.fileId);
    }
    if (filter.ip !== undefined) {
      q = q.where('ip', '=', filter.ip);
    }
    // SQLite (no statistics) would rather range over occurred_at and sort; `+occurred_at` takes that
    // index out of its choice. PostgreSQL plans from statistics: hiding the column from them made it
    // guess a 30-day period matches 0.5% of a person's entries, and sort them all.
    const occurred =
      query.avoidOccurredIndex && this.#dialect === 'sqlite'
        ? sql<number>`+occurred_at`
        : sql<number>`occurred_at`;
    if (filter.from !== undefined) {
      q = q.where(occurred, '>=', filter.from);
    }
    if (filter.to !== undefined) {
      q = q.where(occurred, '<=', filter.to);
    }
    if (query.span) {
      q = q.where('seq', '>=', query.span.min).where('seq', '<=', query.span.max);
    }
    if (query.beforeSeq !== undefined) {
      q = q.where('seq', '<', query.beforeSeq);
    }
    if (query.upToSeq !== undefined) {
      q = q.where('seq', '<=', query.upToSeq);
    }
    return q;
  }

  /**
   * The actions a filter stands for. A family is resolved by walking the distinct actions of the log
   * on the action index (a recursive "loose index scan": one index seek per distinct action, a few
   * dozen in all, in one round trip) and keeping those that start with the prefix: exact whatever
   * the database's collation, which a LIKE or a range on the prefix would not be.
   */
  async #actionValues(tenantId: string, action: NonNullable<ReportFilter['action']>): Promise<string[]> {
    if (action.kind === 'exact') {
      return [action.value];
    }
    const { rows } = await sql<{ action: string | null }>`
      WITH RECURSIVE walk(action) AS (
        SELECT MIN(action) FROM audit_events WHERE log_id = ${tenantId}
        UNION ALL
        SELECT (SELECT MIN(e.action) FROM audit_events e WHERE e.log_id = ${tenantId} AND e.action > walk.action)
        FROM walk WHERE walk.action IS NOT NULL
      )
      SELECT action FROM walk WHERE action IS NOT NULL`.execute(this.#db);
    return rows.flatMap((r) => (r.action?.startsWith(action.value) ? [r.action] : []));
  }

  /** A user acts as themselves and through their API tokens (actor id `userId/tokenId`). */
  async #actorValues(tenantId: string, actorId: string): Promise<string[]> {
    if (actorId.includes('/')) {
      return [actorId];
    }
    const tokens = await this.#db
      .selectFrom('api_tokens')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', actorId)
      .limit(MAX_BRANCHES - 1)
      .execute();
    return [actorId, ...tokens.map((t) => `${actorId}/${t.id}`)];
  }
}

function toRow(row: Selectable<AuditEventTable>): ReportRow {
  return {
    seq: Number(row.seq),
    occurredAt: Number(row.occurred_at),
    action: row.action,
    outcome: row.outcome,
    actorType: row.actor_type,
    actorId: row.actor_id,
    targetType: row.target_type,
    targetId: row.target_id,
    fileId: row.file_id,
    channel: row.channel,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
    entryHash: row.entry_hash,
  };
}
