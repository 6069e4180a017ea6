import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { readFileSync } from 'node:fs';
import type { Services } from '../compose.ts';
import { newId } from '../core/shared/ids.ts';
import { authPlugin } from './plugins/auth.ts';
import { errorsPlugin } from './plugins/errors.ts';
import { portalPlugin } from './plugins/portal.ts';
import { confinePolicy, securityHeadersPlugin } from './plugins/security-headers.ts';
import { authRoutes } from './routes/auth/auth.routes.ts';
import { contentRoutes } from './routes/files/content.routes.ts';
import { filesRoutes } from './routes/files/files.routes.ts';
import { tusRoutes } from './routes/files/tus.routes.ts';
import { operatorRoutes } from './routes/operator/operator.routes.ts';
import { sharesRoutes } from './routes/shares/shares.routes.ts';
import { healthRoutes } from './routes/system/health.routes.ts';
import { tenantRoutes } from './routes/tenant/tenant.routes.ts';

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
  app.server.headersTimeout = 30_000;
  app.server.maxHeadersCount = 100;

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
    },
    { prefix: '/api/v1' },
  );
  await app.register(portalPlugin); // the web portal at `/` (web/dist), after the API
  return app;
}
