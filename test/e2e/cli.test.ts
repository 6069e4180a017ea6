import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, dialectsUnderTest, type TestDatabase } from '../support/dialects.ts';
import {
  listFiles,
  runCli,
  startServer,
  type CliResult,
  type ServerProcess,
} from '../support/server-process.ts';

/**
 * The `custodia` command end to end, as an operator scripts it: setup, organisations, invitations,
 * tokens, master-key rotation (with the server stopped), and the `files` API client.
 */
const OPERATOR = { email: 'operator@example.com', password: 'operator-password-long' };
const OWNER = { email: 'owner@acme.example', password: 'owner-password-long' };

interface Ring {
  current: string;
  keys: Record<string, string>;
}

const dialects = await dialectsUnderTest();

// The dialects run side by side (each has its own data directory and database); the steps inside one
// dialect run in order, since each builds on the last.
describe('custodia CLI', { concurrency: true }, () => {
  for (const dialect of dialects) {
    describe(dialect, { concurrency: 1 }, () => {
      let database: TestDatabase;
      let dataDir: string;
      let env: Record<string, string>;
      let server: ServerProcess | undefined;
      let work: string;
      let ownerToken = '';
      let uploaded: { name: string; bytes: Buffer };

      const cli = (...args: string[]): Promise<CliResult> => runCli(args, { env });
      const start = async () => {
        server = await startServer({ env });
        return server;
      };
      const stop = async () => {
        await server?.stop();
        server = undefined;
      };
      const api = (path: string, init: RequestInit = {}, token = ownerToken) => {
        assert.ok(server, 'the server must be running');
        return fetch(`${server.url}/api/v1${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
        });
      };
      const ringPath = () => join(dataDir, 'keys', 'master.key');
      const readRing = () => JSON.parse(readFileSync(ringPath(), 'utf8')) as Ring;

      before(async () => {
        database = await createTestDatabase(dialect);
        dataDir = database.dataDir;
        work = mkdtempSync(join(tmpdir(), 'custodia-cli-work-'));
        env = {
          CUSTODIA_DATA_DIR: dataDir,
          ...(dialect === 'postgres'
            ? { CUSTODIA_DATABASE_URL: database.url, CUSTODIA_KEYSTORE_URL: database.url }
            : {}),
        };
      });
      after(async () => {
        await stop();
        await database.cleanup();
        rmSync(work, { recursive: true, force: true });
      });

      describe('setup', () => {
        it('should refuse to run without a password when no terminal can ask for one', async () => {
          const result = await cli('setup', '--email', OPERATOR.email, '--data-dir', dataDir);

          assert.equal(result.code, 1);
          assert.match(result.stderr, /--password/);
        });

        it('should create the operator admin from flags alone', async () => {
          const result = await cli(
            'setup',
            '--email',
            OPERATOR.email,
            '--name',
            'Operator',
            '--password',
            OPERATOR.password,
            '--data-dir',
            dataDir,
          );

          assert.equal(result.code, 0, result.stderr);
          assert.match(result.stdout, new RegExp(`Operator admin ${OPERATOR.email} created`));
        });

        it('should refuse a second setup once an operator exists', async () => {
          const result = await runCli(
            ['setup', '--email', 'intruder@example.com', '--name', 'X', '--data-dir', dataDir],
            { env: { ...env, CUSTODIA_SETUP_PASSWORD: 'intruder-password-long' } },
          );

          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /^custodia: /);
        });
      });

      describe('tenant', () => {
        let invitationToken = '';

        it('should create an organisation and print its owner invitation', async () => {
          const result = await cli(
            'tenant',
            'create',
            '--name',
            'Acme Ltd',
            '--slug',
            'acme',
            '--owner-email',
            OWNER.email,
            '--data-dir',
            dataDir,
            '--json',
          );

          assert.equal(result.code, 0, result.stderr);
          const created = JSON.parse(result.stdout) as {
            tenant: { slug: string; status: string };
            ownerInvitationLink: string;
          };
          assert.equal(created.tenant.slug, 'acme');
          assert.equal(created.tenant.status, 'active');
          assert.match(created.ownerInvitationLink, /\/invite#.+/);
          invitationToken = created.ownerInvitationLink.split('#')[1] ?? '';
        });

        it('should list organisations with status and usage', async () => {
          const result = await cli('tenant', 'list', '--data-dir', dataDir, '--json');

          assert.equal(result.code, 0, result.stderr);
          const list = JSON.parse(result.stdout) as Array<{
            slug: string;
            status: string;
            usedBytes: number;
          }>;
          assert.deepEqual(
            list.map((t) => [t.slug, t.status, t.usedBytes]),
            [['acme', 'active', 0]],
          );
        });

        it('should refuse a slug that is taken', async () => {
          const result = await cli(
            'tenant',
            'create',
            '--name',
            'Acme 2',
            '--slug',
            'acme',
            '--data-dir',
            dataDir,
          );

          assert.equal(result.code, 1);
          assert.match(result.stderr, /^custodia: .+/);
        });

        it('should let the owner accept the invitation through the running server', async () => {
          await start();

          const response = await fetch(`${server?.url}/api/v1/invitations/accept`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ token: invitationToken, displayName: 'Owner', password: OWNER.password }),
          });

          assert.equal(response.status, 200, await response.text());
        });
      });

      describe('token', () => {
        it('should print a working API token for a member, beside a running server', async () => {
          const result = await cli(
            'token',
            '--tenant',
            'acme',
            '--email',
            OWNER.email,
            '--data-dir',
            dataDir,
            '--json',
          );

          assert.equal(result.code, 0, result.stderr);
          ownerToken = (JSON.parse(result.stdout) as { token: string }).token;
          assert.match(ownerToken, /^cst_/);
          assert.equal((await api('/nodes/root')).status, 200);
        });

        it('should refuse someone who is not a member', async () => {
          const result = await cli(
            'token',
            '--tenant',
            'acme',
            '--email',
            'stranger@example.com',
            '--data-dir',
            dataDir,
          );

          assert.equal(result.code, 1);
          assert.match(result.stderr, /not a member of acme/);
        });
      });

      describe('user invite', () => {
        it('should print an invitation link that the organisation then lists as pending', async () => {
          const result = await cli(
            'user',
            'invite',
            '--tenant',
            'acme',
            '--email',
            'member@acme.example',
            '--role',
            'member',
            '--data-dir',
            dataDir,
          );
          const pending = (await (await api('/members/invitations')).json()) as {
            items: Array<{ email: string; role: string }>;
          };

          assert.equal(result.code, 0, result.stderr);
          assert.match(result.stdout, /Invitation for member@acme\.example as member: http.+\/invite#.+/);
          assert.deepEqual(
            pending.items.map((i) => [i.email, i.role]),
            [['member@acme.example', 'member']],
          );
        });
      });

      describe('tenant suspend and resume', () => {
        it('should stop the organisation’s tokens working while suspended', async () => {
          const result = await cli('tenant', 'suspend', 'acme', '--data-dir', dataDir);
          const listed = JSON.parse(
            (await cli('tenant', 'list', '--data-dir', dataDir, '--json')).stdout,
          ) as Array<{
            status: string;
          }>;

          assert.equal(result.code, 0, result.stderr);
          assert.equal(listed[0]?.status, 'suspended');
          const whileSuspended = await api('/nodes/root');
          assert.equal(whileSuspended.status, 403);
          assert.equal(
            ((await whileSuspended.json()) as { error: { code: string } }).error.code,
            'tenant_suspended',
          );
        });

        it('should make them work again once resumed', async () => {
          const result = await cli('tenant', 'resume', 'acme', '--data-dir', dataDir);

          assert.equal(result.code, 0, result.stderr);
          assert.equal((await api('/nodes/root')).status, 200);
        });

        it('should name an unknown organisation', async () => {
          const result = await cli('tenant', 'suspend', 'nope', '--data-dir', dataDir);

          assert.equal(result.code, 1);
          assert.match(result.stderr, /No organisation with short name nope/);
        });
      });

      describe('files', () => {
        const clientEnv = () => ({
          ...env,
          CUSTODIA_API_URL: server?.url ?? '',
          CUSTODIA_API_TOKEN: ownerToken,
        });

        it('should put a file and get it back byte for byte', async () => {
          uploaded = { name: 'ledger-2026.bin', bytes: randomBytes(3 * 1024 * 1024 + 7) };
          const local = join(work, uploaded.name);
          writeFileSync(local, uploaded.bytes);
          const folder = await api('/nodes/root').then((r) => r.json() as Promise<{ node: { id: string } }>);
          await api(`/nodes/${folder.node.id}/folders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'Finance' }),
          });

          const put = await runCli(['files', 'put', local, '/Finance'], { env: clientEnv() });
          const got = await runCli(
            ['files', 'get', `/Finance/${uploaded.name}`, join(work, 'downloaded.bin')],
            {
              env: clientEnv(),
            },
          );

          assert.equal(put.code, 0, put.stderr);
          assert.match(put.stdout, new RegExp(`sha256 ${sha256(uploaded.bytes)}`));
          assert.equal(got.code, 0, got.stderr);
          assert.ok(readFileSync(join(work, 'downloaded.bin')).equals(uploaded.bytes));
        });

        it('should list a folder with sizes', async () => {
          const top = await runCli(['files', 'ls'], { env: clientEnv() });
          const finance = await runCli(['files', 'ls', '/Finance', '--url', server?.url ?? ''], {
            env: clientEnv(),
          });

          assert.equal(top.code, 0, top.stderr);
          assert.match(top.stdout, /^d .+ Finance\/$/m);
          assert.match(finance.stdout, new RegExp(`^- +${uploaded.bytes.length} .+ ${uploaded.name}$`, 'm'));
        });

        it('should say what is wrong when the token is refused', async () => {
          const result = await runCli(['files', 'ls', '--token', 'cst_not-a-real-token'], {
            env: clientEnv(),
          });

          assert.equal(result.code, 1);
          assert.match(result.stderr, /^custodia: 401: /);
        });
      });

      describe('keys rotate', () => {
        let oldRing: Ring;
        let blobsBefore: Map<string, { sha256: string; mtimeMs: number }>;
        let rotation: CliResult;

        before(async () => {
          await stop();
          oldRing = readRing();
          blobsBefore = blobFingerprints(dataDir);
          rotation = await cli('keys', 'rotate', '--data-dir', dataDir);
        });

        it('should succeed and say which key is now current', () => {
          assert.equal(rotation.code, 0, rotation.stderr);
          assert.match(rotation.stdout, new RegExp(`Master key rotated to ${readRing().current}`));
        });

        it('should leave exactly one key, a new one, in the key file', () => {
          const ring = readRing();

          assert.deepEqual(Object.keys(ring.keys), [ring.current]);
          assert.notEqual(ring.current, oldRing.current);
          assert.notEqual(ring.keys[ring.current], oldRing.keys[oldRing.current]);
          assert.equal(statSync(ringPath()).mode & 0o777, 0o600);
        });

        it('should not rewrite any blob', () => {
          assert.ok(blobsBefore.size >= 1);
          assert.deepEqual(blobFingerprints(dataDir), blobsBefore);
        });

        it('should still serve the file byte for byte after a restart', async () => {
          await start();

          const node = (await (
            await api(`/nodes/resolve?path=${encodeURIComponent(`/Finance/${uploaded.name}`)}`)
          ).json()) as { node: { id: string } };
          const content = await api(`/nodes/${node.node.id}/content`);

          assert.equal(content.status, 200);
          assert.ok(Buffer.from(await content.arrayBuffer()).equals(uploaded.bytes));
        });

        it('should leave an old copy of the key file unable to read any content', async () => {
          await stop();
          const current = readFileSync(ringPath());
          writeFileSync(ringPath(), JSON.stringify(oldRing), { mode: 0o600 });
          try {
            await start();
            const node = (await (
              await api(`/nodes/resolve?path=${encodeURIComponent(`/Finance/${uploaded.name}`)}`)
            ).json()) as { node: { id: string } };

            const content = await api(`/nodes/${node.node.id}/content`);

            assert.notEqual(content.status, 200);
            assert.equal(content.status, 500);
            assert.doesNotMatch(await content.text(), /ledger|master/i);
          } finally {
            await stop();
            writeFileSync(ringPath(), current, { mode: 0o600 });
          }
        });
      });
    });
  }
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 and mtime of every stored blob (temp files excluded). */
function blobFingerprints(dataDir: string): Map<string, { sha256: string; mtimeMs: number }> {
  const root = join(dataDir, 'blobs');
  return new Map(
    listFiles(root)
      .filter((path) => path.startsWith('t/'))
      .map((path) => [
        path,
        { sha256: sha256(readFileSync(join(root, path))), mtimeMs: statSync(join(root, path)).mtimeMs },
      ]),
  );
}
