import type { Migration } from 'kysely';
import * as createCoreTables from './20261122170000_create_core_tables.ts';
import * as createProcessLeasesAndBlobIntents from './20261122180000_create_process_leases_and_blob_intents.ts';
import * as createUploadParts from './20261122190000_create_upload_parts.ts';
import * as addTotpLastStep from './20261122200000_add_totp_last_step.ts';
import * as createAuditChainReportsAlerts from './20261122210000_create_audit_chain_reports_alerts.ts';
import * as createInlineBlobs from './20261122220000_create_inline_blobs.ts';
import * as dropUnusedAuditIndexes from './20261122230000_drop_unused_audit_indexes.ts';

/** Every migration, in order. Append only. */
export const MIGRATIONS: Record<string, Migration> = {
  '20261122170000_create_core_tables': createCoreTables,
  '20261122180000_create_process_leases_and_blob_intents': createProcessLeasesAndBlobIntents,
  '20261122190000_create_upload_parts': createUploadParts,
  '20261122200000_add_totp_last_step': addTotpLastStep,
  '20261122210000_create_audit_chain_reports_alerts': createAuditChainReportsAlerts,
  '20261122220000_create_inline_blobs': createInlineBlobs,
  '20261122230000_drop_unused_audit_indexes': dropUnusedAuditIndexes,
};
