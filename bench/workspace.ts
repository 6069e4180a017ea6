// The benchmark's scratch directory: on a real disk (not tmpfs), big enough, removed afterwards.
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.ts';

export { createWorkspace, removeWorkspaceSync, type Workspace };

interface Workspace {
  /** This run's own directory; everything the benchmark writes goes under it. */
  dir: string;
  /** The directory it sits in (BENCH_DIR or <repo>/tmp-bench). */
  parent: string;
  /** Whether we created `parent`, so that we also remove it when it is empty again. */
  createdParent: boolean;
}

/** Peak use is about 5 GiB (the source file and one server's three stored copies); keep slack. */
const MIN_FREE_BYTES = 8 * 1024 ** 3;

/** Memory-backed file systems would measure RAM, not the disk the data dir lives on. */
const MEMORY_FILESYSTEMS = new Set(['tmpfs', 'ramfs', 'devtmpfs']);

async function createWorkspace(repoRoot: string): Promise<Workspace> {
  const parent = process.env.BENCH_DIR ?? join(repoRoot, 'tmp-bench');
  const createdParent = !existsSync(parent);
  mkdirSync(parent, { recursive: true });
  const workspace = { dir: mkdtempSync(join(parent, 'run-')), parent, createdParent };
  try {
    await checkFileSystem(workspace.dir);
  } catch (error) {
    removeWorkspaceSync(workspace);
    throw error;
  }
  return workspace;
}

async function checkFileSystem(dir: string): Promise<void> {
  const { stdout } = await run('df', ['--output=fstype,avail', '-B1', dir]);
  const [fsType = '', avail = '0'] = (stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/);
  if (MEMORY_FILESYSTEMS.has(fsType)) {
    throw new Error(`${dir} is on ${fsType}; set BENCH_DIR to a directory on a real disk`);
  }
  if (Number(avail) < MIN_FREE_BYTES) {
    throw new Error(
      `${dir} has ${(Number(avail) / 1024 ** 3).toFixed(1)} GiB free; the benchmark needs 8 GiB`,
    );
  }
}

/** Synchronous so that it also works from an exit handler. */
function removeWorkspaceSync(workspace: Workspace): void {
  rmSync(workspace.dir, { recursive: true, force: true });
  if (workspace.createdParent) {
    try {
      rmdirSync(workspace.parent);
    } catch {
      // Not empty (another run's files): leave it.
    }
  }
}
