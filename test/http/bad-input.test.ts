import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

/**
 * Bad input everywhere: every refusal answers with a clear status in the one error shape
 * `{ error: { code, message }, requestId }`, never leaks a stack trace, SQL or a server path, and
 * leaves nothing behind: no new node or version, the same usedBytes, no new blob or temp file.
 */

const API = '/api/v1';
const FILE_SIZE = 1000;
const FILE_BYTES = Buffer.from('0123456789'.repeat(FILE_SIZE / 10));
const QUOTA = 64 * 1024;

interface Response {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/** What a failed request must not change. */
interface Snapshot {
  nodes: unknown[];
  versions: Record<string, unknown>;
  usedBytes: number;
  blobs: string[];
  /** Blob keys of small files kept in the database (SealedContent): nothing may leak there either. */
  inlineBlobs: string[];
}

for (const dialect of await dialectsUnderTest()) {
  describe(`bad input over HTTP (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let fileId: string;
    let versionId: string;
    let port: number;

    const inject = (options: InjectOptions): Promise<Response> => ctx.app.inject(options);
    const snap = (tenant: TenantFixture = a) => snapshot(ctx, tenant);
    const put = (name: string, body: string | Buffer = 'x', headers: Record<string, string> = {}) =>
      inject({
        method: 'PUT',
        url: `${API}/nodes/${a.rootId}/files/${name}`,
        headers: { ...a.auth, 'content-type': 'application/octet-stream', ...headers },
        payload: body,
      });
    const postJson = (url: string, payload: string, headers: Record<string, string> = {}) =>
      inject({
        method: 'POST',
        url,
        headers: { ...a.auth, 'content-type': 'application/json', ...headers },
        payload,
      });
    const download = (headers: Record<string, string>) =>
      inject({ method: 'GET', url: `${API}/nodes/${fileId}/content`, headers: { ...a.auth, ...headers } });

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
      const uploaded = await uploadViaApi(ctx, a, a.rootId, 'existing.txt', FILE_BYTES);
      assert.equal(uploaded.response.statusCode, 201);
      fileId = uploaded.json.node.id;
      versionId = uploaded.json.version.id;
      await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      port = (ctx.app.server.address() as AddressInfo).port;
    });
    after(async () => ctx.close());

    describe('JSON bodies', () => {
      const folders = () => `${API}/nodes/${a.rootId}/folders`;

      it('should refuse malformed JSON with 400 invalid_request and create nothing', async () => {
        const before = await snap();
        const bodies = ['{"name":', '{name: "x"}', "{'name': 'x'}", '{"name":"x"}}', '', 'null', '[]', '"x"'];

        for (const body of bodies) {
          const response = await postJson(folders(), body);

          assertError(response, 400, 'invalid_request', `body ${JSON.stringify(body)}`);
        }
        assert.deepEqual(await snap(), before);
      });

      it('should refuse a prototype-poisoning body', async () => {
        const before = await snap();

        const response = await postJson(folders(), '{"name":"x","__proto__":{"isOperator":true}}');

        assertError(response, 400, 'invalid_request');
        assert.deepEqual(await snap(), before);
      });

      it('should refuse wrong types instead of coercing them', async () => {
        const before = await snap();
        const tenantBefore = (await inject({ method: 'GET', url: `${API}/tenant`, headers: a.auth })).body;
        const cases: Array<[string, string, string]> = [
          ['POST', folders(), '{"name":123}'],
          ['POST', folders(), '{"name":null}'],
          ['POST', folders(), '{"name":["a"]}'],
          ['POST', folders(), '{"name":{"first":"a"}}'],
          ['POST', `${API}/nodes/${fileId}/shares`, '{"maxDownloads":"5"}'],
          ['POST', `${API}/nodes/${fileId}/shares`, '{"maxDownloads":2.5}'],
          ['POST', `${API}/nodes/${fileId}/shares`, '{"maxDownloads":true}'],
          ['POST', `${API}/nodes/${fileId}/shares`, '{"expiresAt":"tomorrow"}'],
          ['POST', `${API}/tokens`, '{"name":5}'],
          ['PATCH', `${API}/tenant`, '{"requireMfa":"true"}'],
          ['PATCH', `${API}/tenant`, '{"keepVersions":"3"}'],
          ['PATCH', `${API}/nodes/${fileId}`, '{"name":false}'],
        ];

        for (const [method, url, payload] of cases) {
          const response = await inject({
            method: method as 'POST',
            url,
            headers: { ...a.auth, 'content-type': 'application/json' },
            payload,
          });

          assertError(response, 400, 'invalid_request', `${method} ${url} ${payload}`);
        }
        assert.deepEqual(await snap(), before);
        assert.equal(
          (await inject({ method: 'GET', url: `${API}/tenant`, headers: a.auth })).body,
          tenantBefore,
        );
        assert.equal(await countShares(), 0);
      });

      it('should refuse unknown properties instead of dropping them', async () => {
        const before = await snap();
        const cases: Array<[string, string, string]> = [
          ['POST', folders(), `{"name":"x","parentId":"${a.rootId}"}`],
          ['POST', `${API}/nodes/${fileId}/shares`, `{"maxDownloads":1,"tenantId":"${a.tenantId}"}`],
          ['POST', `${API}/tokens`, `{"name":"t","userId":"${a.ownerId}"}`],
          ['PATCH', `${API}/tenant`, '{"quotaBytes":999999999999}'],
          ['POST', `${API}/auth/sign-in`, `{"email":"${a.ownerEmail}","password":"x","isOperator":true}`],
        ];

        for (const [method, url, payload] of cases) {
          const response = await inject({
            method: method as 'POST',
            url,
            headers: { ...a.auth, 'content-type': 'application/json' },
            payload,
          });

          assertError(response, 400, 'invalid_request', `${method} ${url} ${payload}`);
        }
        assert.deepEqual(await snap(), before);
        assert.equal(await countShares(), 0);
      });

      it('should refuse a JSON body that is not JSON, or too large', async () => {
        const before = await snap();

        const textPlain = await postJson(folders(), 'name=x', { 'content-type': 'text/plain' });
        const form = await postJson(folders(), 'name=x', {
          'content-type': 'application/x-www-form-urlencoded',
        });
        const tooLarge = await postJson(folders(), JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }));

        assertError(textPlain, 400, 'invalid_request');
        assertError(form, 415, 'unsupported_media_type');
        assertError(tooLarge, 413, 'body_too_large');
        assert.deepEqual(await snap(), before);
      });

      it('should refuse a NUL character in any field with 422 invalid_characters and store nothing', async () => {
        const before = await snap();
        const read = async (url: string) => (await inject({ method: 'GET', url, headers: a.auth })).body;
        const others = async () => [
          await read(`${API}/tenant`),
          JSON.parse(await read(`${API}/tokens`)).items.map((t: { id: string }) => t.id),
          await read(`${API}/members/invitations`),
        ];
        const othersBefore = await others();
        const cases: Array<[string, string, string?]> = [
          ['POST', `${API}/auth/sign-in`, '{"email":"owner\\u0000@example.com","password":"x"}'],
          ['POST', `${API}/tokens`, '{"name":"ci\\u0000token"}'],
          ['PATCH', `${API}/tenant`, '{"name":"Acme\\u0000Corp"}'],
          ['POST', `${API}/members/invitations`, '{"email":"new\\u0000@example.com","role":"member"}'],
          ['POST', `${API}/nodes/${a.rootId}/folders`, '{"na\\u0000me":"x"}'],
          ['GET', `${API}/nodes/resolve?path=/a%00b`],
          ['GET', `${API}/nodes/${a.rootId}/children?q=%00`],
        ];

        for (const [method, url, payload] of cases) {
          const response = await inject({
            method: method as 'POST',
            url,
            headers: { ...a.auth, ...(payload ? { 'content-type': 'application/json' } : {}) },
            payload,
          });

          assertError(response, 422, 'invalid_characters', `${method} ${url}`);
        }
        assert.deepEqual(await snap(), before);
        assert.deepEqual(await others(), othersBefore);
      });

      it('should refuse ids that are not ids with 400, before any lookup', async () => {
        for (const url of [
          `${API}/nodes/not-an-id`,
          `${API}/nodes/${fileId.toUpperCase()}`,
          `${API}/nodes/${fileId}'%20OR%201=1--`,
          `${API}/nodes/${fileId}/content?version=1`,
        ]) {
          const response = await inject({ method: 'GET', url, headers: a.auth });

          assertError(response, 400, 'invalid_request', url);
        }
      });

      async function countShares(): Promise<number> {
        const response = await inject({
          method: 'GET',
          url: `${API}/nodes/${fileId}/shares`,
          headers: a.auth,
        });
        return (response.body && JSON.parse(response.body).items.length) as number;
      }
    });

    describe('request headers', () => {
      it('should answer a 100 KB header with 431 in the standard error shape', async () => {
        const response = await rawHttp(port, [
          `GET ${API}/nodes/root HTTP/1.1`,
          'Host: localhost',
          `Authorization: ${a.auth.authorization}`,
          `X-Big: ${'a'.repeat(100 * 1024)}`,
          'Connection: close',
        ]);

        assertError(response, 431, 'headers_too_large');
      });

      it('should answer 200 headers with 431 rather than silently dropping half of them', async () => {
        const filler = Array.from({ length: 200 }, (_, n) => `X-Filler-${n}: ${n}`);

        const response = await rawHttp(port, [
          `GET ${API}/nodes/root HTTP/1.1`,
          'Host: localhost',
          ...filler,
          `Authorization: ${a.auth.authorization}`,
          'Connection: close',
        ]);

        assertError(response, 431, 'headers_too_large');
      });

      it('should still serve a request with many (but not too many) headers', async () => {
        const filler = Array.from({ length: 90 }, (_, n) => `X-Filler-${n}: ${n}`);

        const response = await rawHttp(port, [
          `GET ${API}/nodes/root HTTP/1.1`,
          'Host: localhost',
          ...filler,
          `Authorization: ${a.auth.authorization}`,
          'Connection: close',
        ]);

        assert.equal(response.statusCode, 200, response.body);
      });
    });

    describe('names', () => {
      const badNames: Array<[label: string, encoded: string, status: number, code: string]> = [
        ['..', '%2E%2E', 422, 'invalid_name'],
        ['.', '%2E', 422, 'invalid_name'],
        ['a/b', 'a%2Fb', 422, 'invalid_name'],
        ['a\\b', 'a%5Cb', 422, 'invalid_name'],
        ['NUL', 'a%00b', 422, 'invalid_characters'],
        ['BEL', 'a%07b', 422, 'invalid_name'],
        ['ESC', '%1B%5B31mred', 422, 'invalid_name'],
        ['DEL', 'a%7Fb', 422, 'invalid_name'],
        ['C1 NEL', 'a%C2%85b', 422, 'invalid_name'],
        ['newline', 'a%0Ab.txt', 422, 'invalid_name'],
        ['300 bytes', 'a'.repeat(300), 422, 'invalid_name'],
        ['10,000 characters', 'a'.repeat(10_000), 414, 'url_too_long'],
        ['leading space', '%20a.txt', 422, 'invalid_name'],
        ['trailing space', 'a.txt%20', 422, 'invalid_name'],
        ['bad escape', '%E0%A4%A', 400, 'invalid_url'],
      ];

      for (const [label, encoded, status, code] of badNames) {
        it(`should refuse to upload a file named ${label} and store nothing`, async () => {
          const before = await snap();

          // A raw request: inject() would resolve "%2E%2E" as a dot segment before routing.
          const response = await rawHttp(
            port,
            [
              `PUT ${API}/nodes/${a.rootId}/files/${encoded} HTTP/1.1`,
              'Host: localhost',
              `Authorization: ${a.auth.authorization}`,
              'Content-Type: application/octet-stream',
              'Content-Length: 5',
              'Connection: close',
            ],
            'bytes',
          );

          assertError(response, status, code);
          assert.deepEqual(await snap(), before);
        });
      }

      const badFolderNames: Array<[label: string, name: string, status: number, code: string]> = [
        ['..', '..', 422, 'invalid_name'],
        ['a/b', 'a/b', 422, 'invalid_name'],
        ['NUL', 'a\u0000b', 422, 'invalid_characters'],
        ['a control character', 'a\u0007b', 422, 'invalid_name'],
        ['10,000 characters', 'a'.repeat(10_000), 400, 'invalid_request'],
        ['300 bytes', 'é'.repeat(150), 422, 'invalid_name'],
        ['leading space', ' Reports', 422, 'invalid_name'],
        ['trailing space', 'Reports ', 422, 'invalid_name'],
        ['nothing', '', 422, 'invalid_name'],
      ];

      for (const [label, name, status, code] of badFolderNames) {
        it(`should refuse to create a folder named ${label}`, async () => {
          const before = await snap();

          const response = await postJson(`${API}/nodes/${a.rootId}/folders`, JSON.stringify({ name }));

          assertError(response, status, code);
          assert.deepEqual(await snap(), before);
        });

        it(`should refuse to rename a file to ${label}`, async () => {
          const before = await snap();

          const response = await inject({
            method: 'PATCH',
            url: `${API}/nodes/${fileId}`,
            headers: a.auth,
            payload: { name },
          });

          assertError(response, status, code);
          assert.deepEqual(await snap(), before);
        });
      }
    });

    describe('Unicode normalisation and case', () => {
      const nfc = 'Caf\u00e9.txt';
      const nfd = 'Cafe\u0301.txt';

      it('should add a version to the NFC file when the NFD twin of its name is uploaded', async () => {
        const first = await put(encodeURIComponent(nfc), 'first');

        const second = await put(encodeURIComponent(nfd), 'second');
        const children = await listChildren(ctx, a, a.rootId);
        const versions = await inject({
          method: 'GET',
          url: `${API}/nodes/${JSON.parse(first.body).node.id}/versions`,
          headers: a.auth,
        });

        assert.equal(first.statusCode, 201, first.body);
        assert.equal(second.statusCode, 200, second.body);
        assert.equal(JSON.parse(second.body).node.id, JSON.parse(first.body).node.id);
        assert.equal(children.filter((c) => c.name.normalize('NFC') === nfc).length, 1);
        assert.equal(JSON.parse(versions.body).items.length, 2);
      });

      it('should refuse a folder whose NFD name matches an existing NFC folder with 409 name_taken', async () => {
        const created = await postJson(
          `${API}/nodes/${a.rootId}/folders`,
          JSON.stringify({ name: 'R\u00e9sum\u00e9s' }),
        );
        const before = await snap();

        const twin = await postJson(
          `${API}/nodes/${a.rootId}/folders`,
          JSON.stringify({ name: 'Re\u0301sume\u0301s' }),
        );

        assert.equal(created.statusCode, 201, created.body);
        assertError(twin, 409, 'name_taken');
        assert.deepEqual(await snap(), before);
      });

      it('should refuse a folder that differs from an existing file or folder only in case', async () => {
        const file = await put('Report.pdf', 'pdf');
        const folder = await postJson(
          `${API}/nodes/${a.rootId}/folders`,
          JSON.stringify({ name: 'Reports' }),
        );
        const before = await snap();

        const overFile = await postJson(
          `${API}/nodes/${a.rootId}/folders`,
          JSON.stringify({ name: 'report.pdf' }),
        );
        const overFolder = await postJson(
          `${API}/nodes/${a.rootId}/folders`,
          JSON.stringify({ name: 'REPORTS' }),
        );
        const fileOverFolder = await put('reports', 'x');

        assert.equal(file.statusCode, 201, file.body);
        assert.equal(folder.statusCode, 201, folder.body);
        assertError(overFile, 409, 'name_taken');
        assertError(overFolder, 409, 'name_taken');
        assertError(fileOverFolder, 409, 'name_taken');
        assert.deepEqual(await snap(), before);
      });

      it('should treat an upload that differs only in case as a new version of the same file', async () => {
        const first = await put('Invoice.pdf', 'v1');

        const second = await put('INVOICE.PDF', 'v2');

        assert.equal(first.statusCode, 201, first.body);
        assert.equal(second.statusCode, 200, second.body);
        assert.equal(JSON.parse(second.body).node.id, JSON.parse(first.body).node.id);
        assert.equal(JSON.parse(second.body).node.name, 'Invoice.pdf');
      });
    });

    describe('Range', () => {
      const refused: Array<[header: string, code: string]> = [
        ['bytes=-0', 'range_not_satisfiable'],
        ['bytes=5-2', 'invalid_range'],
        ['bytes=abc', 'invalid_range'],
        ['bytes=-', 'invalid_range'],
        ['bytes=0-1,2-3', 'multiple_ranges_unsupported'],
        ['bytes=0-5,3-8', 'multiple_ranges_unsupported'],
        ['bytes=999999999999-', 'range_not_satisfiable'],
        [`bytes=${FILE_SIZE}-`, 'range_not_satisfiable'],
        ['bytes=0-99999999999999999999', 'invalid_range'],
      ];

      for (const [header, code] of refused) {
        it(`should answer Range: ${header} with 416 ${code} and the file size`, async () => {
          const response = await download({ range: header });

          assertError(response, 416, code);
          assert.equal(response.headers['content-range'], `bytes */${FILE_SIZE}`);
        });
      }

      const served: Array<[header: string, status: number, start: number, end: number]> = [
        ['bytes=0-999999999999', 206, 0, FILE_SIZE - 1],
        ['bytes=10-19', 206, 10, 19],
        ['bytes=-5', 206, FILE_SIZE - 5, FILE_SIZE - 1],
        ['bytes=990-', 206, 990, FILE_SIZE - 1],
        ['items=0-1', 200, 0, FILE_SIZE - 1],
        ['BYTES=0-0', 206, 0, 0],
      ];

      for (const [header, status, start, end] of served) {
        it(`should serve Range: ${header} as ${status} bytes ${start}-${end}`, async () => {
          const response = await download({ range: header });

          assert.equal(response.statusCode, status, response.body);
          assert.equal(response.body, FILE_BYTES.subarray(start, end + 1).toString());
          assert.equal(response.headers['content-length'], String(end - start + 1));
          assert.equal(
            response.headers['content-range'],
            status === 206 ? `bytes ${start}-${end}/${FILE_SIZE}` : undefined,
          );
        });
      }
    });

    describe('conditional requests', () => {
      const etag = () => `"${versionId}"`;

      it('should answer If-None-Match with the current ETag (strong, weak or *) with 304 and no body', async () => {
        for (const value of [etag(), `W/${etag()}`, `"other", ${etag()}`, '*']) {
          const response = await download({ 'if-none-match': value });

          assert.equal(response.statusCode, 304, value);
          assert.equal(response.body, '');
          assert.equal(response.headers.etag, etag());
        }
      });

      it('should serve the file when If-None-Match names another version', async () => {
        const response = await download({ 'if-none-match': '"some-other-version"' });

        assert.equal(response.statusCode, 200);
        assert.equal(response.body, FILE_BYTES.toString());
      });

      it('should answer If-Modified-Since at or after the last change with 304, and before it with 200', async () => {
        const lastModified = String((await download({})).headers['last-modified']);
        const earlier = new Date(Date.parse(lastModified) - 86_400_000).toUTCString();

        const same = await download({ 'if-modified-since': lastModified });
        const older = await download({ 'if-modified-since': earlier });
        const garbage = await download({ 'if-modified-since': 'yesterday-ish' });
        const overridden = await download({ 'if-modified-since': lastModified, 'if-none-match': '"other"' });

        assert.equal(same.statusCode, 304);
        assert.equal(older.statusCode, 200);
        assert.equal(garbage.statusCode, 200);
        assert.equal(overridden.statusCode, 200, 'If-None-Match decides when both are sent');
      });

      it('should answer a stale If-Match with 412 version_mismatch, and serve a current one', async () => {
        const stale = await download({ 'if-match': '"stale-version"' });
        const current = await download({ 'if-match': etag() });
        const any = await download({ 'if-match': '*' });

        assertError(stale, 412, 'version_mismatch');
        assert.equal(current.statusCode, 200);
        assert.equal(any.statusCode, 200);
      });

      it('should honour If-Range only while it matches, and send the whole file otherwise', async () => {
        const fresh = await download({ range: 'bytes=0-9', 'if-range': etag() });
        const stale = await download({ range: 'bytes=0-9', 'if-range': '"stale-version"' });
        const dated = await download({ range: 'bytes=0-9', 'if-range': new Date().toUTCString() });

        assert.equal(fresh.statusCode, 206);
        assert.equal(fresh.body, '0123456789');
        for (const response of [stale, dated]) {
          assert.equal(response.statusCode, 200);
          assert.equal(response.body, FILE_BYTES.toString());
          assert.equal(response.headers['content-range'], undefined);
        }
      });

      it('should refuse an upload with a stale If-Match, or If-None-Match: * over an existing file', async () => {
        const before = await snap();

        const stale = await put('existing.txt', 'replacement', { 'if-match': '"stale-version"' });
        const createOnly = await put('existing.txt', 'replacement', { 'if-none-match': '*' });

        assertError(stale, 412, 'version_mismatch');
        assertError(createOnly, 412, 'already_exists');
        assert.deepEqual(await snap(), before);
      });
    });

    describe('uploads that fail part-way', () => {
      let q: TenantFixture;

      before(async () => {
        q = await createTenantFixture(ctx);
        const [operator] = await ctx.services.store.repos.users.listOperators();
        assert.ok(operator);
        await ctx.services.tenants.setQuota(
          { kind: 'operator', userId: operator.id, channel: 'cli' },
          q.tenantId,
          QUOTA,
        );
        const seed = await uploadViaApi(ctx, q, q.rootId, 'seed.bin', Buffer.alloc(10_000, 1));
        assert.equal(seed.response.statusCode, 201);
      });

      it('should keep nothing when a small upload stops short of its Content-Length and the client hangs up', async () => {
        const before = await snap();

        const socket = await sendShort(port, a, 'short.bin', { declared: 100, sent: 50 });
        await sleep(200); // a small body is read into memory first: nothing shows on disk meanwhile
        socket.destroy();
        await waitFor(() => false, 500);

        assert.deepEqual(await snap(), before);
      });

      it('should keep nothing when a streamed upload stops short of its Content-Length and the client hangs up', async () => {
        const before = await snap();

        const socket = await sendShort(port, a, 'long.bin', { declared: 4 * 1024 * 1024, sent: 1024 * 1024 });
        const sawTemp = await waitFor(() => incoming(ctx).length > 0);
        socket.destroy();
        const cleaned = await waitFor(() => incoming(ctx).length === 0);
        await sleep(100);

        assert.ok(sawTemp, 'the server should have started writing the upload');
        assert.ok(cleaned, 'the half-written temp file should be removed');
        assert.deepEqual(await snap(), before);
      });

      it('should answer a Content-Length over the quota with 413 before reading the body', async () => {
        const before = await snap(q);

        // Headers only: a server that waited for the body would never answer.
        const response = await rawHttp(port, [
          `PUT ${API}/nodes/${q.rootId}/files/big.bin HTTP/1.1`,
          'Host: localhost',
          `Authorization: ${q.auth.authorization}`,
          'Content-Type: application/octet-stream',
          `Content-Length: ${QUOTA * 4}`,
          'Connection: close',
        ]);

        assertError(response, 413, 'quota_exceeded');
        assert.deepEqual(await snap(q), before);
      });

      it('should stop a chunked upload with 413 once it passes the quota, keeping nothing', async () => {
        const before = await snap(q);

        const response = await chunkedPut(
          port,
          `${API}/nodes/${q.rootId}/files/stream.bin`,
          q.auth,
          QUOTA * 2,
        );

        assertError(response, 413, 'quota_exceeded');
        assert.deepEqual(await snap(q), before);
        assert.deepEqual(incoming(ctx), []);
      });

      it('should answer a disk write failure with 500 internal_error and keep nothing', async () => {
        // Only bodies above the inline limit go to the blob directory; smaller ones to the database.
        const onDisk = Buffer.alloc(ctx.services.config.inlineContentMaxBytes + 1, 'd');
        assert.equal((await put('on-disk.bin', onDisk)).statusCode, 201);
        const before = await snap();
        const tenantDir = join(ctx.services.config.dataDir, 'blobs', 't', a.tenantId);
        assert.ok(existsSync(tenantDir));
        renameSync(tenantDir, `${tenantDir}.aside`);
        writeFileSync(tenantDir, 'a file where the directory should be');
        let responses: Response[];
        try {
          responses = [await put('doomed.txt', onDisk), await put('existing.txt', onDisk)];
        } finally {
          rmSync(tenantDir, { force: true });
          renameSync(`${tenantDir}.aside`, tenantDir);
        }

        for (const response of responses) {
          assertError(response, 500, 'internal_error');
        }
        assert.deepEqual(await snap(), before);
        assert.equal((await download({})).body, FILE_BYTES.toString());
      });
    });

    describe('error bodies', () => {
      it('should not leak SQL or a stack trace when the database fails', async () => {
        await sql`ALTER TABLE share_links RENAME TO share_links_gone`.execute(ctx.services.database.db);
        let response: Response;
        try {
          response = await inject({ method: 'GET', url: `${API}/nodes/${fileId}/shares`, headers: a.auth });
        } finally {
          await sql`ALTER TABLE share_links_gone RENAME TO share_links`.execute(ctx.services.database.db);
        }

        assertError(response, 500, 'internal_error');
        assert.doesNotMatch(response.body, /share_links/);
      });

      it('should answer injection-shaped input as plain data', async () => {
        const attempts = [
          inject({
            method: 'GET',
            url: `${API}/nodes/resolve?path=${encodeURIComponent("/' OR 1=1 --")}`,
            headers: a.auth,
          }),
          inject({
            method: 'GET',
            url: `${API}/nodes/resolve?path=${encodeURIComponent('/../../etc/passwd')}`,
            headers: a.auth,
          }),
          inject({
            method: 'POST',
            url: `${API}/auth/sign-in`,
            payload: { email: "' OR '1'='1", password: "'; DROP TABLE users; --" },
          }),
          inject({ method: 'GET', url: `${API}/invitations?token=${encodeURIComponent("' OR 1=1 --")}` }),
          inject({ method: 'GET', url: `${API}/public/shares/${'A'.repeat(20)}%27--` }),
        ];

        const [quoted, traversal, signIn, invitation, share] = await Promise.all(attempts);

        assertError(quoted as Response, 404, 'node_not_found');
        assertError(traversal as Response, 404, 'node_not_found');
        assertError(signIn as Response, 401, 'invalid_credentials');
        assertError(invitation as Response, 404, 'invitation_not_found');
        assertError(share as Response, 400, 'invalid_request');
      });
    });

    describe('HEAD', () => {
      it('should not use up a download of a share link', async () => {
        const created = await inject({
          method: 'POST',
          url: `${API}/nodes/${fileId}/shares`,
          headers: a.auth,
          payload: { maxDownloads: 1 },
        });
        const token = String(JSON.parse(created.body).url).split('/s/')[1];

        const head = await inject({ method: 'HEAD', url: `${API}/public/shares/${token}/content` });
        const get = await inject({ method: 'GET', url: `${API}/public/shares/${token}/content` });

        assert.notEqual(head.statusCode, 200);
        assert.equal(get.statusCode, 200, get.body);
        assert.equal(get.body, FILE_BYTES.toString());
      });
    });
  });
}

