import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import type { Clock } from '../../src/core/shared/clock.ts';
import type { TestContext } from './build-app.ts';

/** A clock the test moves by hand (STYLE.md 2.4: the clock is one of the few things we fake). */
export class FakeClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 2, 2, 9, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}

/** What a browser holds after signing in: the two cookies, and headers to send them with. */
export interface BrowserSession {
  sessionId: string;
  csrfToken: string;
  /** For safe requests (GET): the cookies only. */
  headers: { cookie: string };
  /** For unsafe requests (POST, PUT, PATCH, DELETE): the cookies plus X-CSRF-Token. */
  unsafeHeaders: { cookie: string; 'x-csrf-token': string };
}

/**
 * Signs in through POST /api/v1/auth/sign-in the way the portal does. `previous` sends the
 * browser's current cookies along (with its CSRF token, as the portal would).
 */
export async function signInViaApi(
  ctx: TestContext,
  input: { email: string; password: string; remoteAddress?: string; previous?: BrowserSession },
): Promise<{ response: LightMyRequestResponse; session: BrowserSession | undefined }> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/sign-in',
    headers: input.previous?.unsafeHeaders ?? {},
    remoteAddress: input.remoteAddress,
    payload: { email: input.email, password: input.password },
  });
  return { response, session: sessionFrom(response) };
}

/** Like signInViaApi, but fails the test unless the sign-in succeeded. */
export async function signedIn(
  ctx: TestContext,
  input: { email: string; password: string; remoteAddress?: string },
): Promise<BrowserSession> {
  const { response, session } = await signInViaApi(ctx, input);
  if (response.statusCode !== 200 || !session) {
    throw new Error(`sign-in of ${input.email} failed: ${response.statusCode} ${response.body}`);
  }
  return session;
}

export function cookieNamed(response: LightMyRequestResponse, name: string) {
  return (response.cookies as Array<{ name: string; value: string } & Record<string, unknown>>).find(
    (c) => c.name === name,
  );
}

/** The TOTP code an authenticator app would show for `secret` at `timestamp`. */
export function totpCode(secret: string, timestamp: number): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({
    timestamp,
  });
}

/** Enrols the session's user in TOTP through the API; returns the secret and the recovery codes. */
export async function enrolViaApi(
  ctx: TestContext,
  session: BrowserSession,
  clock: Clock,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const enroll = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/me/mfa/enroll',
    headers: session.unsafeHeaders,
  });
  const { secret } = enroll.json() as { secret: string };
  const confirm = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/me/mfa/confirm',
    headers: session.unsafeHeaders,
    payload: { code: totpCode(secret, clock.now()) },
  });
  if (confirm.statusCode !== 200) {
    throw new Error(`MFA enrolment failed: ${confirm.statusCode} ${confirm.body}`);
  }
  return { secret, recoveryCodes: (confirm.json() as { recoveryCodes: string[] }).recoveryCodes };
}

function sessionFrom(response: LightMyRequestResponse): BrowserSession | undefined {
  const sessionId = cookieNamed(response, 'sessionid')?.value;
  const csrfToken = cookieNamed(response, 'csrftoken')?.value;
  if (!sessionId || !csrfToken) {
    return undefined;
  }
  const cookie = `sessionid=${sessionId}; csrftoken=${csrfToken}`;
  return { sessionId, csrfToken, headers: { cookie }, unsafeHeaders: { cookie, 'x-csrf-token': csrfToken } };
}
