import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootstrapTenant, runCli } from '../support/server-process.ts';

/** `custodia audit …` on a real (SQLite) installation: exit codes, the key warning, --all. */
describe('custodia audit', () => {
  let dataDir: string;
  const env = () => ({ CUSTODIA_DATA_DIR: dataDir, CUSTODIA_LOG_LEVEL: 'silent' });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'custodia-audit-cli-'));
    await bootstrapTenant({ dataDir, slug: 'acme' });
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should exit 2 on a usage error and 1 on an invalid log', async () => {
    const noLog = await runCli(['audit', 'verify'], { env: env() });
    const unknownOption = await runCli(['audit', 'verify', '--bogus'], { env: env() });
    const noFile = await runCli(['audit', 'verify', '--file', join(dataDir, 'missing.jsonl')], {
      env: env(),
    });
    const notAnExport = join(dataDir, 'not-an-export.jsonl');
    writeFileSync(notAnExport, '{"hello":"world"}\n');
    const invalid = await runCli(['audit', 'verify', '--file', notAnExport], { env: env() });

    assert.equal(noLog.code, 2);
    assert.match(noLog.stderr, /--tenant <slug>, --operator, --all/);
    assert.equal(unknownOption.code, 2);
    assert.equal(noFile.code, 2);
    assert.equal(invalid.code, 1);
  });

  it('should verify every log with --all', async () => {
    const result = await runCli(['audit', 'verify', '--all', '--json'], { env: env() });

    assert.equal(result.code, 0, result.stderr);
    const logs = JSON.parse(result.stdout) as Array<{ logId: string; isValid: boolean }>;
    assert.equal(logs.length, 2);
    assert.ok(logs.every((l) => l.isValid));
    assert.equal(logs[0]?.logId, 'operator');
  });

  it('should warn when an export is verified with its own key, and not with a key given', async () => {
    const out = join(dataDir, 'acme.jsonl');
    const key = join(dataDir, 'key.pem');
    assert.equal(
      (await runCli(['audit', 'export', '--tenant', 'acme', '--out', out], { env: env() })).code,
      0,
    );
    const printed = await runCli(['audit', 'public-key'], { env: env() });
    writeFileSync(key, printed.stdout);

    const ownKey = await runCli(['audit', 'verify', '--file', out], { env: {} });
    const givenKey = await runCli(['audit', 'verify', '--file', out, '--public-key', key], { env: {} });

    assert.equal(ownKey.code, 0);
    assert.match(ownKey.stderr, /proves nothing/);
    assert.equal(givenKey.code, 0);
    assert.doesNotMatch(givenKey.stderr, /proves nothing/);
    assert.match(givenKey.stdout, /valid, \d+ entries, signed checkpoint at seq \d+/);
  });
});
