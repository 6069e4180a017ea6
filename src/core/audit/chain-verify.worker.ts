import { createPublicKey } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { ChainVerifier, type Checkpoint, type StoredEntry } from './chain.ts';

/**
 * The worker side of OffThreadChainVerifier: one ChainVerifier, fed page by page. Public keys
 * arrive as PEM text (a KeyObject cannot be posted to a thread).
 */
export type VerifyWorkerMessage =
  | { type: 'start'; checkpoints: Checkpoint[]; publicKeys: Array<[string, string]>; logId?: string }
  | { type: 'page'; id: number; entries: StoredEntry[] }
  | { type: 'finish' };

let verifier: ChainVerifier | undefined;
const port = parentPort;
if (!port) {
  throw new Error('chain-verify.worker.ts runs only as a worker thread');
}

port.on('message', (message: VerifyWorkerMessage) => {
  try {
    if (message.type === 'start') {
      verifier = new ChainVerifier({
        checkpoints: message.checkpoints,
        publicKeys: new Map(message.publicKeys.map(([keyId, pem]) => [keyId, createPublicKey(pem)])),
        logId: message.logId,
      });
      return;
    }
    if (!verifier) {
      throw new Error('the verifier was not started');
    }
    if (message.type === 'page') {
      let ok = true;
      for (const entry of message.entries) {
        if (!verifier.add(entry)) {
          ok = false;
          break;
        }
      }
      port.postMessage({ type: 'page', id: message.id, ok });
      return;
    }
    port.postMessage({ type: 'result', result: verifier.finish() });
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message });
  }
});
