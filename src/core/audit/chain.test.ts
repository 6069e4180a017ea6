import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  chainEntry,
  GENESIS_HASH,
  payloadHash,
  payloadText,
  sha256,
  signCheckpoint,
  verifyChain,
  type Checkpoint,
  type StoredEntry,
} from './chain.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keys = new Map([['k1', publicKey]]);

function buildLog(count: number, checkpointEvery = 4): { entries: StoredEntry[]; checkpoints: Checkpoint[] } {
  const entries: StoredEntry[] = [];
  const checkpoints: Checkpoint[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const fields = {
      logId: 'tenant-a',
      seq,
      occurredAt: 1_790_000_000_000 + seq,
      actorType: 'user',
      actorId: `u${seq % 3}`,
      action: seq % 2 ? 'file.download' : 'file.upload',
      outcome: 'success',
      targetType: 'file',
      targetId: `f${seq}`,
      fileId: seq % 4 ? `f${seq}` : null,
      channel: 'api',
      details: `{"size":${seq * 10}}`,
    };
    const telemetry = { ip: `192.0.2.${seq}`, userAgent: 'curl/8', salt: `salt-${seq}` };
    const hashes = chainEntry(fields, telemetry, prev);
    entries.push({ ...fields, ...telemetry, ...hashes });
    prev = hashes.entryHash;
    if (seq % checkpointEvery === 0) {
      checkpoints.push(
        signCheckpoint(
          {
            logId: 'tenant-a',
            seq,
            entryHash: hashes.entryHash,
            createdAt: 1_790_000_000_000 + seq,
            keyId: 'k1',
          },
          privateKey,
        ),
      );
    }
  }
  return { entries, checkpoints };
}

describe('verifyChain', () => {
  it('should accept an untouched log', () => {
    const log = buildLog(10);

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.isValid, true);
    assert.equal(result.entries, 10);
    assert.equal(result.checkpoints, 2);
    assert.equal(result.lastSeq, 10);
    assert.equal(result.lastCheckpoint?.seq, 8);
  });

  it('should still verify after telemetry is expunged (ip, user agent and salt erased)', () => {
    const log = buildLog(6);
    for (const e of log.entries.slice(0, 3)) {
      Object.assign(e, { ip: null, userAgent: null, salt: null });
    }

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.isValid, true);
  });

  it('should name the first edited entry', () => {
    const log = buildLog(10);
    log.entries[4] = { ...log.entries[4]!, action: 'file.view' };

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.deepEqual(result.firstProblem, {
      seq: 5,
      problem: 'payload_altered',
      detail: 'the recorded facts differ from their hash',
    });
  });

  it('should detect an edited address while telemetry is still present', () => {
    const log = buildLog(5);
    log.entries[1] = { ...log.entries[1]!, ip: '203.0.113.9' };

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.firstProblem?.seq, 2);
    assert.equal(result.firstProblem?.problem, 'telemetry_altered');
  });

  it('should detect a deleted entry', () => {
    const log = buildLog(10);
    log.entries.splice(6, 1);

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.firstProblem?.seq, 7);
    assert.equal(result.firstProblem?.problem, 'missing_entry');
  });

  it('should detect an inserted entry even with recomputed hashes', () => {
    const log = buildLog(8);
    const forged = buildLog(8).entries.map((e) => ({ ...e }));
    // An attacker rewrites from seq 3 on with a consistent but different chain.
    forged[2] = { ...forged[2]!, action: 'file.delete' };
    let prev = forged[1]!.entryHash;
    for (const e of forged.slice(2)) {
      Object.assign(e, chainEntry(e, e, prev));
      prev = e.entryHash;
    }

    const result = verifyChain({ entries: forged, checkpoints: log.checkpoints, publicKeys: keys });

    assert.equal(result.firstProblem?.seq, 4);
    assert.equal(result.firstProblem?.problem, 'checkpoint_mismatch');
  });

  it('should detect reordered entries', () => {
    const log = buildLog(6);
    [log.entries[2], log.entries[3]] = [log.entries[3]!, log.entries[2]!];

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.firstProblem?.seq, 3);
  });

  it('should detect a tail cut behind the last checkpoint', () => {
    const log = buildLog(8);
    log.entries.splice(5);

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.deepEqual(result.firstProblem, {
      seq: 6,
      problem: 'truncated',
      detail: 'entries 6..8 covered by a signed checkpoint are missing',
    });
  });

  it('should refuse a checkpoint signed by an unknown key', () => {
    const log = buildLog(4);
    const other = generateKeyPairSync('ed25519');
    log.checkpoints[0] = signCheckpoint({ ...log.checkpoints[0]! }, other.privateKey);

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.equal(result.firstProblem?.problem, 'checkpoint_signature_invalid');
  });

  it('should report a forged checkpoint at its own seq, not before earlier good entries', () => {
    const log = buildLog(12);
    const other = generateKeyPairSync('ed25519');
    log.checkpoints[1] = signCheckpoint({ ...log.checkpoints[1]! }, other.privateKey);

    const result = verifyChain({ ...log, publicKeys: keys });

    assert.deepEqual(result.firstProblem?.seq, 8);
    assert.equal(result.checkpoints, 1);
  });

  it('should refuse entries of another log when the log id is given', () => {
    const log = buildLog(3);

    const result = verifyChain({ ...log, publicKeys: keys, logId: 'tenant-b' });

    assert.equal(result.firstProblem?.problem, 'wrong_log');
    assert.equal(result.firstProblem?.seq, 1);
  });
});

describe('payloadHash', () => {
  it('should hash exactly the canonical JSON of the lasting fields', () => {
    const { entries } = buildLog(8);
    for (const e of entries) {
      const withOddText = { ...e, details: '{"name":"a \\"quoted\\" \\u2028 naïve"}', actorId: null };

      assert.equal(payloadHash(withOddText, 'abc'), sha256(payloadText(withOddText, 'abc')));
      assert.equal(payloadHash(e, e.telemetryHash), sha256(payloadText(e, e.telemetryHash)));
    }
  });
});
