// `npm run bench`: measures the disk, nginx WebDAV and Custodia on this machine, prints the results
// and records them in docs/BENCHMARKS.md. Read that file's introduction for what each figure means.
//
//   node bench/run.ts                   everything
//   node bench/run.ts --skip-custodia   only the baselines (dd, cp, nginx)
//   node bench/run.ts --only small      only Custodia's 4 KiB uploads (files/s, server CPU per file,
//                                       VmHWM); prints them and leaves docs/BENCHMARKS.md alone
//   BENCH_SERVER_NODE_FLAGS='--cpu-prof --cpu-prof-dir=…' …   extra Node flags for the server
//   BENCH_DIR=/mnt/data/bench …         scratch space elsewhere (default ./tmp-bench)
//   BENCH_REPEAT=5 …                    samples per measurement (default 3; the median is reported)
import { existsSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemorySampler,
  readCpuSeconds,
  readMemoryKiB,
  readThreadCpuSeconds,
  startCustodia,
} from './custodia.ts';
import { GIB, makeRandomFile, makeSmallFiles, measureCpWithSync, measureDd } from './disk.ts';
import { describeMachine } from './machine.ts';
import { startNginx } from './nginx.ts';
import { killAllChildrenSync } from './proc.ts';
import { renderSection, verdicts, writeBenchmarksDoc, type CustodiaResults, type Results } from './report.ts';
import { runSmallTransfers, runTransfers, type TransferInputs, type TransferResults } from './transfers.ts';
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
  const only = optionValue('--only');
  if (only !== undefined && only !== 'small') {
    throw new Error(`--only takes 'small', not ${JSON.stringify(only)}`);
  }
  if (!skipCustodia) {
    requireCustodiaEntryPoints();
  }
  const workspace = await createWorkspace(REPO_ROOT);
  cleanUpOnExit(workspace);
  log(`scratch directory ${workspace.dir}`);
  if (only === 'small') {
    try {
      await measureSmallOnly(workspace.dir);
    } finally {
      removeWorkspaceSync(workspace);
    }
    return;
  }
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

/** The small-file rounds alone, against Custodia only: a quick before/after comparison. */
async function measureSmallOnly(dir: string): Promise<void> {
  log(`load average ${loadAverage()}; Custodia`);
  const custodia = await startCustodia({ repoRoot: REPO_ROOT, benchDir: dir });
  try {
    const threadsBefore = readThreadCpuSeconds(custodia.pid);
    const small = await runSmallTransfers(custodia.target, {
      smallFiles: makeSmallFiles(SMALL_FILE_COUNT, SMALL_FILE_SIZE),
      repeat: REPEAT,
      serverCpuSeconds: () => readCpuSeconds(custodia.pid),
    });
    const files = SMALL_FILE_COUNT * REPEAT;
    const perThread = [...readThreadCpuSeconds(custodia.pid)]
      .map(([name, seconds]) => [name, ((seconds - (threadsBefore.get(name) ?? 0)) * 1000) / files] as const)
      .filter(([, ms]) => ms >= 0.01)
      .map(([name, ms]) => `${name} ${ms.toFixed(2)}`);
    const hwmMB = readMemoryKiB(custodia.pid, 'VmHWM') * KIB_TO_MB;
    console.log(
      [
        `server CPU ms per file by thread: ${perThread.join(', ')}`,
        `4 KiB files/s: ${rates(small.smallFilesPerSecond)}`,
        `server CPU ms per file: ${small.smallFilesServerCpuMs.map((ms) => ms.toFixed(2)).join(', ')}`,
        `server VmHWM: ${hwmMB.toFixed(0)} MB`,
        `load average at the end: ${loadAverage()}`,
      ].join('\n'),
    );
  } finally {
    await custodia.stop();
  }
}

function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(', ');
}

/** The value after `name` on the command line (`--only small`), if given. */
function optionValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
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
      serverCpuSeconds: () => readCpuSeconds(custodia.pid),
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
