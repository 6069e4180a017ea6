import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { HttpWebhookSender } from './adapters/alerts/http-webhook-sender.ts';
import { LocalDiskBlobStore } from './adapters/blobs/local-disk-blob-store.ts';
import { createAlertStore } from './adapters/db/alert-store.ts';
import { WorkerChainRangeVerifier } from './adapters/db/chain-range-verifier.ts';
import { assertReachable, openDatabase, type DatabaseHandle } from './adapters/db/database.ts';
import { migrateToLatest } from './adapters/db/migrate.ts';
import { KyselyProcessRegistry } from './adapters/db/process-registry.ts';
import { KyselyAuditLog } from './adapters/db/repositories/audit.repository.ts';
import { KyselyAuditChainStore } from './adapters/db/repositories/audit-chain.repository.ts';
import { KyselyAuditReportRepository } from './adapters/db/repositories/audit-report.repository.ts';
import { MIGRATIONS } from './adapters/db/migrations/index.ts';
import { createStore } from './adapters/db/store.ts';
import type { Database } from './adapters/db/tables.ts';
import { KEY_STORE_MIGRATIONS, KyselyKeyStore, type KeyStoreTables } from './adapters/keys/key-store.ts';
import { loadOrCreateRingFile, ringFromEnvKey } from './adapters/keys/master-key-ring.ts';
import { Argon2PasswordHasher } from './adapters/security/argon2-hasher.ts';
import { SmtpMailSender } from './adapters/mail/smtp-mail-sender.ts';
import { KeyStoreSecretBox } from './adapters/security/secret-box.ts';
import { KeyStoreTenantSecretBox } from './adapters/security/tenant-secret-box.ts';
import type { Config } from './config/schema.ts';
import { AlertDeliveryService } from './core/alerts/alert-delivery.service.ts';
import { AlertEvaluator } from './core/alerts/alert-evaluator.service.ts';
import { AlertRulesService } from './core/alerts/alert-rules.service.ts';
import { AuditCheckpointService } from './core/audit/checkpoint.service.ts';
import { ReportService } from './core/audit/report.service.ts';
import { TelemetryRetentionService } from './core/audit/telemetry.service.ts';
import { AuditVerificationService } from './core/audit/verification.service.ts';
import { KeyService, SYSTEM_KEY_OWNER } from './core/crypto/key.service.ts';
import type { MasterKeyRing } from './core/crypto/ports.ts';
import { ContentService } from './core/files/content.service.ts';
import { MaintenanceService } from './core/files/maintenance.service.ts';
import type { BlobStore } from './core/files/ports.ts';
import { SealedContent } from './core/files/sealed-content.ts';
import { TreeService } from './core/files/tree.service.ts';
import { UploadService } from './core/files/upload.service.ts';
import { AuthService } from './core/identity/auth.service.ts';
import { MembersService } from './core/identity/members.service.ts';
import { MfaService } from './core/identity/mfa.service.ts';
import type { PasswordHasher } from './core/identity/ports.ts';
import type { Store } from './core/repos.ts';
import { systemClock, type Clock } from './core/shared/clock.ts';
import { ShareService } from './core/sharing/share.service.ts';
import { TenantService } from './core/tenants/tenant.service.ts';

/** Every adapter and service, built once from Config. The only place that wires things together. */
export interface Services {
  config: Config;
  clock: Clock;
  database: DatabaseHandle<Database>;
  store: Store;
  blobs: BlobStore;
  keys: KeyService;
  hasher: PasswordHasher;
  auth: AuthService;
  members: MembersService;
  mfa: MfaService;
  tenants: TenantService;
  tree: TreeService;
  files: ContentService;
  /** Resumable (tus) uploads. */
  uploads: UploadService;
  shares: ShareService;
  maintenance: MaintenanceService;
  /** Activity reports and their exports. */
  reports: ReportService;
  /** Signed checkpoints of the activity logs (job, and on every N-th entry). */
  auditCheckpoints: AuditCheckpointService;
  /** Verifying and exporting the activity logs (API, CLI). */
  auditVerification: AuditVerificationService;
  /** Telemetry retention and forensic holds of the activity logs (API, job). */
  telemetry: TelemetryRetentionService;
  processes: KyselyProcessRegistry;
  /** Alert rules, fired alerts, allowed IP ranges (API). */
  alerts: AlertRulesService;
  /** Reads the activity logs and fires alerts (job). */
  alertEvaluator: AlertEvaluator;
  /** Sends fired alerts by webhook and e-mail, with retries (job). */
  alertDelivery: AlertDeliveryService;
  close(): Promise<void>;
}

