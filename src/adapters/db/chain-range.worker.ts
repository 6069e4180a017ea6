import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { verifyChainRange, type ChainRange } from '../../core/audit/chain-range.ts';
import { openDatabase } from './database.ts';
import { KyselyAuditChainStore } from './repositories/audit-chain.repository.ts';
import type { Database } from './tables.ts';

/**
 * The thread side of WorkerChainRangeVerifier: opens a read-only connection of its own, reads and
 * checks one range of a log (verifyChainRange), posts the outcome and ends. Public keys arrive as
 * PEM text (a KeyObject cannot be posted to a thread).
 */
export interface ChainRangeTask {
  databaseUrl: string;
  range: ChainRange;
  publicKeys: Array<[string, string]>;
  pageSize: number;
}

const port = parentPort;
if (!port) {
  throw new Error('chain-range.worker.ts runs only as a worker thread');
}
const task = workerData as ChainRangeTask;
const database = openDatabase<Database>(task.databaseUrl, { poolSize: 1, readOnly: true });
try {
  const verification = await verifyChainRange({
    chain: new KyselyAuditChainStore(database.db, database.dialect),
    range: task.range,
    publicKeys: new Map(task.publicKeys.map(([keyId, pem]) => [keyId, createPublicKey(pem)])),
    pageSize: task.pageSize,
  });
  port.postMessage({ verification });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
} finally {
  await database.close();
}
