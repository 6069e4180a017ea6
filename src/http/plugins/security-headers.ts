import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Strict headers on every response: a CSP that allows only our own origin (no third-party hosts of
 * any kind), no framing, no sniffing, no referrer leaks of share-link tokens, and HSTS under TLS
 * (ours, or a configured proxy's).
 */
export const securityHeadersPlugin = fp(async (app: FastifyInstance, options: { isTls: boolean }) => {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
    // Behind a TLS-terminating proxy, request.protocol is 'https' only when a configured proxy said so
    // (X-Forwarded-Proto is ignored from anyone else), so HSTS cannot be switched on by a client.
    if (options.isTls || request.protocol === 'https') {
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    }
    // Routes that serve their own policy (file content, the API explorer) keep it, confined.
    const own = reply.getHeader('content-security-policy');
    if (typeof own === 'string') {
      reply.header('content-security-policy', confinePolicy(own));
      return;
    }
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; frame-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
  });
});

const SOURCE_LIST =
  /^(default|script|style|img|font|connect|media|object|frame|child|worker|manifest)-src(-elem|-attr)?$|^(base-uri|form-action)$/;

/**
 * A route's own policy may be stricter than ours but never wider: framing is always refused, sources
 * are limited to keywords, hashes, data: and blob: (no third-party hosts, no bare https:), and
 * upgrade-insecure-requests goes (it breaks an installation served over plain HTTP on a LAN).
 */
export function confinePolicy(policy: string): string {
  const directives = policy
    .split(';')
    .map((d) => d.trim().split(/\s+/))
    .filter(([name]) => name && name !== 'frame-ancestors' && name !== 'upgrade-insecure-requests')
    .map(([name = '', ...values]) => {
      if (!SOURCE_LIST.test(name)) {
        return [name, ...values].join(' ');
      }
      const kept = values.filter((v) => v.startsWith("'") || v === 'data:' || v === 'blob:');
      return [name, ...(kept.length > 0 ? kept : ["'none'"])].join(' ');
    });
  return [...directives, "frame-ancestors 'none'"].join('; ');
}
