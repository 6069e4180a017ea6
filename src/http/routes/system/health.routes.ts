import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Services } from '../../../compose.ts';

/** Liveness (the process answers) and readiness (the database and blob store answer). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const Status = Type.Object({
    status: Type.String(),
    checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  });

  app.get(
    '/healthz',
    { schema: { tags: ['system'], summary: 'Liveness', response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['system'],
        summary: 'Readiness: database and blob store reachable',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      try {
        await sql`SELECT 1`.execute(services.database.db);
        checks.database = 'ok';
      } catch {
        checks.database = 'unreachable';
      }
      try {
        await services.blobs.stat('readiness-probe');
        checks.blobs = 'ok';
      } catch {
        checks.blobs = 'unreachable';
      }
      const isReady = Object.values(checks).every((v) => v === 'ok');
      return reply.code(isReady ? 200 : 503).send({ status: isReady ? 'ok' : 'unavailable', checks });
    },
  );
};
