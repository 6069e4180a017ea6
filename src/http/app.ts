import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { readFileSync } from 'node:fs';
import type { Services } from '../compose.ts';
import { ValidationError } from '../core/shared/errors.ts';
import { newId } from '../core/shared/ids.ts';
import { authPlugin } from './plugins/auth.ts';
import { clientErrorHandler, errorsPlugin, frameworkErrors } from './plugins/errors.ts';
import { portalPlugin } from './plugins/portal.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { confinePolicy, securityHeadersPlugin } from './plugins/security-headers.ts';
import { auditChainRoutes } from './routes/audit/audit-chain.routes.ts';
import { auditRoutes } from './routes/audit/audit.routes.ts';
import { alertsRoutes } from './routes/alerts/alerts.routes.ts';
import { authRoutes } from './routes/auth/auth.routes.ts';
import { contentRoutes } from './routes/files/content.routes.ts';
import { filesRoutes } from './routes/files/files.routes.ts';
import { tusRoutes } from './routes/files/tus.routes.ts';
import { operatorRoutes } from './routes/operator/operator.routes.ts';
import { sharesRoutes } from './routes/shares/shares.routes.ts';
import { healthRoutes } from './routes/system/health.routes.ts';
import { tenantRoutes } from './routes/tenant/tenant.routes.ts';

/** One registered route: its method and full URL pattern (prefix included). */
export interface RouteEntry {
  method: string;
  url: string;
}

/** A request with more headers than this is refused with 431 (Node alone would drop the rest silently). */
const MAX_REQUEST_HEADERS = 100;

const routesByApp = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route an app from buildApp registered, so tests can prove they cover all of them. */
export function listRoutes(app: FastifyInstance): readonly RouteEntry[] {
  return routesByApp.get(app) ?? [];
}

export interface AppOptions {
  /** Pino options, or false for no request log (tests). */
  logger?: FastifyServerOptions['logger'];
}

/**
 * Builds the HTTP application (no listen). Tests call this with real services and use inject().
 * Plugin order: infrastructure, then app plugins (errors, auth), then one encapsulated plugin per area.
 */
export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const isTls = Boolean(config.tlsCertFile && config.tlsKeyFile);
  const app = Fastify({
    logger: options.logger ?? false,
    genReqId: () => newId(),
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 4096 },
    // Slow-loris and oversized header defences; the body of an upload may take as long as it needs.
    connectionTimeout: 0,
    requestTimeout: 0,
    clientErrorHandler,
    frameworkErrors,
    ...(isTls && config.tlsCertFile && config.tlsKeyFile
      ? {
          https: {
            cert: readFileSync(config.tlsCertFile),
            key: readFileSync(config.tlsKeyFile),
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const routes: RouteEntry[] = [];
  routesByApp.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url });
    }
  });
  // Bodies are checked as sent: no type coercion, unknown properties refused (not silently dropped).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.server.headersTimeout = 30_000;
  app.server.maxHeadersCount = MAX_REQUEST_HEADERS + 1; // parse one more, so "too many" can be seen
  app.addHook('onRequest', async (request) => {
    if (request.raw.rawHeaders.length / 2 > MAX_REQUEST_HEADERS) {
      throw Object.assign(new Error('Too many request headers'), { code: 'TOO_MANY_HEADERS' });
    }
  });
  // PostgreSQL cannot store NUL in text and no name, e-mail or path needs one: refuse it everywhere.
  app.addHook('preValidation', async (request) => {
    if ([request.params, request.query, request.body].some(containsNul)) {
      throw new ValidationError('invalid_characters', 'The request contains a NUL character.');
    }
  });

  await app.register(securityHeadersPlugin, { isTls });
  await app.register(cookie);
  await app.register(errorsPlugin);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Custodia API',
        version: '1',
        description:
          'Files with POPIA/GDPR duties built in. Authenticate with `Authorization: Bearer cst_…` (API token) or a session cookie plus X-CSRF-Token.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  // The explorer's own CSP, without its third-party validator host and with framing refused.
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    transformStaticCSP: confinePolicy,
  });
  await app.register(rateLimitPlugin, {
    throttles: services.store.repos.throttles,
    clock: services.clock,
    perMinute: config.rateLimitPerMinute,
    notFoundPerMinute: config.notFoundLimitPerMinute,
  });
  await app.register(authPlugin, { auth: services.auth });

  await app.register(healthRoutes, { services });
  await app.register(
    async (api) => {
      await api.register(authRoutes, { services, isSecure: isTls || config.publicUrl.startsWith('https:') });
      await api.register(filesRoutes, { services });
      await api.register(contentRoutes, { services });
      await api.register(tusRoutes, { services });
      await api.register(tenantRoutes, { services });
      await api.register(operatorRoutes, { services });
      await api.register(sharesRoutes, { services });
      await api.register(alertsRoutes, { services });
      await api.register(auditRoutes, { services });
      await api.register(auditChainRoutes, { services });
    },
    { prefix: '/api/v1' },
  );
  await app.register(portalPlugin); // the web portal at `/` (web/dist), after the API
  return app;
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') {
    return value.includes('\u0000');
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.entries(value).some(([key, item]) => key.includes('\u0000') || containsNul(item));
  }
  return false;
}
