/**
 * Every setting Custodia reads, with its default and what it means. This file and `load.ts` are the
 * only readers of process.env. A bad value stops start-up with one line naming the setting.
 */
export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string;
  blobUrl: string;
  keystoreUrl: string;
  masterKey?: string;
  masterKeyFile: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  trustedProxies: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  migrateOnStart: boolean;
  runJobs: boolean;
  sessionTtlHours: number;
  sessionMaxAgeHours: number;
  defaultQuotaBytes: number;
  inlineContentMaxBytes: number;
  defaultKeepVersions: number;
  uploadExpiryHours: number;
  signInMaxFailures: number;
  signInLockoutMinutes: number;
  rateLimitPerMinute: number;
  notFoundLimitPerMinute: number;
  smtpUrl?: string;
  smtpFrom: string;
  alertWebhookAllowLoopback: boolean;
  auditCheckpointEvery: number;
  auditCheckpointMinutes: number;
}

export type SettingKind = 'string' | 'int' | 'bool' | 'list' | 'url' | 'enum';

export interface SettingSpec {
  key: keyof Config;
  env: string;
  kind: SettingKind;
  description: string;
  /** A function of the settings read so far, so paths can follow the data directory. */
  default?: (partial: Partial<Config>) => unknown;
  values?: readonly string[];
  /** For kind 'url': the schemes this setting accepts. */
  schemes?: readonly string[];
  min?: number;
  max?: number;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'host',
    env: 'CUSTODIA_HOST',
    kind: 'string',
    default: () => '127.0.0.1',
    description: 'Address to listen on. Use 0.0.0.0 to accept connections from other machines.',
  },
  {
    key: 'port',
    env: 'CUSTODIA_PORT',
    kind: 'int',
    min: 0,
    max: 65535,
    default: () => 8080,
    description: 'TCP port to listen on (0 picks a free one).',
  },
  {
    key: 'dataDir',
    env: 'CUSTODIA_DATA_DIR',
    kind: 'string',
    default: () => './data',
    description: 'Directory for the embedded database, blobs, keys and temporary upload state.',
  },
  {
    key: 'publicUrl',
    env: 'CUSTODIA_PUBLIC_URL',
    kind: 'url',
    schemes: ['http', 'https'],
    default: (c) => `http://localhost:${c.port ?? 8080}`,
    description: 'The address users reach this server at; used in setup, invitation and share links.',
  },
  {
    key: 'databaseUrl',
    env: 'CUSTODIA_DATABASE_URL',
    kind: 'url',
    schemes: ['sqlite', 'postgres', 'postgresql'],
    default: (c) => `sqlite:${c.dataDir}/custodia.db`,
    description: 'Metadata store: sqlite:<path> (embedded default) or postgres://user@host:port/db.',
  },
  {
    key: 'blobUrl',
    env: 'CUSTODIA_BLOB_URL',
    kind: 'url',
    schemes: ['file'],
    default: (c) => `file:${c.dataDir}/blobs`,
    description: 'Blob store for encrypted file contents: file:<directory>.',
  },
  {
    key: 'keystoreUrl',
    env: 'CUSTODIA_KEYSTORE_URL',
    kind: 'url',
    schemes: ['sqlite', 'postgres', 'postgresql'],
    default: (c) => `sqlite:${c.dataDir}/keys/keystore.db`,
    description:
      'Key store holding wrapped tenant and data keys, kept apart from data (sqlite:<path> or postgres://…).',
  },
  {
    key: 'masterKey',
    env: 'CUSTODIA_MASTER_KEY',
    kind: 'string',
    description:
      'Master key as base64 (32 bytes). When unset the key file is used (and created on first start).',
  },
  {
    key: 'masterKeyFile',
    env: 'CUSTODIA_MASTER_KEY_FILE',
    kind: 'string',
    default: (c) => `${c.dataDir}/keys/master.key`,
    description: 'File holding the master key ring (created with mode 0600 on first start).',
  },
  {
    key: 'tlsCertFile',
    env: 'CUSTODIA_TLS_CERT_FILE',
    kind: 'string',
    description:
      'PEM certificate chain; with the key file set, the server speaks HTTPS itself (TLS 1.2 minimum).',
  },
  {
    key: 'tlsKeyFile',
    env: 'CUSTODIA_TLS_KEY_FILE',
    kind: 'string',
    description: 'PEM private key for the certificate.',
  },
  {
    key: 'trustedProxies',
    env: 'CUSTODIA_TRUSTED_PROXIES',
    kind: 'list',
    default: () => [],
    description:
      'Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-* headers are believed.',
  },
  {
    key: 'logLevel',
    env: 'CUSTODIA_LOG_LEVEL',
    kind: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: () => 'info',
    description: 'Log level of the structured (pino) log.',
  },
  {
    key: 'migrateOnStart',
    env: 'CUSTODIA_MIGRATE_ON_START',
    kind: 'bool',
    default: () => true,
    description: 'Apply database migrations at start-up.',
  },
  {
    key: 'runJobs',
    env: 'CUSTODIA_RUN_JOBS',
    kind: 'bool',
    default: () => true,
    description: 'Run the background job worker in this process.',
  },
  {
    key: 'sessionTtlHours',
    env: 'CUSTODIA_SESSION_TTL_HOURS',
    kind: 'int',
    min: 1,
    max: 24 * 30,
    default: () => 12,
    description: 'How long a browser session lasts without activity.',
  },
  {
    key: 'sessionMaxAgeHours',
    env: 'CUSTODIA_SESSION_MAX_AGE_HOURS',
    kind: 'int',
    min: 1,
    max: 24 * 90,
    default: () => 24,
    description:
      'How long a browser session lasts at most, however active (then the user signs in again, with their second factor).',
  },
  {
    key: 'defaultQuotaBytes',
    env: 'CUSTODIA_DEFAULT_QUOTA_BYTES',
    kind: 'int',
    min: 0,
    default: () => 10 * 1024 ** 3,
    description: 'Storage quota of a new tenant, in bytes.',
  },
  {
    key: 'inlineContentMaxBytes',
    env: 'CUSTODIA_INLINE_CONTENT_MAX_BYTES',
    kind: 'int',
    min: 0,
    max: 256 * 1024,
    default: () => 64 * 1024,
    description:
      'Uploads that announce (Content-Length) at most this many bytes are kept, encrypted, in the database with their version instead of as a file under blobs/: one commit and one fsync per small file. 0 keeps every file in the blob store.',
  },
  {
    key: 'defaultKeepVersions',
    env: 'CUSTODIA_DEFAULT_KEEP_VERSIONS',
    kind: 'int',
    min: 1,
    max: 1000,
    default: () => 10,
    description: 'How many versions of each file a new tenant keeps.',
  },
  {
    key: 'uploadExpiryHours',
    env: 'CUSTODIA_UPLOAD_EXPIRY_HOURS',
    kind: 'int',
    min: 1,
    default: () => 24,
    description: 'How long an unfinished resumable upload is kept before it is swept.',
  },
  {
    key: 'signInMaxFailures',
    env: 'CUSTODIA_SIGNIN_MAX_FAILURES',
    kind: 'int',
    min: 1,
    default: () => 5,
    description: 'Failed sign-ins for one account before it is locked for a while.',
  },
  {
    key: 'signInLockoutMinutes',
    env: 'CUSTODIA_SIGNIN_LOCKOUT_MINUTES',
    kind: 'int',
    min: 1,
    default: () => 15,
    description: 'How long an account stays locked after repeated failures.',
  },
  {
    key: 'rateLimitPerMinute',
    env: 'CUSTODIA_RATE_LIMIT_PER_MINUTE',
    kind: 'int',
    min: 1,
    default: () => 30,
    description:
      'Requests per minute one address may send to sign-in, setup, invitation and public share-link routes.',
  },
  {
    key: 'notFoundLimitPerMinute',
    env: 'CUSTODIA_NOT_FOUND_LIMIT_PER_MINUTE',
    kind: 'int',
    min: 1,
    default: () => 120,
    description:
      'How many "not found" answers one address may collect per minute before it is slowed down (guessing routes, ids or tokens).',
  },
  {
    key: 'smtpUrl',
    env: 'CUSTODIA_SMTP_URL',
    kind: 'url',
    schemes: ['smtp', 'smtps'],
    description:
      'SMTP server for alert e-mails: smtp://host:587 (STARTTLS when offered) or smtps://user:password@host:465. Unset: alerts cannot be e-mailed.',
  },
  {
    key: 'smtpFrom',
    env: 'CUSTODIA_SMTP_FROM',
    kind: 'string',
    default: (c) => `Custodia <alerts@${hostOf(c.publicUrl)}>`,
    description: 'Sender address of alert e-mails.',
  },
  {
    key: 'alertWebhookAllowLoopback',
    env: 'CUSTODIA_ALERT_WEBHOOK_ALLOW_LOOPBACK',
    kind: 'bool',
    default: () => false,
    description:
      'Let alert webhooks go to http://127.0.0.1, http://[::1] or http://localhost (for tests and local receivers). Otherwise webhooks must be https to a public address.',
  },
  {
    key: 'auditCheckpointEvery',
    env: 'CUSTODIA_AUDIT_CHECKPOINT_EVERY',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    default: () => 1000,
    description:
      'A signed checkpoint of an activity log is made whenever it has grown by this many entries (besides the timed ones).',
  },
  {
    key: 'auditCheckpointMinutes',
    env: 'CUSTODIA_AUDIT_CHECKPOINT_MINUTES',
    kind: 'int',
    min: 1,
    max: 1440,
    default: () => 5,
    description:
      'Every this many minutes, each activity log with entries after its last signed checkpoint gets a new one.',
  },
];

function hostOf(url: string | undefined): string {
  try {
    return new URL(url ?? '').hostname || 'localhost';
  } catch {
    return 'localhost';
  }
}
