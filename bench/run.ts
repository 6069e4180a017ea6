// `npm run bench`: measures the disk, nginx WebDAV and Custodia on this machine, prints the results
// and records them in docs/BENCHMARKS.md. Read that file's introduction for what each figure means.
//
//   node bench/run.ts                   everything
//   node bench/run.ts --skip-custodia   only the baselines (dd, cp, nginx)
//   BENCH_DIR=/mnt/data/bench …         scratch space elsewhere (default ./tmp-bench)
//   BENCH_REPEAT=5 …                    samples per measurement (default 3; the median is reported)
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemorySampler, readMemoryKiB, startCustodia } from './custodia.ts';
import { GIB, makeRandomFile, makeSmallFiles, measureCpWithSync, measureDd } from './disk.ts';
import { describeMachine } from './machine.ts';
import { startNginx } from './nginx.ts';
import { killAllChildrenSync } from './proc.ts';
import { renderSection, verdicts, writeBenchmarksDoc, type CustodiaResults, type Results } from './report.ts';
import { runTransfers, type TransferInputs, type TransferResults } from './transfers.ts';
import { createWorkspace, removeWorkspaceSync, type Workspace } from './workspace.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOC_PATH = join(REPO_ROOT, 'docs', 'BENCHMARKS.md');
const SMALL_FILE_COUNT = 2000;
const SMALL_FILE_SIZE = 4096;
const KIB_TO_MB = 1024 / 1e6;
/** On a shared or virtual disk one sample can be off by a third; the median of a few is steadier. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

async function main(): Promise<void> {
  requireNode24();
  if (!Number.isInteger(REPEAT) || REPEAT < 1) {
    throw new Error(`BENCH_REPEAT must be a whole number ≥ 1, not ${process.env.BENCH_REPEAT}`);
  }
  const skipCustodia = process.argv.includes('--skip-custodia');
  if (!skipCustodia) {
    requireCustodiaEntryPoints();
  }
  const workspace = await createWorkspace(REPO_ROOT);
  cleanUpOnExit(workspace);
  log(`scratch directory ${workspace.dir}`);
  try {
    const results = await measureAll(workspace.dir, skipCustodia);
    await writeBenchmarksDoc(DOC_PATH, results);
    console.log(`\n${renderSection(results)}\n\n${verdicts(results).join('\n')}\n\nwritten to ${DOC_PATH}`);
  } finally {
    removeWorkspaceSync(workspace);
  }
}

async function measureAll(dir: string, skipCustodia: boolean): Promise<Results> {
  const machine = await describeMachine(dir);
  log('writing a 1 GiB random file');
  const bigFile = join(dir, 'source.bin');
  const inputs: TransferInputs = {
    bigFile,
    bigSha256: await makeRandomFile(bigFile, GIB),
    smallFiles: makeSmallFiles(SMALL_FILE_COUNT, SMALL_FILE_SIZE),
    repeat: REPEAT,
  };
  log('dd');
  const ddMBps = await sample(() => measureDd(dir));
  log(`dd: ${rates(ddMBps)} MB/s; cp`);
  const cpMBps = await sample(() => measureCpWithSync(bigFile, dir, GIB));
  log(`cp + sync: ${rates(cpMBps)} MB/s; nginx`);
  const nginx = await measureNginx(dir, inputs);
  logTransfers('nginx', nginx);
  const common = { machine, repeat: REPEAT, ddMBps, cpMBps, nginx };
  if (skipCustodia) {
    return { ...common, custodiaMissing: 'skipped with --skip-custodia.' };
  }
  log('Custodia');
  const custodia = await measureCustodia(dir, inputs);
  logTransfers('Custodia', custodia);
  log(`Custodia memory: peak RSS ${custodia.peakRssMB.toFixed(0)} MB, VmHWM ${custodia.hwmMB.toFixed(0)} MB`);
  return { ...common, custodia };
}

async function sample(measure: () => Promise<number>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    samples.push(await measure());
  }
  return samples;
}

async function measureNginx(dir: string, inputs: TransferInputs): Promise<TransferResults> {
  const nginx = await startNginx(dir);
  try {
    return await runTransfers(nginx.target, inputs);
  } finally {
    await nginx.stop();
    // Its stored copy is 1 GiB the Custodia half does not need.
    rmSync(join(dir, 'nginx'), { recursive: true, force: true });
  }
}

async function measureCustodia(dir: string, inputs: TransferInputs): Promise<CustodiaResults> {
  const custodia = await startCustodia({ repoRoot: REPO_ROOT, benchDir: dir });
  try {
    const sampler = new MemorySampler(custodia.pid);
    const transfers = await runTransfers(custodia.target, {
      ...inputs,
      onBigStart: () => sampler.start(),
      onBigEnd: () => sampler.stop(),
    });
    const hwmKiB = readMemoryKiB(custodia.pid, 'VmHWM');
    return { ...transfers, peakRssMB: sampler.peakKiB * KIB_TO_MB, hwmMB: hwmKiB * KIB_TO_MB };
  } finally {
    await custodia.stop();
  }
}

/**
 * The scratch data is several GiB and the servers hold ports: both must go however the run
 * ends. `finally` blocks handle errors; this handles signals and crashes, where only
 * synchronous code still runs.
 */
function cleanUpOnExit(workspace: Workspace): void {
  process.on('exit', () => {
    killAllChildrenSync();
    removeWorkspaceSync(workspace);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping servers and removing ${workspace.dir}`);
      process.exit(130);
    });
  }
}

/** Checked first, so that a missing server fails the run before minutes of baselines. */
function requireCustodiaEntryPoints(): void {
  for (const entry of ['src/main.ts', 'src/cli/main.ts']) {
    if (!existsSync(join(REPO_ROOT, entry))) {
      throw new Error(`${entry} does not exist yet; run with --skip-custodia to measure only the baselines`);
    }
  }
}

function requireNode24(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    throw new Error(`Node ${process.version} is too old; use Node 24 (npm run bench does)`);
  }
}

function logTransfers(name: string, t: TransferResults): void {
  const parts = [
    `upload ${rates(t.uploadMBps)} MB/s (with sync ${rates(t.uploadDurableMBps)})`,
    `download ${rates(t.downloadMBps)} MB/s`,
    `4 KiB files ${rates(t.smallFilesPerSecond)}/s`,
  ];
  log(`${name}: ${parts.join('; ')}`);
}

function rates(samples: number[]): string {
  return samples.map((value) => value.toFixed(0)).join(', ');
}

/** Progress goes to stderr so that stdout holds only the results. */
function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

main().catch((error: unknown) => {
  console.error(
    `\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exitCode = 1;
});