const LEAKS: RegExp[] = [
  /\n\s+at /, // a stack frame
  /\.(ts|js|mjs):\d+/,
  /node_modules|\/tmp\/|custodia-test-/,
  /\b(select|insert|update|delete)\b[^.]*\b(from|into|set)\s+"/i,
  /no such table|relation "|syntax error|SQLITE_|kysely|violates|constraint/i,
  /\b(ENOENT|ENOTDIR|EEXIST|EACCES|EPIPE|ECONNRESET)\b/,
];

/** The one error shape, the expected status and code, and nothing an attacker could learn from. */
function assertError(response: Response, status: number, code: string, context = ''): void {
  const what = `${context} ${response.statusCode} ${response.body.slice(0, 300)}`;
  assert.equal(response.statusCode, status, what);
  assert.match(String(response.headers['content-type']), /^application\/json/, what);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'requestId'], what);
  assert.equal(typeof body.requestId, 'string', what);
  const error = body.error as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k)),
    [],
    what,
  );
  assert.equal(error.code, code, what);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, what);
  for (const leak of LEAKS) {
    assert.doesNotMatch(response.body, leak, what);
  }
}

async function snapshot(ctx: TestContext, tenant: TenantFixture): Promise<Snapshot> {
  const nodes: Array<{
    id: string;
    kind: string;
    name: string;
    currentVersionId: string | null;
    size: number;
  }> = [];
  const walk = async (folderId: string) => {
    for (const child of await listChildren(ctx, tenant, folderId)) {
      nodes.push({
        id: child.id,
        kind: child.kind,
        name: child.name,
        currentVersionId: child.currentVersionId,
        size: child.size,
      });
      if (child.kind === 'folder') {
        await walk(child.id);
      }
    }
  };
  await walk(tenant.rootId);
  const versions: Record<string, unknown> = {};
  for (const node of nodes.filter((n) => n.kind === 'file')) {
    const response = await ctx.app.inject({
      method: 'GET',
      url: `${API}/nodes/${node.id}/versions`,
      headers: tenant.auth,
    });
    versions[node.id] = response.json().items;
  }
  const settings = await ctx.app.inject({ method: 'GET', url: `${API}/tenant`, headers: tenant.auth });
  const inline = await ctx.services.database.db
    .selectFrom('inline_blobs')
    .select('blob_key')
    .orderBy('blob_key')
    .execute();
  return {
    nodes,
    versions,
    usedBytes: JSON.parse(settings.body).usedBytes,
    blobs: blobFiles(ctx),
    inlineBlobs: inline.map((row) => row.blob_key),
  };
}

