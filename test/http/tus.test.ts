import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tus from 'tus-js-client';
import type { Upload } from '../../src/core/files/file.types.ts';
import type { BlobStore } from '../../src/core/files/ports.ts';
import { UploadService } from '../../src/core/files/upload.service.ts';
import { uploadStagingPrefix } from '../../src/core/files/upload-staging.ts';
import { IntegrityError } from '../../src/core/shared/errors.ts';
import { newId } from '../../src/core/shared/ids.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  randomBuffer,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

const TUS = { 'tus-resumable': '1.0.0' };
const MIB = 1024 * 1024;
type Auth = { authorization: string };

for (const dialect of await dialectsUnderTest()) {
  describe(`tus resumable uploads (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;
    let base: string;
    const clock = { skewMs: 0, now: () => Date.now() + clock.skewMs };

    before(async () => {
      ctx = await createTestContext(dialect, { clock });
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
      await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    });
    after(async () => ctx.close());

    /** Bytes the tenant's unfinished uploads have announced (counted against its quota). */
    async function pendingUploadBytes(tenantId: string): Promise<number> {
      return (await ctx.services.store.repos.tenants.findStorageUse(tenantId))?.pendingUploadBytes ?? -1;
    }

    async function create(
      auth: Auth,
      options: { length: number; filename?: string; parentId?: string },
    ): Promise<{ status: number; id: string; headers: Record<string, unknown>; body: string }> {
      const pairs = [
        ...(options.filename === undefined ? [] : [['filename', options.filename]]),
        ...(options.parentId === undefined ? [] : [['parentId', options.parentId]]),
      ].map(([k, v]) => `${k} ${Buffer.from(v ?? '').toString('base64')}`);
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: {
          ...auth,
          ...TUS,
          'upload-length': String(options.length),
          'upload-metadata': pairs.join(','),
        },
      });
      const location = String(response.headers.location ?? '');
      return {
        status: response.statusCode,
        id: location.split('/').pop() ?? '',
        headers: response.headers,
        body: response.body,
      };
    }

    function patch(
      auth: Auth,
      id: string,
      offset: number,
      body: Buffer,
      headers: Record<string, string> = {},
    ) {
      return ctx.app.inject({
        method: 'PATCH',
        url: `/api/v1/uploads/${id}`,
        headers: {
          ...auth,
          ...TUS,
          'content-type': 'application/offset+octet-stream',
          'upload-offset': String(offset),
          ...headers,
        },
        payload: body,
      });
    }

    function head(auth: Auth, id: string) {
      return ctx.app.inject({ method: 'HEAD', url: `/api/v1/uploads/${id}`, headers: { ...auth, ...TUS } });
    }

    async function offsetOf(auth: Auth, id: string): Promise<number> {
      const response = await head(auth, id);
      assert.equal(response.statusCode, 200);
      return Number(response.headers['upload-offset']);
    }

    /** Polls HEAD until the offset stops moving (the server is done storing what arrived). */
    async function settledOffset(auth: Auth, id: string): Promise<number> {
      const deadline = Date.now() + 15_000;
      let last = await offsetOf(auth, id);
      let stableSince = Date.now();
      while (Date.now() - stableSince < 500 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const current = await offsetOf(auth, id);
        if (current !== last) {
          last = current;
          stableSince = Date.now();
        }
      }
      return last;
    }

    async function row(tenant: TenantFixture, id: string): Promise<Upload> {
      const upload = await ctx.services.store.repos.uploads.find(tenant.tenantId, id);
      assert.ok(upload, 'the upload row exists');
      return upload;
    }

    async function stagedKeys(upload: Upload): Promise<string[]> {
      const keys: string[] = [];
      for await (const blob of ctx.services.blobs.list(uploadStagingPrefix(upload.blobKey))) {
        keys.push(blob.key);
      }
      return keys;
    }

    async function download(auth: Auth, nodeId: string): Promise<Buffer> {
      const response = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${nodeId}/content`,
        headers: auth,
      });
      assert.equal(response.statusCode, 200);
      return response.rawPayload;
    }

    async function usedBytes(tenant: TenantFixture): Promise<number> {
      return (await ctx.services.store.repos.tenants.findById(tenant.tenantId))?.usedBytes ?? -1;
    }

    describe('OPTIONS', () => {
      it('should advertise the version, the extensions and the space the tenant has left', async () => {
        const anonymous = await ctx.app.inject({ method: 'OPTIONS', url: '/api/v1/uploads' });
        const signedIn = await ctx.app.inject({ method: 'OPTIONS', url: '/api/v1/uploads', headers: a.auth });
        const tenant = await ctx.services.store.repos.tenants.findById(a.tenantId);

        assert.equal(anonymous.statusCode, 204);
        assert.equal(anonymous.headers['tus-resumable'], '1.0.0');
        assert.equal(anonymous.headers['tus-version'], '1.0.0');
        assert.deepEqual(String(anonymous.headers['tus-extension']).split(','), [
          'creation',
          'termination',
          'expiration',
        ]);
        assert.equal(anonymous.headers['tus-max-size'], undefined);
        assert.equal(
          Number(signedIn.headers['tus-max-size']),
          (tenant?.quotaBytes ?? 0) - (tenant?.usedBytes ?? 0) - (await pendingUploadBytes(a.tenantId)),
        );
      });
    });

    describe('a real tus client', () => {
      it('should upload a multi-MiB file in chunks that downloads byte for byte', async () => {
        const body = randomBuffer(12 * MIB + 7);

        const url = await new Promise<string>((resolve, reject) => {
          const upload = new tus.Upload(body, {
            endpoint: `${base}/api/v1/uploads`,
            headers: a.auth,
            metadata: { filename: 'scan-2026.bin', parentId: a.rootId, filetype: 'application/octet-stream' },
            chunkSize: 5 * MIB,
            retryDelays: [],
            onSuccess: () => resolve(upload.url ?? ''),
            onError: reject,
          });
          upload.start();
        });
        const id = url.split('/').pop() ?? '';
        const finished = await head(a.auth, id);
        const nodeId = String(finished.headers['custodia-node-id']);
        const upload = await row(a, id);
        const [version] = await ctx.services.store.repos.versions.listByNode(a.tenantId, nodeId);

        assert.ok(url.startsWith(`${base}/api/v1/uploads/`));
        assert.equal(finished.headers['upload-offset'], String(body.length));
        assert.equal(finished.headers['cache-control'], 'no-store');
        assert.deepEqual(await download(a.auth, nodeId), body);
        assert.equal(version?.sha256, createHash('sha256').update(body).digest('hex'));
        assert.equal(version?.blobKey, upload.blobKey);
        assert.deepEqual(await stagedKeys(upload), []);
      });
    });

    describe('resuming', () => {
      it('should resume an interrupted upload from its durable offset and store the exact bytes', async () => {
        const body = randomBuffer(10 * MIB + 12_345);
        const cutAfter = 9 * MIB + 777;
        const { id } = await create(a.auth, { length: body.length, filename: 'interrupted.bin' });

        await sendThenCut(`${base}/api/v1/uploads/${id}`, a.auth, body, cutAfter);
        const durable = await settledOffset(a.auth, id);
        const finish = await patch(a.auth, id, durable, body.subarray(durable));
        const nodeId = String(finish.headers['custodia-node-id']);

        assert.ok(durable > 0 && durable <= cutAfter, `durable offset ${durable} within 0..${cutAfter}`);
        assert.equal(finish.statusCode, 204);
        assert.equal(finish.headers['upload-offset'], String(body.length));
        assert.deepEqual(await download(a.auth, nodeId), body);
      });

      it('should carry partial segments across chunks of awkward sizes', async () => {
        const sizes = [1, 65_535, 65_537, 3, 131_072, 70_000, 0, 5];
        const body = randomBuffer(sizes.reduce((sum, n) => sum + n, 0) + 200_000);
        const { id } = await create(a.auth, { length: body.length, filename: 'awkward.bin' });

        let offset = 0;
        for (const size of [...sizes, body.length - offset]) {
          const chunk = body.subarray(offset, Math.min(offset + size, body.length));
          const response = await patch(a.auth, id, offset, chunk);
          assert.equal(response.statusCode, 204, response.body);
          offset += chunk.length;
          assert.equal(Number(response.headers['upload-offset']), offset);
        }
        const nodeId = String((await head(a.auth, id)).headers['custodia-node-id']);

        assert.deepEqual(await download(a.auth, nodeId), body);
      });

      it('should let only one of two concurrent writers at the same offset count', async () => {
        const body = randomBuffer(3 * MIB + 100);
        const { id } = await create(a.auth, { length: body.length, filename: 'raced.bin' });
        const url = `${base}/api/v1/uploads/${id}`;

        const statuses = await Promise.all([
          sendChunked(url, a.auth, [body]),
          sendChunked(url, a.auth, [body]),
        ]);
        const finished = await head(a.auth, id);
        const nodeId = String(finished.headers['custodia-node-id']);

        assert.deepEqual(statuses.sort(), [204, 409]);
        assert.equal(finished.headers['upload-offset'], String(body.length));
        assert.equal((await ctx.services.store.repos.versions.listByNode(a.tenantId, nodeId)).length, 1);
        assert.deepEqual(await download(a.auth, nodeId), body);
        assert.deepEqual(await stagedKeys(await row(a, id)), []);
      });

      it('should finish, on the next HEAD, an upload whose commit was cut short', async () => {
        const body = randomBuffer(200_000);
        const { id } = await create(a.auth, { length: body.length, filename: 'cut-short.bin' });
        const s = ctx.services;
        let isBroken = true;
        const brokenDisk: BlobStore = {
          put: async (key, data) => {
            if (isBroken && !key.includes('.part-')) {
              isBroken = false;
              throw new Error('disk went away');
            }
            return s.blobs.put(key, data);
          },
          get: (key, range) => s.blobs.get(key, range),
          stat: (key) => s.blobs.stat(key),
          delete: (key) => s.blobs.delete(key),
          list: (prefix) => s.blobs.list(prefix),
        };
        const crashing = new UploadService({
          store: s.store,
          blobs: brokenDisk,
          keys: s.keys,
          files: s.files,
          clock: s.clock,
          expiryMs: 3600_000,
        });
        const actor = {
          kind: 'member' as const,
          tenantId: a.tenantId,
          userId: a.ownerId,
          role: 'owner' as const,
          channel: 'api' as const,
        };

        await assert.rejects(
          crashing.appendBytes(actor, id, { offset: 0, content: Readable.from([body]) }),
          /disk went away/,
        );
        const staged = await row(a, id);
        const finished = await head(a.auth, id);

        assert.equal(staged.received, body.length);
        assert.equal(staged.completedAt, null);
        assert.equal(finished.statusCode, 200);
        assert.equal(finished.headers['upload-offset'], String(body.length));
        assert.deepEqual(await download(a.auth, String(finished.headers['custodia-node-id'])), body);
      });

      it('should keep staged parts through the orphan sweep', async () => {
        const body = randomBuffer(300_000);
        const { id } = await create(a.auth, { length: body.length, filename: 'kept-by-sweep.bin' });
        await patch(a.auth, id, 0, body.subarray(0, 200_000));
        const before = await stagedKeys(await row(a, id));

        await ctx.services.maintenance.sweepOrphanBlobs(0);
        const afterSweep = await stagedKeys(await row(a, id));
        const finish = await patch(a.auth, id, 200_000, body.subarray(200_000));

        assert.ok(before.length >= 2, 'whole segments and a partial tail are staged');
        assert.deepEqual(afterSweep.sort(), before.sort());
        assert.equal(finish.statusCode, 204);
        assert.deepEqual(await download(a.auth, String(finish.headers['custodia-node-id'])), body);
      });
    });

    describe('refusals', () => {
      it('should answer a mismatched Upload-Offset with 409 and keep the offset', async () => {
        const { id } = await create(a.auth, { length: 1000, filename: 'offsets.txt' });
        await patch(a.auth, id, 0, randomBuffer(100));

        const ahead = await patch(a.auth, id, 500, randomBuffer(10));
        const behind = await patch(a.auth, id, 0, randomBuffer(10));

        for (const response of [ahead, behind]) {
          assert.equal(response.statusCode, 409);
          assert.equal(response.headers['tus-resumable'], '1.0.0');
          const json = response.json();
          assert.equal(json.error.code, 'upload_offset_mismatch');
          assert.equal(typeof json.error.message, 'string');
          assert.equal(typeof json.requestId, 'string');
          assert.equal(json.error.details.offset, 100);
        }
        assert.equal(await offsetOf(a.auth, id), 100);
      });

      it('should answer a wrong or missing Tus-Resumable with 412 and the supported version', async () => {
        const wrong = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: {
            ...a.auth,
            'tus-resumable': '0.2.2',
            'upload-length': '10',
            'upload-metadata': 'filename eA==',
          },
        });
        const missing = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...a.auth, 'upload-length': '10', 'upload-metadata': 'filename eA==' },
        });

        for (const response of [wrong, missing]) {
          assert.equal(response.statusCode, 412);
          assert.equal(response.headers['tus-version'], '1.0.0');
          assert.equal(response.json().error.code, 'tus_version_unsupported');
        }
      });

      it('should refuse a chunk of another content type with 415', async () => {
        const { id } = await create(a.auth, { length: 10, filename: 'typed.txt' });

        const response = await patch(a.auth, id, 0, randomBuffer(10), {
          'content-type': 'application/octet-stream',
        });

        assert.equal(response.statusCode, 415);
        assert.equal(response.json().error.code, 'unsupported_media_type');
        assert.equal(await offsetOf(a.auth, id), 0);
      });

      it('should refuse bad creation headers: no length, no filename, bad metadata, a bad name', async () => {
        const noLength = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...a.auth, ...TUS, 'upload-metadata': 'filename eA==' },
        });
        const noFilename = await create(a.auth, { length: 10 });
        const badBase64 = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...a.auth, ...TUS, 'upload-length': '10', 'upload-metadata': 'filename *not-base64*' },
        });
        const badName = await create(a.auth, { length: 10, filename: '../etc/passwd' });

        assert.equal(noLength.statusCode, 400);
        assert.equal(noFilename.status, 422);
        assert.equal(JSON.parse(noFilename.body).error.code, 'invalid_upload_metadata');
        assert.equal(badBase64.statusCode, 422);
        assert.equal(badName.status, 422);
        assert.equal(JSON.parse(badName.body).error.code, 'invalid_name');
      });
    });

    describe('quota and length', () => {
      it('should refuse an upload larger than the quota left, before any byte, creating nothing', async () => {
        const tenant = await ctx.services.store.repos.tenants.findById(a.tenantId);
        const pendingBefore = await pendingUploadBytes(a.tenantId);

        const response = await create(a.auth, {
          length: (tenant?.quotaBytes ?? 0) + 1,
          filename: 'huge.iso',
        });

        assert.equal(response.status, 413);
        assert.equal(JSON.parse(response.body).error.code, 'quota_exceeded');
        assert.equal(response.headers.location, undefined);
        assert.equal(await pendingUploadBytes(a.tenantId), pendingBefore);
      });

      it('should count unfinished uploads against the quota until they end', async () => {
        const c = await createTenantFixture(ctx);
        const quota = (await ctx.services.store.repos.tenants.findById(c.tenantId))?.quotaBytes ?? 0;
        const first = await create(c.auth, { length: Math.ceil(quota * 0.6), filename: 'first.iso' });

        const second = await create(c.auth, { length: Math.ceil(quota * 0.5), filename: 'second.iso' });
        const terminate = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/uploads/${first.id}`,
          headers: { ...c.auth, ...TUS },
        });
        const third = await create(c.auth, { length: Math.ceil(quota * 0.5), filename: 'third.iso' });

        assert.equal(first.status, 201);
        assert.equal(second.status, 413);
        assert.equal(terminate.statusCode, 204);
        assert.equal(third.status, 201);
      });

      it('should refuse a chunk declared longer than the upload, keeping the offset', async () => {
        const { id } = await create(a.auth, { length: 100, filename: 'declared-too-long.txt' });

        const response = await patch(a.auth, id, 0, randomBuffer(150));

        assert.equal(response.statusCode, 413);
        assert.equal(response.json().error.code, 'upload_length_exceeded');
        assert.equal(await offsetOf(a.auth, id), 0);
      });

      it('should refuse a chunked body that runs past the length and commit nothing', async () => {
        const name = 'streamed-too-long.txt';
        const usedBefore = await usedBytes(a);
        const { id } = await create(a.auth, { length: 70_000, filename: name });

        const status = await sendChunked(`${base}/api/v1/uploads/${id}`, a.auth, [
          randomBuffer(65_536),
          randomBuffer(4_464),
          randomBuffer(50),
        ]);
        const children = await ctx.app.inject({
          method: 'GET',
          url: `/api/v1/nodes/${a.rootId}/children`,
          headers: a.auth,
        });

        assert.equal(status, 413);
        assert.ok((await offsetOf(a.auth, id)) < 70_000);
        assert.equal((await row(a, id)).completedAt, null);
        assert.ok(!JSON.stringify(children.json()).includes(name), 'no file was committed');
        assert.equal(await usedBytes(a), usedBefore);
      });
    });

    describe('tenancy and roles', () => {
      it("should answer another tenant's upload id with 404, exactly like an unknown id", async () => {
        const { id } = await create(a.auth, { length: 1000, filename: 'tenant-a-only.txt' });
        await patch(a.auth, id, 0, randomBuffer(10));

        const calls = [
          (upload: string) => head(b.auth, upload),
          (upload: string) => patch(b.auth, upload, 10, randomBuffer(10)),
          (upload: string) =>
            ctx.app.inject({
              method: 'DELETE',
              url: `/api/v1/uploads/${upload}`,
              headers: { ...b.auth, ...TUS },
            }),
        ];
        for (const call of calls) {
          const foreign = await call(id);
          const unknown = await call(newId());
          assert.equal(foreign.statusCode, 404);
          assert.equal(unknown.statusCode, 404);
          if (foreign.body) {
            assert.equal(foreign.json().error.code, 'upload_not_found');
            assert.equal(foreign.json().error.message, unknown.json().error.message);
          }
        }
        assert.equal(await offsetOf(a.auth, id), 10);
      });

      it("should answer another tenant's folder as parentId with 404, like an unknown folder", async () => {
        const foreign = await create(a.auth, { length: 10, filename: 'x.txt', parentId: b.rootId });
        const unknown = await create(a.auth, { length: 10, filename: 'x.txt', parentId: newId() });

        assert.equal(foreign.status, 404);
        assert.equal(unknown.status, 404);
        assert.equal(JSON.parse(foreign.body).error.code, JSON.parse(unknown.body).error.code);
      });

      it("should hide one member's upload from another member of the same tenant", async () => {
        const member = await addMember(ctx, a, 'member');
        const { id } = await create(a.auth, { length: 10, filename: 'owner-upload.txt' });

        const response = await head(member.auth, id);

        assert.equal(response.statusCode, 404);
      });

      it('should refuse the anonymous (401), a compliance officer (403) and a guest without a grant (404)', async () => {
        const officer = await addMember(ctx, a, 'compliance_officer');
        const guest = await addMember(ctx, a, 'guest');

        const anonymous = await create({ authorization: '' }, { length: 10, filename: 'x.txt' });
        const byOfficer = await create(officer.auth, { length: 10, filename: 'x.txt' });
        const byGuest = await create(guest.auth, { length: 10, filename: 'x.txt' });

        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.headers['tus-resumable'], '1.0.0');
        assert.equal(JSON.parse(anonymous.body).error.code, 'not_signed_in');
        assert.equal(byOfficer.status, 403);
        assert.equal(byGuest.status, 404);
      });

      it('should let a guest upload into a folder granted to them for writing', async () => {
        const guest = await addMember(ctx, a, 'guest');
        const owner = {
          kind: 'member' as const,
          tenantId: a.tenantId,
          userId: a.ownerId,
          role: 'owner' as const,
        };
        const folder = await ctx.services.tree.createFolder({ ...owner, channel: 'api' }, a.rootId, 'Inbox');
        await ctx.services.tree.grantFolder(
          { ...owner, channel: 'api' },
          { folderId: folder.id, userId: guest.userId, access: 'write' },
        );

        const { status, id } = await create(guest.auth, {
          length: 5,
          filename: 'cv.txt',
          parentId: folder.id,
        });
        const finish = await patch(guest.auth, id, 0, Buffer.from('hello'));

        assert.equal(status, 201);
        assert.equal(finish.statusCode, 204);
        assert.equal(finish.headers['upload-offset'], '5');
      });
    });

    describe('termination and expiry', () => {
      it('should destroy staged parts and the data key on DELETE', async () => {
        const { id } = await create(a.auth, { length: 1 * MIB, filename: 'terminated.bin' });
        await patch(a.auth, id, 0, randomBuffer(200_000));
        const upload = await row(a, id);
        const stagedBefore = await stagedKeys(upload);

        const response = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/uploads/${id}`,
          headers: { ...a.auth, ...TUS },
        });

        assert.ok(stagedBefore.length >= 2);
        assert.equal(response.statusCode, 204);
        assert.equal(response.headers['tus-resumable'], '1.0.0');
        assert.deepEqual(await stagedKeys(upload), []);
        await assert.rejects(ctx.services.keys.getDataKey(a.tenantId, upload.dataKeyId), IntegrityError);
        assert.equal((await head(a.auth, id)).statusCode, 404);
        assert.equal(await ctx.services.store.repos.uploads.find(a.tenantId, id), undefined);
      });

      it('should refuse to terminate a finished upload', async () => {
        const { id } = await create(a.auth, { length: 3, filename: 'finished.txt' });
        await patch(a.auth, id, 0, Buffer.from('abc'));

        const response = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/uploads/${id}`,
          headers: { ...a.auth, ...TUS },
        });

        assert.equal(response.statusCode, 409);
        assert.equal(response.json().error.code, 'upload_completed');
      });

      it('should sweep an expired upload with its parts and data key', async () => {
        const { id } = await create(a.auth, { length: 1 * MIB, filename: 'abandoned.bin' });
        await patch(a.auth, id, 0, randomBuffer(150_000));
        const upload = await row(a, id);

        clock.skewMs = 25 * 3600_000;
        try {
          const headWhenExpired = await head(a.auth, id);
          const swept = await ctx.services.maintenance.sweepExpiredUploads();

          assert.equal(headWhenExpired.statusCode, 404);
          assert.ok(swept.deleted >= 1);
          assert.deepEqual(await stagedKeys(upload), []);
          assert.equal(await ctx.services.store.repos.uploads.find(a.tenantId, id), undefined);
          await assert.rejects(ctx.services.keys.getDataKey(a.tenantId, upload.dataKeyId), IntegrityError);
        } finally {
          clock.skewMs = 0;
        }
      });
    });

    describe('completion', () => {
      it('should leave no staged part and no plaintext on disk, before or after completion', async () => {
        const marker = 'CUSTODIA-PLAINTEXT-MARKER-7f3a9c';
        const body = Buffer.from(marker.repeat(10_000));
        const { id } = await create(a.auth, { length: body.length, filename: 'notes.txt' });

        await patch(a.auth, id, 0, body.subarray(0, 150_001));
        const stagedMidway = await stagedKeys(await row(a, id));
        const midway = await filesContaining(ctx.database.dataDir, Buffer.from(marker));
        const finish = await patch(a.auth, id, 150_001, body.subarray(150_001));
        const done = await filesContaining(ctx.database.dataDir, Buffer.from(marker));

        assert.ok(stagedMidway.length >= 2);
        assert.deepEqual(midway, []);
        assert.equal(finish.statusCode, 204);
        assert.deepEqual(await stagedKeys(await row(a, id)), []);
        assert.deepEqual(done, []);
        assert.deepEqual(await download(a.auth, String(finish.headers['custodia-node-id'])), body);
      });

      it('should finish a zero-length upload at creation', async () => {
        const created = await create(a.auth, { length: 0, filename: 'empty.txt' });

        const nodeId = String(created.headers['custodia-node-id']);

        assert.equal(created.status, 201);
        assert.equal(created.headers['upload-offset'], '0');
        assert.equal((await download(a.auth, nodeId)).length, 0);
      });

      it('should add a new version when the name exists, charging the quota once', async () => {
        const first = await create(a.auth, { length: 4, filename: 'twice.txt' });
        await patch(a.auth, first.id, 0, Buffer.from('one!'));
        const usedBefore = await usedBytes(a);
        const second = await create(a.auth, { length: 6, filename: 'twice.txt' });

        const finish = await patch(a.auth, second.id, 0, Buffer.from('second'));
        const nodeId = String(finish.headers['custodia-node-id']);
        const versions = await ctx.services.store.repos.versions.listByNode(a.tenantId, nodeId);

        assert.equal(versions.length, 2);
        assert.deepEqual(await download(a.auth, nodeId), Buffer.from('second'));
        assert.equal(await usedBytes(a), usedBefore + 6);
      });

      it('should discard an upload whose name became a folder, releasing everything', async () => {
        const { id } = await create(a.auth, { length: 200_000, filename: 'Contracts' });
        await patch(a.auth, id, 0, randomBuffer(100_000));
        const upload = await row(a, id);
        const actor = {
          kind: 'member' as const,
          tenantId: a.tenantId,
          userId: a.ownerId,
          role: 'owner' as const,
        };
        await ctx.services.tree.createFolder({ ...actor, channel: 'api' }, a.rootId, 'Contracts');

        const finish = await patch(a.auth, id, 100_000, randomBuffer(100_000));

        assert.equal(finish.statusCode, 409);
        assert.equal(finish.json().error.code, 'name_taken');
        assert.equal((await head(a.auth, id)).statusCode, 404);
        assert.deepEqual(await stagedKeys(upload), []);
        assert.equal(await ctx.services.blobs.stat(upload.blobKey), undefined);
        await assert.rejects(ctx.services.keys.getDataKey(a.tenantId, upload.dataKeyId), IntegrityError);
      });
    });
  });
}

/** Sends the head of a PATCH body over a real socket, then cuts the connection mid-body. */
async function sendThenCut(url: string, auth: Auth, body: Buffer, cutAfter: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = httpRequest(url, {
      method: 'PATCH',
      headers: {
        ...auth,
        ...TUS,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'content-length': String(body.length),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.subarray(0, cutAfter), () => {
      setTimeout(() => req.destroy(), 200);
    });
  });
}

/** Sends a PATCH with Transfer-Encoding: chunked (no Content-Length); the status, or 0 if cut. */
async function sendChunked(url: string, auth: Auth, chunks: Buffer[]): Promise<number> {
  return new Promise<number>((resolve) => {
    const req = httpRequest(url, {
      method: 'PATCH',
      headers: { ...auth, ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    for (const chunk of chunks) {
      req.write(chunk);
    }
    req.end();
  });
}

/** Files under `dir` whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      const bytes = await readFile(path).catch(() => Buffer.alloc(0));
      if (bytes.includes(needle)) {
        found.push(path);
      }
    }
  }
  return found;
}
