import type { KeyObject } from 'node:crypto';
import {
  ChainVerifier,
  GENESIS_HASH,
  type ChainPosition,
  type StoredEntry,
  type VerificationResult,
} from './chain.ts';
import type { AuditChainStore } from './ports.ts';

/**
 * Verifying a large log as consecutive seq ranges, each read and checked on its own (by
 * ChainRangeVerifier, on a thread and a database connection of its own), then joined.
 *
 * A range after the first starts at the entry just before it, its anchor: as it reads it, that
 * entry's hash and predecessor seed the range's verifier, so that from its second entry on the
 * range is checked exactly as one verifier over the whole log would check it. Joining then needs
 * only the boundary: the range before must have verified up to the anchor, with the same hash.
 * Ranges are joined in seq order and the first problem wins, so a problem in an early range is
 * reported even when a later one found one too. Where a boundary does not line up (entries
 * missing at the end of a range, a range that found no anchor), the rest is verified in one
 * piece from the last entry that verified: the answer is then that of a single verifier.
 */

/**
 * One seq range of a log to verify: entries afterSeq + 1 .. toSeq. Without toSeq the range ends
 * the log: it runs to the last entry stored once the checkpoints are read, and its end is checked
 * for a cut tail (a signed checkpoint beyond the last entry).
 */
export interface ChainRange {
  logId: string;
  afterSeq: number;
  toSeq?: number;
}

/** What one range found. `anchorHash`: the hash of the entry at afterSeq as the range read it. */
export interface ChainRangeVerification {
  afterSeq: number;
  anchorHash?: string;
  /** Counts and problem within the range (the log's end checked only by the last range). */
  result: VerificationResult;
  /** The last entry that verified. */
  end: ChainPosition;
}

/**
 * Reads and checks one range. The checkpoints are read before the last seq, so that every
 * checkpoint seen pins an entry that is there to be read (an append racing the verification
 * cannot look like a cut tail).
 */
export async function verifyChainRange(input: {
  chain: Pick<AuditChainStore, 'listEntries' | 'listCheckpoints' | 'findLastSeq'>;
  range: ChainRange;
  publicKeys: Map<string, KeyObject>;
  pageSize: number;
}): Promise<ChainRangeVerification> {
  const { range } = input;
  const isLast = range.toSeq === undefined;
  const allCheckpoints = await input.chain.listCheckpoints(range.logId);
  const toSeq = range.toSeq ?? (await input.chain.findLastSeq(range.logId));
  // Checkpoints beyond a range that does not end the log are the next range's to check.
  const checkpoints = isLast ? allCheckpoints : allCheckpoints.filter((c) => c.seq <= toSeq);
  const start = (from?: ChainPosition) =>
    new ChainVerifier({ checkpoints, publicKeys: input.publicKeys, logId: range.logId, from });
  let verifier = range.afterSeq === 0 ? start() : undefined;
  let anchorHash: string | undefined;
  const pages = readEntryPages(
    input.chain,
    { logId: range.logId, afterSeq: Math.max(0, range.afterSeq - 1), toSeq },
    input.pageSize,
  );
  pages: for await (const page of pages) {
    let i = 0;
    if (!verifier) {
      const anchor = page[0];
      if (anchor?.seq !== range.afterSeq) {
        break; // no anchor: the range before ends short of it, and the join resumes from there
      }
      anchorHash = anchor.entryHash;
      verifier = start({ seq: anchor.seq, entryHash: anchor.entryHash, prevHash: anchor.prevHash });
      i = 1;
    }
    for (; i < page.length; i++) {
      if (!verifier.add(page[i] as StoredEntry)) {
        break pages;
      }
    }
  }
  if (!verifier) {
    const end = { seq: range.afterSeq, entryHash: GENESIS_HASH };
    return { afterSeq: range.afterSeq, result: emptyResult(range.afterSeq), end };
  }
  const result = isLast ? verifier.finish() : verifier.progress();
  return { afterSeq: range.afterSeq, anchorHash, result, end: verifier.position() };
}

/**
 * Joins range verifications given in seq order. Returns the joined result, or, where a boundary
 * does not line up, the result up to it and the position to resume a single verifier from.
 */
export function joinChainRanges(ranges: ChainRangeVerification[]): {
  result: VerificationResult;
  resumeFrom?: ChainPosition;
} {
  let joined: VerificationResult | undefined;
  let end: ChainPosition = { seq: 0, entryHash: GENESIS_HASH };
  for (const range of ranges) {
    if (joined) {
      if (joined.firstProblem) {
        break; // an earlier range's problem is the first one
      }
      if (end.seq !== range.afterSeq || range.anchorHash !== end.entryHash) {
        return { result: joined, resumeFrom: end };
      }
    }
    joined = joined ? joinResults(joined, range.result) : range.result;
    end = range.end;
  }
  return { result: joined ?? emptyResult(0) };
}

/** `later` continues `earlier` (which found no problem). */
export function joinResults(earlier: VerificationResult, later: VerificationResult): VerificationResult {
  const lastCheckpoint = later.lastCheckpoint ?? earlier.lastCheckpoint;
  return {
    isValid: later.isValid,
    entries: earlier.entries + later.entries,
    checkpoints: earlier.checkpoints + later.checkpoints,
    lastSeq: later.lastSeq,
    ...(lastCheckpoint ? { lastCheckpoint } : {}),
    ...(later.firstProblem ? { firstProblem: later.firstProblem } : {}),
  };
}

/**
 * The log's entries afterSeq + 1 .. toSeq in seq order, a seq range of pageSize at a time (empty
 * ones skipped). The next range is asked for before this one is handed out, so the database reads
 * it meanwhile.
 */
export async function* readEntryPages(
  chain: Pick<AuditChainStore, 'listEntries'>,
  range: { logId: string; afterSeq: number; toSeq: number },
  pageSize: number,
): AsyncGenerator<StoredEntry[]> {
  const { logId, toSeq } = range;
  const read = (after: number) => {
    const page = chain.listEntries(logId, after, Math.min(pageSize, toSeq - after));
    // Awaited on the next turn; if the reader stops early, its failure must not go unhandled.
    page.catch(() => undefined);
    return page;
  };
  let next = range.afterSeq < toSeq ? read(range.afterSeq) : undefined;
  for (let after = range.afterSeq; next; after += pageSize) {
    const page = await next;
    next = after + pageSize < toSeq ? read(after + pageSize) : undefined;
    if (page.length > 0) {
      yield page;
    }
  }
}

function emptyResult(lastSeq: number): VerificationResult {
  return { isValid: true, entries: 0, checkpoints: 0, lastSeq };
}
