import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  randomBuffer,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { FakeClock } from '../support/sessions.ts';

const LINK_PASSWORD = 'kalahari-sunset-42';
const TICKET_TTL_MS = 10 * 60_000;
const PASSWORD_MAX_FAILURES = 20;

for (const dialect of await dialectsUnderTest()) {
  describe(`share links over HTTP (${dialect})`, () => {
    const clock = new FakeClock();
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect, { clock });
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    /** A fresh file per test, so each test's audit trail (by target id) is its own. */
    async function uploadContract(bytes = randomBuffer(150_000)) {
      const { json } = await uploadViaApi(
        ctx,
        a,
        a.rootId,
        `contract-${bytes.subarray(0, 4).toString('hex')}.pdf`,
        bytes,
      );
      return { fileId: json.node.id, bytes };
    }

    async function createShare(
      fileId: string,
      body: { expiresAt?: number | null; password?: string | null; maxDownloads?: number | null } = {},
      auth = a.auth,
    ) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/nodes/${fileId}/shares`,
        headers: auth,
        payload: body,
      });
      const url = response.json().url as string | undefined;
      return { response, token: url?.split('/s/')[1] ?? '', shareId: response.json().share?.id as string };
    }

    function describeLink(token: string) {
      return ctx.app.inject({ method: 'GET', url: `/api/v1/public/shares/${token}` });
    }

    function unlock(token: string, password: string) {
      return ctx.app.inject({
        method: 'POST',
        url: `/api/v1/public/shares/${token}/unlock`,
        payload: { password },
      });
    }

    function download(token: string, options: { ticket?: string; headers?: Record<string, string> } = {}) {
      return ctx.app.inject({
        method: 'GET',
        url: `/api/v1/public/shares/${token}/content${options.ticket ? `?ticket=${options.ticket}` : ''}`,
        headers: options.headers,
      });
    }

    function auditOf(fileId: string) {
      return ctx.services.store.repos.audit.list({ tenantId: a.tenantId, targetId: fileId, limit: 100 });
    }

    describe('POST /nodes/:id/shares', () => {
      it('should create a link with an expiry, a password and a download limit', async () => {
        const { fileId } = await uploadContract();
        const expiresAt = clock.now() + 7 * 24 * 3600_000;

        const { response, token } = await createShare(fileId, {
          expiresAt,
          password: LINK_PASSWORD,
          maxDownloads: 3,
        });

        assert.equal(response.statusCode, 201);
        assert.match(response.json().url, /^http:\/\/localhost:8080\/s\/[A-Za-z0-9_-]{43}$/);
        assert.deepEqual(
          { ...response.json().share, id: undefined, createdAt: undefined },
          {
            id: undefined,
            nodeId: fileId,
            tokenPrefix: token.slice(0, 6),
            hasPassword: true,
            expiresAt,
            maxDownloads: 3,
            downloadCount: 0,
            createdAt: undefined,
            revokedAt: null,
          },
        );
        assert.ok(!response.body.includes(LINK_PASSWORD));
      });

      it('should refuse an expiry in the past and a password shorter than six characters with 422', async () => {
        const { fileId } = await uploadContract();

        const past = await createShare(fileId, { expiresAt: clock.now() - 1 });
        const shortPassword = await createShare(fileId, { password: 'abc' });

        assert.equal(past.response.statusCode, 422);
        assert.equal(past.response.json().error.code, 'invalid_expiry');
        assert.equal(shortPassword.response.statusCode, 422);
        assert.equal(shortPassword.response.json().error.code, 'invalid_share_password');
      });

      it('should refuse a guest with 403, even inside a folder granted to them', async () => {
        const folder = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/nodes/${a.rootId}/folders`,
          headers: a.auth,
          payload: { name: 'Shared with the auditors' },
        });
        const { json } = await uploadViaApi(ctx, a, folder.json().id, 'ledger.csv', 'account,amount\n');
        const guest = await addMember(ctx, a, 'guest');
        await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/nodes/${folder.json().id}/grants`,
          headers: a.auth,
          payload: { userId: guest.userId, access: 'write' },
        });

        const { response } = await createShare(json.node.id, {}, guest.auth);

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });
    });

    describe('GET /public/shares/:token', () => {
      it('should hide the name, size and type while a password is set', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD, maxDownloads: 3 });

        const response = await describeLink(token);

        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), {
          name: null,
          size: null,
          mimeType: null,
          expiresAt: null,
          downloadsLeft: 3,
          needsPassword: true,
        });
      });

      it('should show the name and size of a link without a password', async () => {
        const { fileId, bytes } = await uploadContract();
        const { token } = await createShare(fileId);

        const response = await describeLink(token);

        assert.equal(response.json().name, `contract-${bytes.subarray(0, 4).toString('hex')}.pdf`);
        assert.equal(response.json().size, bytes.length);
        assert.equal(response.json().needsPassword, false);
      });

      it('should answer 404 share_not_found to an unknown token', async () => {
        const response = await describeLink('q'.repeat(43));

        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'share_not_found');
      });
    });

    describe('POST /public/shares/:token/unlock', () => {
      it('should answer 401 to a wrong password and audit the attempt', async () => {
        const { fileId } = await uploadContract();
        const { token, shareId } = await createShare(fileId, { password: LINK_PASSWORD });

        const response = await unlock(token, 'kalahari-sunrise-42');

        const events = await auditOf(fileId);
        const attempt = events.find((e) => e.action === 'share.access' && e.outcome === 'failure');
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error.code, 'share_password_required');
        assert.equal(attempt?.actorId, shareId);
        assert.deepEqual(attempt?.details, { reason: 'wrong_password' });
        assert.equal(attempt?.channel, 'share_link');
      });

      it('should return a ticket for the right password, with which the exact bytes download', async () => {
        const { fileId, bytes } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD });

        const unlocked = await unlock(token, LINK_PASSWORD);
        const response = await download(token, { ticket: unlocked.json().ticket });

        assert.equal(unlocked.statusCode, 200);
        assert.equal(unlocked.json().info.size, bytes.length);
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.rawPayload, bytes);
        assert.equal(response.headers['content-length'], String(bytes.length));
        assert.match(
          String(response.headers['content-disposition']),
          /^attachment; filename\*=UTF-8''contract-/,
        );
        assert.equal(response.headers['cache-control'], 'private, no-store');
      });

      it('should accept the password in X-Share-Password instead of a ticket', async () => {
        const { fileId, bytes } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD });

        const response = await download(token, { headers: { 'x-share-password': LINK_PASSWORD } });

        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.rawPayload, bytes);
      });

      it('should refuse a download with no proof, a forged ticket, or an expired ticket with 401', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD });
        const { ticket } = (await unlock(token, LINK_PASSWORD)).json() as { ticket: string };
        const [expires] = ticket.split('.');

        const noProof = await download(token);
        const forged = await download(token, {
          ticket: `${expires}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
        });
        clock.advance(TICKET_TTL_MS);
        const expired = await download(token, { ticket });

        assert.equal(noProof.statusCode, 401);
        assert.equal(forged.statusCode, 401);
        assert.equal(expired.statusCode, 401);
        assert.equal(expired.json().error.code, 'share_password_required');
      });

      it('should answer 429 after many wrong passwords, even to the right one', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD });
        for (let i = 0; i < PASSWORD_MAX_FAILURES; i++) {
          await unlock(token, `guess number ${i}`);
        }

        const response = await unlock(token, LINK_PASSWORD);

        assert.equal(response.statusCode, 429);
        assert.equal(response.json().error.code, 'too_many_attempts');
        assert.ok(Number(response.headers['retry-after']) > 0);
      });

      it("should refuse another link's ticket with 401", async () => {
        const { fileId } = await uploadContract();
        const first = await createShare(fileId, { password: LINK_PASSWORD });
        const second = await createShare(fileId, { password: LINK_PASSWORD });
        const { ticket } = (await unlock(first.token, LINK_PASSWORD)).json() as { ticket: string };

        const response = await download(second.token, { ticket });

        assert.equal(response.statusCode, 401);
      });
    });

    describe('GET /public/shares/:token/content', () => {
      it('should answer 403 share_download_limit once the limit is reached', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { maxDownloads: 2 });

        const first = await download(token);
        const second = await download(token);
        const third = await download(token);
        const described = await describeLink(token);

        assert.equal(first.statusCode, 200);
        assert.equal(second.statusCode, 200);
        assert.equal(third.statusCode, 403);
        assert.equal(third.json().error.code, 'share_download_limit');
        assert.equal(described.json().downloadsLeft, 0);
      });

      it('should count a download that skips only the first byte against the limit', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { maxDownloads: 1 });
        await download(token);

        const response = await download(token, { headers: { range: 'bytes=1-' } });

        assert.equal(response.statusCode, 403);
      });

      it('should serve a byte range of a password-protected link', async () => {
        const { fileId, bytes } = await uploadContract();
        const { token } = await createShare(fileId, { password: LINK_PASSWORD });
        const { ticket } = (await unlock(token, LINK_PASSWORD)).json() as { ticket: string };

        const response = await download(token, { ticket, headers: { range: 'bytes=100-199' } });

        assert.equal(response.statusCode, 206);
        assert.equal(response.headers['content-range'], `bytes 100-199/${bytes.length}`);
        assert.deepEqual(response.rawPayload, bytes.subarray(100, 200));
      });

      it('should answer 404 once the link has expired', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId, { expiresAt: clock.now() + 3600_000 });
        const beforeExpiry = await download(token);

        clock.advance(3600_000);
        const described = await describeLink(token);
        const response = await download(token);

        const events = await auditOf(fileId);
        assert.equal(beforeExpiry.statusCode, 200);
        assert.equal(described.statusCode, 404);
        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'share_not_found');
        assert.ok(events.some((e) => e.outcome === 'denied' && e.details?.reason === 'expired'));
      });

      it('should answer 404 once the link has been revoked', async () => {
        const { fileId } = await uploadContract();
        const { token, shareId } = await createShare(fileId);

        const revoked = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/shares/${shareId}`,
          headers: a.auth,
        });
        const response = await download(token);
        const described = await describeLink(token);

        assert.equal(revoked.statusCode, 200);
        assert.equal(response.statusCode, 404);
        assert.equal(described.statusCode, 404);
      });

      it('should answer 404 while the tenant is suspended, and work again once resumed', async () => {
        const c = await createTenantFixture(ctx);
        const { json } = await uploadViaApi(ctx, c, c.rootId, 'minutes.txt', 'AGM minutes');
        const { token } = await createShare(json.node.id, {}, c.auth);
        const [operator] = await ctx.services.store.repos.users.listOperators();
        assert.ok(operator);
        const actor = { kind: 'operator' as const, userId: operator.id, channel: 'cli' as const };

        await ctx.services.tenants.setSuspended(actor, c.tenantId, true);
        const whileSuspended = await download(token);
        await ctx.services.tenants.setSuspended(actor, c.tenantId, false);
        const afterResume = await download(token);

        assert.equal(whileSuspended.statusCode, 404);
        assert.equal(afterResume.statusCode, 200);
        assert.equal(afterResume.body, 'AGM minutes');
      });

      it('should answer 404 once the file is in the trash', async () => {
        const { fileId } = await uploadContract();
        const { token } = await createShare(fileId);

        await ctx.app.inject({ method: 'DELETE', url: `/api/v1/nodes/${fileId}`, headers: a.auth });
        const response = await download(token);

        assert.equal(response.statusCode, 404);
      });
    });

    describe('tenant isolation', () => {
      it("should answer 404 to another tenant listing a file's links", async () => {
        const { fileId } = await uploadContract();
        await createShare(fileId);

        const response = await ctx.app.inject({
          method: 'GET',
          url: `/api/v1/nodes/${fileId}/shares`,
          headers: b.auth,
        });
        const own = await ctx.app.inject({
          method: 'GET',
          url: `/api/v1/nodes/${fileId}/shares`,
          headers: a.auth,
        });

        assert.equal(response.statusCode, 404);
        assert.equal(own.json().items.length, 1);
      });

      it('should answer 404 to another tenant revoking the link, and leave it working', async () => {
        const { fileId } = await uploadContract();
        const { token, shareId } = await createShare(fileId);

        const response = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/shares/${shareId}`,
          headers: b.auth,
        });
        const stillWorks = await download(token);

        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'share_not_found');
        assert.equal(stillWorks.statusCode, 200);
      });

      it('should answer 404 to another tenant sharing a file it cannot see', async () => {
        const { fileId } = await uploadContract();

        const { response } = await createShare(fileId, {}, b.auth);

        assert.equal(response.statusCode, 404);
      });
    });

    describe('audit', () => {
      it('should write an audit event for every use of a link', async () => {
        const { fileId } = await uploadContract();
        const { token, shareId } = await createShare(fileId, { password: LINK_PASSWORD, maxDownloads: 1 });

        await describeLink(token);
        await unlock(token, 'not the password');
        const { ticket } = (await unlock(token, LINK_PASSWORD)).json() as { ticket: string };
        await download(token, { ticket });
        await download(token, { ticket });
        await ctx.app.inject({ method: 'DELETE', url: `/api/v1/shares/${shareId}`, headers: a.auth });
        await describeLink(token);

        const events = await auditOf(fileId);
        const trail = events
          .filter((e) => e.action.startsWith('share.'))
          .sort((x, y) => x.seq - y.seq)
          .map((e) => [e.action, e.outcome, e.details?.reason ?? null]);
        assert.deepEqual(trail, [
          ['share.create', 'success', null],
          ['share.view', 'success', null],
          ['share.access', 'failure', 'wrong_password'],
          ['share.unlock', 'success', null],
          ['share.download', 'success', null],
          ['share.access', 'denied', 'download_limit'],
          ['share.revoke', 'success', null],
          ['share.access', 'denied', 'revoked'],
        ]);
        assert.ok(
          events
            .filter((e) => e.actorType === 'share_link')
            .every((e) => e.actorId === shareId && e.channel === 'share_link'),
        );
      });
    });
  });
}