export interface ComposeOptions {
  clock?: Clock;
  /** Cheaper argon2 parameters for tests (never for production). */
  hasher?: PasswordHasher;
}

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Services> {
  const clock = options.clock ?? systemClock;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const database = openDatabase<Database>(config.databaseUrl);
  const sharesDatabase = config.keystoreUrl === config.databaseUrl;
  const keyDatabase = sharesDatabase
    ? undefined
    : openDatabase<KeyStoreTables>(config.keystoreUrl, { poolSize: 4 });
  let processes: KyselyProcessRegistry | undefined;
  try {
    await assertReachable(database.db, 'CUSTODIA_DATABASE_URL', config.databaseUrl);
    if (keyDatabase) {
      await assertReachable(keyDatabase.db, 'CUSTODIA_KEYSTORE_URL', config.keystoreUrl);
    }
    if (config.migrateOnStart) {
      await migrateToLatest(database.db, MIGRATIONS);
    }
    const keyDb = keyDatabase?.db ?? (database.db as unknown as Kysely<KeyStoreTables>);
    await migrateToLatest(keyDb, KEY_STORE_MIGRATIONS, 'custodia_keystore_migration');
    const ring = masterKeyRing(config);
    const keys = new KeyService({ store: new KyselyKeyStore(keyDb), ring, clock });
    // Every process takes a lease first: what it half-writes is tagged with its id (see processes.ts).
    processes = new KyselyProcessRegistry({ db: database.db, clock });
    await processes.start();
    const registry = processes;
    const blobs = await blobStore(config, processes.selfId);
    // The log writer asks for a checkpoint whenever a log completes a block of entries.
    // The writer exists before the checkpoint service it calls back into, hence the late binding.
    const checkpointsLater: { service?: AuditCheckpointService } = {};
    const auditAppend = {
      checkpointEvery: config.auditCheckpointEvery,
      onCheckpointDue: (logId: string) => checkpointsLater.service?.requestCheckpoint(logId),
    };
    const store = createStore(database.db, clock, auditAppend);
    const auditChain = new KyselyAuditChainStore(database.db, database.dialect);
    const auditCheckpoints = new AuditCheckpointService({
      chain: auditChain,
      audit: store.repos.audit,
      seed: () => keys.getTenantKey(SYSTEM_KEY_OWNER, 'audit-signing', { create: true }),
      clock,
    });
    checkpointsLater.service = auditCheckpoints;
    const hasher = options.hasher ?? new Argon2PasswordHasher();
    const content = new SealedContent({
      blobs,
      keys,
      intents: store.repos.blobIntents,
      inlineBlobs: store.repos.inlineBlobs,
      inlineMaxBytes: config.inlineContentMaxBytes,
      processId: processes.selfId,
      clock,
    });
    const files = new ContentService({ store, content, clock });
    const auth = new AuthService({
      store,
      hasher,
      clock,
      policy: {
        sessionTtlMs: config.sessionTtlHours * 3600_000,
        sessionMaxAgeMs: config.sessionMaxAgeHours * 3600_000,
        maxFailures: config.signInMaxFailures,
        lockoutMs: config.signInLockoutMinutes * 60_000,
      },
    });
    const alertStore = createAlertStore(
      database.db,
      database.dialect,
      (h) => new KyselyAuditLog(h, clock, auditAppend),
    );
    const mail = new SmtpMailSender({ url: config.smtpUrl, from: config.smtpFrom });
    const tenantSecrets = new KeyStoreTenantSecretBox(keys);
    const alertDelivery = new AlertDeliveryService({
      store: alertStore,
      clock,
      webhooks: new HttpWebhookSender({ allowLoopback: config.alertWebhookAllowLoopback }),
      mail,
      box: tenantSecrets,
      publicUrl: config.publicUrl,
    });
    return {
      config,
      clock,
      database,
      store,
      blobs,
      keys,
      hasher,
      auth,
      members: new MembersService({ store, auth, clock }),
      mfa: new MfaService({ store, box: new KeyStoreSecretBox(keys), clock }),
      tenants: new TenantService({
        store,
        keys,
        clock,
        defaults: { quotaBytes: config.defaultQuotaBytes, keepVersions: config.defaultKeepVersions },
      }),
      tree: new TreeService({ store, content, clock }),
      files,
      uploads: new UploadService({
        store,
        blobs,
        keys,
        files,
        clock,
        expiryMs: config.uploadExpiryHours * 3600_000,
      }),
      shares: new ShareService({
        store,
        content,
        hasher,
        clock,
        ticketKey: () => keys.getTenantKey(SYSTEM_KEY_OWNER, 'secrets', { create: true }),
      }),
      maintenance: new MaintenanceService({ store, blobs, content, clock, processes }),
      reports: new ReportService({
        reports: new KyselyAuditReportRepository(database.db, { dialect: database.dialect }),
        store,
        clock,
      }),
      auditCheckpoints,
      auditVerification: new AuditVerificationService({
        chain: auditChain,
        checkpoints: auditCheckpoints,
        store,
        clock,
        ...(WorkerChainRangeVerifier.canRead(config.databaseUrl)
          ? { ranges: new WorkerChainRangeVerifier({ databaseUrl: config.databaseUrl }) }
          : {}),
      }),
      telemetry: new TelemetryRetentionService({ store, chain: auditChain, clock }),
      processes,
      alerts: new AlertRulesService({
        store: alertStore,
        clock,
        box: tenantSecrets,
        mail,
        delivery: alertDelivery,
        allowLoopbackWebhooks: config.alertWebhookAllowLoopback,
      }),
      alertEvaluator: new AlertEvaluator({ store: alertStore, clock }),
      alertDelivery,
      close: async () => {
        await auditCheckpoints.idle();
        mail.close();
        await registry.stop().catch(() => undefined);
        await database.close();
        await keyDatabase?.close();
      },
    };
  } catch (error) {
    await processes?.stop().catch(() => undefined);
    await database.close().catch(() => undefined);
    await keyDatabase?.close().catch(() => undefined);
    throw error;
  }
}

function masterKeyRing(config: Config): MasterKeyRing {
  return config.masterKey
    ? ringFromEnvKey(config.masterKey)
    : loadOrCreateRingFile(resolve(config.masterKeyFile));
}

async function blobStore(config: Config, writerId: string): Promise<BlobStore> {
  if (config.blobUrl.startsWith('file:')) {
    // Temp files are not swept here: a CLI command composing beside a running server would delete
    // that server's uploads in flight. MaintenanceService.sweepAbandonedWrites removes only the dead's.
    const store = new LocalDiskBlobStore(resolve(config.blobUrl.slice('file:'.length)), { writerId });
    await store.init();
    return store;
  }
  throw new Error(
    `CUSTODIA_BLOB_URL: unsupported scheme in ${config.blobUrl.split(':')[0]}: (supported: file:)`,
  );
}
