import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The tamper-evident chain of an activity log (DESIGN.md "The audit log is tamper-evident").
 *
 *   telemetryHash = sha256(ip | userAgent | salt)          — the salt is erased with ip/ua at expiry,
 *                                                            so the hash cannot be brute-forced back
 *   payloadHash   = sha256(canonical JSON of the event's lasting fields + telemetryHash)
 *   entryHash     = sha256(prevEntryHash | seq | payloadHash)   (prev of the first entry: 64 zeros)
 *
 * Each entry commits to its predecessor and to its payload hash, not to the payload itself, so
 * expunging telemetry keeps the chain verifiable. Signed checkpoints (Ed25519 over log id, seq and
 * entry hash) pin the chain so that rewriting it from the start, or cutting entries a checkpoint
 * covers, is detected even by someone who can rewrite the whole table.
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  logId: string;
  seq: number;
  occurredAt: number;
  actorType: string;
  actorId: string | null;
  action: string;
  outcome: string;
  targetType: string | null;
  targetId: string | null;
  channel: string;
  /** Canonical JSON text of the details, or null. */
  details: string | null;
}

export interface Telemetry {
  ip: string | null;
  userAgent: string | null;
  salt: string | null;
}

export interface StoredEntry extends ChainedFields, Telemetry {
  telemetryHash: string;
  payloadHash: string;
  prevHash: string;
  entryHash: string;
}

export interface Checkpoint {
  logId: string;
  seq: number;
  entryHash: string;
  createdAt: number;
  keyId: string;
  signature: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function telemetryHash(t: Telemetry): string {
  return sha256(canonicalJson([t.ip, t.userAgent, t.salt]));
}

export function payloadHash(f: ChainedFields, telemetry: string): string {
  // Named fields only: a StoredEntry passed here carries hashes and telemetry that are not payload.
  const lasting: ChainedFields & { telemetryHash: string } = {
    logId: f.logId,
    seq: f.seq,
    occurredAt: f.occurredAt,
    actorType: f.actorType,
    actorId: f.actorId,
    action: f.action,
    outcome: f.outcome,
    targetType: f.targetType,
    targetId: f.targetId,
    channel: f.channel,
    details: f.details,
    telemetryHash: telemetry,
  };
  return sha256(canonicalJson(lasting));
}

export function entryHash(prevHash: string, seq: number, payload: string): string {
  return sha256(`${prevHash}|${seq}|${payload}`);
}

/** Computes the hashes of the entry that follows `prevHash`. */
export function chainEntry(
  fields: ChainedFields,
  telemetry: Telemetry,
  prevHash: string,
): Pick<StoredEntry, 'telemetryHash' | 'payloadHash' | 'prevHash' | 'entryHash'> {
  const tHash = telemetryHash(telemetry);
  const pHash = payloadHash(fields, tHash);
  return {
    telemetryHash: tHash,
    payloadHash: pHash,
    prevHash,
    entryHash: entryHash(prevHash, fields.seq, pHash),
  };
}

export function checkpointMessage(c: Pick<Checkpoint, 'logId' | 'seq' | 'entryHash' | 'createdAt'>): Buffer {
  return Buffer.from(`custodia-audit-checkpoint|${c.logId}|${c.seq}|${c.entryHash}|${c.createdAt}`, 'utf8');
}

export function signCheckpoint(c: Omit<Checkpoint, 'signature'>, privateKey: KeyObject): Checkpoint {
  return { ...c, signature: sign(null, checkpointMessage(c), privateKey).toString('base64') };
}

export type VerificationProblem =
  | 'missing_entry'
  | 'payload_altered'
  | 'telemetry_altered'
  | 'chain_broken'
  | 'checkpoint_signature_invalid'
  | 'checkpoint_mismatch'
  | 'truncated';

export interface VerificationResult {
  isValid: boolean;
  entries: number;
  checkpoints: number;
  lastSeq: number;
  /** The first entry (by seq) where something is wrong, and what. */
  firstProblem?: { seq: number; problem: VerificationProblem; detail: string };
}

/**
 * Verifies a log given in seq order with its checkpoints and the public keys by key id. Needs
 * nothing else (works on an export, offline). Stops at the first problem and names the entry.
 */
export function verifyChain(input: {
  entries: Iterable<StoredEntry>;
  checkpoints: Checkpoint[];
  publicKeys: Map<string, KeyObject>;
}): VerificationResult {
  const checkpoints = [...input.checkpoints].sort((a, b) => a.seq - b.seq);
  const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  const fail = (seq: number, problem: VerificationProblem, detail: string): VerificationResult => ({
    isValid: false,
    entries: count,
    checkpoints: checkpoints.length,
    lastSeq: expectedSeq - 1,
    firstProblem: { seq, problem, detail },
  });
  for (const cp of checkpoints) {
    const key = input.publicKeys.get(cp.keyId);
    if (!key || !verify(null, checkpointMessage(cp), key, Buffer.from(cp.signature, 'base64'))) {
      return fail(
        cp.seq,
        'checkpoint_signature_invalid',
        `checkpoint at seq ${cp.seq} is not signed by a known key`,
      );
    }
  }
  for (const e of input.entries) {
    if (e.seq !== expectedSeq) {
      return fail(
        expectedSeq,
        e.seq > expectedSeq ? 'missing_entry' : 'chain_broken',
        `expected seq ${expectedSeq}, found ${e.seq}`,
      );
    }
    const { salt, ip, userAgent } = e;
    if (salt !== null && telemetryHash({ ip, userAgent, salt }) !== e.telemetryHash) {
      return fail(e.seq, 'telemetry_altered', 'address or user agent differs from what was recorded');
    }
    if (payloadHash(e, e.telemetryHash) !== e.payloadHash) {
      return fail(e.seq, 'payload_altered', 'the recorded facts differ from their hash');
    }
    if (e.prevHash !== prev || entryHash(prev, e.seq, e.payloadHash) !== e.entryHash) {
      return fail(e.seq, 'chain_broken', 'the entry does not follow its predecessor');
    }
    const cp = bySeq.get(e.seq);
    if (cp && cp.entryHash !== e.entryHash) {
      return fail(
        e.seq,
        'checkpoint_mismatch',
        `the signed checkpoint at seq ${e.seq} pins a different entry`,
      );
    }
    prev = e.entryHash;
    expectedSeq++;
    count++;
  }
  const last = checkpoints.at(-1);
  if (last && last.seq >= expectedSeq) {
    return fail(
      expectedSeq,
      'truncated',
      `entries ${expectedSeq}..${last.seq} covered by a signed checkpoint are missing`,
    );
  }
  return { isValid: true, entries: count, checkpoints: checkpoints.length, lastSeq: expectedSeq - 1 };
}
