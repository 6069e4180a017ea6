import type { Kysely, Selectable } from 'kysely';
import type { TelemetryPolicy, TelemetryPolicyRepository } from '../../../core/audit/ports.ts';
import type { Database, TenantTable } from '../tables.ts';

/** The telemetry retention and forensic hold columns of `tenants`. */
export class KyselyTelemetryPolicyRepository implements TelemetryPolicyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async find(tenantId: string): Promise<TelemetryPolicy | undefined> {
    const row = await this.#db
      .selectFrom('tenants')
      .select(['id', 'telemetry_retention_days', 'forensic_hold_since', 'forensic_hold_reason'])
      .where('id', '=', tenantId)
      .executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  async setRetentionDays(tenantId: string, days: number): Promise<void> {
    await this.#db
      .updateTable('tenants')
      .set({ telemetry_retention_days: days })
      .where('id', '=', tenantId)
      .execute();
  }

  async setForensicHold(tenantId: string, hold: TelemetryPolicy['forensicHold']): Promise<void> {
    await this.#db
      .updateTable('tenants')
      .set({ forensic_hold_since: hold?.since ?? null, forensic_hold_reason: hold?.reason ?? null })
      .where('id', '=', tenantId)
      .execute();
  }

  async listForAllTenants(): Promise<TelemetryPolicy[]> {
    const rows = await this.#db
      .selectFrom('tenants')
      .select(['id', 'telemetry_retention_days', 'forensic_hold_since', 'forensic_hold_reason'])
      .orderBy('created_at')
      .execute();
    return rows.map(toPolicy);
  }
}

function toPolicy(
  row: Pick<
    Selectable<TenantTable>,
    'id' | 'telemetry_retention_days' | 'forensic_hold_since' | 'forensic_hold_reason'
  >,
): TelemetryPolicy {
  return {
    tenantId: row.id,
    retentionDays: Number(row.telemetry_retention_days),
    forensicHold:
      row.forensic_hold_since === null
        ? null
        : { since: Number(row.forensic_hold_since), reason: row.forensic_hold_reason ?? '' },
  };
}
