import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AuthService, Authenticated } from '../../core/identity/auth.service.ts';
import { NotSignedInError, SecondFactorRequiredError } from '../../core/identity/identity.errors.ts';
import { safeEqual } from '../../core/identity/secrets.ts';
import type { Channel, OperatorActor, RequestOrigin, TenantActor } from '../../core/shared/context.ts';
import { ForbiddenError } from '../../core/shared/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, when a valid session cookie or bearer token came with it. */
    authn: Authenticated | undefined;
  }
}

export const SESSION_COOKIE = 'sessionid';
export const CSRF_COOKIE = 'csrftoken';
export const CSRF_HEADER = 'x-csrf-token';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Resolves the caller from `Authorization: Bearer cst_…` (machines) or the `sessionid` cookie
 * (browsers). Cookie-authenticated unsafe requests must echo the session's CSRF token in the
 * X-CSRF-Token header (the `csrftoken` cookie holds it for the portal's script to read).
 */
export const authPlugin = fp(async (app: FastifyInstance, options: { auth: AuthService }) => {
  app.decorateRequest('authn', undefined);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) {
      request.authn = await options.auth.authenticateToken(header.slice('Bearer '.length).trim());
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie) {
      return;
    }
    try {
      request.authn = await options.auth.authenticateSession(cookie);
    } catch (error) {
      if (error instanceof NotSignedInError) {
        return; // A stale cookie is the same as none; routes that need a user answer 401.
      }
      throw error;
    }
    if (UNSAFE.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      const expected = request.authn.session?.csrfToken ?? '';
      if (typeof sent !== 'string' || !safeEqual(sent, expected)) {
        throw new ForbiddenError(
          'csrf_failed',
          'The security token of this page is missing or out of date. Reload the page and try again.',
        );
      }
    }
  });
});

export function requestOrigin(request: FastifyRequest, channel?: Channel): RequestOrigin {
  const ua = request.headers['user-agent'];
  return {
    channel: channel ?? (request.authn?.token ? 'api' : 'web'),
    ip: request.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined,
  };
}

/** The signed-in user, or 401. The second factor may still be pending: see requireSecondFactorDone. */
export function requireSignedIn(request: FastifyRequest): Authenticated {
  if (!request.authn) {
    throw new NotSignedInError();
  }
  return request.authn;
}

/**
 * The signed-in user with the second factor done, or 401. For account routes outside a tenant
 * (sessions, organisation switch): a password alone must not reach them.
 */
export function requireSecondFactorDone(request: FastifyRequest): Authenticated {
  const authn = requireSignedIn(request);
  if (authn.isSecondFactorPending) {
    throw new SecondFactorRequiredError();
  }
  return authn;
}

/** The tenant member acting, or 401/403. */
export function tenantActor(request: FastifyRequest, auth: AuthService): TenantActor {
  const authn = requireSignedIn(request);
  const actor = auth.tenantActor(authn, requestOrigin(request));
  if (!actor) {
    throw new ForbiddenError('no_tenant', 'You are not a member of any organisation yet.');
  }
  return actor;
}

/** An operator admin acting on the operator console, or 401/403. */
export function operatorActor(request: FastifyRequest, auth: AuthService): OperatorActor {
  const authn = requireSignedIn(request);
  if (authn.token) {
    throw new ForbiddenError(
      'operator_session_required',
      'The operator console needs a signed-in operator, not an API token.',
    );
  }
  auth.tenantActor(authn, requestOrigin(request)); // enforces the second factor
  if (!authn.user.isOperator) {
    throw new ForbiddenError('operator_only', 'Only operator admins can do this.');
  }
  return { kind: 'operator', userId: authn.user.id, ...requestOrigin(request) };
}

/** Sets the session and CSRF cookies after sign-in. */
export function setSessionCookies(
  reply: FastifyReply,
  session: { token: string; csrfToken: string },
  isSecure: boolean,
): void {
  void reply.setCookie(SESSION_COOKIE, session.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: isSecure,
  });
  void reply.setCookie(CSRF_COOKIE, session.csrfToken, {
    path: '/',
    httpOnly: false,
    sameSite: 'lax',
    secure: isSecure,
    maxAge: 365 * 24 * 3600,
  });
}

export function clearSessionCookies(reply: FastifyReply, isSecure: boolean): void {
  void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: isSecure });
}
