import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { FakeClock, signedIn, signInViaApi, type BrowserSession } from '../support/sessions.ts';

const INVITATION_TTL_MS = 7 * 24 * 3600_000;
const OPERATOR_EMAIL = 'operator@example.com';

for (const dialect of await dialectsUnderTest()) {
  describe(`members, tokens and tenancy over HTTP (${dialect})`, () => {
    const clock = new FakeClock();
    let ctx: TestContext;
    let tenant: TenantFixture;
    let other: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect, { clock });
      tenant = await createTenantFixture(ctx);
      other = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    function get(url: string, headers: Record<string, string>) {
      return ctx.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });
    }

    function send(
      method: 'POST' | 'PATCH' | 'DELETE',
      url: string,
      headers: Record<string, string>,
      payload?: object,
    ) {
      return ctx.app.inject({ method, url: `/api/v1${url}`, headers, payload });
    }

    async function invite(email: string, role: string, by = tenant.auth) {
      const response = await send('POST', '/members/invitations', by, { email, role });
      const link = response.json().link as string | undefined;
      return { response, token: link?.split('#')[1] ?? '' };
    }

    describe('invitations', () => {
      it('should let an invited person join with the link token and the role they were invited with', async () => {
        const email = 'nomvula.dlamini@example.com';
        const { response, token } = await invite(email, 'member');

        const described = await get(`/invitations?token=${token}`, {});
        const accepted = await send(
          'POST',
          '/invitations/accept',
          {},
          {
            token,
            displayName: 'Nomvula Dlamini',
            password: 'a password of some length',
          },
        );
        const session = await signedIn(ctx, { email, password: 'a password of some length' });
        const me = await get('/me', session.headers);

        assert.equal(response.statusCode, 201);
        assert.ok(response.json().link.startsWith('http://localhost:8080/invite#inv_'));
        assert.deepEqual(described.json(), {
          email,
          role: 'member',
          tenantName: `Tenant ${tenant.slug}`,
          hasAccount: false,
        });
        assert.equal(accepted.statusCode, 200);
        assert.equal(me.json().tenant.id, tenant.tenantId);
        assert.equal(me.json().tenant.role, 'member');
        assert.equal(me.json().user.displayName, 'Nomvula Dlamini');
      });

      it('should list an invitation as pending until it is accepted', async () => {
        const email = 'pieter.van.wyk@example.com';
        const { token } = await invite(email, 'compliance_officer');
        const before = await get('/members/invitations', tenant.auth);

        await send('POST', '/invitations/accept', {}, { token, password: 'a password of some length' });

        const afterwards = await get('/members/invitations', tenant.auth);
        const members = await get('/members', tenant.auth);
        assert.ok(before.json().items.some((i: { email: string }) => i.email === email));
        assert.ok(!afterwards.json().items.some((i: { email: string }) => i.email === email));
        assert.equal(
          members.json().items.find((m: { email: string }) => m.email === email)?.role,
          'compliance_officer',
        );
      });

      it('should answer 404 invitation_not_found to an unknown token', async () => {
        const token = 'inv_this-token-was-never-issued-by-the-server';

        const described = await get(`/invitations?token=${token}`, {});
        const accepted = await send(
          'POST',
          '/invitations/accept',
          {},
          { token, password: 'a password of some length' },
        );

        assert.equal(described.statusCode, 404);
        assert.equal(described.json().error.code, 'invitation_not_found');
        assert.equal(accepted.statusCode, 404);
        assert.equal(accepted.json().error.code, 'invitation_not_found');
      });

      it('should answer 404 invitation_not_found to a token that has been used', async () => {
        const { token } = await invite('used.once@example.com', 'member');
        await send('POST', '/invitations/accept', {}, { token, password: 'a password of some length' });

        const again = await send(
          'POST',
          '/invitations/accept',
          {},
          { token, password: 'another long password' },
        );

        assert.equal(again.statusCode, 404);
        assert.equal(again.json().error.code, 'invitation_not_found');
      });

      it('should answer 404 invitation_not_found to a token older than seven days', async () => {
        const { token } = await invite('too.late@example.com', 'member');

        clock.advance(INVITATION_TTL_MS);
        const accepted = await send(
          'POST',
          '/invitations/accept',
          {},
          { token, password: 'a password of some length' },
        );

        assert.equal(accepted.statusCode, 404);
        assert.equal(accepted.json().error.code, 'invitation_not_found');
      });

      it('should answer 409 already_member to a second pending invitation once the first is accepted', async () => {
        const email = 'invited.twice@example.com';
        const first = await invite(email, 'member');
        const second = await invite(email, 'admin');
        await send(
          'POST',
          '/invitations/accept',
          {},
          { token: first.token, password: 'a password of some length' },
        );

        const response = await send(
          'POST',
          '/invitations/accept',
          {},
          {
            token: second.token,
            password: 'a password of some length',
          },
        );

        const user = await ctx.services.store.repos.users.findByEmail(email);
        const membership = await ctx.services.store.repos.memberships.find(tenant.tenantId, user?.id ?? '');
        assert.equal(response.statusCode, 409);
        assert.equal(response.json().error.code, 'already_member');
        assert.equal(membership?.role, 'member');
      });

      it('should let exactly one of several simultaneous acceptances of one link through', async () => {
        const { token } = await invite('clicked.three.times@example.com', 'member');

        const responses = await Promise.all(
          [1, 2, 3].map(() =>
            send('POST', '/invitations/accept', {}, { token, password: 'a password of some length' }),
          ),
        );

        assert.deepEqual(responses.map((r) => r.statusCode).sort(), [200, 404, 404]);
        assert.ok(
          responses.every((r) => r.statusCode === 200 || r.json().error.code === 'invitation_not_found'),
        );
      });

      it('should make someone who already has an account prove it with their password', async () => {
        const { token } = await invite(other.ownerEmail, 'member');

        const wrong = await send(
          'POST',
          '/invitations/accept',
          {},
          { token, password: 'a guess at their password' },
        );
        const right = await send('POST', '/invitations/accept', {}, { token, password: other.password });
        const memberships = await ctx.services.store.repos.memberships.listByUser(other.ownerId);

        assert.equal(wrong.statusCode, 401);
        assert.equal(wrong.json().error.code, 'invalid_credentials');
        assert.equal(right.statusCode, 200);
        assert.deepEqual(memberships.map((m) => m.tenantId).sort(), [tenant.tenantId, other.tenantId].sort());
      });

      it('should refuse a plain member inviting anyone with 403', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const { response } = await invite('friend.of.member@example.com', 'guest', member.auth);

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });

      it('should refuse an admin inviting an owner with 403', async () => {
        const admin = await addMember(ctx, tenant, 'admin');

        const { response } = await invite('would.be.owner@example.com', 'owner', admin.auth);

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });
    });

    describe('PATCH /members/:userId', () => {
      it('should refuse an admin making someone owner with 403 and keep the role', async () => {
        const admin = await addMember(ctx, tenant, 'admin');
        const member = await addMember(ctx, tenant, 'member');

        const response = await send('PATCH', `/members/${member.userId}`, admin.auth, { role: 'owner' });

        const membership = await ctx.services.store.repos.memberships.find(tenant.tenantId, member.userId);
        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
        assert.equal(membership?.role, 'member');
      });

      it("should refuse an admin changing an owner's role with 403", async () => {
        const admin = await addMember(ctx, tenant, 'admin');

        const response = await send('PATCH', `/members/${tenant.ownerId}`, admin.auth, { role: 'member' });

        assert.equal(response.statusCode, 403);
      });

      it('should answer 409 last_owner when the only owner would be demoted', async () => {
        const solo = await createTenantFixture(ctx);

        const response = await send('PATCH', `/members/${solo.ownerId}`, solo.auth, { role: 'admin' });

        const membership = await ctx.services.store.repos.memberships.find(solo.tenantId, solo.ownerId);
        assert.equal(response.statusCode, 409);
        assert.equal(response.json().error.code, 'last_owner');
        assert.equal(membership?.role, 'owner');
      });

      it('should let an owner step down once there is another owner', async () => {
        const pair = await createTenantFixture(ctx);
        const second = await addMember(ctx, pair, 'owner');

        const response = await send('PATCH', `/members/${pair.ownerId}`, second.auth, { role: 'admin' });

        assert.equal(response.statusCode, 200);
        assert.equal(
          (await ctx.services.store.repos.memberships.find(pair.tenantId, pair.ownerId))?.role,
          'admin',
        );
      });

      it('should keep one owner when two owners demote each other at the same time', async () => {
        const pair = await createTenantFixture(ctx);
        const second = await addMember(ctx, pair, 'owner');

        const responses = await Promise.all([
          send('PATCH', `/members/${second.userId}`, pair.auth, { role: 'admin' }),
          send('PATCH', `/members/${pair.ownerId}`, second.auth, { role: 'admin' }),
        ]);

        // The loser either saw the winner's change (409 last_owner) or, if it was authenticated
        // only after the winner committed, finds its token revoked with its role (401): both keep
        // one owner, which is what this is about.
        const [winner, loser] = responses.map((r) => r.statusCode).sort();
        assert.equal(winner, 200);
        assert.ok(loser === 409 || loser === 401, `the other answered ${loser}`);
        assert.equal(await ctx.services.store.repos.memberships.countByRole(pair.tenantId, 'owner'), 1);
      });

      it("should revoke the member's API tokens when their role changes", async () => {
        const admin = await addMember(ctx, tenant, 'admin');

        const response = await send('PATCH', `/members/${admin.userId}`, tenant.auth, { role: 'member' });
        const withOldToken = await get('/nodes/root', admin.auth);

        assert.equal(response.statusCode, 200);
        assert.equal(withOldToken.statusCode, 401);
      });

      it("should answer 404 for another tenant's member", async () => {
        const stranger = await addMember(ctx, other, 'member');

        const response = await send('PATCH', `/members/${stranger.userId}`, tenant.auth, { role: 'guest' });

        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'member_not_found');
      });
    });

    describe('DELETE /members/:userId', () => {
      it('should answer 409 last_owner when the only owner would be removed', async () => {
        const solo = await createTenantFixture(ctx);

        const response = await send('DELETE', `/members/${solo.ownerId}`, solo.auth);

        assert.equal(response.statusCode, 409);
        assert.equal(response.json().error.code, 'last_owner');
      });

      it("should revoke the removed member's API tokens and end their sessions in the tenant", async () => {
        const member = await addMember(ctx, tenant, 'member');
        const session = await signedIn(ctx, { email: member.email, password: tenant.password });

        const response = await send('DELETE', `/members/${member.userId}`, tenant.auth);
        const withToken = await get('/nodes/root', member.auth);
        const withSession = await get('/nodes/root', session.headers);
        const tokens = await ctx.services.store.repos.apiTokens.listByTenant(tenant.tenantId);

        assert.equal(response.statusCode, 200);
        assert.equal(withToken.statusCode, 401);
        assert.equal(withSession.statusCode, 401);
        assert.ok(tokens.filter((t) => t.userId === member.userId).every((t) => t.revokedAt !== null));
      });
    });

    describe('API tokens', () => {
      it('should show a new token once and afterwards only its prefix', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const created = await send('POST', '/tokens', member.auth, { name: 'Nightly backup' });
        const list = await get('/tokens', member.auth);

        const token = created.json().token as string;
        const listed = list.json().items.find((t: { id: string }) => t.id === created.json().record.id);
        assert.equal(created.statusCode, 201);
        assert.match(token, /^cst_[A-Za-z0-9_-]{43}$/);
        assert.equal(created.json().record.role, 'member');
        assert.ok(token.startsWith(listed.prefix));
        assert.ok(listed.prefix.length < 16);
        assert.ok(!list.body.includes(token));
        assert.equal(listed.tokenHash, undefined);
      });

      it('should authenticate with the new token', async () => {
        const created = await send('POST', '/tokens', tenant.auth, {
          name: 'Reporting script',
          role: 'member',
        });

        const response = await get('/nodes/root', { authorization: `Bearer ${created.json().token}` });
        const settings = await send(
          'PATCH',
          '/tenant',
          { authorization: `Bearer ${created.json().token}` },
          {
            name: 'Renamed by a member token',
          },
        );

        assert.equal(response.statusCode, 200);
        assert.equal(settings.statusCode, 403, 'the token acts with its own (member) role');
      });

      it('should refuse a member creating an owner token with 403', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const response = await send('POST', '/tokens', member.auth, { name: 'Escalation', role: 'owner' });

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });

      it('should refuse a member creating an admin token with 403', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const response = await send('POST', '/tokens', member.auth, { name: 'Escalation', role: 'admin' });

        assert.equal(response.statusCode, 403);
      });

      it('should answer 401 to a token past its expiry', async () => {
        const created = await send('POST', '/tokens', tenant.auth, {
          name: 'One hour',
          expiresAt: clock.now() + 3600_000,
        });
        const auth = { authorization: `Bearer ${created.json().token}` };
        const beforeExpiry = await get('/nodes/root', auth);

        clock.advance(3600_000);
        const response = await get('/nodes/root', auth);

        assert.equal(beforeExpiry.statusCode, 200);
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error.code, 'not_signed_in');
      });

      it('should refuse an expiry in the past with 422', async () => {
        const response = await send('POST', '/tokens', tenant.auth, {
          name: 'Already over',
          expiresAt: clock.now() - 1,
        });

        assert.equal(response.statusCode, 422);
        assert.equal(response.json().error.code, 'invalid_expiry');
      });

      it('should answer 401 to a revoked token', async () => {
        const created = await send('POST', '/tokens', tenant.auth, { name: 'Short-lived' });
        const auth = { authorization: `Bearer ${created.json().token}` };

        const revoked = await send('DELETE', `/tokens/${created.json().record.id}`, tenant.auth);
        const response = await get('/nodes/root', auth);

        assert.equal(revoked.statusCode, 200);
        assert.equal(response.statusCode, 401);
      });

      it('should answer 401 to a token whose holder is disabled or no longer a member', async () => {
        const disabled = await addMember(ctx, tenant, 'member');
        const removed = await addMember(ctx, tenant, 'member');
        const db = ctx.services.database.db;
        const before = [await get('/nodes/root', disabled.auth), await get('/nodes/root', removed.auth)];

        await db
          .updateTable('users')
          .set({ disabled_at: clock.now() })
          .where('id', '=', disabled.userId)
          .execute();
        // The row alone, as if removed behind the service's back: its tokens are not revoked.
        await db
          .deleteFrom('memberships')
          .where('tenant_id', '=', tenant.tenantId)
          .where('user_id', '=', removed.userId)
          .execute();
        const after = [await get('/nodes/root', disabled.auth), await get('/nodes/root', removed.auth)];

        assert.deepEqual(
          before.map((r) => r.statusCode),
          [200, 200],
        );
        assert.deepEqual(
          after.map((r) => [r.statusCode, r.json().error.code]),
          [
            [401, 'not_signed_in'],
            [401, 'not_signed_in'],
          ],
        );
      });

      it("should answer 404 to a member revoking someone else's token, and to another tenant", async () => {
        const member = await addMember(ctx, tenant, 'member');
        const created = await send('POST', '/tokens', tenant.auth, { name: "The owner's" });

        const byMember = await send('DELETE', `/tokens/${created.json().record.id}`, member.auth);
        const byOtherTenant = await send('DELETE', `/tokens/${created.json().record.id}`, other.auth);
        const stillWorks = await get('/nodes/root', { authorization: `Bearer ${created.json().token}` });

        assert.equal(byMember.statusCode, 404);
        assert.equal(byOtherTenant.statusCode, 404);
        assert.equal(stillWorks.statusCode, 200);
      });

      it('should show a plain member only their own tokens', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const list = await get('/tokens', member.auth);

        assert.ok(list.json().items.length > 0);
        assert.ok(list.json().items.every((t: { userId: string }) => t.userId === member.userId));
      });
    });

    describe('guest folder grants', () => {
      const briefBytes = Buffer.from('Engagement brief for Client X: scope, fees, contacts.\n');
      let folderId: string;
      let nestedFolderId: string;
      let briefId: string;
      let payrollId: string;

      before(async () => {
        const folder = await send('POST', `/nodes/${tenant.rootId}/folders`, tenant.auth, {
          name: 'Client X',
        });
        folderId = folder.json().id;
        const nested = await send('POST', `/nodes/${folderId}/folders`, tenant.auth, { name: 'Drafts' });
        nestedFolderId = nested.json().id;
        briefId = (await uploadViaApi(ctx, tenant, folderId, 'brief.txt', briefBytes)).json.node.id;
        payrollId = (await uploadViaApi(ctx, tenant, tenant.rootId, 'payroll.csv', 'name,salary\n')).json.node
          .id;
      });

      async function guestWith(access: 'read' | 'write') {
        const guest = await addMember(ctx, tenant, 'guest');
        const grant = await send('POST', `/nodes/${folderId}/grants`, tenant.auth, {
          userId: guest.userId,
          access,
        });
        assert.equal(grant.statusCode, 200);
        return guest;
      }

      it('should let a guest list and download inside the granted folder', async () => {
        const guest = await guestWith('read');

        const list = await get(`/nodes/${folderId}/children`, guest.auth);
        const download = await get(`/nodes/${briefId}/content`, guest.auth);
        const nested = await get(`/nodes/${nestedFolderId}/children`, guest.auth);

        assert.equal(list.statusCode, 200);
        assert.deepEqual(
          list
            .json()
            .items.map((n: { name: string }) => n.name)
            .sort(),
          ['Drafts', 'brief.txt'],
        );
        assert.equal(download.statusCode, 200);
        assert.deepEqual(download.rawPayload, briefBytes);
        assert.equal(nested.statusCode, 200);
      });

      it('should list the granted folder under shared-with-me', async () => {
        const guest = await guestWith('read');

        const response = await get('/shared-with-me', guest.auth);

        assert.deepEqual(
          response.json().items.map((i: { id: string; access: string }) => [i.id, i.access]),
          [[folderId, 'read']],
        );
      });

      it('should answer 404 to a guest for the root and for files outside the granted folder', async () => {
        const guest = await guestWith('read');

        const root = await get('/nodes/root', guest.auth);
        const rootChildren = await get(`/nodes/${tenant.rootId}/children`, guest.auth);
        const payroll = await get(`/nodes/${payrollId}/content`, guest.auth);
        const payrollNode = await get(`/nodes/${payrollId}`, guest.auth);
        const missing = await get('/nodes/01a2043f-0000-7000-8000-000000000000', guest.auth);

        assert.equal(root.statusCode, 404);
        assert.equal(rootChildren.statusCode, 404);
        assert.equal(payroll.statusCode, 404);
        assert.equal(payrollNode.statusCode, 404);
        assert.equal(payrollNode.json().error.code, missing.json().error.code);
      });

      it('should refuse an upload from a read-only guest with 403 and store nothing', async () => {
        const guest = await guestWith('read');

        const { response } = await uploadViaApi(ctx, guest, folderId, 'from-guest.txt', 'guest was here');
        const list = await get(`/nodes/${folderId}/children`, tenant.auth);

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
        assert.ok(!list.json().items.some((n: { name: string }) => n.name === 'from-guest.txt'));
      });

      it('should accept an upload from a guest with write access into the folder, and nowhere else', async () => {
        const guest = await guestWith('write');

        const inside = await uploadViaApi(
          ctx,
          guest,
          folderId,
          `signed-${guest.userId}.pdf`,
          '%PDF-1.7 signed',
        );
        const atRoot = await uploadViaApi(ctx, guest, tenant.rootId, 'stray.txt', 'should not land');

        assert.equal(inside.response.statusCode, 201);
        assert.equal(atRoot.response.statusCode, 404);
      });

      it('should answer 404 to a guest without grants, and after their grant is revoked', async () => {
        const guest = await guestWith('read');

        const revoked = await send('DELETE', `/nodes/${folderId}/grants/${guest.userId}`, tenant.auth);
        const response = await get(`/nodes/${folderId}/children`, guest.auth);

        assert.equal(revoked.statusCode, 200);
        assert.equal(response.statusCode, 404);
      });

      it('should not let a guest grant folders to anyone', async () => {
        const guest = await guestWith('write');

        const response = await send('POST', `/nodes/${folderId}/grants`, guest.auth, {
          userId: guest.userId,
          access: 'write',
        });

        assert.equal(response.statusCode, 403);
      });
    });

    describe('operator console', () => {
      let operator: BrowserSession;

      before(async () => {
        operator = await signedIn(ctx, { email: OPERATOR_EMAIL, password: tenant.password });
      });

      it('should let the operator list organisations', async () => {
        const response = await get('/operator/tenants', operator.headers);

        assert.equal(response.statusCode, 200);
        assert.ok(response.json().items.some((t: { id: string }) => t.id === tenant.tenantId));
      });

      it('should answer 403 operator_only to a tenant owner signed in with a session', async () => {
        const owner = await signedIn(ctx, { email: tenant.ownerEmail, password: tenant.password });

        const list = await get('/operator/tenants', owner.headers);
        const suspend = await send(
          'POST',
          `/operator/tenants/${other.tenantId}/suspend`,
          owner.unsafeHeaders,
        );

        assert.equal(list.statusCode, 403);
        assert.equal(list.json().error.code, 'operator_only');
        assert.equal(suspend.statusCode, 403);
      });

      it("should answer 403 to a tenant owner's API token", async () => {
        const response = await get('/operator/tenants', tenant.auth);

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'operator_session_required');
      });

      it('should answer 401 to an anonymous request', async () => {
        const response = await get('/operator/tenants', {});

        assert.equal(response.statusCode, 401);
      });

      it('should create an organisation and an invitation for its owner', async () => {
        const response = await send('POST', '/operator/tenants', operator.unsafeHeaders, {
          name: 'Karoo Legal Services',
          slug: 'karoo-legal',
          ownerEmail: 'thandi@karoo-legal.example.com',
        });

        const token = response.json().ownerInvitation.link.split('#')[1];
        const described = await get(`/invitations?token=${token}`, {});
        assert.equal(response.statusCode, 201);
        assert.equal(response.json().tenant.slug, 'karoo-legal');
        assert.deepEqual(described.json(), {
          email: 'thandi@karoo-legal.example.com',
          role: 'owner',
          tenantName: 'Karoo Legal Services',
          hasAccount: false,
        });
      });

      describe('suspension', () => {
        it("should stop the tenant's tokens and sessions on tenant routes, and resuming should restore them", async () => {
          const suspended = await createTenantFixture(ctx);
          const ownerSession = await signedIn(ctx, {
            email: suspended.ownerEmail,
            password: suspended.password,
          });

          const suspend = await send(
            'POST',
            `/operator/tenants/${suspended.tenantId}/suspend`,
            operator.unsafeHeaders,
          );
          const tokenWhileSuspended = await get('/nodes/root', suspended.auth);
          const sessionWhileSuspended = await get('/nodes/root', ownerSession.headers);
          const otherTenant = await get('/nodes/root', other.auth);
          const resume = await send(
            'POST',
            `/operator/tenants/${suspended.tenantId}/resume`,
            operator.unsafeHeaders,
          );
          const tokenAfter = await get('/nodes/root', suspended.auth);
          const sessionAfter = await get('/nodes/root', ownerSession.headers);

          assert.equal(suspend.statusCode, 200);
          assert.equal(suspend.json().status, 'suspended');
          assert.equal(tokenWhileSuspended.statusCode, 403);
          assert.equal(tokenWhileSuspended.json().error.code, 'tenant_suspended');
          assert.equal(sessionWhileSuspended.statusCode, 403);
          assert.equal(sessionWhileSuspended.json().error.code, 'tenant_suspended');
          assert.equal(otherTenant.statusCode, 200);
          assert.equal(resume.json().status, 'active');
          assert.equal(tokenAfter.statusCode, 200);
          assert.equal(sessionAfter.statusCode, 200);
        });

        it('should keep a suspended tenant out of its files even with a fresh sign-in', async () => {
          const suspended = await createTenantFixture(ctx);
          await send('POST', `/operator/tenants/${suspended.tenantId}/suspend`, operator.unsafeHeaders);

          const { response, session } = await signInViaApi(ctx, {
            email: suspended.ownerEmail,
            password: suspended.password,
          });
          const root = await get('/nodes/root', session?.headers ?? {});

          assert.equal(response.statusCode, 200);
          assert.equal(root.statusCode, 403);
          assert.equal(root.json().error.code, 'tenant_suspended');
        });

        it('should audit suspension and resumption in the tenant log', async () => {
          const suspended = await createTenantFixture(ctx);

          await send('POST', `/operator/tenants/${suspended.tenantId}/suspend`, operator.unsafeHeaders);
          await send('POST', `/operator/tenants/${suspended.tenantId}/resume`, operator.unsafeHeaders);

          const events = await ctx.services.store.repos.audit.list({
            tenantId: suspended.tenantId,
            targetId: suspended.tenantId,
            limit: 10,
          });
          assert.deepEqual(
            events
              .map((e) => e.action)
              .filter((a) => a !== 'tenant.create')
              .sort(),
            ['tenant.resume', 'tenant.suspend'],
          );
        });
      });
    });
  });
}
