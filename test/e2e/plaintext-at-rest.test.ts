import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SEGMENT_SIZE } from '../../src/core/crypto/segmented-format.ts';
import { createTestDatabase, dialectsUnderTest, type TestDatabase } from '../support/dialects.ts';
import {
  bootstrapTenant,
  listFiles,
  startServer,
  type Bootstrapped,
  type ServerProcess,
} from '../support/server-process.ts';

/**
 * DESIGN.md "Envelope encryption at rest" and the test list: after files holding a known
 * marker are uploaded, nothing at rest (blobs, database files with -wal/-shm, key store, temp files,
 * the server's own log) holds the marker in plaintext, and the log holds none of the secrets used.
 */
const MARKER = `PLAINTEXT-MARKER-${randomBytes(6).toString('hex')}`;
const FILE_NAME = `Thandi-Nkosi-payslip-${randomBytes(3).toString('hex')}.txt`;
const EMAIL = `thandi.${randomBytes(3).toString('hex')}@example.com`;
const PASSWORD = `long-enough-password-${randomBytes(4).toString('hex')}`;
const SHARE_PASSWORD = `share-password-${randomBytes(4).toString('hex')}`;

/** The marker in each encoding a careless writer might use. */
function encodings(text: string): Array<{ name: string; bytes: Buffer }> {
  const be = Buffer.from(text, 'utf16le');
  be.swap16();
  return [
    { name: 'utf-8', bytes: Buffer.from(text, 'utf8') },
    { name: 'utf-16le', bytes: Buffer.from(text, 'utf16le') },
    { name: 'utf-16be', bytes: be },
  ];
}

/** Files whose content hides the marker in the places an encryption bug would show it. */
function markedFiles(): Array<{ name: string; content: Buffer }> {
  const marker = Buffer.from(MARKER);
  const boundaries = randomBytes(3 * SEGMENT_SIZE + 100);
  // Across the first boundary, just before the second, just after the third.
  marker.copy(boundaries, SEGMENT_SIZE - Math.floor(marker.length / 2));
  marker.copy(boundaries, 2 * SEGMENT_SIZE - marker.length);
  marker.copy(boundaries, 3 * SEGMENT_SIZE);
  const oneMiB = randomBytes(1024 * 1024);
  marker.copy(oneMiB, 512 * 1024 + 17);
  Buffer.from(MARKER, 'utf16le').copy(oneMiB, 700 * 1024);
  return [
    { name: FILE_NAME, content: Buffer.from(`Payslip for ${MARKER}\nNet pay: R 21 500,00\n`) },
    { name: 'repeated.txt', content: Buffer.from(`${MARKER}\n`.repeat(20_000)) },
    { name: 'segment-boundaries.bin', content: boundaries },
    { name: 'one-mib.bin', content: oneMiB },
  ];
}

