import type { AuditLog, AuditReader, TelemetryPolicyRepository } from './audit/ports.ts';
import type {
  BlobIntentRepository,
  InlineBlobRepository,
  NodeRepository,
  VersionRepository,
  FolderGrantRepository,
  UploadRepository,
} from './files/ports.repos.ts';
import type {
  ApiTokenRepository,
  InvitationRepository,
  MembershipRepository,
  RecoveryCodeRepository,
  SessionRepository,
  ThrottleRepository,
  UserRepository,
} from './identity/ports.ts';
import type { ShareLinkRepository } from './sharing/ports.ts';
import type { TenantRepository } from './tenants/ports.ts';
import type { UnitOfWork } from './shared/transaction.ts';

/** Every repository port, bound to one connection or one transaction. */
export interface Repos {
  tenants: TenantRepository;
  users: UserRepository;
  memberships: MembershipRepository;
  sessions: SessionRepository;
  apiTokens: ApiTokenRepository;
  invitations: InvitationRepository;
  recoveryCodes: RecoveryCodeRepository;
  throttles: ThrottleRepository;
  nodes: NodeRepository;
  versions: VersionRepository;
  grants: FolderGrantRepository;
  uploads: UploadRepository;
  blobIntents: BlobIntentRepository;
  inlineBlobs: InlineBlobRepository;
  shares: ShareLinkRepository;
  audit: AuditLog & AuditReader;
  telemetryPolicies: TelemetryPolicyRepository;
  settings: SettingsRepository;
}

export interface SettingsRepository {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** What a service needs to read and to change state atomically. */
export interface Store extends UnitOfWork<Repos> {
  repos: Repos;
}
