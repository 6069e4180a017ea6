// Custodia as the benchmark runs it: a fresh data dir, a bootstrapped tenant, the real server.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEndpoint, findFreePort, waitForHttp, type Outcome } from './http-client.ts';
import { logTail, run, startChild, stopChild } from './proc.ts';
import type { StorageTarget } from './transfers.ts';

export {
  startCustodia,
  MemorySampler,
  readMemoryKiB,
  readCpuSeconds,
  readThreadCpuSeconds,
  type RunningCustodia,
};

interface RunningCustodia {
  target: StorageTarget;
  pid: number;
  stop: () => Promise<void>;
}

interface Bootstrap {
  tenantId: string;
  rootFolderId: string;
  token: string;
}

/** The server's first start runs migrations and creates keys; allow for a slow disk. */
const READY_TIMEOUT_MS = 60_000;

async function startCustodia(opts: { repoRoot: string; benchDir: string }): Promise<RunningCustodia> {
  const dataDir = join(opts.benchDir, 'custodia-data');
  mkdirSync(dataDir, { recursive: true });
  const env = custodiaEnv(dataDir);
  const boot = await bootstrap(opts.repoRoot, dataDir, env);
  const port = await findFreePort();
  const logPath = join(opts.benchDir, 'custodia.log');
  // Node itself, not `npm start`: the pid must be the server's, for its memory figures. But with
  // the Node flags `npm start` gives it, so that what is measured is the server as it is run.
  const child = startChild({
    cmd: process.execPath,
    args: [...serverNodeFlags(opts.repoRoot), ...extraNodeFlags(), 'src/main.ts', 'serve'],
    cwd: opts.repoRoot,
    env: { ...env, CUSTODIA_PORT: String(port), CUSTODIA_HOST: '127.0.0.1' },
    logPath,
  });
  await waitUntilReady(child, port, logPath);
  const endpoint = createEndpoint(port, { Authorization: `Bearer ${boot.token}` });
  return {
    target: custodiaTarget(endpoint, boot.rootFolderId),
    pid: child.pid ?? 0,
    stop: async () => {
      endpoint.agent.destroy();
      await stopChild(child);
    },
  };
}

/** The Node flags in `npm start`'s `node … src/main.ts serve` (package.json scripts.start). */
function serverNodeFlags(repoRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  }; // only scripts.start is read, and checked below
  const match = /\bnode((?:\s+--\S+)*)\s+src\/main\.ts\b/.exec(pkg.scripts?.start ?? '');
  if (!match) {
    throw new Error(
      'package.json scripts.start does not run `node [flags] src/main.ts`, so the bench cannot run it',
    );
  }
  return (match[1] ?? '').split(/\s+/).filter((flag) => flag !== '');
}

/**
 * BENCH_SERVER_NODE_FLAGS: Node flags added for this run only, to look inside the server while it
 * is measured (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); figures taken so are not comparable.
 */
