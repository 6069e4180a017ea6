import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../../compose.ts';
import type { ApiToken } from '../../../core/identity/identity.types.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { IdParams, NullableTimestamp, Ok, Role, Timestamp, withErrors } from '../common.schemas.ts';

const Settings = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  requireMfa: Type.Boolean(),
  keepVersions: Type.Integer(),
  quotaBytes: Type.Integer(),
  usedBytes: Type.Integer(),
});
const SettingsPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    requireMfa: Type.Optional(Type.Boolean()),
    keepVersions: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
const Member = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  role: Role,
  mfaEnabled: Type.Boolean(),
  joinedAt: Timestamp,
});
const InviteBody = Type.Object(
  { email: Type.String({ maxLength: 320 }), role: Role },
  { additionalProperties: false },
);
const Invite = Type.Object({
  invitationId: Type.String(),
  email: Type.String(),
  role: Type.String(),
  link: Type.String(),
  expiresAt: Timestamp,
});
const Pending = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      email: Type.String(),
      role: Type.String(),
      createdAt: Timestamp,
      expiresAt: Timestamp,
    }),
  ),
});
const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Role,
  prefix: Type.String(),
  userId: Type.String(),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
});
const TokenBody = Type.Object(
  {
    name: Type.String({ maxLength: 100 }),
    role: Type.Optional(Role),
    expiresAt: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  },
  { additionalProperties: false },
);
const RoleBody = Type.Object({ role: Role }, { additionalProperties: false });
const UserParams = Type.Object({ userId: IdParams.properties.id });

/** An organisation's own administration: settings, members, invitations, API tokens. */
export const tenantRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, tenants, members, mfa, config } = services;
  const tags = ['organisation'];

  app.get(
    '/tenant',
    { schema: { tags, summary: 'Organisation settings and usage', response: withErrors({ 200: Settings }) } },
    async (request) => {
      return settingsView(await tenants.getOwnTenant(tenantActor(request, auth)));
    },
  );

  app.patch(
    '/tenant',
    {
      schema: {
        tags,
        summary: 'Change settings (owner/admin)',
        body: SettingsPatch,
        response: withErrors({ 200: Settings }),
      },
    },
    async (request) => {
      return settingsView(await tenants.updateSettings(tenantActor(request, auth), request.body));
    },
  );

  app.get(
    '/members',
    {
      schema: {
        tags,
        summary: 'Members and their roles',
        response: withErrors({ 200: Type.Object({ items: Type.Array(Member) }) }),
      },
    },
    async (request) => {
      const list = await members.listMembers(tenantActor(request, auth));
      return {
        items: list.map((m) => ({
          userId: m.userId,
          email: m.email,
          displayName: m.displayName,
          role: m.role,
          mfaEnabled: m.mfaEnabled,
          joinedAt: m.createdAt,
        })),
      };
    },
  );

  app.post(
    '/members/invitations',
    {
      schema: {
        tags,
        summary: 'Invite someone with a role',
        body: InviteBody,
        response: withErrors({ 201: Invite }),
      },
    },
    async (request, reply) => {
      const actor = tenantActor(request, auth);
      const invite = await members.inviteMember(actor, { tenantId: actor.tenantId, ...request.body });
      return reply.code(201).send({
        invitationId: invite.invitation.id,
        email: invite.invitation.email,
        role: invite.invitation.role,
        link: `${config.publicUrl}/invite#${invite.token}`,
        expiresAt: invite.invitation.expiresAt,
      });
    },
  );

  app.get(
    '/members/invitations',
    { schema: { tags, summary: 'Invitations not yet accepted', response: withErrors({ 200: Pending }) } },
    async (request) => {
      const list = await members.listPendingInvitations(tenantActor(request, auth));
      return {
        items: list.map((i) => ({
          id: i.id,
          email: i.email,
          role: i.role,
          createdAt: i.createdAt,
          expiresAt: i.expiresAt,
        })),
      };
    },
  );

  app.patch(
    '/members/:userId',
    {
      schema: {
        tags,
        summary: "Change a member's role",
        params: UserParams,
        body: RoleBody,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await members.changeRole(tenantActor(request, auth), request.params.userId, request.body.role);
      return { ok: true as const };
    },
  );

  app.delete(
    '/members/:userId',
    { schema: { tags, summary: 'Remove a member', params: UserParams, response: withErrors({ 200: Ok }) } },
    async (request) => {
      await members.removeMember(tenantActor(request, auth), request.params.userId);
      return { ok: true as const };
    },
  );

  app.post(
    '/members/:userId/reset-mfa',
    {
      schema: {
        tags,
        summary: "Reset a member's two-factor sign-in (lost device)",
        params: UserParams,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await mfa.resetForMember(tenantActor(request, auth), request.params.userId);
      return { ok: true as const };
    },
  );

  app.get(
    '/tokens',
    {
      schema: {
        tags,
        summary: 'API tokens (admins see all, others their own)',
        response: withErrors({ 200: Type.Object({ items: Type.Array(TokenView) }) }),
      },
    },
    async (request) => {
      return { items: (await members.listTokens(tenantActor(request, auth))).map(tokenView) };
    },
  );

  app.post(
    '/tokens',
    {
      schema: {
        tags,
        summary: 'Create an API token (the secret is shown once)',
        body: TokenBody,
        response: withErrors({ 201: Type.Object({ token: Type.String(), record: TokenView }) }),
      },
    },
    async (request, reply) => {
      const created = await members.createToken(tenantActor(request, auth), request.body);
      return reply.code(201).send({ token: created.token, record: tokenView(created.record) });
    },
  );

  app.delete(
    '/tokens/:id',
    { schema: { tags, summary: 'Revoke an API token', params: IdParams, response: withErrors({ 200: Ok }) } },
    async (request) => {
      await members.revokeToken(tenantActor(request, auth), request.params.id);
      return { ok: true as const };
    },
  );
};

function settingsView(t: Awaited<ReturnType<Services['tenants']['getOwnTenant']>>) {
  return {
    id: t.id,
    name: t.name,
    slug: t.slug,
    requireMfa: t.requireMfa,
    keepVersions: t.keepVersions,
    quotaBytes: t.quotaBytes,
    usedBytes: t.usedBytes,
  };
}

function tokenView(t: ApiToken) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    prefix: t.prefix,
    userId: t.userId,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
  };
}