for (const dialect of await dialectsUnderTest()) {
  describe(`plaintext at rest (${dialect})`, () => {
    let database: TestDatabase;
    let server: ServerProcess;
    let tenant: Bootstrapped;
    let sessionCookie = '';
    let csrfToken = '';
    let shareToken = '';
    let ticket = '';
    let filesWhileRunning: Map<string, Buffer>;
    let log = '';
    const serverTmp = () => join(database.dataDir, '..', `${database.dataDir.split('/').pop()}-tmp`);

    before(async () => {
      database = await createTestDatabase(dialect);
      mkdirSync(serverTmp(), { recursive: true });
      const env = {
        CUSTODIA_DATA_DIR: database.dataDir,
        CUSTODIA_LOG_LEVEL: 'trace',
        TMPDIR: serverTmp(),
        ...(dialect === 'postgres'
          ? { CUSTODIA_DATABASE_URL: database.url, CUSTODIA_KEYSTORE_URL: database.url }
          : {}),
      };
      tenant = await bootstrapTenant({ dataDir: database.dataDir, env, email: EMAIL, password: PASSWORD });
      server = await startServer({ env });

      await exercise();
      filesWhileRunning = readAll();
      await server.stop();
      log = server.output();
    });

    after(async () => {
      await server?.stop();
      await database?.cleanup();
    });

    /** Uploads, downloads, sign-ins (good, bad, malformed), a password-protected share link. */
    async function exercise(): Promise<void> {
      const bearer = { authorization: `Bearer ${tenant.token}` };
      let fileId = '';
      for (const file of markedFiles()) {
        const response = await fetch(
          `${server.url}/api/v1/nodes/${tenant.rootFolderId}/files/${encodeURIComponent(file.name)}`,
          {
            method: 'PUT',
            body: Uint8Array.from(file.content),
            headers: { ...bearer, 'content-type': 'application/octet-stream' },
          },
        );
        const text = await response.text();
        assert.equal(response.status, 201, text);
        fileId ||= (JSON.parse(text) as { node: { id: string } }).node.id;
      }
      const download = await fetch(`${server.url}/api/v1/nodes/${fileId}/content`, { headers: bearer });
      assert.match(await download.text(), new RegExp(MARKER));

      const wrong = await signIn({ email: EMAIL, password: `${PASSWORD}-wrong` });
      assert.equal(wrong.status, 401);
      const malformed = await fetch(`${server.url}/api/v1/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"email":"${EMAIL}","password":"${PASSWORD}"`,
      });
      assert.equal(malformed.status, 400);
      const signedIn = await signIn({ email: EMAIL, password: PASSWORD });
      assert.equal(signedIn.status, 200);
      sessionCookie = /sessionid=([^;]+)/.exec(signedIn.headers.getSetCookie().join('\n'))?.[1] ?? '';
      csrfToken = ((await signedIn.json()) as { csrfToken: string }).csrfToken;
      assert.ok(sessionCookie && csrfToken);
      const me = await fetch(`${server.url}/api/v1/me`, {
        headers: { cookie: `sessionid=${sessionCookie}; csrftoken=${csrfToken}` },
      });
      assert.equal(me.status, 200);

      const share = await fetch(`${server.url}/api/v1/nodes/${fileId}/shares`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ password: SHARE_PASSWORD }),
      });
      assert.equal(share.status, 201);
      shareToken = ((await share.json()) as { url: string }).url.split('/s/')[1] ?? '';
      const unlocked = await fetch(`${server.url}/api/v1/public/shares/${shareToken}/unlock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: SHARE_PASSWORD }),
      });
      ticket = ((await unlocked.json()) as { ticket: string }).ticket;
      const shared = await fetch(`${server.url}/api/v1/public/shares/${shareToken}/content?ticket=${ticket}`);
      assert.match(await shared.text(), new RegExp(MARKER));
    }

    async function signIn(body: { email: string; password: string }): Promise<Response> {
      return fetch(`${server.url}/api/v1/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    }

    /** Every file under the data directory and the server's temp directory, by path. */
    function readAll(): Map<string, Buffer> {
      const files = new Map<string, Buffer>();
      for (const dir of [database.dataDir, serverTmp()]) {
        for (const path of listFiles(dir)) {
          files.set(join(dir, path), readFileSync(join(dir, path)));
        }
      }
      return files;
    }

    function findIn(files: Map<string, Buffer>, text: string): string[] {
      const hits: string[] = [];
      for (const [path, bytes] of files) {
        for (const encoding of encodings(text)) {
          if (bytes.includes(encoding.bytes)) {
            hits.push(`${path} (${encoding.name})`);
          }
        }
      }
      return hits;
    }

    it('should have scanned the blobs, the key store and (on SQLite) the database with its WAL', () => {
      const paths = [...filesWhileRunning.keys()].map((p) => p.slice(database.dataDir.length + 1));

      // The payslip is small enough to be kept (sealed) in the database, which is scanned too.
      assert.equal(paths.filter((p) => p.startsWith('blobs/t/')).length, 3);
      assert.ok(paths.includes('keys/master.key'));
      if (dialect === 'sqlite') {
        const expected = ['custodia.db', 'custodia.db-wal', 'custodia.db-shm', 'keys/keystore.db'];
        assert.deepEqual(
          expected.filter((p) => !paths.includes(p)),
          [],
        );
      }
    });

    it('should find the content marker in no file at rest while the server runs', () => {
      assert.deepEqual(findIn(filesWhileRunning, MARKER), []);
    });

    it('should find the content marker in no file at rest after the server stopped', () => {
      assert.deepEqual(findIn(readAll(), MARKER), []);
    });

    it('should find the content marker in no database row', { skip: dialect !== 'postgres' }, async () => {
      const dump = await dumpPostgres(database.url);

      assert.ok(dump.includes(FILE_NAME), 'the dump should hold the metadata it was taken from');
      assert.equal(dump.includes(MARKER), false);
    });

    it('should keep the file name and e-mail out of blobs, keys and temp files', () => {
      const outsideDatabase = new Map(
        [...readAll()].filter(([path]) => !/custodia\.db(-wal|-shm)?$/.test(path)),
      );

      assert.deepEqual(findIn(outsideDatabase, FILE_NAME), []);
      assert.deepEqual(findIn(outsideDatabase, EMAIL), []);
    });

    it('should keep file contents, names and e-mail addresses out of the log', () => {
      assert.ok(log.includes('"msg"'), 'the server should have logged something');

      assert.deepEqual(linesWith(log, MARKER), []);
      assert.deepEqual(linesWith(log, FILE_NAME), []);
      assert.deepEqual(linesWith(log, EMAIL), []);
    });

    it('should keep the API token and the Authorization header out of the log', () => {
      assert.equal(log.includes(tenant.token), false);
      assert.equal(log.includes(tenant.token.slice(4, 24)), false);
      assert.equal(/bearer/i.test(log), false);
    });

    it('should keep the session cookie and CSRF token out of the log', () => {
      assert.equal(log.includes(sessionCookie), false);
      assert.equal(log.includes(csrfToken), false);
    });

    it('should keep passwords out of the log, even from a malformed request body', () => {
      assert.equal(log.includes(PASSWORD), false);
      assert.equal(log.includes(SHARE_PASSWORD), false);
    });

    it('should keep share-link tokens and download tickets out of the log', () => {
      assert.ok(shareToken.length >= 16 && ticket.length > 0);

      assert.equal(log.includes(shareToken), false);
      assert.equal(log.includes(ticket), false);
    });
  });
}

function linesWith(log: string, text: string): string[] {
  return log.split('\n').filter((line) => line.includes(text));
}

/** Every row of every table in the database, as text. */
async function dumpPostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    let dump = '';
    for (const { tablename } of tables.rows) {
      const rows = await client.query(`SELECT * FROM "${tablename}"`);
      dump += JSON.stringify(rows.rows);
    }
    return dump;
  } finally {
    await client.end();
  }
}
