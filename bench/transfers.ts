// The same transfers against every server: a big file up and down, then many small files up,
// each repeated so that a single noisy sample does not decide a target.
import { GIB, megabytesPerSecond, syncAll } from './disk.ts';
import { exchange, putMany, type Endpoint, type Outcome } from './http-client.ts';

export { runTransfers, runSmallTransfers, type StorageTarget, type TransferInputs, type TransferResults };

/** What differs between servers: where to PUT, what counts as success, where to GET back. */
interface StorageTarget {
  name: string;
  endpoint: Endpoint;
  /** Request path that stores a file called `name`. */
  putPath: (name: string) => string;
  /** Statuses that mean "stored". */
  putOk: number[];
  /** Request path to read the file back, given the PUT reply (Custodia replies with a node id). */
  getPath: (name: string, putReply: Outcome) => string;
  /** Checks the server's own account of what it stored, if it gives one; throws if wrong. */
  checkPutReply?: (putReply: Outcome, expected: { size: number; sha256: string }) => void;
}

interface TransferInputs {
  bigFile: string;
  bigSha256: string;
  smallFiles: Buffer[];
  /** How many times each transfer runs; every sample is kept. */
  repeat: number;
  /** Called around the big-file transfers (Custodia samples server memory there). */
  onBigStart?: () => void;
  onBigEnd?: () => void;
  /** CPU seconds the server has used so far (user + system, all threads), if it can be read. */
  serverCpuSeconds?: () => number;
}

/** One sample per repetition, in the order they were taken. */
interface TransferResults {
  /** MB/s until the server's reply to the PUT. */
  uploadMBps: number[];
  /** MB/s until the reply plus a following `sync`: what it costs to have the file on disk. */
  uploadDurableMBps: number[];
  downloadMBps: number[];
  smallFilesPerSecond: number[];
  /** Server CPU milliseconds per small upload, per round (only when `serverCpuSeconds` is given). */
  smallFilesServerCpuMs: number[];
}

async function runTransfers(target: StorageTarget, inputs: TransferInputs): Promise<TransferResults> {
  const results: TransferResults = {
    uploadMBps: [],
    uploadDurableMBps: [],
    downloadMBps: [],
    smallFilesPerSecond: [],
    smallFilesServerCpuMs: [],
  };
  inputs.onBigStart?.();
  for (let round = 1; round <= inputs.repeat; round++) {
    // A new name each round: every upload creates a file, none overwrites.
    const name = `big-1GiB-${round}.bin`;
    const upload = await uploadBig(target, name, inputs);
    results.uploadMBps.push(upload.replyMBps);
    results.uploadDurableMBps.push(upload.durableMBps);
    const downloadPath = target.getPath(name, upload.reply);
    results.downloadMBps.push(await downloadBig(target, downloadPath));
    await verifyBig(target, downloadPath, inputs.bigSha256);
  }
  inputs.onBigEnd?.();
  const small = await runSmallTransfers(target, inputs);
  return { ...results, ...small };
}

/** Only the small-file rounds (`npm run bench -- --only small` runs just these, for quick comparisons). */
async function runSmallTransfers(
  target: StorageTarget,
  inputs: Pick<TransferInputs, 'smallFiles' | 'repeat' | 'serverCpuSeconds'>,
): Promise<Pick<TransferResults, 'smallFilesPerSecond' | 'smallFilesServerCpuMs'>> {
  const results = { smallFilesPerSecond: [] as number[], smallFilesServerCpuMs: [] as number[] };
  for (let round = 1; round <= inputs.repeat; round++) {
    const cpuBefore = inputs.serverCpuSeconds?.();
    results.smallFilesPerSecond.push(await uploadSmall(target, round, inputs.smallFiles));
    const cpuAfter = inputs.serverCpuSeconds?.();
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
      results.smallFilesServerCpuMs.push(((cpuAfter - cpuBefore) * 1000) / inputs.smallFiles.length);
    }
  }
  return results;
}

/**
 * Times the PUT to its reply, then a `sync`. A server that made the file durable before replying
 * leaves nothing for the sync to do; one that did not (nginx never fsyncs) pays for it here.
 */
async function uploadBig(target: StorageTarget, name: string, inputs: TransferInputs) {
  await syncAll();
  const path = target.putPath(name);
  const reply = await exchange(target.endpoint, {
    method: 'PUT',
    path,
    body: { file: inputs.bigFile },
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': GIB },
  });
  if (!target.putOk.includes(reply.status)) {
    throw new Error(`${target.name}: PUT ${path} answered ${reply.status}: ${reply.text.slice(0, 500)}`);
  }
  target.checkPutReply?.(reply, { size: GIB, sha256: inputs.bigSha256 });
  const syncStarted = performance.now();
  await syncAll();
  const syncSeconds = (performance.now() - syncStarted) / 1000;
  return {
    reply,
    replyMBps: megabytesPerSecond(GIB, reply.seconds),
    durableMBps: megabytesPerSecond(GIB, reply.seconds + syncSeconds),
  };
}

/** Timed without hashing: on a small machine sha256 is slower than loopback and would be the limit. */
async function downloadBig(target: StorageTarget, path: string): Promise<number> {
  const outcome = await exchange(target.endpoint, { method: 'GET', path });
  if (outcome.status !== 200 || outcome.bytes !== GIB) {
    throw new Error(
      `${target.name}: GET ${path} answered ${outcome.status} with ${outcome.bytes} bytes, expected 200 with ${GIB}`,
    );
  }
  return megabytesPerSecond(outcome.bytes, outcome.seconds);
}

/** A second, untimed download that proves the bytes served are the bytes uploaded. */
async function verifyBig(target: StorageTarget, path: string, expectedSha256: string): Promise<void> {
  const outcome = await exchange(target.endpoint, { method: 'GET', path, hash: true });
  if (outcome.status !== 200 || outcome.sha256 !== expectedSha256) {
    throw new Error(
      `${target.name}: GET ${path} served different bytes: status ${outcome.status}, ` +
        `${outcome.bytes} bytes, sha256 ${outcome.sha256}, expected ${expectedSha256}`,
    );
  }
}

async function uploadSmall(target: StorageTarget, round: number, files: Buffer[]): Promise<number> {
  await syncAll();
  const seconds = await putMany(target.endpoint, {
    bodies: files,
    pathFor: (index) => target.putPath(`small-${round}-${String(index).padStart(5, '0')}.bin`),
    okStatuses: target.putOk,
  });
  return files.length / seconds;
}
