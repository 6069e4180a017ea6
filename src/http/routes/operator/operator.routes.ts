import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../../compose.ts';
import type { Tenant } from '../../../core/tenants/tenant.types.ts';
import { operatorActor } from '../../plugins/auth.ts';
import { IdParams, NullableTimestamp, Role, Timestamp, withErrors } from '../common.schemas.ts';

const TenantView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  status: Type.String(),
  quotaBytes: Type.Integer(),
  usedBytes: Type.Integer(),
  keepVersions: Type.Integer(),
  requireMfa: Type.Boolean(),
  createdAt: Timestamp,
  suspendedAt: NullableTimestamp,
});
const CreateTenantBody = Type.Object(
  {
    name: Type.String({ maxLength: 200 }),
    slug: Type.String({ maxLength: 48 }),
    quotaBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    ownerEmail: Type.Optional(Type.String({ maxLength: 320 })),
  },
  { additionalProperties: false },
);
const Invite = Type.Object({
  invitationId: Type.String(),
  email: Type.String(),
  role: Type.String(),
  link: Type.String(),
  expiresAt: Timestamp,
});
const InviteBody = Type.Object(
  { email: Type.String({ maxLength: 320 }), role: Type.Optional(Role) },
  { additionalProperties: false },
);
const QuotaBody = Type.Object({ quotaBytes: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
const OperatorList = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      email: Type.String(),
      displayName: Type.String(),
      mfaEnabled: Type.Boolean(),
      createdAt: Timestamp,
    }),
  ),
});

/** The operator console's API: tenants (create, suspend, usage, quota) and operator admins. */
export const operatorRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (
  app,
  { services },
) => {
  const { auth, tenants, members, config } = services;
  const tags = ['operator'];
  const link = (token: string) => `${config.publicUrl}/invite#${token}`;

  app.get(
    '/operator/tenants',
    {
      schema: {
        tags,
        summary: 'All organisations with usage',
        response: withErrors({ 200: Type.Object({ items: Type.Array(TenantView) }) }),
      },
    },
    async (request) => {
      return { items: (await tenants.listTenants(operatorActor(request, auth))).map(tenantView) };
    },
  );

  app.post(
    '/operator/tenants',
    {
      schema: {
        tags,
        summary: 'Create an organisation (and invite its owner)',
        body: CreateTenantBody,
        response: withErrors({
          201: Type.Object({ tenant: TenantView, ownerInvitation: Type.Optional(Invite) }),
        }),
      },
    },
    async (request, reply) => {
      const actor = operatorActor(request, auth);
      const tenant = await tenants.createTenant(actor, request.body);
      if (!request.body.ownerEmail) {
        return reply.code(201).send({ tenant: tenantView(tenant) });
      }
      const invite = await members.inviteMember(actor, {
        tenantId: tenant.id,
        email: request.body.ownerEmail,
        role: 'owner',
      });
      return reply.code(201).send({
        tenant: tenantView(tenant),
        ownerInvitation: {
          invitationId: invite.invitation.id,
          email: invite.invitation.email,
          role: invite.invitation.role,
          link: link(invite.token),
          expiresAt: invite.invitation.expiresAt,
        },
      });
    },
  );

  app.get(
    '/operator/tenants/:id',
    {
      schema: {
        tags,
        summary: 'One organisation',
        params: IdParams,
        response: withErrors({ 200: TenantView }),
      },
    },
    async (request) => {
      return tenantView(await tenants.getForOperator(operatorActor(request, auth), request.params.id));
    },
  );

  app.post(
    '/operator/tenants/:id/suspend',
    {
      schema: {
        tags,
        summary: 'Suspend: members and tokens stop working',
        params: IdParams,
        response: withErrors({ 200: TenantView }),
      },
    },
    async (request) => {
      return tenantView(await tenants.setSuspended(operatorActor(request, auth), request.params.id, true));
    },
  );

  app.post(
    '/operator/tenants/:id/resume',
    {
      schema: {
        tags,
        summary: 'Lift a suspension',
        params: IdParams,
        response: withErrors({ 200: TenantView }),
      },
    },
    async (request) => {
      return tenantView(await tenants.setSuspended(operatorActor(request, auth), request.params.id, false));
    },
  );

  app.put(
    '/operator/tenants/:id/quota',
    {
      schema: {
        tags,
        summary: 'Set the storage quota',
        params: IdParams,
        body: QuotaBody,
        response: withErrors({ 200: TenantView }),
      },
    },
    async (request) => {
      return tenantView(
        await tenants.setQuota(operatorActor(request, auth), request.params.id, request.body.quotaBytes),
      );
    },
  );

  app.post(
    '/operator/tenants/:id/invitations',
    {
      schema: {
        tags,
        summary: 'Invite someone into an organisation (usually its owner)',
        params: IdParams,
        body: InviteBody,
        response: withErrors({ 201: Invite }),
      },
    },
    async (request, reply) => {
      const invite = await members.inviteMember(operatorActor(request, auth), {
        tenantId: request.params.id,
        email: request.body.email,
        role: request.body.role ?? 'owner',
      });
      return reply.code(201).send({
        invitationId: invite.invitation.id,
        email: invite.invitation.email,
        role: invite.invitation.role,
        link: link(invite.token),
        expiresAt: invite.invitation.expiresAt,
      });
    },
  );

  app.get(
    '/operator/admins',
    { schema: { tags, summary: 'Operator admins', response: withErrors({ 200: OperatorList }) } },
    async (request) => {
      operatorActor(request, auth);
      const admins = await services.store.repos.users.listOperators();
      return {
        items: admins.map((u) => ({
          id: u.id,
          email: u.email,
          displayName: u.displayName,
          mfaEnabled: u.mfaEnabledAt !== null,
          createdAt: u.createdAt,
        })),
      };
    },
  );

  app.post(
    '/operator/admins/invitations',
    {
      schema: {
        tags,
        summary: 'Invite another operator admin',
        body: Type.Object({ email: Type.String({ maxLength: 320 }) }, { additionalProperties: false }),
        response: withErrors({ 201: Invite }),
      },
    },
    async (request, reply) => {
      const invite = await members.inviteOperator(operatorActor(request, auth), {
        email: request.body.email,
      });
      return reply.code(201).send({
        invitationId: invite.invitation.id,
        email: invite.invitation.email,
        role: invite.invitation.role,
        link: link(invite.token),
        expiresAt: invite.invitation.expiresAt,
      });
    },
  );
};

function tenantView(t: Tenant) {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status,
    quotaBytes: t.quotaBytes,
    usedBytes: t.usedBytes,
    keepVersions: t.keepVersions,
    requireMfa: t.requireMfa,
    createdAt: t.createdAt,
    suspendedAt: t.suspendedAt,
  };
}
