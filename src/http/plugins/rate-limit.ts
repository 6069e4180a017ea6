import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ThrottleRepository } from '../../core/identity/ports.ts';
import type { Clock } from '../../core/shared/clock.ts';
import { ThrottledError } from '../../core/shared/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Count requests to this route per client address (sign-in, setup, invitations, public shares). */
    rateLimited?: boolean;
  }
}

const WINDOW_MS = 60_000;
const HEALTH_ROUTES = new Set(['/healthz', '/readyz']);

/**
 * Per-address limits (CUSTODIA_RATE_LIMIT_PER_MINUTE, CUSTODIA_NOT_FOUND_LIMIT_PER_MINUTE; the 404 one
 * follows STYLE.md 2.6) kept in the database (the throttles table), so every app node counts the same
 * requests. Applies to routes marked `config.rateLimited`, and to addresses that collect many 404s.
 */
export const rateLimitPlugin = fp(
  async (
    app: FastifyInstance,
    options: { throttles: ThrottleRepository; clock: Clock; perMinute: number; notFoundPerMinute: number },
  ) => {
    const now = () => options.clock.now();
    app.addHook('onRequest', async (request) => {
      if (HEALTH_ROUTES.has(request.url)) {
        return; // probes must answer even when the database does not
      }
      // Anonymous callers who keep hitting "not found" (guessing routes, ids or tokens) are slowed
      // down everywhere. Signed-in callers are known and audited, and skip this extra query.
      const isAnonymous = !request.headers.authorization && !request.headers.cookie;
      if (
        isAnonymous &&
        (await options.throttles.count(`rate:not-found:${request.ip}`, now(), WINDOW_MS)) >=
          options.notFoundPerMinute
      ) {
        throw new ThrottledError(Math.ceil(WINDOW_MS / 1000));
      }
      if (request.routeOptions.config?.rateLimited !== true) {
        return;
      }
      const count = await options.throttles.hit(
        `rate:${request.routeOptions.url}:${request.ip}`,
        now(),
        WINDOW_MS,
      );
      if (count > options.perMinute) {
        throw new ThrottledError(Math.ceil(WINDOW_MS / 1000));
      }
    });
    // Counted before the answer leaves (onSend), so the next request already sees this one.
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode === 404 && !HEALTH_ROUTES.has(request.url)) {
        await options.throttles.hit(`rate:not-found:${request.ip}`, now(), WINDOW_MS);
      }
      return payload;
    });
  },
);
