import type { Generated, Insertable, Selectable } from 'kysely';

/** Row types of the metadata store. They never leave adapters/db: repositories map them to domain types. */
export interface Database {
  settings: { key: string; value: string };
  tenants: TenantTable;
  users: UserTable;
  memberships: MembershipTable;
  invitations: InvitationTable;
  sessions: SessionTable;
  recovery_codes: { user_id: string; code_hash: string; used_at: number | null };
  api_tokens: ApiTokenTable;
  throttles: { key: string; window_started_at: number; count: number };
  nodes: NodeTable;
  file_versions: FileVersionTable;
  uploads: UploadTable;
  upload_parts: UploadPartTable;
  share_links: ShareLinkTable;
  folder_grants: { tenant_id: string; node_id: string; user_id: string; access: string; created_at: number };
  audit_events: AuditEventTable;
  audit_heads: { log_id: string; seq: number; last_hash: string | null };
  audit_checkpoints: AuditCheckpointTable;
  audit_signing_keys: {
    key_id: string;
    public_key: string;
    created_at: number;
    retired_at: number | null;
  };
  alert_rules: AlertRuleTable;
  alert_cursors: { log_id: string; last_seq: number; updated_at: number };
  alerts: AlertTable;
  alert_deliveries: AlertDeliveryTable;
  jobs: JobTable;
  process_leases: ProcessLeaseTable;
  blob_intents: BlobIntentTable;
  inline_blobs: InlineBlobTable;
}

export interface TenantTable {
  id: string;
  slug: string;
  name: string;
  status: string;
  quota_bytes: number;
  used_bytes: Generated<number>;
  keep_versions: number;
  require_mfa: Generated<number>;
  created_at: number;
  suspended_at: number | null;
  /** Days before IP addresses and user agents in the activity log are expunged (30–90). */
  telemetry_retention_days: Generated<number>;
  /** While set, telemetry is not expunged (an investigation needs it). */
  forensic_hold_since: number | null;
  forensic_hold_reason: string | null;
  /** JSON array of CIDR ranges members may work from; null = anywhere. */
  allowed_ip_ranges: string | null;
}

export interface UserTable {
  id: string;
  email: string;
  display_name: string;
  password_hash: string | null;
  is_operator: Generated<number>;
  totp_secret_enc: string | null;
  totp_pending_enc: string | null;
  totp_last_step: Generated<number | null>;
  mfa_enabled_at: number | null;
  failed_sign_ins: Generated<number>;
  locked_until: number | null;
  created_at: number;
  disabled_at: number | null;
}

export interface MembershipTable {
  tenant_id: string;
  user_id: string;
  role: string;
  created_at: number;
}

export interface InvitationTable {
  id: string;
  tenant_id: string | null;
  email: string;
  role: string;
  token_hash: string;
  created_by: string | null;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
}

export interface SessionTable {
  id: string;
  token_hash: string;
  user_id: string;
  tenant_id: string | null;
  csrf_token: string;
  is_mfa_complete: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
}

export interface ApiTokenTable {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  role: string;
  token_hash: string;
  prefix: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface NodeTable {
  id: string;
  tenant_id: string;
  parent_id: string | null;
  kind: string;
  name: string;
  name_key: string;
  current_version_id: string | null;
  size: number;
  mime_type: string | null;
  created_by: string | null;
  updated_by: string | null;
  created_at: number;
  updated_at: number;
  trashed_at: number | null;
  trashed_by: string | null;
  trash_root_id: string | null;
}

export interface FileVersionTable {
  id: string;
  tenant_id: string;
  node_id: string;
  number: number;
  state: string;
  size: number;
  sha256: string | null;
  blob_key: string;
  data_key_id: string;
  created_by: string | null;
  created_at: number;
  committed_at: number | null;
}

export interface UploadTable {
  id: string;
  tenant_id: string;
  user_id: string;
  parent_id: string;
  name: string;
  length: number;
  received: number;
  blob_key: string;
  data_key_id: string;
  metadata: string | null;
  node_id: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  completed_at: number | null;
}

/** A durable staged part of an unfinished resumable upload (see core/files/upload-staging.ts). */
export interface UploadPartTable {
  tenant_id: string;
  upload_id: string;
  first_segment: number;
  plain_end: number;
  blob_key: string;
  created_at: number;
}

export interface ShareLinkTable {
  id: string;
  tenant_id: string;
  node_id: string;
  token_hash: string;
  token_prefix: string;
  password_hash: string | null;
  expires_at: number | null;
  max_downloads: number | null;
  download_count: Generated<number>;
  created_by: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface AuditEventTable {
  id: string;
  log_id: string;
  seq: number;
  tenant_id: string | null;
  occurred_at: number;
  actor_type: string;
  actor_id: string | null;
  action: string;
  outcome: string;
  target_type: string | null;
  target_id: string | null;
  channel: string;
  ip: string | null;
  user_agent: string | null;
  details: string | null;
  payload_hash: string | null;
  prev_hash: string | null;
  entry_hash: string | null;
  /** Erased with ip/user_agent when telemetry retention ends; telemetry_hash stays (it is chained). */
  telemetry_salt: string | null;
  telemetry_hash: string | null;
  /** The file the event concerns, for per-file reports. */
  file_id: string | null;
  telemetry_expired_at: number | null;
}

export interface AuditCheckpointTable {
  log_id: string;
  seq: number;
  entry_hash: string;
  created_at: number;
  key_id: string;
  signature: string;
}

export interface AlertRuleTable {
  id: string;
  tenant_id: string;
  /** bulk_download | sign_in_failures | outside_ip_ranges | share_link_many_ips */
  kind: string;
  name: string;
  threshold: number;
  window_seconds: number;
  enabled: Generated<number>;
  webhook_url: string | null;
  /** The webhook signing secret, sealed with the tenant's 'secrets' key. */
  webhook_secret_enc: string | null;
  /** Comma-separated recipients. */
  email_to: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export interface AlertTable {
  id: string;
  tenant_id: string;
  rule_id: string;
  kind: string;
  dedupe_key: string;
  subject: string;
  summary: string;
  details: string | null;
  first_seq: number;
  last_seq: number;
  fired_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

export interface AlertDeliveryTable {
  id: string;
  tenant_id: string;
  alert_id: string;
  /** webhook | email */
  channel: string;
  target: string;
  /** pending | delivered | failed */
  status: string;
  attempts: Generated<number>;
  next_attempt_at: number | null;
  last_error: string | null;
  delivered_at: number | null;
  created_at: number;
}

export interface JobTable {
  id: string;
  name: string;
  payload: string;
  run_at: number;
  attempts: Generated<number>;
  claimed_by: string | null;
  claimed_until: number | null;
  done_at: number | null;
  last_error: string | null;
  created_at: number;
}

/** One running app or CLI process; its lease is renewed while it runs (see process-registry.ts). */
export interface ProcessLeaseTable {
  id: string;
  /** Machine boot id + pid namespace: rows with ours can be checked with kill(pid, 0). */
  host_scope: string | null;
  pid: number;
  started_at: number;
  expires_at: number;
}

/** A blob being written and not yet committed as a version, with the process writing it. */
export interface BlobIntentTable {
  tenant_id: string;
  blob_key: string;
  data_key_id: string;
  process_id: string;
  created_at: number;
}

/** A small file's sealed bytes, kept in the database with its version (see SealedContent). */
export interface InlineBlobTable {
  tenant_id: string;
  blob_key: string;
  sealed: Uint8Array;
  created_at: number;
}

export type NodeRow = Selectable<NodeTable>;
export type InsertableNodeRow = Insertable<NodeTable>;
