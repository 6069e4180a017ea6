// Running commands and child processes for the benchmark, and making sure none outlive it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

export { run, startChild, stopChild, killAllChildrenSync, logTail };

const execFileAsync = promisify(execFile);

/** Children still running: stopped by the caller, or killed by the exit handler if the run dies. */
const running = new Set<ChildProcess>();

/**
 * Runs a command to completion; `env` replaces the inherited environment when given.
 * LC_ALL=C so that tools such as dd print numbers we can parse.
 */
async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(cmd, args, {
    cwd: opts.cwd,
    env: { ...(opts.env ?? process.env), LC_ALL: 'C' },
    maxBuffer: 16 * 1024 * 1024,
  });
}

/**
 * Starts a long-running child with its output in `logPath`; `env` replaces the inherited
 * environment when given. The child gets its own process group
 * (`detached`) so that stopping it also stops its workers (nginx forks them), and so that a
 * Ctrl-C in the terminal reaches only us: our signal handler then stops the group cleanly.
 */
function startChild(opts: {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logPath: string;
}) {
  const log = openSync(opts.logPath, 'a');
  const child = spawn(opts.cmd, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) {
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** SIGTERM to the child's group, then SIGKILL if it has not exited within `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(child)) {
    return;
  }
  const exited = once(child, 'exit');
  signalGroup(child, 'SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    signalGroup(child, 'SIGKILL');
    await exited;
  }
}

/** Last resort from an exit or signal handler, where nothing asynchronous runs any more. */
function killAllChildrenSync(): void {
  for (const child of running) {
    signalGroup(child, 'SIGKILL');
  }
}

/** The end of a child's log, to explain why it failed. */
function logTail(logPath: string, lines = 30): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
