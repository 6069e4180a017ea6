import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { isLoopbackAddress, isPublicAddress, unmapIpv4 } from './ip-ranges.ts';

/**
 * Webhook signing, Stripe-style: `Custodia-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">` under the rule's secret. A receiver recomputes the HMAC over the raw body and
 * refuses a timestamp older than a few minutes (replay). See docs/ALERTS.md.
 */
export const SIGNATURE_HEADER = 'Custodia-Signature';
export const DELIVERY_HEADER = 'Custodia-Delivery';

/** 32 random bytes; shown once at creation or rotation, stored sealed. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** What a receiver does; used by our tests and shown in the docs. */
export function verifyWebhookSignature(input: {
  secret: string;
  body: string;
  header: string;
  nowSeconds: number;
  toleranceSeconds?: number;
}): boolean {
  const parts = new Map(
    input.header.split(',').map((p) => {
      const at = p.indexOf('=');
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(input.nowSeconds - t) > (input.toleranceSeconds ?? 300)) {
    return false;
  }
  const expected = signWebhook(input.secret, input.body, t).split('v1=')[1] ?? '';
  return v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
}

/** Why a webhook URL is refused, or undefined when it is acceptable. */
export function webhookUrlProblem(text: string, options: { allowLoopbackHttp: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'The webhook address is not a valid URL.';
  }
  if (url.username || url.password) {
    return 'The webhook address must not contain a user name or password.';
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const isLoopbackHost = host === 'localhost' || (isIP(host) !== 0 && isLoopbackAddress(host));
  if (
    isLoopbackHost &&
    options.allowLoopbackHttp &&
    (url.protocol === 'http:' || url.protocol === 'https:')
  ) {
    return undefined;
  }
  if (url.protocol !== 'https:') {
    return 'The webhook address must use https.';
  }
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host.endsWith('.internal')
  ) {
    return 'The webhook address must be reachable on the public internet, not a local name.';
  }
  if (isIP(unmapIpv4(host)) !== 0 && !isPublicAddress(host)) {
    return 'The webhook address must not be a private, loopback or link-local address.';
  }
  return undefined;
}
