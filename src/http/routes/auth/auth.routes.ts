import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../../compose.ts';
import {
  clearSessionCookies,
  requestOrigin,
  requireSecondFactorDone,
  requireSignedIn,
  setSessionCookies,
  SESSION_COOKIE,
} from '../../plugins/auth.ts';
import { Ok, withErrors } from '../common.schemas.ts';
import {
  AcceptInvitationBody,
  CodeBody,
  Count,
  Enrollment,
  InvitationInfo,
  InvitationQuery,
  Me,
  RecoveryCodes,
  RecoveryCodesLeft,
  SessionList,
  SetupBody,
  SetupStatus,
  SignInBody,
  SignInResult,
  SwitchTenantBody,
} from './auth.schemas.ts';

/** Sign-in, sessions, two-factor, first-run setup and invitation acceptance. */
export const authRoutes: FastifyPluginAsyncTypebox<{ services: Services; isSecure: boolean }> = async (
  app,
  { services, isSecure },
) => {
  const { auth, mfa, members } = services;
  const tags = ['auth'];

  app.get(
    '/setup',
    { schema: { tags, summary: 'Is first-run setup still pending?', response: { 200: SetupStatus } } },
    async () => ({ setupPending: await members.isSetupPending() }),
  );

  app.post(
    '/setup',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'Create the first operator admin with the one-time setup token',
        body: SetupBody,
        response: withErrors({ 201: Ok }),
      },
    },
    async (request, reply) => {
      await members.completeSetup({ ...request.body, origin: requestOrigin(request, 'web') });
      return reply.code(201).send({ ok: true });
    },
  );

  app.post(
    '/auth/sign-in',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'Sign in with e-mail and password (sets the session cookie)',
        body: SignInBody,
        response: withErrors({ 200: SignInResult }),
      },
    },
    async (request, reply) => {
      const result = await auth.signIn({
        ...request.body,
        origin: requestOrigin(request, 'web'),
        previousSessionToken: request.cookies[SESSION_COOKIE],
      });
      setSessionCookies(reply, { token: result.token, csrfToken: result.session.csrfToken }, isSecure);
      const authn = await auth.authenticateSession(result.token);
      return {
        secondFactorPending: result.isSecondFactorPending,
        enrollmentRequired: authn.isEnrollmentRequired,
        csrfToken: result.session.csrfToken,
      };
    },
  );

  app.post(
    '/auth/second-factor',
    {
      schema: {
        tags,
        summary: 'Finish sign-in with a TOTP or recovery code',
        body: CodeBody,
        response: withErrors({ 200: RecoveryCodesLeft }),
      },
    },
    async (request) => {
      return mfa.verifySecondFactor(requireSignedIn(request), request.body.code, requestOrigin(request));
    },
  );

  app.post(
    '/auth/sign-out',
    { schema: { tags, summary: 'Sign out this session', response: withErrors({ 200: Ok }) } },
    async (request, reply) => {
      if (request.authn) {
        await auth.signOut(request.authn, requestOrigin(request));
      }
      clearSessionCookies(reply, isSecure);
      return { ok: true as const };
    },
  );

  app.get(
    '/me',
    { schema: { tags, summary: 'Who am I, in which organisation', response: withErrors({ 200: Me }) } },
    async (request) => {
      const authn = requireSignedIn(request);
      const memberships = await services.store.repos.memberships.listByUser(authn.user.id);
      const tenants = await Promise.all(
        memberships.map((m) => services.store.repos.tenants.findById(m.tenantId)),
      );
      const current = authn.membership
        ? tenants.find((t) => t?.id === authn.membership?.tenantId)
        : undefined;
      return {
        user: {
          id: authn.user.id,
          email: authn.user.email,
          displayName: authn.user.displayName,
          isOperator: authn.user.isOperator,
          mfaEnabled: authn.user.mfaEnabledAt !== null,
        },
        tenant:
          current && authn.membership
            ? {
                id: current.id,
                name: current.name,
                slug: current.slug,
                role: authn.membership.role,
                requireMfa: current.requireMfa,
              }
            : null,
        memberships: memberships.flatMap((m, i) =>
          tenants[i] ? [{ tenantId: m.tenantId, tenantName: tenants[i].name, role: m.role }] : [],
        ),
        secondFactorPending: authn.isSecondFactorPending,
        enrollmentRequired: authn.isEnrollmentRequired,
        csrfToken: authn.session?.csrfToken,
      };
    },
  );

  app.post(
    '/me/tenant',
    {
      schema: {
        tags,
        summary: 'Switch the session to another organisation',
        body: SwitchTenantBody,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await auth.switchTenant(requireSecondFactorDone(request), request.body.tenantId);
      return { ok: true as const };
    },
  );

  app.get(
    '/me/sessions',
    { schema: { tags, summary: 'My signed-in sessions', response: withErrors({ 200: SessionList }) } },
    async (request) => {
      const sessions = await auth.listSessions(requireSecondFactorDone(request));
      return {
        sessions: sessions.map((s) => ({
          id: s.id,
          createdAt: s.createdAt,
          lastSeenAt: s.lastSeenAt,
          expiresAt: s.expiresAt,
          ip: s.ip,
          userAgent: s.userAgent,
          isCurrent: s.isCurrent,
        })),
      };
    },
  );

  app.post(
    '/me/sessions/sign-out-others',
    { schema: { tags, summary: 'Sign out every other session', response: withErrors({ 200: Count }) } },
    async (request) => {
      return {
        count: await auth.signOutOtherSessions(requireSecondFactorDone(request), requestOrigin(request)),
      };
    },
  );

  app.post(
    '/me/mfa/enroll',
    {
      schema: {
        tags,
        summary: 'Start TOTP enrolment (returns the secret and otpauth URL for a QR code)',
        response: withErrors({ 200: Enrollment }),
      },
    },
    async (request) => {
      return mfa.beginEnrollment(requireSignedIn(request));
    },
  );

  app.post(
    '/me/mfa/confirm',
    {
      schema: {
        tags,
        summary: 'Confirm TOTP enrolment with a code; returns recovery codes once',
        body: CodeBody,
        response: withErrors({ 200: RecoveryCodes }),
      },
    },
    async (request) => {
      return mfa.confirmEnrollment(requireSignedIn(request), request.body.code, requestOrigin(request));
    },
  );

  app.post(
    '/me/mfa/recovery-codes',
    { schema: { tags, summary: 'Replace my recovery codes', response: withErrors({ 200: RecoveryCodes }) } },
    async (request) => {
      const authn = requireSignedIn(request);
      auth.tenantActor(authn, requestOrigin(request));
      return mfa.regenerateRecoveryCodes(authn);
    },
  );

  app.get(
    '/invitations',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'What an invitation link is for',
        querystring: InvitationQuery,
        response: withErrors({ 200: InvitationInfo }),
      },
    },
    async (request) => {
      return members.describeInvitation(request.query.token);
    },
  );

  app.post(
    '/invitations/accept',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'Accept an invitation (new people set a password)',
        body: AcceptInvitationBody,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await members.acceptInvitation({ ...request.body, origin: requestOrigin(request, 'web') });
      return { ok: true as const };
    },
  );
};
