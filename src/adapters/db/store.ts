import type { Kysely } from 'kysely';
import type { Repos, SettingsRepository, Store } from '../../core/repos.ts';
import type { Clock } from '../../core/shared/clock.ts';
import { KyselyAuditLog, type AuditAppendOptions } from './repositories/audit.repository.ts';
import { KyselyBlobIntentRepository } from './repositories/blob-intent.repository.ts';
import { KyselyInlineBlobRepository } from './repositories/inline-blob.repository.ts';
import {
  KyselyFolderGrantRepository,
  KyselyNodeRepository,
  KyselyUploadRepository,
  KyselyVersionRepository,
} from './repositories/node.repository.ts';
import {
  KyselyApiTokenRepository,
  KyselyInvitationRepository,
  KyselyRecoveryCodeRepository,
  KyselySessionRepository,
  KyselyThrottleRepository,
} from './repositories/session.repository.ts';
import { KyselyShareLinkRepository } from './repositories/share-link.repository.ts';
import { KyselyTelemetryPolicyRepository } from './repositories/telemetry-policy.repository.ts';
import { KyselyTenantRepository } from './repositories/tenant.repository.ts';
import { KyselyMembershipRepository, KyselyUserRepository } from './repositories/user.repository.ts';
import type { Database } from './tables.ts';

/** Builds every repository over one connection or transaction. */
export function createRepos(db: Kysely<Database>, clock: Clock, audit?: AuditAppendOptions): Repos {
  return {
    tenants: new KyselyTenantRepository(db),
    users: new KyselyUserRepository(db),
    memberships: new KyselyMembershipRepository(db),
    sessions: new KyselySessionRepository(db),
    apiTokens: new KyselyApiTokenRepository(db),
    invitations: new KyselyInvitationRepository(db),
    recoveryCodes: new KyselyRecoveryCodeRepository(db),
    throttles: new KyselyThrottleRepository(db),
    nodes: new KyselyNodeRepository(db),
    versions: new KyselyVersionRepository(db),
    grants: new KyselyFolderGrantRepository(db),
    uploads: new KyselyUploadRepository(db),
    blobIntents: new KyselyBlobIntentRepository(db),
    inlineBlobs: new KyselyInlineBlobRepository(db),
    shares: new KyselyShareLinkRepository(db),
    audit: new KyselyAuditLog(db, clock, audit),
    telemetryPolicies: new KyselyTelemetryPolicyRepository(db),
    settings: new KyselySettingsRepository(db),
  };
}

/** The Store port over Kysely: plain repositories plus `withTransaction` for atomic changes. */
export function createStore(db: Kysely<Database>, clock: Clock, audit?: AuditAppendOptions): Store {
  return {
    repos: createRepos(db, clock, audit),
    withTransaction: (work) => db.transaction().execute((trx) => work(createRepos(trx, clock, audit))),
  };
}

class KyselySettingsRepository implements SettingsRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(key: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.#db.deleteFrom('settings').where('key', '=', key).execute();
  }
}
