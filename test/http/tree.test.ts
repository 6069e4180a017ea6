import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

type Json = Record<string, unknown> & { items?: Array<Record<string, unknown>> };

for (const dialect of await dialectsUnderTest()) {
  describe(`folder tree, versions and trash over HTTP (${dialect})`, () => {
    let ctx: TestContext;
    let t: TenantFixture;

    const call = async (
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
      url: string,
      payload?: object,
    ) => {
      const response = await ctx.app.inject({
        method,
        url: `/api/v1${url}`,
        headers: t.auth,
        ...(payload ? { payload } : {}),
      });
      const isJson = String(response.headers['content-type'] ?? '').startsWith('application/json');
      return {
        status: response.statusCode,
        json: (isJson ? response.json() : {}) as Json,
        raw: response.rawPayload,
      };
    };
    const folder = async (parentId: string, name: string) =>
      (await call('POST', `/nodes/${parentId}/folders`, { name })).json.id as string;
    const names = async (folderId: string) =>
      ((await call('GET', `/nodes/${folderId}/children`)).json.items ?? []).map((i) => i.name);
    const usedBytes = async () => (await call('GET', '/tenant')).json.usedBytes as number;

    before(async () => {
      ctx = await createTestContext(dialect);
      t = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    it('should list folders first, sorted, and filter by name', async () => {
      const dir = await folder(t.rootId, 'Listing');
      await uploadViaApi(ctx, t, dir, 'b.txt', 'bb');
      await uploadViaApi(ctx, t, dir, 'A.txt', 'a');
      await folder(dir, 'zeta');

      const byName = await names(dir);
      const bySizeDesc = (await call('GET', `/nodes/${dir}/children?sort=size&order=desc`)).json.items?.map(
        (i) => i.name,
      );
      const filtered = (await call('GET', `/nodes/${dir}/children?q=a.t`)).json.items?.map((i) => i.name);

      assert.deepEqual(byName, ['zeta', 'A.txt', 'b.txt']);
      assert.deepEqual(bySizeDesc, ['zeta', 'b.txt', 'A.txt']);
      assert.deepEqual(filtered, ['A.txt']);
    });

    it('should rename and move a file, and refuse a name that is taken', async () => {
      const from = await folder(t.rootId, 'From');
      const to = await folder(t.rootId, 'To');
      const { json } = await uploadViaApi(ctx, t, from, 'draft.txt', 'text');
      await uploadViaApi(ctx, t, to, 'final.txt', 'other');

      const clash = await call('PATCH', `/nodes/${json.node.id}`, { name: 'FINAL.txt', parentId: to });
      const moved = await call('PATCH', `/nodes/${json.node.id}`, { name: 'approved.txt', parentId: to });

      assert.equal(clash.status, 409);
      assert.equal(clash.json.error && (clash.json.error as { code: string }).code, 'name_taken');
      assert.equal(moved.status, 200);
      assert.deepEqual(await names(from), []);
      assert.deepEqual(await names(to), ['approved.txt', 'final.txt']);
    });

    it('should refuse to move a folder into its own subfolder', async () => {
      const outer = await folder(t.rootId, 'Outer');
      const inner = await folder(outer, 'Inner');

      const result = await call('PATCH', `/nodes/${outer}`, { parentId: inner });

      assert.equal(result.status, 409);
      assert.equal((result.json.error as { code: string }).code, 'move_into_self');
    });

    it('should copy a folder tree with its files and charge the quota again', async () => {
      const src = await folder(t.rootId, 'Source');
      const sub = await folder(src, 'Sub');
      await uploadViaApi(ctx, t, sub, 'deep.txt', 'deep content');
      const before = await usedBytes();

      const copy = await call('POST', `/nodes/${src}/copy`, { parentId: t.rootId, name: 'Source copy' });
      const copiedSub = (await call('GET', `/nodes/${copy.json.id as string}/children`)).json.items?.[0];
      const deep = (await call('GET', `/nodes/${copiedSub?.id as string}/children`)).json.items?.[0];
      const bytes = await call('GET', `/nodes/${deep?.id as string}/content`);

      assert.equal(copy.status, 201);
      assert.equal(copiedSub?.name, 'Sub');
      assert.equal(bytes.raw.toString(), 'deep content');
      assert.equal(await usedBytes(), before + 'deep content'.length);
    });

    it('should keep every version and restore an old one as the newest', async () => {
      const dir = await folder(t.rootId, 'Versions');
      const v1 = await uploadViaApi(ctx, t, dir, 'policy.txt', 'version one');
      await uploadViaApi(ctx, t, dir, 'policy.txt', 'version two');

      const history = await call('GET', `/nodes/${v1.json.node.id}/versions`);
      const restored = await call('POST', `/nodes/${v1.json.node.id}/versions/${v1.json.version.id}/restore`);
      const current = await call('GET', `/nodes/${v1.json.node.id}/content`);
      const after = await call('GET', `/nodes/${v1.json.node.id}/versions`);

      assert.deepEqual(
        history.json.items?.map((v) => v.number),
        [2, 1],
      );
      assert.equal(restored.status, 200);
      assert.equal(current.raw.toString(), 'version one');
      assert.deepEqual(
        after.json.items?.map((v) => [v.number, v.isCurrent]),
        [
          [3, true],
          [2, false],
          [1, false],
        ],
      );
    });

    it('should keep only the newest N versions and release the quota of the rest', async () => {
      await call('PATCH', '/tenant', { keepVersions: 2 });
      const dir = await folder(t.rootId, 'KeepTwo');
      const first = await uploadViaApi(ctx, t, dir, 'log.txt', '1111');
      await uploadViaApi(ctx, t, dir, 'log.txt', '22222');
      const before = await usedBytes();

      await uploadViaApi(ctx, t, dir, 'log.txt', '333333');
      const versions = await call('GET', `/nodes/${first.json.node.id}/versions`);
      const oldVersion = await call(
        'GET',
        `/nodes/${first.json.node.id}/content?version=${first.json.version.id}`,
      );

      assert.deepEqual(
        versions.json.items?.map((v) => v.number),
        [3, 2],
      );
      assert.equal(oldVersion.status, 404);
      assert.equal(await usedBytes(), before + 6 - 4);
      await call('PATCH', '/tenant', { keepVersions: 10 });
    });

    it('should move a folder to the trash, restore it whole, and purge it for good', async () => {
      const dir = await folder(t.rootId, 'Project');
      const file = await uploadViaApi(ctx, t, dir, 'notes.txt', 'secret plans');
      const before = await usedBytes();

      const trashed = await call('DELETE', `/nodes/${dir}`);
      const hiddenFile = await call('GET', `/nodes/${file.json.node.id}/content`);
      const trash = await call('GET', '/trash');
      const restored = await call('POST', `/trash/${dir}/restore`);
      const backAgain = await call('GET', `/nodes/${file.json.node.id}/content`);
      await call('DELETE', `/nodes/${dir}`);
      const purged = await call('DELETE', `/trash/${dir}`);
      const gone = await call('POST', `/trash/${dir}/restore`);

      assert.equal(trashed.status, 200);
      assert.equal(hiddenFile.status, 404);
      assert.deepEqual(
        trash.json.items?.map((i) => i.id),
        [dir],
      );
      assert.equal(restored.status, 200);
      assert.equal(backAgain.raw.toString(), 'secret plans');
      assert.deepEqual(purged.json, { items: 2, bytes: 'secret plans'.length });
      assert.equal(gone.status, 404);
      assert.equal(await usedBytes(), before - 'secret plans'.length);
    });

    it('should restore under a new name when the old one was taken meanwhile', async () => {
      const dir = await folder(t.rootId, 'Clash');
      const first = await uploadViaApi(ctx, t, dir, 'memo.txt', 'old memo');
      await call('DELETE', `/nodes/${first.json.node.id}`);
      await uploadViaApi(ctx, t, dir, 'memo.txt', 'new memo');

      const restored = await call('POST', `/trash/${first.json.node.id}/restore`);

      assert.equal(restored.status, 200);
      assert.equal(restored.json.name, 'memo (restored 1).txt');
      assert.deepEqual(await names(dir), ['memo (restored 1).txt', 'memo.txt']);
    });

    it('should resolve a path and record every change in the activity log', async () => {
      const dir = await folder(t.rootId, 'Audit me');
      const { json } = await uploadViaApi(ctx, t, dir, 'x.txt', 'x');

      const resolved = await call('GET', `/nodes/resolve?path=${encodeURIComponent('/Audit me/x.txt')}`);
      await call('GET', `/nodes/${json.node.id}/content`);
      const events = await ctx.services.store.repos.audit.list({
        tenantId: t.tenantId,
        targetId: json.node.id,
        limit: 10,
      });

      assert.equal((resolved.json.node as { id: string }).id, json.node.id);
      assert.deepEqual(events.map((e) => e.action).reverse(), ['file.upload', 'file.download']);
      assert.ok(events.every((e) => e.actorType === 'token' && e.channel === 'api'));
    });
  });
}
