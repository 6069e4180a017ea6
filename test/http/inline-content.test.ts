import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

const API = '/api/v1';
const MARKER = 'INLINE-MARKER-7f3c1e';

/**
 * Small files are kept, sealed, in the database with their version (SealedContent, inline_blobs);
 * larger ones in the blob store. Both must read back byte for byte, both must refuse tampered bytes
 * with an error and an audit event, and purging a file must remove its stored bytes wherever they are.
 */
for (const dialect of await dialectsUnderTest()) {
  describe(`content kept in the database (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;
    let limit: number;

    const db = () => ctx.services.database.db;
    const get = (tenant: TenantFixture, nodeId: string, headers: Record<string, string> = {}) =>
      ctx.app.inject({
        method: 'GET',
        url: `${API}/nodes/${nodeId}/content`,
        headers: { ...tenant.auth, ...headers },
      });
    const inlineRow = (blobKey: string) =>
      db().selectFrom('inline_blobs').selectAll().where('blob_key', '=', blobKey).executeTakeFirst();
    const versionOf = (versionId: string) =>
      db().selectFrom('file_versions').selectAll().where('id', '=', versionId).executeTakeFirstOrThrow();
    const tenantBlobFiles = (tenantId: string): string[] => {
      const dir = join(ctx.services.config.dataDir, 'blobs', 't', tenantId);
      return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
    };
    const auditActions = async (tenantId: string, targetId: string) =>
      (
        await db()
          .selectFrom('audit_events')
          .select('action')
          .where('log_id', '=', tenantId)
          .where('target_id', '=', targetId)
          .execute()
      ).map((row) => row.action);
    /** Rewrites one stored byte of an inline blob, as someone with database access could. */
    const flipInlineByte = async (blobKey: string, index: number) => {
      const row = await inlineRow(blobKey);
      assert.ok(row, 'the inline blob exists');
      const bytes = Buffer.from(row.sealed);
      bytes[index] = (bytes[index] ?? 0) ^ 0x01;
      await db().updateTable('inline_blobs').set({ sealed: bytes }).where('blob_key', '=', blobKey).execute();
    };

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
      limit = ctx.services.config.inlineContentMaxBytes;
    });
    after(async () => ctx.close());

    it('should keep a small file in the database, sealed, and serve it back whole and by range', async () => {
      const body = Buffer.from(`${MARKER} `.repeat(200));
      const filesBefore = tenantBlobFiles(a.tenantId);

      const { response, json } = await uploadViaApi(ctx, a, a.rootId, 'small.txt', body);
      const version = await versionOf(json.version.id);
      const row = await inlineRow(version.blob_key);
      const whole = await get(a, json.node.id);
      const part = await get(a, json.node.id, { range: 'bytes=5-40' });
      const tail = await get(a, json.node.id, { range: `bytes=-7` });

      assert.equal(response.statusCode, 201, response.body);
      assert.ok(row, 'an inline_blobs row holds the bytes');
      assert.equal(row.tenant_id, a.tenantId);
      assert.equal(Buffer.from(row.sealed).includes(MARKER), false, 'the stored bytes are sealed');
      assert.ok(row.sealed.byteLength > body.length, 'sealed bytes carry a header and a tag');
      assert.deepEqual(tenantBlobFiles(a.tenantId), filesBefore, 'no blob file was written');
      assert.equal(whole.statusCode, 200);
      assert.deepEqual(whole.rawPayload, body);
      assert.equal(part.statusCode, 206);
      assert.deepEqual(part.rawPayload, body.subarray(5, 41));
      assert.equal(tail.statusCode, 206);
      assert.deepEqual(tail.rawPayload, body.subarray(body.length - 7));
    });

    it('should store a body of exactly the limit inline and one byte more in the blob store', async () => {
      const atLimit = await uploadViaApi(ctx, a, a.rootId, 'at-limit.bin', Buffer.alloc(limit, 'a'));
      const over = await uploadViaApi(ctx, a, a.rootId, 'over-limit.bin', Buffer.alloc(limit + 1, 'b'));
      const atLimitVersion = await versionOf(atLimit.json.version.id);
      const overVersion = await versionOf(over.json.version.id);

      assert.equal(atLimit.response.statusCode, 201);
      assert.equal(over.response.statusCode, 201);
      assert.ok(await inlineRow(atLimitVersion.blob_key));
      assert.equal(await inlineRow(overVersion.blob_key), undefined);
      assert.ok(tenantBlobFiles(a.tenantId).some((path) => overVersion.blob_key.endsWith(path)));
      assert.deepEqual((await get(a, over.json.node.id)).rawPayload, Buffer.alloc(limit + 1, 'b'));
    });

    it("should answer 404 for another tenant's small file", async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'private-small.txt', 'tenant A only');

      const foreign = await get(b, json.node.id);

      assert.equal(foreign.statusCode, 404);
      assert.equal(foreign.json().error.code, 'node_not_found');
    });

    it('should refuse a flipped bit in an inline blob with 500, no bytes and an audit event', async () => {
      const body = Buffer.from(`${MARKER} salary list`);
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'tampered-inline.txt', body);
      const version = await versionOf(json.version.id);
      await flipInlineByte(version.blob_key, (await inlineRow(version.blob_key))!.sealed.byteLength - 3);

      const response = await get(a, json.node.id);

      assert.equal(response.statusCode, 500);
      assert.equal(response.json().error.code, 'integrity_check_failed');
      assert.equal(response.body.includes(MARKER), false);
      assert.ok((await auditActions(a.tenantId, json.node.id)).includes('file.integrity_failure'));
    });

    it('should refuse a cut-short inline blob and one swapped in from another file', async () => {
      const first = await uploadViaApi(ctx, a, a.rootId, 'first.txt', `${MARKER} first`);
      const second = await uploadViaApi(ctx, a, a.rootId, 'second.txt', `${MARKER} second`);
      const firstKey = (await versionOf(first.json.version.id)).blob_key;
      const secondKey = (await versionOf(second.json.version.id)).blob_key;
      const firstSealed = Buffer.from((await inlineRow(firstKey))!.sealed);
      const secondSealed = Buffer.from((await inlineRow(secondKey))!.sealed);
      // The first file's row gets the second file's bytes; the second's loses its last 16 bytes.
      await db()
        .updateTable('inline_blobs')
        .set({ sealed: secondSealed })
        .where('blob_key', '=', firstKey)
        .execute();
      await db()
        .updateTable('inline_blobs')
        .set({ sealed: secondSealed.subarray(0, secondSealed.length - 16) })
        .where('blob_key', '=', secondKey)
        .execute();

      const swapped = await get(a, first.json.node.id);
      const truncated = await get(a, second.json.node.id);

      assert.notDeepEqual(firstSealed, secondSealed);
      for (const response of [swapped, truncated]) {
        assert.equal(response.statusCode, 500);
        assert.equal(response.json().error.code, 'integrity_check_failed');
        assert.equal(response.body.includes(MARKER), false);
      }
    });

    it('should refuse a missing inline blob as an integrity failure, not an empty file', async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'vanished.txt', `${MARKER} gone`);
      const key = (await versionOf(json.version.id)).blob_key;
      await db().deleteFrom('inline_blobs').where('blob_key', '=', key).execute();

      const response = await get(a, json.node.id);

      assert.equal(response.statusCode, 500);
      assert.equal(response.json().error.code, 'integrity_check_failed');
    });

    it('should refuse a flipped bit in a blob file too', async () => {
      const body = Buffer.alloc(limit + 100, MARKER);
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'tampered-file.bin', body);
      const key = (await versionOf(json.version.id)).blob_key;
      const path = join(ctx.services.config.dataDir, 'blobs', ...key.split('/'));
      const bytes = readFileSync(path);
      bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x80;
      writeFileSync(path, bytes);

      const response = await get(a, json.node.id, { range: `bytes=${body.length - 10}-` });

      assert.equal(response.statusCode, 500);
      assert.equal(response.json().error.code, 'integrity_check_failed');
      assert.ok((await auditActions(a.tenantId, json.node.id)).includes('file.integrity_failure'));
    });

    it('should keep a copy readable after the original is purged, and delete the bytes with the last one', async () => {
      const body = Buffer.from(`${MARKER} copied`);
      const original = await uploadViaApi(ctx, a, a.rootId, 'copied.txt', body);
      const key = (await versionOf(original.json.version.id)).blob_key;
      const send = (method: 'POST' | 'DELETE', url: string, payload?: object) =>
        ctx.app.inject({ method, url: `${API}${url}`, headers: a.auth, ...(payload ? { payload } : {}) });

      const copy = await send('POST', `/nodes/${original.json.node.id}/copy`, {
        parentId: a.rootId,
        name: 'copy-of-copied.txt',
      });
      const copyId = (copy.json() as { id: string }).id;
      await send('DELETE', `/nodes/${original.json.node.id}`);
      await send('DELETE', `/trash/${original.json.node.id}`);
      const afterOriginalPurged = await get(a, copyId);
      const rowWhileCopyLives = await inlineRow(key);
      await send('DELETE', `/nodes/${copyId}`);
      await send('DELETE', `/trash/${copyId}`);

      assert.equal(copy.statusCode, 201, copy.body);
      assert.equal(afterOriginalPurged.statusCode, 200);
      assert.deepEqual(afterOriginalPurged.rawPayload, body);
      assert.ok(rowWhileCopyLives, 'the copy shares the inline blob, which stays while it lives');
      assert.equal(await inlineRow(key), undefined);
    });

    it('should delete the inline blob when the file is purged from the trash', async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'to-purge.txt', `${MARKER} purge me`);
      const key = (await versionOf(json.version.id)).blob_key;

      const trashed = await ctx.app.inject({
        method: 'DELETE',
        url: `${API}/nodes/${json.node.id}`,
        headers: a.auth,
      });
      const purged = await ctx.app.inject({
        method: 'DELETE',
        url: `${API}/trash/${json.node.id}`,
        headers: a.auth,
      });

      assert.ok([200, 204].includes(trashed.statusCode), trashed.body);
      assert.ok([200, 204].includes(purged.statusCode), purged.body);
      assert.equal(await inlineRow(key), undefined);
    });
  });
}
