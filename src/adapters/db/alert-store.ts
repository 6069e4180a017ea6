import type { Kysely } from 'kysely';
import type { AlertRepos, AlertStore } from '../../core/alerts/ports.ts';
import type { AuditLog } from '../../core/audit/ports.ts';
import type { DialectName } from './database.ts';
import { KyselyAlertRepository } from './repositories/alert.repository.ts';
import type { Database } from './tables.ts';

/**
 * Alerting's unit of work: its repository and the activity log, bound to one transaction. The log
 * writer comes from the caller so alert events are appended exactly as every other event is.
 */
export function createAlertStore(
  db: Kysely<Database>,
  dialect: DialectName,
  auditLogFor: (handle: Kysely<Database>) => AuditLog,
): AlertStore {
  const repos = (handle: Kysely<Database>): AlertRepos => ({
    alerts: new KyselyAlertRepository(handle, dialect),
    audit: auditLogFor(handle),
  });
  return {
    repos: repos(db),
    withTransaction: (work) => db.transaction().execute((trx) => work(repos(trx))),
  };
}
