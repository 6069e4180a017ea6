import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  createTenantFixture,
  createTestContext,
  randomBuffer,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

for (const dialect of await dialectsUnderTest()) {
  describe(`files over HTTP (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    it('should store an upload and give back the same bytes', async () => {
      const body = randomBuffer(200_000);

      const { response, json } = await uploadViaApi(ctx, a, a.rootId, 'report.bin', body);
      const download = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${json.node.id}/content`,
        headers: a.auth,
      });

      assert.equal(response.statusCode, 201);
      assert.equal(json.version.sha256, createHash('sha256').update(body).digest('hex'));
      assert.equal(download.statusCode, 200);
      assert.deepEqual(download.rawPayload, body);
    });

    it("should answer 404 for another tenant's file, exactly as for a missing one", async () => {
      const { json } = await uploadViaApi(ctx, a, a.rootId, 'private.txt', 'tenant A only');

      const foreign = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${json.node.id}/content`,
        headers: b.auth,
      });
      const missing = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/01a2043f-0000-7000-8000-000000000000/content`,
        headers: b.auth,
      });

      assert.equal(foreign.statusCode, 404);
      assert.equal(missing.statusCode, 404);
      assert.equal(foreign.json().error.code, missing.json().error.code);
    });

    it('should refuse a name with a path traversal and store nothing', async () => {
      const before = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${a.rootId}/children`,
        headers: a.auth,
      });

      const { response } = await uploadViaApi(ctx, a, a.rootId, '../etc/passwd', 'x');
      const afterList = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/nodes/${a.rootId}/children`,
        headers: a.auth,
      });

      assert.equal(response.statusCode, 422);
      assert.equal(response.json().error.code, 'invalid_name');
      assert.deepEqual(afterList.json(), before.json());
    });
  });
}
