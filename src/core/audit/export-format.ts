import type { KeyObject } from 'node:crypto';
import { ChainVerifier, type Checkpoint, type StoredEntry, type VerificationResult } from './chain.ts';
import { parsePublicKeyPem, publicKeyId } from './signing-key.ts';

/**
 * The self-contained export of one activity log, as JSON Lines: a header (log id, the public keys),
 * every entry in seq order, then the signed checkpoints up to the last entry. With a public key
 * obtained separately it verifies offline with nothing else (verifyExport).
 */
export const EXPORT_FORMAT = 'custodia-audit-log';
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  type: 'header';
  format: typeof EXPORT_FORMAT;
  version: number;
  logId: string;
  tenant: { id: string; slug: string; name: string } | null;
  exportedAt: number;
  /** The export holds entries 1..lastSeq. */
  lastSeq: number;
  publicKeys: Array<{ keyId: string; publicKeyPem: string }>;
}

export function headerLine(header: Omit<ExportHeader, 'type' | 'format' | 'version'>): string {
  const line: ExportHeader = { type: 'header', format: EXPORT_FORMAT, version: EXPORT_VERSION, ...header };
  return `${JSON.stringify(line)}\n`;
}

export function entryLine(e: StoredEntry): string {
  return `${JSON.stringify({
    type: 'entry',
    logId: e.logId,
    seq: e.seq,
    occurredAt: e.occurredAt,
    actorType: e.actorType,
    actorId: e.actorId,
    action: e.action,
    outcome: e.outcome,
    targetType: e.targetType,
    targetId: e.targetId,
    fileId: e.fileId,
    channel: e.channel,
    details: e.details,
    ip: e.ip,
    userAgent: e.userAgent,
    salt: e.salt,
    telemetryHash: e.telemetryHash,
    payloadHash: e.payloadHash,
    prevHash: e.prevHash,
    entryHash: e.entryHash,
  })}\n`;
}

export function checkpointLine(c: Checkpoint): string {
  return `${JSON.stringify({
    type: 'checkpoint',
    logId: c.logId,
    seq: c.seq,
    entryHash: c.entryHash,
    createdAt: c.createdAt,
    keyId: c.keyId,
    signature: c.signature,
  })}\n`;
}

export class ExportFormatError extends Error {}

export interface ExportVerification extends VerificationResult {
  logId: string;
  /** True when the keys came from the export's own header (which proves nothing by itself). */
  isKeyFromExport: boolean;
}

/**
 * Verifies an export given as lines (read twice: checkpoints first, then entries in stream). With
 * `publicKeys` (PEM, obtained separately) only those keys are trusted; without, the header's keys
 * are used and `isKeyFromExport` is set. Throws ExportFormatError when the text is not an export.
 */
export async function verifyExport(input: {
  readLines: () => AsyncIterable<string>;
  publicKeysPem?: string[];
}): Promise<ExportVerification> {
  let header: ExportHeader | undefined;
  const checkpoints: Checkpoint[] = [];
  for await (const line of input.readLines()) {
    if (!header) {
      header = parseHeader(line);
    } else if (line !== '' && !line.startsWith(ENTRY_PREFIX)) {
      const value = parseTyped(line);
      if (value.type === 'checkpoint') {
        checkpoints.push(value as unknown as Checkpoint);
      }
    }
  }
  if (!header) {
    throw new ExportFormatError('the file is empty');
  }
  const keys = input.publicKeysPem ?? header.publicKeys.map((k) => k.publicKeyPem);
  const publicKeys = new Map<string, KeyObject>();
  for (const pem of keys) {
    const key = parsePublicKeyPem(pem);
    publicKeys.set(publicKeyId(key), key);
  }
  const verifier = new ChainVerifier({ checkpoints, publicKeys, logId: header.logId });
  let isHeader = true;
  for await (const line of input.readLines()) {
    if (isHeader) {
      isHeader = false;
      continue;
    }
    if (line === '' || line.startsWith(CHECKPOINT_PREFIX)) {
      continue;
    }
    const value = parseTyped(line);
    if (value.type === 'entry' && !verifier.add(value as unknown as StoredEntry)) {
      break;
    }
  }
  return { ...verifier.finish(), logId: header.logId, isKeyFromExport: input.publicKeysPem === undefined };
}

function parseHeader(line: string): ExportHeader {
  const header = parseLine(line) as Partial<ExportHeader>;
  if (header.type !== 'header' || header.format !== EXPORT_FORMAT) {
    throw new ExportFormatError(`the first line is not a ${EXPORT_FORMAT} header`);
  }
  if (
    header.version !== EXPORT_VERSION ||
    typeof header.logId !== 'string' ||
    !Array.isArray(header.publicKeys)
  ) {
    throw new ExportFormatError(`unsupported export version ${String(header.version)}`);
  }
  return header as ExportHeader;
}

// Lines as entryLine/checkpointLine write them; others are parsed to learn their type.
const ENTRY_PREFIX = '{"type":"entry",';
const CHECKPOINT_PREFIX = '{"type":"checkpoint",';

function parseTyped(line: string): { type: 'entry' | 'checkpoint' } {
  const value = parseLine(line) as { type?: unknown } | null;
  if (value?.type !== 'entry' && value?.type !== 'checkpoint') {
    throw new ExportFormatError(`a line is neither an entry nor a checkpoint: ${line.slice(0, 60)}`);
  }
  return value as { type: 'entry' | 'checkpoint' };
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ExportFormatError(`a line is not JSON: ${line.slice(0, 60)}`);
  }
}
