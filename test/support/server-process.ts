import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readdirSync, statSync } from 'node:fs';

/**
 * The real `custodia` binaries in child processes, for end-to-end tests that need a process to kill,
 * restart or read the output of. Children get a clean environment: no CUSTODIA_* from the caller.
 */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'main.ts');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

export interface ServerProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (no clean-up of any kind) and wait for the exit. */
  kill(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The caller's environment without any CUSTODIA_* setting, plus `env`. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CUSTODIA_') && value !== undefined) {
      clean[name] = value;
    }
  }
  return { ...clean, ...env };
}

/** A TCP port nobody listens on right now (the server is told it; CUSTODIA_PORT=0 would not say which). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `node src/main.ts` and resolves once /healthz answers. */
export async function startServer(options: {
  env: Record<string, string>;
  port?: number;
  /** Use https://, and skip certificate checks for the probe (self-signed test certificates). */
  isTls?: boolean;
}): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: childEnv({ CUSTODIA_PORT: String(port), CUSTODIA_HOST: '127.0.0.1', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `${options.isTls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const server: ServerProcess = {
    port,
    url,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode} before it was ready:\n${output}`);
    }
    if (await isHealthy(url)) {
      return server;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await server.kill();
  throw new Error(`server did not become healthy within 30 s:\n${output}`);
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`);
    return response.ok;
  } catch {
    return false;
  }
}

/** Runs `node src/cli/main.ts …args` to completion. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  return runNode([CLI, ...args], options);
}

/** Runs `node src/main.ts` to completion (for start-up failures). */
export async function runMain(options: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return runNode([MAIN], options);
}

async function runNode(
  args: string[],
  options: { env?: Record<string, string>; input?: string },
): Promise<CliResult> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: childEnv(options.env ?? {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** What `custodia bootstrap --json` prints. */
export interface Bootstrapped {
  tenantId: string;
  rootFolderId: string;
  token: string;
}

/** Operator, organisation `slug`, its owner and an owner API token, through the real CLI. */
export async function bootstrapTenant(options: {
  dataDir: string;
  env?: Record<string, string>;
  slug?: string;
  email?: string;
  password?: string;
}): Promise<Bootstrapped> {
  const result = await runCli(
    [
      'bootstrap',
      '--data-dir',
      options.dataDir,
      '--tenant',
      options.slug ?? 't',
      '--email',
      options.email ?? 'a@example.com',
      '--password',
      options.password ?? 'long-enough-password',
      '--json',
    ],
    { env: options.env },
  );
  if (result.code !== 0) {
    throw new Error(`bootstrap failed (${result.code}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as Bootstrapped;
}

/** Every regular file under `dir`, as paths relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative))) {
      const path = relative ? `${relative}/${name}` : name;
      const info = statSync(join(dir, path));
      if (info.isDirectory()) {
        walk(path);
      } else if (info.isFile()) {
        found.push(path);
      }
    }
  };
  walk('');
  return found.sort();
}
