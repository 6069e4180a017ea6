import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, dialectsUnderTest, type TestDatabase } from '../support/dialects.ts';
import {
  bootstrapTenant,
  listFiles,
  startServer,
  type Bootstrapped,
  type ServerProcess,
} from '../support/server-process.ts';

const MiB = 1024 * 1024;

/**
 * DESIGN.md "Bad input and faults": a kill -9 of the server in the middle of an upload leaves no
 * visible version, and the restart sweeps what the dead process left behind.
 */
for (const dialect of await dialectsUnderTest()) {
  describe(`kill -9 during an upload (${dialect})`, () => {
    let database: TestDatabase;
    let env: Record<string, string>;
    let tenant: Bootstrapped;
    let server: ServerProcess;
    let usedBytesBefore: number;
    let blobsBefore: string[];
    let leftByCrash: string[];

    before(async () => {
      database = await createTestDatabase(dialect);
      env = {
        CUSTODIA_DATA_DIR: database.dataDir,
        ...(dialect === 'postgres'
          ? { CUSTODIA_DATABASE_URL: database.url, CUSTODIA_KEYSTORE_URL: database.url }
          : {}),
      };
      tenant = await bootstrapTenant({ dataDir: database.dataDir, env });
      server = await startServer({ env });
      const kept = await api(server, tenant, `/nodes/${tenant.rootFolderId}/files/kept.txt`, {
        method: 'PUT',
        body: 'A file that was there before the crash',
      });
      assert.equal(kept.status, 201);
      usedBytesBefore = ((await (await api(server, tenant, '/tenant')).json()) as { usedBytes: number })
        .usedBytes;
      blobsBefore = listFiles(join(database.dataDir, 'blobs'));

      await killDuringUpload(server, tenant, database.dataDir);
      leftByCrash = listFiles(join(database.dataDir, 'blobs'));
      server = await startServer({ env });
    });

    after(async () => {
      await server?.stop();
      await database?.cleanup();
    });

    it('should have left a partial write behind for the restart to clean', () => {
      assert.ok(
        leftByCrash.some((path) => path.startsWith('.incoming/')),
        `expected a temp file after the kill, found ${leftByCrash.join(', ')}`,
      );
    });

    it('should not list the interrupted file', async () => {
      const children = (await (
        await api(server, tenant, `/nodes/${tenant.rootFolderId}/children`)
      ).json()) as { items: Array<{ name: string }> };

      assert.deepEqual(
        children.items.map((item) => item.name),
        ['kept.txt'],
      );
    });

    it('should answer 404 for the interrupted file by path', async () => {
      const response = await api(server, tenant, `/nodes/resolve?path=${encodeURIComponent('/big.bin')}`);

      assert.equal(response.status, 404);
    });

    it('should leave the tenant usage unchanged', async () => {
      const settings = (await (await api(server, tenant, '/tenant')).json()) as { usedBytes: number };

      assert.equal(settings.usedBytes, usedBytesBefore);
    });

    it('should leave no orphan blob and no temp file under the blob directory', () => {
      assert.deepEqual(listFiles(join(database.dataDir, 'blobs')), blobsBefore);
    });

    it('should leave no temp file anywhere in the data directory', () => {
      const leftovers = listFiles(database.dataDir).filter((path) =>
        /\.(part|tmp)|\.tmp-|\.incoming\//.test(path),
      );

      assert.deepEqual(leftovers, []);
    });

    it('should still serve the file uploaded before the crash', async () => {
      const resolved = (await (
        await api(server, tenant, `/nodes/resolve?path=${encodeURIComponent('/kept.txt')}`)
      ).json()) as { node: { id: string } };
      const content = await api(server, tenant, `/nodes/${resolved.node.id}/content`);

      assert.equal(await content.text(), 'A file that was there before the crash');
    });
  });
}

async function api(
  server: ServerProcess,
  tenant: Bootstrapped,
  path: string,
  init: { method?: string; body?: string } = {},
): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method: init.method ?? 'GET',
    body: init.body,
    headers: {
      authorization: `Bearer ${tenant.token}`,
      ...(init.body !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
    },
  });
}

/**
 * Starts a 64 MiB PUT, feeds it slowly until the server has written some of it to disk, then kills
 * the server with SIGKILL while the body is still arriving.
 */
async function killDuringUpload(server: ServerProcess, tenant: Bootstrapped, dataDir: string): Promise<void> {
  const total = 64 * MiB;
  const upload = request(`${server.url}/api/v1/nodes/${tenant.rootFolderId}/files/big.bin`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${tenant.token}`,
      'content-type': 'application/octet-stream',
      'content-length': String(total),
    },
  });
  const settled = new Promise<void>((resolve) => {
    upload.once('error', () => resolve());
    upload.once('response', (response) => {
      response.resume();
      response.once('end', () => resolve());
    });
  });
  const chunk = Buffer.alloc(256 * 1024, 'p');
  let sent = 0;
  const incoming = join(dataDir, 'blobs', '.incoming');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!upload.write(chunk)) {
      await new Promise((resolve) => upload.once('drain', resolve));
    }
    sent += chunk.length;
    if (sent >= 4 * MiB && listFiles(incoming).length > 0) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(sent < total, 'the upload must still be in flight when the server is killed');
  await server.kill();
  upload.destroy();
  await settled;
}
