import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Readable } from 'node:stream';
import type { Services } from '../../../compose.ts';
import type { TelemetryPolicy } from '../../../core/audit/ports.ts';
import { MAX_TELEMETRY_DAYS, MIN_TELEMETRY_DAYS } from '../../../core/audit/telemetry.service.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { withErrors } from '../common.schemas.ts';
import {
  HoldBody,
  PublicKeysView,
  RetentionBody,
  TelemetryPolicyView,
  VerificationView,
} from './audit-chain.schemas.ts';

/**
 * The tamper-evident chain for a tenant's owners, admins and compliance officers: verify the log,
 * export it for offline verification, the public signing keys, telemetry retention and forensic
 * holds. Verify and export answer to GET only (no HEAD: each one is recorded in the log).
 */
export const auditChainRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { auth, auditVerification, telemetry } = services;
  const tags = ['activity'];

  app.get(
    '/audit/verify',
    {
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: "Verify the organisation's activity log (hash chain and signed checkpoints)",
        response: withErrors({ 200: VerificationView }),
      },
    },
    async (request) => auditVerification.verifyTenantLog(tenantActor(request, auth)),
  );

  app.get(
    '/audit/public-key',
    {
      schema: {
        tags,
        summary: 'The public keys checkpoints are signed with, to verify exports offline',
        response: withErrors({ 200: PublicKeysView }),
      },
    },
    async (request) => {
      tenantActor(request, auth);
      return { keys: await auditVerification.listPublicKeys() };
    },
  );

  app.get(
    '/audit/export',
    {
      exposeHeadRoute: false,
      // No response schema: the body is a stream of JSON Lines, not one serialised value.
      schema: {
        tags,
        summary: 'The whole activity log as JSON Lines, verifiable offline with the public key',
      },
    },
    async (request, reply) => {
      const lines = await auditVerification.exportTenantLog(tenantActor(request, auth));
      return reply
        .header('content-type', 'application/jsonl; charset=utf-8')
        .header('content-disposition', 'attachment; filename="activity-log.jsonl"')
        .header('cache-control', 'no-store')
        .send(Readable.from(lines));
    },
  );

  app.get(
    '/audit/telemetry-policy',
    {
      schema: {
        tags,
        summary: 'How long addresses and user agents stay in the log, and any forensic hold',
        response: withErrors({ 200: TelemetryPolicyView }),
      },
    },
    async (request) => view(await telemetry.getPolicy(tenantActor(request, auth))),
  );

  app.put(
    '/audit/telemetry-policy',
    {
      schema: {
        tags,
        summary: 'Set how many days (30 to 90) addresses and user agents stay in the log',
        body: RetentionBody,
        response: withErrors({ 200: TelemetryPolicyView }),
      },
    },
    async (request) =>
      view(await telemetry.setRetentionDays(tenantActor(request, auth), request.body.retentionDays)),
  );

  app.post(
    '/audit/forensic-hold',
    {
      schema: {
        tags,
        summary: 'Place a forensic hold: addresses and user agents are kept until it is lifted',
        body: HoldBody,
        response: withErrors({ 200: TelemetryPolicyView }),
      },
    },
    async (request) =>
      view(await telemetry.placeForensicHold(tenantActor(request, auth), request.body.reason)),
  );

  app.post(
    '/audit/forensic-hold/lift',
    {
      schema: {
        tags,
        summary: 'Lift the forensic hold: expiry resumes',
        body: HoldBody,
        response: withErrors({ 200: TelemetryPolicyView }),
      },
    },
    async (request) =>
      view(await telemetry.liftForensicHold(tenantActor(request, auth), request.body.reason)),
  );
};

function view(policy: TelemetryPolicy) {
  return {
    retentionDays: policy.retentionDays,
    minRetentionDays: MIN_TELEMETRY_DAYS,
    maxRetentionDays: MAX_TELEMETRY_DAYS,
    forensicHold: policy.forensicHold,
  };
}
