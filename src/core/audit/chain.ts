import { hash, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

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
  /** The file the event concerns (a download, a share of it, a version restore...), or null. */
  fileId: string | null;
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
  return hash('sha256', text, 'hex');
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

/**
 * A fresh salt for one entry's telemetry. Without it an address could be found again from the kept
 * hash by trying all 2^32 IPv4 addresses; the salt is erased with the address at expiry.
 */
export function newTelemetrySalt(): string {
  return randomBytes(16).toString('base64url');
}

export function telemetryHash(t: Telemetry): string {
  // JSON.stringify of an array of strings and nulls is already canonical.
  return sha256(JSON.stringify([t.ip, t.userAgent, t.salt]));
}

/**
 * sha256 of the canonical JSON of the event's lasting fields plus its telemetry hash. The object is
 * written out by hand with its keys in canonicalJson's (sorted) order, which JSON.stringify keeps:
 * verification runs this a million times, and one native stringify costs a fraction of the
 * generic walk with its sort, or of stringifying field by field (chain.test.ts checks both agree).
 */
export function payloadHash(f: ChainedFields, telemetry: string): string {
  return sha256(
    JSON.stringify({
      action: f.action ?? null,
      actorId: f.actorId ?? null,
      actorType: f.actorType ?? null,
      channel: f.channel ?? null,
      details: f.details ?? null,
      fileId: f.fileId ?? null,
      logId: f.logId ?? null,
      occurredAt: f.occurredAt ?? null,
      outcome: f.outcome ?? null,
      seq: f.seq ?? null,
      targetId: f.targetId ?? null,
      targetType: f.targetType ?? null,
      telemetryHash: telemetry ?? null,
    }),
  );
}

/** The same text as payloadHash hashes, built the generic way (for tests and documentation). */
export function payloadText(f: ChainedFields, telemetry: string): string {
  const lasting: ChainedFields & { telemetryHash: string } = {
    logId: f.logId,
    seq: f.seq,
    occurredAt: f.occurredAt,
    actorType: f.actorType,
    actorId: f.actorId ?? null,
    action: f.action,
    outcome: f.outcome,
    targetType: f.targetType ?? null,
    targetId: f.targetId ?? null,
    fileId: f.fileId ?? null,
    channel: f.channel,
    details: f.details ?? null,
    telemetryHash: telemetry,
  };
  return canonicalJson(lasting);
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

/** A point in a chain: the entry at `seq` (0: before the first), its hash and its predecessor's. */
export interface ChainPosition {
  seq: number;
  entryHash: string;
  prevHash?: string;
}

export type VerificationProblem =
  | 'missing_entry'
  | 'payload_altered'
  | 'telemetry_altered'
  | 'chain_broken'
  | 'checkpoint_signature_invalid'
  | 'checkpoint_mismatch'
  | 'truncated'
  | 'inserted_entry'
  | 'wrong_log';

export interface VerificationResult {
  isValid: boolean;
  /** Entries that verified. */
  entries: number;
  /** Signed checkpoints that verified (signature and the entry they pin). */
  checkpoints: number;
  lastSeq: number;
  /** The last checkpoint the verification reached: everything up to its seq is pinned by a signature. */
  lastCheckpoint?: { seq: number; entryHash: string; createdAt: number; keyId: string };
  /** The first entry (by seq) where something is wrong, and what. */
  firstProblem?: { seq: number; problem: VerificationProblem; detail: string };
}

/**
 * Verifies one log entry by entry, in seq order, holding only the previous hash: feed it a page at
 * a time (a live log read by keyset paging, an export read line by line). `add` returns false at
 * the first problem; `finish` then reports it, or checks that no signed checkpoint lies beyond the
 * last entry (a cut tail) and reports success.
 *
 * A problem is reported at the first entry where the log is provably inconsistent. An entry forged
 * with correct hashes is consistent on its own; it shows at the entry after it (whose seq or
 * predecessor no longer fits) or, if the whole rest was rewritten, at the next signed checkpoint.
 */
export class ChainVerifier {
  readonly #checkpoints: Checkpoint[];
  readonly #publicKeys: Map<string, KeyObject>;
  readonly #logId: string | undefined;
  #next = 0;
  #expectedSeq = 1;
  #prev = GENESIS_HASH;
  #prevPrev: string | undefined;
  #count = 0;
  #verifiedCheckpoints = 0;
  #lastCheckpoint: Checkpoint | undefined;
  /** The seq of the last checkpoint passed: entries up to it are pinned by a signature. */
  #pinnedSeq = 0;
  #problem: VerificationResult['firstProblem'];

  /**
   * `from` resumes after an entry already trusted (a verified checkpoint, or where another
   * verifier stopped: its `position()`): entries then start at its seq + 1 and chain from its
   * hash; checkpoints up to it are not looked at again. With `prevHash` (the trusted entry's own
   * predecessor) an entry inserted right after it is named as such, as without resuming.
   */
  constructor(input: {
    checkpoints: Checkpoint[];
    publicKeys: Map<string, KeyObject>;
    logId?: string;
    from?: ChainPosition;
  }) {
    const from = input.from;
    const sorted = [...input.checkpoints].sort((a, b) => a.seq - b.seq);
    this.#checkpoints = sorted.filter((c) => !from || c.seq > from.seq);
    this.#publicKeys = input.publicKeys;
    this.#logId = input.logId;
    if (from) {
      this.#expectedSeq = from.seq + 1;
      this.#prev = from.entryHash;
      this.#prevPrev = from.prevHash;
      this.#pinnedSeq = sorted.findLast((c) => c.seq <= from.seq)?.seq ?? 0;
    }
  }

  /** Where the verification stands: the last entry that verified (seq 0 and GENESIS_HASH before any). */
  position(): ChainPosition {
    return { seq: this.#expectedSeq - 1, entryHash: this.#prev, prevHash: this.#prevPrev };
  }

  /** Checks the next entry; false once a problem is found (later entries are then ignored). */
  add(e: StoredEntry): boolean {
    if (this.#problem) {
      return false;
    }
    const seq = this.#expectedSeq;
    if (e.seq !== seq) {
      return this.#fail(
        seq,
        e.seq > seq ? 'missing_entry' : 'chain_broken',
        `expected seq ${seq}, found ${e.seq}`,
      );
    }
    if (this.#logId !== undefined && e.logId !== this.#logId) {
      return this.#fail(seq, 'wrong_log', `the entry belongs to log ${e.logId}, not ${this.#logId}`);
    }
    if (e.prevHash !== this.#prev && e.prevHash === this.#prevPrev && this.#isShiftedByOne(e)) {
      // This entry was written to follow the one before its predecessor, at the seq before its own.
      return this.#fail(
        seq - 1,
        'inserted_entry',
        `entry ${seq - 1} was inserted before the original entry ${seq - 1}`,
      );
    }
    if (e.salt !== null && telemetryHash(e) !== e.telemetryHash) {
      return this.#fail(seq, 'telemetry_altered', 'address or user agent differs from what was recorded');
    }
    if (payloadHash(e, e.telemetryHash) !== e.payloadHash) {
      return this.#fail(seq, 'payload_altered', 'the recorded facts differ from their hash');
    }
    if (e.prevHash !== this.#prev || entryHash(this.#prev, seq, e.payloadHash) !== e.entryHash) {
      return this.#fail(seq, 'chain_broken', 'the entry does not follow its predecessor');
    }
    for (let cp = this.#checkpoints[this.#next]; cp && cp.seq <= seq; cp = this.#checkpoints[this.#next]) {
      // Only checkpoints at `seq` can be here: earlier ones were consumed at their own entries.
      if (!this.#isSigned(cp)) {
        return this.#fail(
          seq,
          'checkpoint_signature_invalid',
          `checkpoint at seq ${seq} is not signed by a known key`,
        );
      }
      if (cp.entryHash !== e.entryHash) {
        const since = this.#pinnedSeq + 1;
        return this.#fail(
          seq,
          'checkpoint_mismatch',
          `the signed checkpoint at seq ${seq} pins a different entry: entries ${since}..${seq} were rewritten`,
        );
      }
      this.#verifiedCheckpoints++;
      this.#lastCheckpoint = cp;
      this.#pinnedSeq = cp.seq;
      this.#next++;
    }
    this.#prevPrev = this.#prev;
    this.#prev = e.entryHash;
    this.#expectedSeq++;
    this.#count++;
    return true;
  }

  /**
   * The verdict on the log fed so far, as its end: a signed checkpoint beyond the last entry means
   * entries were cut (`progress` is the same without that check, for a part of a log).
   */
  finish(): VerificationResult {
    if (!this.#problem) {
      const beyond = this.#checkpoints[this.#next];
      if (beyond) {
        const seq = this.#expectedSeq;
        const last = this.#checkpoints.at(-1)?.seq ?? beyond.seq;
        if (!this.#isSigned(beyond)) {
          this.#fail(
            beyond.seq,
            'checkpoint_signature_invalid',
            `checkpoint at seq ${beyond.seq} is not signed by a known key`,
          );
        } else {
          this.#fail(seq, 'truncated', `entries ${seq}..${last} covered by a signed checkpoint are missing`);
        }
      }
    }
    return this.progress();
  }

  /** The verdict on the entries fed so far, without looking beyond them. */
  progress(): VerificationResult {
    const cp = this.#lastCheckpoint;
    return {
      isValid: !this.#problem,
      entries: this.#count,
      checkpoints: this.#verifiedCheckpoints,
      lastSeq: this.#expectedSeq - 1,
      ...(cp
        ? {
            lastCheckpoint: {
              seq: cp.seq,
              entryHash: cp.entryHash,
              createdAt: cp.createdAt,
              keyId: cp.keyId,
            },
          }
        : {}),
      ...(this.#problem ? { firstProblem: this.#problem } : {}),
    };
  }

  #isShiftedByOne(e: StoredEntry): boolean {
    return payloadHash({ ...e, seq: e.seq - 1 }, e.telemetryHash) === e.payloadHash;
  }

  #isSigned(cp: Checkpoint): boolean {
    const key = this.#publicKeys.get(cp.keyId);
    if (!key || (this.#logId !== undefined && cp.logId !== this.#logId)) {
      return false;
    }
    return verify(null, checkpointMessage(cp), key, Buffer.from(cp.signature, 'base64'));
  }

  #fail(seq: number, problem: VerificationProblem, detail: string): false {
    this.#problem = { seq, problem, detail };
    return false;
  }
}

/**
 * Verifies a log given in seq order with its checkpoints and the public keys by key id. Needs
 * nothing else (works on an export, offline). Stops at the first problem and names the entry.
 */
export function verifyChain(input: {
  entries: Iterable<StoredEntry>;
  checkpoints: Checkpoint[];
  publicKeys: Map<string, KeyObject>;
  logId?: string;
}): VerificationResult {
  const verifier = new ChainVerifier(input);
  for (const e of input.entries) {
    if (!verifier.add(e)) {
      break;
    }
  }
  return verifier.finish();
}