function extraNodeFlags(): string[] {
  return (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
}

/**
 * Inherited CUSTODIA_* settings (a developer's database URL, say) are dropped, so every run
 * measures the default single-machine setup: SQLite and blobs on the disk under test.
 */
function custodiaEnv(dataDir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CUSTODIA_')));
  return {
    ...env,
    CUSTODIA_DATA_DIR: dataDir,
    CUSTODIA_LOG_LEVEL: 'warn',
    // Background jobs (scanning, sweeps) would compete with the requests being measured.
    CUSTODIA_RUN_JOBS: 'false',
  };
}

/** A tenant, its root folder and a bearer token, without a browser. */
async function bootstrap(repoRoot: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<Bootstrap> {
  const args = ['src/cli/main.ts', 'bootstrap', '--data-dir', dataDir, '--tenant', 'bench'];
  args.push('--email', 'bench@example.com', '--password', 'bench-password-123', '--json');
  const { stdout } = await run(process.execPath, args, { cwd: repoRoot, env });
  const parsed = parseTrailingJson(stdout);
  if (!isBootstrap(parsed)) {
    throw new Error(`custodia bootstrap printed unexpected output: ${stdout.slice(0, 500)}`);
  }
  return parsed;
}

/** The JSON document that ends `output` (pretty-printed or not); anything before it is the CLI talking. */
function parseTrailingJson(output: string): unknown {
  const lines = output.trimEnd().split('\n');
  for (let start = lines.length - 1; start >= 0; start--) {
    if (lines[start]?.startsWith('{')) {
      try {
        return JSON.parse(lines.slice(start).join('\n'));
      } catch {
        // Not where the document starts; look further up.
      }
    }
  }
  return undefined;
}

function isBootstrap(value: unknown): value is Bootstrap {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const { tenantId, rootFolderId, token } = value as Record<string, unknown>; // shape checked below
  return typeof tenantId === 'string' && typeof rootFolderId === 'string' && typeof token === 'string';
}

async function waitUntilReady(child: ChildProcess, port: number, logPath: string): Promise<void> {
  try {
    await waitForHttp({
      port,
      path: '/readyz',
      isReady: (status) => status === 200,
      hasExited: () => child.exitCode !== null,
      timeoutMs: READY_TIMEOUT_MS,
    });
  } catch (error) {
    await stopChild(child);
    throw new Error(`Custodia did not start (${String(error)}):\n${logTail(logPath)}`, { cause: error });
  }
}

function custodiaTarget(endpoint: StorageTarget['endpoint'], folderId: string): StorageTarget {
  return {
    name: 'Custodia',
    endpoint,
    putPath: (name) => `/api/v1/nodes/${folderId}/files/${encodeURIComponent(name)}`,
    putOk: [201],
    getPath: (_name, reply) => `/api/v1/nodes/${parseUpload(reply).nodeId}/content`,
    checkPutReply: (reply, expected) => {
      const { size, sha256 } = parseUpload(reply);
      if (size !== expected.size || sha256 !== expected.sha256) {
        throw new Error(
          `Custodia stored ${size} bytes with sha256 ${sha256}, ` +
            `but ${expected.size} bytes with sha256 ${expected.sha256} were sent`,
        );
      }
    },
  };
}

/** `{ node: { id }, version: { id, size, sha256 } }` from a 201 upload reply. */
function parseUpload(reply: Outcome): { nodeId: string; size: unknown; sha256: unknown } {
  const body: unknown = JSON.parse(reply.text);
  const { node, version } = (body ?? {}) as { node?: { id?: unknown }; version?: Record<string, unknown> }; // checked below
  if (typeof node?.id !== 'string' || version === undefined) {
    throw new Error(`unexpected upload reply: ${reply.text.slice(0, 500)}`);
  }
  return { nodeId: node.id, size: version.size, sha256: version.sha256 };
}

/** A field of /proc/<pid>/status in KiB (the kernel writes "kB" but means KiB). */
function readMemoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) {
    throw new Error(`no ${field} in /proc/${pid}/status`);
  }
  return Number(match[1]);
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux build in use). */
const USER_HZ = 100;

/** CPU seconds a process has used so far, user plus system, all its threads (/proc/<pid>/stat). */
function readCpuSeconds(pid: number): number {
  return cpuSecondsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** utime + stime of a /proc/<pid>[/task/<tid>]/stat line, in seconds. */
function cpuSecondsOf(stat: string): number {
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis):
  // state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** CPU seconds per thread name (main thread, libuv pool, V8 helpers…), summed over threads of one name. */
function readThreadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const seconds = cpuSecondsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}

/** Polls a process's resident memory every 50 ms and keeps the highest value seen. */
class MemorySampler {
  readonly #pid: number;
  #timer: NodeJS.Timeout | undefined;
  peakKiB = 0;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 50);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  #sample(): void {
    try {
      this.peakKiB = Math.max(this.peakKiB, readMemoryKiB(this.#pid, 'VmRSS'));
    } catch {
      // The server is gone; the transfer in progress fails and says so.
    }
  }
}
