import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { enrolViaApi, FakeClock, signedIn, totpCode, type BrowserSession } from '../support/sessions.ts';

const MFA_MAX_FAILURES = 10;
const STEP_MS = 30_000;

/** A six-digit code that no step of the ±1 window accepts at `timestamp`. */
function wrongCode(secret: string, timestamp: number): string {
  const valid = new Set([-1, 0, 1].map((step) => totpCode(secret, timestamp + step * STEP_MS)));
  let guess = 123456;
  while (valid.has(String(guess))) {
    guess += 1;
  }
  return String(guess);
}

for (const dialect of await dialectsUnderTest()) {
  describe(`two-factor sign-in over HTTP (${dialect})`, () => {
    const clock = new FakeClock();
    let ctx: TestContext;
    let tenant: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect, { clock });
      tenant = await createTenantFixture(ctx);
    });
    after(async () => ctx.close());

    async function newMember(target = tenant, role: 'member' | 'admin' = 'member') {
      const member = await addMember(ctx, target, role);
      const session = await signedIn(ctx, { email: member.email, password: target.password });
      return { ...member, password: target.password, session };
    }

    /** A member who has turned on TOTP, and a fresh sign-in of theirs still waiting for the code. */
    async function enrolledMember(target = tenant) {
      const member = await newMember(target);
      const enrolment = await enrolViaApi(ctx, member.session, clock);
      const pending = await signedIn(ctx, { email: member.email, password: member.password });
      return { ...member, ...enrolment, pending };
    }

    function secondFactor(session: BrowserSession, code: string) {
      return ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/second-factor',
        headers: session.unsafeHeaders,
        payload: { code },
      });
    }

    function userRow(userId: string) {
      return ctx.services.database.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', userId)
        .executeTakeFirstOrThrow();
    }

    describe('POST /me/mfa/enroll', () => {
      it('should return an otpauth URL for the new secret', async () => {
        const member = await newMember();

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/enroll',
          headers: member.session.unsafeHeaders,
        });

        const { secret, otpauthUrl } = response.json() as { secret: string; otpauthUrl: string };
        const url = new URL(otpauthUrl);
        assert.equal(response.statusCode, 200);
        assert.match(secret, /^[A-Z2-7]{32}$/);
        assert.equal(url.protocol, 'otpauth:');
        assert.equal(url.host, 'totp');
        assert.equal(url.searchParams.get('secret'), secret);
        assert.equal(url.searchParams.get('issuer'), 'Custodia');
        assert.equal(url.searchParams.get('digits'), '6');
        assert.equal(url.searchParams.get('period'), '30');
      });

      it('should keep the pending secret sealed in the users row, never in plaintext', async () => {
        const member = await newMember();

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/enroll',
          headers: member.session.unsafeHeaders,
        });

        const row = await userRow(member.userId);
        assert.ok(row.totp_pending_enc);
        assert.ok(!JSON.stringify(row).includes(response.json().secret));
      });
    });

    describe('API tokens and sign-in factors', () => {
      it('should refuse to start enrolment with an API token with 403 session_required', async () => {
        const member = await addMember(ctx, tenant, 'member');

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/enroll',
          headers: member.auth,
        });

        const row = await userRow(member.userId);
        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'session_required');
        assert.equal(row.totp_pending_enc, null);
      });

      it('should refuse to hand out new recovery codes to an API token with 403', async () => {
        const member = await enrolledMember();
        const token = await ctx.services.members.createToken(
          {
            kind: 'member',
            tenantId: tenant.tenantId,
            userId: member.userId,
            role: 'member',
            channel: 'api',
          },
          { name: 'sync client' },
        );

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/recovery-codes',
          headers: { authorization: `Bearer ${token.token}` },
        });
        const withOldCode = await secondFactor(member.pending, member.recoveryCodes[0] ?? '');

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'session_required');
        assert.equal(withOldCode.statusCode, 200, 'the existing recovery codes still work');
      });
    });

    describe('POST /me/mfa/confirm', () => {
      it('should answer 401 invalid_second_factor to a wrong code and leave two-factor off', async () => {
        const member = await newMember();
        const enroll = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/enroll',
          headers: member.session.unsafeHeaders,
        });

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/confirm',
          headers: member.session.unsafeHeaders,
          payload: { code: wrongCode(enroll.json().secret, clock.now()) },
        });
        const me = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.session.headers,
        });

        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error.code, 'invalid_second_factor');
        assert.equal(me.json().user.mfaEnabled, false);
      });

      it('should turn two-factor on for a correct code and return ten different recovery codes', async () => {
        const member = await newMember();
        const enroll = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/enroll',
          headers: member.session.unsafeHeaders,
        });

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/mfa/confirm',
          headers: member.session.unsafeHeaders,
          payload: { code: totpCode(enroll.json().secret, clock.now()) },
        });
        const me = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.session.headers,
        });

        const codes = response.json().recoveryCodes as string[];
        assert.equal(response.statusCode, 200);
        assert.equal(codes.length, 10);
        assert.equal(new Set(codes).size, 10);
        assert.equal(me.json().user.mfaEnabled, true);
        assert.equal(me.json().secondFactorPending, false, 'the enrolling session stays signed in');
      });

      it('should store the confirmed secret and the recovery codes only in sealed or hashed form', async () => {
        const member = await newMember();

        const { secret, recoveryCodes } = await enrolViaApi(ctx, member.session, clock);

        const row = await userRow(member.userId);
        const codeRows = await ctx.services.database.db
          .selectFrom('recovery_codes')
          .selectAll()
          .where('user_id', '=', member.userId)
          .execute();
        assert.ok(row.totp_secret_enc);
        assert.equal(row.totp_pending_enc, null);
        assert.ok(!JSON.stringify(row).includes(secret));
        assert.ok(!JSON.stringify(row).toLowerCase().includes(secret.toLowerCase()));
        assert.equal(codeRows.length, 10);
        assert.ok(recoveryCodes.every((code) => !JSON.stringify(codeRows).includes(code)));
      });
    });

    describe('POST /auth/second-factor', () => {
      it('should leave the next sign-in waiting for the second factor, and tenant routes answering 401', async () => {
        const member = await enrolledMember();

        const me = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.pending.headers,
        });
        const root = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.pending.headers,
        });
        const tenantSettings = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/tenant',
          headers: member.pending.headers,
        });

        assert.equal(me.statusCode, 200);
        assert.equal(me.json().secondFactorPending, true);
        assert.equal(root.statusCode, 401);
        assert.equal(root.json().error.code, 'second_factor_required');
        assert.equal(tenantSettings.statusCode, 401);
        assert.equal(tenantSettings.json().error.code, 'second_factor_required');
      });

      it('should finish the sign-in with the current TOTP code', async () => {
        const member = await enrolledMember();

        const response = await secondFactor(member.pending, totpCode(member.secret, clock.now()));
        const root = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.pending.headers,
        });

        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), { recoveryCodesLeft: 10 });
        assert.equal(root.statusCode, 200);
      });

      it('should accept the code of the previous 30-second step but not of the one before', async () => {
        const member = await enrolledMember();
        const other = await signedIn(ctx, { email: member.email, password: member.password });

        const previousStep = await secondFactor(
          member.pending,
          totpCode(member.secret, clock.now() - STEP_MS),
        );
        const twoStepsAgo = await secondFactor(other, totpCode(member.secret, clock.now() - 2 * STEP_MS));

        assert.equal(previousStep.statusCode, 200);
        assert.equal(twoStepsAgo.statusCode, 401);
      });

      it('should refuse a TOTP code that has already finished a sign-in (RFC 6238 §5.2)', async () => {
        const member = await enrolledMember();
        const later = await signedIn(ctx, { email: member.email, password: member.password });
        const code = totpCode(member.secret, clock.now());

        const first = await secondFactor(member.pending, code);
        const replay = await secondFactor(later, code);

        assert.equal(first.statusCode, 200);
        assert.equal(replay.statusCode, 401);
      });

      it('should accept a recovery code once and only once', async () => {
        const member = await enrolledMember();
        const [code] = member.recoveryCodes;
        assert.ok(code);
        const later = await signedIn(ctx, { email: member.email, password: member.password });

        const first = await secondFactor(member.pending, code);
        const second = await secondFactor(later, code);
        const root = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: later.headers,
        });

        assert.equal(first.statusCode, 200);
        assert.deepEqual(first.json(), { recoveryCodesLeft: 9 });
        assert.equal(second.statusCode, 401);
        assert.equal(second.json().error.code, 'invalid_second_factor');
        assert.equal(root.statusCode, 401);
      });

      it('should answer 429 after too many wrong codes, even to the right one', async () => {
        const member = await enrolledMember();
        const wrong = wrongCode(member.secret, clock.now());
        for (let i = 0; i < MFA_MAX_FAILURES; i++) {
          await secondFactor(member.pending, wrong);
        }

        const response = await secondFactor(member.pending, totpCode(member.secret, clock.now()));

        assert.equal(response.statusCode, 429);
        assert.equal(response.json().error.code, 'too_many_attempts');
        assert.ok(Number(response.headers['retry-after']) > 0);
      });

      it('should audit a wrong code and a right one', async () => {
        const member = await enrolledMember();

        await secondFactor(member.pending, wrongCode(member.secret, clock.now()));
        await secondFactor(member.pending, totpCode(member.secret, clock.now()));

        const events = await ctx.services.store.repos.audit.list({
          tenantId: tenant.tenantId,
          actorId: member.userId,
          action: 'auth.second_factor',
          limit: 10,
        });
        assert.deepEqual(events.map((e) => e.outcome).sort(), ['failure', 'success']);
      });

      it("should not let a session waiting for its second factor see or end the user's other sessions", async () => {
        const member = await enrolledMember();

        const list = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me/sessions',
          headers: member.pending.headers,
        });
        const signOutOthers = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/me/sessions/sign-out-others',
          headers: member.pending.unsafeHeaders,
        });
        const enrolledSession = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.session.headers,
        });

        assert.equal(list.statusCode, 401);
        assert.equal(list.json().error.code, 'second_factor_required');
        assert.equal(signOutOthers.statusCode, 401);
        assert.equal(signOutOthers.json().error.code, 'second_factor_required');
        assert.equal(enrolledSession.statusCode, 200);
      });

      it('should answer 409 when the session needs no second factor', async () => {
        const member = await newMember();

        const response = await secondFactor(member.session, '123456');

        assert.equal(response.statusCode, 409);
        assert.equal(response.json().error.code, 'second_factor_not_pending');
      });
    });

    describe('tenant two-factor requirement', () => {
      let strict: TenantFixture;

      before(async () => {
        strict = await createTenantFixture(ctx);
        const response = await ctx.app.inject({
          method: 'PATCH',
          url: '/api/v1/tenant',
          headers: strict.auth,
          payload: { requireMfa: true },
        });
        assert.equal(response.json().requireMfa, true);
      });

      it('should answer 403 second_factor_enrollment_required on file routes to a member without two-factor', async () => {
        const member = await newMember(strict);

        const root = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.session.headers,
        });
        const me = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.session.headers,
        });

        assert.equal(root.statusCode, 403);
        assert.equal(root.json().error.code, 'second_factor_enrollment_required');
        assert.equal(me.json().enrollmentRequired, true);
      });

      it('should let that member enrol through /me/mfa and then use the files', async () => {
        const member = await newMember(strict);

        await enrolViaApi(ctx, member.session, clock);
        const root = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.session.headers,
        });

        assert.equal(root.statusCode, 200);
      });

      it('should stop the API tokens of members without two-factor until they set it up', async () => {
        const member = await newMember(strict); // member.auth is an API token of theirs

        const before = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.auth,
        });
        await enrolViaApi(ctx, member.session, clock);
        const after = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/nodes/root',
          headers: member.auth,
        });

        assert.equal(before.statusCode, 403);
        assert.equal(before.json().error.code, 'second_factor_enrollment_required');
        assert.equal(after.statusCode, 200);
      });

      it('should refuse the setting to a plain member with 403', async () => {
        // A member of an organisation without the requirement, so that the token itself is usable.
        const member = await addMember(ctx, tenant, 'member');

        const response = await ctx.app.inject({
          method: 'PATCH',
          url: '/api/v1/tenant',
          headers: member.auth,
          payload: { requireMfa: false },
        });

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });
    });

    describe('POST /members/:userId/reset-mfa', () => {
      it("should clear the member's two-factor and sign them out everywhere", async () => {
        const member = await enrolledMember();

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${member.userId}/reset-mfa`,
          headers: tenant.auth,
        });
        const oldSession = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.session.headers,
        });
        const members = await ctx.app.inject({ method: 'GET', url: '/api/v1/members', headers: tenant.auth });
        const again = await signedIn(ctx, { email: member.email, password: member.password });
        const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: again.headers });
        const row = await userRow(member.userId);

        assert.equal(response.statusCode, 200);
        assert.equal(oldSession.statusCode, 401);
        assert.equal(
          members.json().items.find((m: { userId: string }) => m.userId === member.userId).mfaEnabled,
          false,
        );
        assert.equal(me.json().secondFactorPending, false);
        assert.equal(me.json().user.mfaEnabled, false);
        assert.equal(row.totp_secret_enc, null);
      });

      it('should refuse an admin resetting an owner with 403', async () => {
        const admin = await addMember(ctx, tenant, 'admin');

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${tenant.ownerId}/reset-mfa`,
          headers: admin.auth,
        });

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });

      it('should refuse a plain member with 403', async () => {
        const member = await addMember(ctx, tenant, 'member');
        const target = await enrolledMember();

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${target.userId}/reset-mfa`,
          headers: member.auth,
        });

        assert.equal(response.statusCode, 403);
      });

      it('should refuse to reset an account that also belongs to another organisation with 403', async () => {
        const member = await enrolledMember();
        const elsewhere = await createTenantFixture(ctx);
        const invite = await ctx.services.members.inviteMember(
          {
            kind: 'member',
            tenantId: elsewhere.tenantId,
            userId: elsewhere.ownerId,
            role: 'owner',
            channel: 'api',
          },
          { tenantId: elsewhere.tenantId, email: member.email, role: 'owner' },
        );
        await ctx.services.members.acceptInvitation({
          token: invite.token,
          password: member.password,
          origin: { channel: 'web' },
        });

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${member.userId}/reset-mfa`,
          headers: tenant.auth,
        });
        const session = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/me',
          headers: member.session.headers,
        });

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
        assert.ok((await userRow(member.userId)).totp_secret_enc);
        assert.equal(session.statusCode, 200);
      });

      it('should refuse to reset an operator admin who is also a member with 403', async () => {
        const [operator] = await ctx.services.store.repos.users.listOperators();
        assert.ok(operator);
        const invite = await ctx.services.members.inviteMember(
          {
            kind: 'member',
            tenantId: tenant.tenantId,
            userId: tenant.ownerId,
            role: 'owner',
            channel: 'api',
          },
          { tenantId: tenant.tenantId, email: operator.email, role: 'member' },
        );
        await ctx.services.members.acceptInvitation({
          token: invite.token,
          password: tenant.password,
          origin: { channel: 'web' },
        });

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${operator.id}/reset-mfa`,
          headers: tenant.auth,
        });

        assert.equal(response.statusCode, 403);
        assert.equal(response.json().error.code, 'not_allowed');
      });

      it("should answer 404 for another tenant's member", async () => {
        const other = await createTenantFixture(ctx);
        const stranger = await enrolledMember(other);

        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/members/${stranger.userId}/reset-mfa`,
          headers: tenant.auth,
        });
        const row = await userRow(stranger.userId);

        assert.equal(response.statusCode, 404);
        assert.ok(row.totp_secret_enc);
      });
    });
  });
}
