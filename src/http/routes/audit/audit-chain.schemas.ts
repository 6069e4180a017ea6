import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../common.schemas.ts';

const Problem = Type.Union([
  Type.Literal('missing_entry'),
  Type.Literal('payload_altered'),
  Type.Literal('telemetry_altered'),
  Type.Literal('chain_broken'),
  Type.Literal('checkpoint_signature_invalid'),
  Type.Literal('checkpoint_mismatch'),
  Type.Literal('truncated'),
  Type.Literal('wrong_log'),
  Type.Literal('inserted_entry'),
]);

export const VerificationView = Type.Object({
  logId: Type.String(),
  isValid: Type.Boolean(),
  entries: Type.Integer({ description: 'Entries that verified.' }),
  checkpoints: Type.Integer({ description: 'Signed checkpoints that verified.' }),
  lastSeq: Type.Integer({ description: 'The last entry that verified.' }),
  verifiedAt: Timestamp,
  lastCheckpoint: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      entryHash: Type.String(),
      createdAt: Timestamp,
      keyId: Type.String(),
    }),
  ),
  firstProblem: Type.Optional(Type.Object({ seq: Type.Integer(), problem: Problem, detail: Type.String() })),
});

export const PublicKeysView = Type.Object({
  keys: Type.Array(
    Type.Object({
      keyId: Type.String(),
      publicKeyPem: Type.String({ description: 'Ed25519 public key, SPKI PEM.' }),
      createdAt: Timestamp,
      retiredAt: NullableTimestamp,
    }),
  ),
});

export const TelemetryPolicyView = Type.Object({
  retentionDays: Type.Integer(),
  minRetentionDays: Type.Integer(),
  maxRetentionDays: Type.Integer(),
  forensicHold: Type.Union([Type.Object({ since: Timestamp, reason: Type.String() }), Type.Null()]),
});

export const RetentionBody = Type.Object(
  {
    retentionDays: Type.Integer({
      minimum: 30,
      maximum: 90,
      description: 'Days IP addresses and user agents stay in the activity log (30 to 90).',
    }),
  },
  { additionalProperties: false },
);

export const HoldBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept in the log).' }) },
  { additionalProperties: false },
);
