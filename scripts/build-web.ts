// Builds the web portal (web/ → web/dist) when it is missing or older than its sources.
// `npm start` and the browser tests call this, so a fresh clone needs only `npm ci && npm start`.
// `node scripts/build-web.ts --force` always builds (that is `npm run build:web`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const web = join(repo, 'web');
const builtIndex = join(web, 'dist', 'index.html');
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'tsconfig.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) {
    return 0;
  }
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** True when web/dist is missing or any portal source is newer than it. */
export function isPortalStale(): boolean {
  if (!existsSync(builtIndex)) {
    return true;
  }
  const built = statSync(builtIndex).mtimeMs;
  const lockfile = newestMtime(join(repo, 'package-lock.json'));
  return Math.max(lockfile, ...SOURCES.map((s) => newestMtime(join(web, s)))) > built;
}

/** Runs `vite build` for web/ (with this same Node). Throws when the build fails. */
export function buildPortal(options: { quiet?: boolean } = {}): void {
  const vite = join(repo, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts')], {
    cwd: web,
    stdio: options.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`building the web portal failed:\n${result.stdout ?? ''}${result.stderr ?? ''}`);
  }
}

/** Builds the portal only when needed. Returns whether it built. */
export function ensurePortalBuilt(options: { quiet?: boolean } = {}): boolean {
  if (!isPortalStale()) {
    return false;
  }
  if (!options.quiet) {
    console.log('Building the web portal (web/ → web/dist)…');
  }
  buildPortal(options);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv.includes('--force')) {
      buildPortal();
    } else {
      ensurePortalBuilt();
    }
  } catch (error) {
    console.error(`custodia: ${(error as Error).message}`);
    process.exit(1);
  }
}
