import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, startServer, type ServerProcess } from '../support/server-process.ts';

/** The shell blocks between the walkthrough markers of docs/API.md, in order. */
function walkthroughBlocks(): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8');
  const section = doc.split('<!-- walkthrough:start -->')[1]?.split('<!-- walkthrough:end -->')[0] ?? '';
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

const hasTools = ['curl', 'jq', 'bash'].every((tool) => spawnSync('which', [tool]).status === 0);

describe('docs/API.md walk-through', { skip: hasTools ? false : 'needs curl, jq and bash' }, () => {
  let dataDir: string;
  let workDir: string;
  let server: ServerProcess;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'custodia-walkthrough-'));
    workDir = mkdtempSync(join(tmpdir(), 'custodia-walkthrough-work-'));
    server = await startServer({ env: { CUSTODIA_DATA_DIR: dataDir } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  it('should run from setup to share link against a fresh server, every command succeeding', async () => {
    // The link is printed just after the server starts answering (the token is written first).
    for (let n = 0; n < 100 && !/\/setup#\S+\n/.test(server.output()); n++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const setupToken = /\/setup#(\S+)/.exec(server.output())?.[1];
    assert.ok(setupToken, 'the first start prints the setup link');
    const blocks = walkthroughBlocks();
    assert.ok(blocks.length >= 10, `found ${blocks.length} blocks`);

    // Not spawnSync: the server's log pipe must keep draining while the script runs.
    const run = await runBash(blocks.join('\n'), {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? '', HOME: workDir, BASE: server.url, SETUP_TOKEN: setupToken },
    });

    assert.equal(run.status, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.match(run.stdout, /^Lease/m, 'the range download printed the first five bytes');
    assert.match(run.stdout, /Lease agreement, version one\.\n?$/, 'the share link served version 1');
  });
});

async function runBash(
  script: string,
  options: { cwd: string; env: Record<string, string> },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout, stderr };
}