async function listChildren(ctx: TestContext, tenant: TenantFixture, folderId: string) {
  const response = await ctx.app.inject({
    method: 'GET',
    url: `${API}/nodes/${folderId}/children`,
    headers: tenant.auth,
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().items as Array<{
    id: string;
    kind: string;
    name: string;
    currentVersionId: string | null;
    size: number;
  }>;
}

/** Every file under the blob directory, temp files included. */
function blobFiles(ctx: TestContext): string[] {
  const root = join(ctx.services.config.dataDir, 'blobs');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else {
        files.push(relative(root, path).split(sep).join('/'));
      }
    }
  };
  walk(root);
  return files.sort();
}

function incoming(ctx: TestContext): string[] {
  return blobFiles(ctx).filter((f) => f.startsWith('.incoming/'));
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) {
      return true;
    }
    await sleep(10);
  }
  return condition();
}

/** Opens a raw upload that declares `declared` bytes, sends `sent` of them, and leaves it hanging. */
async function sendShort(
  port: number,
  tenant: TenantFixture,
  name: string,
  sizes: { declared: number; sent: number },
) {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const head = [
    `PUT ${API}/nodes/${tenant.rootId}/files/${name} HTTP/1.1`,
    'Host: localhost',
    `Authorization: ${tenant.auth.authorization}`,
    'Content-Type: application/octet-stream',
    `Content-Length: ${sizes.declared}`,
    '',
    '',
  ].join('\r\n');
  socket.write(Buffer.concat([Buffer.from(head), Buffer.alloc(sizes.sent, 120)]));
  return socket;
}

