import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Strict headers on every response: a CSP that allows only our own origin (no third-party hosts of
 * any kind), no framing, no sniffing, no referrer leaks of share-link tokens, and HSTS under TLS.
 */
export const securityHeadersPlugin = fp(async (app: FastifyInstance, options: { isTls: boolean }) => {
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
    if (options.isTls) {
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    }
    // Routes that serve their own policy (the API explorer) keep it.
    if (reply.hasHeader('content-security-policy')) {
      return;
    }
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; frame-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
  });
});
