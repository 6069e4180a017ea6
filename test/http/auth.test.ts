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
import { cookieNamed, FakeClock, signedIn, signInViaApi } from '../support/sessions.ts';

const MAX_FAILURES = 3;
const LOCKOUT_MINUTES = 10;
const SESSION_TTL_HOURS = 2;
const SESSION_MAX_AGE_HOURS = 5;
const IP_MAX_FAILURES = 50;
const WRONG_PASSWORD = 'not the right password at all';

for (const dialect of await dialectsUnderTest()) {
  describe(`auth over HTTP (${dialect})`, () => {
    describe('first-run setup', () => {
      const operator = {
        email: 'first.operator@example.com',
        displayName: 'First Operator',
        password: 'a long operator password',
      };
      let ctx: TestContext;

      before(async () => {
        ctx = await createTestContext(dialect);
      });
      after(async () => ctx.close());

      it('should report setup as pending on a fresh installation', async () => {
        const response = await ctx.app.inject({ method: 'GET', url: '/api/v1/setup' });

        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), { setupPending: true });
      });

      it('should answer 404 to a wrong setup token and create nobody', async () => {
        await ctx.services.members.issueSetupToken();

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          payload: { ...operator, setupToken: 'setup_not-the-token-the-server-printed' },
        });

        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'setup_token_invalid');
        assert.equal(await ctx.services.members.isSetupPending(), true);
      });

      it('should answer 404 to a setup token replaced by a newer one', async () => {
        const older = await ctx.services.members.issueSetupToken();
        await ctx.services.members.issueSetupToken();

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          payload: { ...operator, setupToken: older },
        });

        assert.equal(response.statusCode, 404);
        assert.equal(response.json().error.code, 'setup_token_invalid');
      });

      it('should refuse a password shorter than twelve characters with 422 and create nobody', async () => {
        const setupToken = await ctx.services.members.issueSetupToken();

        const response = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          payload: { ...operator, password: 'short pass', setupToken },
        });

        assert.equal(response.statusCode, 422);
        assert.equal(response.json().error.code, 'weak_password');
        assert.equal(await ctx.services.members.isSetupPending(), true);
      });

      it('should create the operator admin with the issued token, then answer 409 to a second setup', async () => {
        const setupToken = await ctx.services.members.issueSetupToken();

        const first = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          payload: { ...operator, setupToken },
        });
        const second = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/setup',
          payload: { ...operator, email: 'second.operator@example.com', setupToken },
        });
        const status = await ctx.app.inject({ method: 'GET', url: '/api/v1/setup' });
        const signIn = await signInViaApi(ctx, { email: operator.email, password: operator.password });

        assert.equal(first.statusCode, 201);
        assert.equal(second.statusCode, 409);
        assert.equal(second.json().error.code, 'setup_already_done');
        assert.deepEqual(status.json(), { setupPending: false });
        assert.equal(signIn.response.statusCode, 200);
        assert.equal(await ctx.services.members.issueSetupToken(), undefined);
      });
    });

    describe('sessions', () => {
      const clock = new FakeClock();
      let ctx: TestContext;
      let tenant: TenantFixture;
      let nextIp = 1;
      /** Each test signs in from its own address so the per-address throttle of one cannot touch another. */
      const freshIp = () => `198.51.100.${nextIp++}`;

      before(async () => {
        ctx = await createTestContext(dialect, {
          clock,
          env: {
            CUSTODIA_SIGNIN_MAX_FAILURES: String(MAX_FAILURES),
            CUSTODIA_SIGNIN_LOCKOUT_MINUTES: String(LOCKOUT_MINUTES),
            CUSTODIA_SESSION_TTL_HOURS: String(SESSION_TTL_HOURS),
            CUSTODIA_SESSION_MAX_AGE_HOURS: String(SESSION_MAX_AGE_HOURS),
          },
        });
        tenant = await createTenantFixture(ctx);
      });
      after(async () => ctx.close());

      async function newMember() {
        const member = await addMember(ctx, tenant, 'member');
        return { ...member, password: tenant.password };
      }

      describe('POST /auth/sign-in', () => {
        it('should set an HttpOnly, SameSite=Lax session cookie without Secure over http, and a CSRF cookie', async () => {
          const member = await newMember();

          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: freshIp() });

          const session = cookieNamed(response, 'sessionid');
          const csrf = cookieNamed(response, 'csrftoken');
          assert.equal(response.statusCode, 200);
          assert.ok(session);
          assert.ok(session.value.startsWith('sess_'));
          assert.equal(session.httpOnly, true);
          assert.equal(session.sameSite, 'Lax');
          assert.notEqual(session.secure, true);
          assert.equal(session.path, '/');
          assert.equal(session.maxAge, undefined, 'the session cookie ends with the browser session');
          assert.ok(csrf?.value);
          assert.notEqual(csrf.httpOnly, true, "the portal's script must be able to read it");
          assert.equal(csrf.value, response.json().csrfToken);
          assert.deepEqual(response.json(), {
            secondFactorPending: false,
            enrollmentRequired: false,
            csrfToken: csrf.value,
          });
        });

        it('should issue a new session id at every sign-in and end the previous session', async () => {
          const member = await newMember();
          const first = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          const { response, session: second } = await signInViaApi(ctx, { ...member, previous: first });
          const withFirst = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: first.headers,
          });
          const withSecond = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: second?.headers,
          });

          assert.equal(response.statusCode, 200);
          assert.ok(second);
          assert.notEqual(second.sessionId, first.sessionId);
          assert.notEqual(second.csrfToken, first.csrfToken);
          assert.equal(withFirst.statusCode, 401);
          assert.equal(withFirst.json().error.code, 'not_signed_in');
          assert.equal(withSecond.statusCode, 200);
        });

        it('should answer 401 invalid_credentials with one message for a wrong password and an unknown e-mail', async () => {
          const member = await newMember();
          const ip = freshIp();

          const wrongPassword = await signInViaApi(ctx, {
            email: member.email,
            password: WRONG_PASSWORD,
            remoteAddress: ip,
          });
          const unknownEmail = await signInViaApi(ctx, {
            email: 'nobody-by-this-name@example.com',
            password: WRONG_PASSWORD,
            remoteAddress: ip,
          });

          assert.equal(wrongPassword.response.statusCode, 401);
          assert.equal(unknownEmail.response.statusCode, 401);
          assert.equal(wrongPassword.response.json().error.code, 'invalid_credentials');
          assert.deepEqual(
            { ...wrongPassword.response.json().error },
            { ...unknownEmail.response.json().error },
          );
          assert.equal(cookieNamed(wrongPassword.response, 'sessionid'), undefined);
        });

        it('should accept the e-mail address in another case and with surrounding spaces', async () => {
          const member = await newMember();

          const { response } = await signInViaApi(ctx, {
            email: `  ${member.email.toUpperCase()} `,
            password: member.password,
            remoteAddress: freshIp(),
          });

          assert.equal(response.statusCode, 200);
        });
      });

      describe('account lockout', () => {
        it('should lock the account after the configured failures and refuse even the right password with 429', async () => {
          const member = await newMember();
          const ip = freshIp();
          const failures = [];
          for (let i = 0; i < MAX_FAILURES; i++) {
            failures.push(
              await signInViaApi(ctx, { email: member.email, password: WRONG_PASSWORD, remoteAddress: ip }),
            );
          }

          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: freshIp() });

          assert.deepEqual(
            failures.map((f) => f.response.statusCode),
            Array.from({ length: MAX_FAILURES }, () => 401),
          );
          assert.equal(response.statusCode, 429);
          assert.equal(response.json().error.code, 'too_many_attempts');
          assert.equal(response.headers['retry-after'], String(LOCKOUT_MINUTES * 60));
          assert.equal(cookieNamed(response, 'sessionid'), undefined);
        });

        it('should unlock the account once the lockout period has passed', async () => {
          const member = await newMember();
          const ip = freshIp();
          for (let i = 0; i < MAX_FAILURES; i++) {
            await signInViaApi(ctx, { email: member.email, password: WRONG_PASSWORD, remoteAddress: ip });
          }
          clock.advance(LOCKOUT_MINUTES * 60_000 - 1_000);
          const stillLocked = await signInViaApi(ctx, { ...member, remoteAddress: ip });

          clock.advance(1_000);
          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: ip });

          assert.equal(stillLocked.response.statusCode, 429);
          assert.equal(stillLocked.response.headers['retry-after'], '1');
          assert.equal(response.statusCode, 200);
        });

        it('should forget earlier failures after a successful sign-in', async () => {
          const member = await newMember();
          const ip = freshIp();
          for (let i = 0; i < MAX_FAILURES - 1; i++) {
            await signInViaApi(ctx, { email: member.email, password: WRONG_PASSWORD, remoteAddress: ip });
          }
          await signedIn(ctx, { ...member, remoteAddress: ip });

          const oneMoreFailure = await signInViaApi(ctx, {
            email: member.email,
            password: WRONG_PASSWORD,
            remoteAddress: ip,
          });
          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: ip });

          assert.equal(oneMoreFailure.response.statusCode, 401);
          assert.equal(response.statusCode, 200);
        });

        it('should count failures that arrive at the same time, so a parallel guess cannot dodge the lock', async () => {
          const member = await newMember();
          const ip = freshIp();

          const guesses = await Promise.all(
            Array.from({ length: MAX_FAILURES * 5 }, (_, i) =>
              signInViaApi(ctx, {
                email: member.email,
                password: `${WRONG_PASSWORD} ${i}`,
                remoteAddress: ip,
              }),
            ),
          );
          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: freshIp() });

          const checked = guesses.filter((g) => g.response.statusCode === 401);
          assert.ok(guesses.every((g) => [401, 429].includes(g.response.statusCode)));
          assert.ok(checked.length <= MAX_FAILURES, `${checked.length} passwords were tried`);
          assert.equal(response.statusCode, 429);
        });

        it('should let the owner in once the lock from a burst of guesses has run out', async () => {
          const member = await newMember();
          const ip = freshIp();
          await Promise.all(
            Array.from({ length: MAX_FAILURES * 5 }, (_, i) =>
              signInViaApi(ctx, {
                email: member.email,
                password: `${WRONG_PASSWORD} ${i}`,
                remoteAddress: ip,
              }),
            ),
          );

          clock.advance(LOCKOUT_MINUTES * 60_000);
          const afterLock = await signInViaApi(ctx, {
            email: member.email,
            password: WRONG_PASSWORD,
            remoteAddress: ip,
          });
          const { response } = await signInViaApi(ctx, { ...member, remoteAddress: ip });

          assert.equal(afterLock.response.statusCode, 401, 'the count starts again after the lock');
          assert.equal(response.statusCode, 200);
        });

        it('should audit the lock in the tenant log', async () => {
          const member = await newMember();
          const ip = freshIp();

          for (let i = 0; i < MAX_FAILURES; i++) {
            await signInViaApi(ctx, { email: member.email, password: WRONG_PASSWORD, remoteAddress: ip });
          }

          const events = await ctx.services.store.repos.audit.list({
            tenantId: tenant.tenantId,
            actorId: member.userId,
            limit: 20,
          });
          const lock = events.find((e) => e.action === 'auth.account_locked');
          assert.ok(lock);
          assert.equal(lock.ip, ip);
          assert.equal(
            events.filter((e) => e.action === 'auth.sign_in' && e.outcome === 'failure').length,
            MAX_FAILURES - 1,
          );
        });
      });

      describe('per-address throttling', () => {
        it('should refuse sign-ins from an address after many failures, while other addresses still sign in', async () => {
          const member = await newMember();
          const noisyIp = '203.0.113.66';
          for (let i = 0; i < IP_MAX_FAILURES; i++) {
            await signInViaApi(ctx, {
              email: `guess-${i}@example.com`,
              password: WRONG_PASSWORD,
              remoteAddress: noisyIp,
            });
          }

          const fromNoisy = await signInViaApi(ctx, { ...member, remoteAddress: noisyIp });
          const fromElsewhere = await signInViaApi(ctx, { ...member, remoteAddress: freshIp() });

          assert.equal(fromNoisy.response.statusCode, 429);
          assert.equal(fromNoisy.response.json().error.code, 'too_many_attempts');
          assert.ok(Number(fromNoisy.response.headers['retry-after']) > 0);
          assert.equal(fromElsewhere.response.statusCode, 200);
        });
      });

      describe('CSRF', () => {
        it('should answer GET /me for the session cookie', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: session.headers,
          });

          assert.equal(response.statusCode, 200);
          assert.equal(response.json().user.email, member.email);
          assert.equal(response.json().tenant.id, tenant.tenantId);
          assert.equal(response.json().tenant.role, 'member');
          assert.equal(response.json().csrfToken, session.csrfToken);
        });

        it('should refuse an unsafe request with the session cookie but no X-CSRF-Token with 403 csrf_failed', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/nodes/${tenant.rootId}/folders`,
            headers: session.headers,
            payload: { name: 'Forged' },
          });
          const children = await ctx.app.inject({
            method: 'GET',
            url: `/api/v1/nodes/${tenant.rootId}/children`,
            headers: tenant.auth,
          });

          assert.equal(response.statusCode, 403);
          assert.equal(response.json().error.code, 'csrf_failed');
          assert.ok(!children.json().items.some((n: { name: string }) => n.name === 'Forged'));
        });

        it('should refuse an unsafe request whose X-CSRF-Token belongs to another session', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });
          const other = await signedIn(ctx, { ...(await newMember()), remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/nodes/${tenant.rootId}/folders`,
            headers: { ...session.headers, 'x-csrf-token': other.csrfToken },
            payload: { name: 'Forged with a stolen token' },
          });

          assert.equal(response.statusCode, 403);
          assert.equal(response.json().error.code, 'csrf_failed');
        });

        it('should accept an unsafe request with the session cookie and its X-CSRF-Token', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/nodes/${tenant.rootId}/folders`,
            headers: session.unsafeHeaders,
            payload: { name: `Minutes ${member.userId}` },
          });

          assert.equal(response.statusCode, 201);
        });

        it('should not ask a bearer-token request for a CSRF token', async () => {
          const response = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/nodes/${tenant.rootId}/folders`,
            headers: tenant.auth,
            payload: { name: 'Made by a script' },
          });

          assert.equal(response.statusCode, 201);
        });
      });

      describe('POST /auth/sign-out', () => {
        it('should end the session so its cookie no longer works', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'POST',
            url: '/api/v1/auth/sign-out',
            headers: session.unsafeHeaders,
          });
          const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: session.headers });

          assert.equal(response.statusCode, 200);
          assert.equal(cookieNamed(response, 'sessionid')?.value, '');
          assert.equal(me.statusCode, 401);
          assert.equal(me.json().error.code, 'not_signed_in');
        });
      });

      describe('GET /me/sessions', () => {
        it("should list the user's sessions and mark the current one", async () => {
          const member = await newMember();
          const laptop = await signedIn(ctx, { ...member, remoteAddress: '192.0.2.10' });
          await signedIn(ctx, { ...member, remoteAddress: '192.0.2.20' });

          const response = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me/sessions',
            headers: laptop.headers,
          });

          const sessions = response.json().sessions as Array<{ ip: string; isCurrent: boolean }>;
          assert.equal(response.statusCode, 200);
          assert.deepEqual(sessions.map((s) => [s.ip, s.isCurrent]).sort(), [
            ['192.0.2.10', true],
            ['192.0.2.20', false],
          ]);
          assert.ok(!response.body.includes(laptop.sessionId), 'never echo a session secret');
        });
      });

      describe('POST /me/sessions/sign-out-others', () => {
        it('should end every other session of the user and keep the current one', async () => {
          const member = await newMember();
          const laptop = await signedIn(ctx, { ...member, remoteAddress: freshIp() });
          const lostPhone = await signedIn(ctx, { ...member, remoteAddress: freshIp() });
          const colleague = await signedIn(ctx, { ...(await newMember()), remoteAddress: freshIp() });

          const response = await ctx.app.inject({
            method: 'POST',
            url: '/api/v1/me/sessions/sign-out-others',
            headers: laptop.unsafeHeaders,
          });
          const [withLaptop, withPhone, withColleague] = await Promise.all(
            [laptop, lostPhone, colleague].map((s) =>
              ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: s.headers }),
            ),
          );

          assert.equal(response.statusCode, 200);
          assert.deepEqual(response.json(), { count: 1 });
          assert.equal(withLaptop?.statusCode, 200);
          assert.equal(withPhone?.statusCode, 401);
          assert.equal(withColleague?.statusCode, 200);
        });
      });

      describe('session expiry', () => {
        it('should end a session left idle for longer than the session lifetime', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          clock.advance(SESSION_TTL_HOURS * 3600_000);
          const response = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: session.headers,
          });

          assert.equal(response.statusCode, 401);
          assert.equal(response.json().error.code, 'not_signed_in');
        });

        it('should keep a session in use alive past its first expiry', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });

          clock.advance(SESSION_TTL_HOURS * 3600_000 - 60_000);
          const nearlyIdle = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: session.headers,
          });
          clock.advance(SESSION_TTL_HOURS * 3600_000 - 60_000);
          const response = await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: session.headers,
          });

          assert.equal(nearlyIdle.statusCode, 200);
          assert.equal(response.statusCode, 200);
        });

        it('should end a session in constant use once it reaches its absolute lifetime', async () => {
          const member = await newMember();
          const session = await signedIn(ctx, { ...member, remoteAddress: freshIp() });
          const me = () => ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: session.headers });

          const statuses: number[] = [];
          // Used every hour: never idle for the 2-hour idle timeout.
          for (let hour = 1; hour < SESSION_MAX_AGE_HOURS; hour++) {
            clock.advance(3600_000);
            statuses.push((await me()).statusCode);
          }
          clock.advance(3600_000);
          const atMaxAge = await me();

          assert.deepEqual(statuses, [200, 200, 200, 200]);
          assert.equal(atMaxAge.statusCode, 401);
          assert.equal(atMaxAge.json().error.code, 'not_signed_in');
        });
      });
    });
  });
}