/** Sends raw request lines (and an optional body) over a socket and parses the answer. */
function rawHttp(port: number, head: string[], body = ''): Promise<Response> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 10 s'));
    }, 10_000);
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`incomplete answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ statusCode: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // Answer complete (the server may keep reading a body we never send): stop here.
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, split))?.[1];
      if (split >= 0 && length !== undefined && Buffer.byteLength(text.slice(split + 4)) >= Number(length)) {
        socket.destroy();
        finish();
      }
    });
    socket.on('end', () => {
      if (!socket.destroyed) {
        socket.destroy();
        finish();
      }
    });
    socket.on('error', () => undefined);
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** A PUT with a chunked body (no Content-Length) of `size` bytes. */
function chunkedPut(
  port: number,
  path: string,
  auth: { authorization: string },
  size: number,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path,
        agent: false,
        headers: {
          ...auth,
          'content-type': 'application/octet-stream',
          'transfer-encoding': 'chunked',
          connection: 'close',
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            statusCode: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', (error) => {
      // Writing after the server has answered may fail; only fail the test if no answer came.
      if (!request.headersSent) {
        reject(error);
      }
    });
    const chunk = Buffer.alloc(8 * 1024, 7);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', pump);
          return;
        }
      }
      request.end();
    };
    pump();
  });
}
