import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../../compose.ts';
import type { ShareLink } from '../../../core/sharing/share.types.ts';
import { requestOrigin, tenantActor } from '../../plugins/auth.ts';
import { parseRange } from '../../range.ts';
import { IdParams, NullableTimestamp, Ok, Timestamp, withErrors } from '../common.schemas.ts';

const ShareView = Type.Object({
  id: Type.String(),
  nodeId: Type.String(),
  tokenPrefix: Type.String(),
  hasPassword: Type.Boolean(),
  expiresAt: NullableTimestamp,
  maxDownloads: Type.Union([Type.Integer(), Type.Null()]),
  downloadCount: Type.Integer(),
  createdAt: Timestamp,
  revokedAt: NullableTimestamp,
});
const CreateBody = Type.Object(
  {
    expiresAt: Type.Optional(Type.Union([Timestamp, Type.Null()])),
    password: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    maxDownloads: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const TokenParams = Type.Object({
  token: Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
});
const PublicInfo = Type.Object({
  name: Type.Union([Type.String(), Type.Null()]),
  size: Type.Union([Type.Integer(), Type.Null()]),
  mimeType: Type.Union([Type.String(), Type.Null()]),
  expiresAt: NullableTimestamp,
  downloadsLeft: Type.Union([Type.Integer(), Type.Null()]),
  needsPassword: Type.Boolean(),
});

/** Share links: members create and revoke them; anyone with the link uses the public routes. */
export const sharesRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, shares, config } = services;
  const tags = ['sharing'];
  const url = (token: string) => `${config.publicUrl}/s/${token}`;

  app.post(
    '/nodes/:id/shares',
    {
      schema: {
        tags,
        summary: 'Create a share link to a file',
        params: IdParams,
        body: CreateBody,
        response: withErrors({ 201: Type.Object({ url: Type.String(), share: ShareView }) }),
      },
    },
    async (request, reply) => {
      const created = await shares.createLink(tenantActor(request, auth), request.params.id, request.body);
      return reply.code(201).send({ url: url(created.token), share: shareView(created.link) });
    },
  );

  app.get(
    '/nodes/:id/shares',
    {
      schema: {
        tags,
        summary: 'Share links of a file',
        params: IdParams,
        response: withErrors({ 200: Type.Object({ items: Type.Array(ShareView) }) }),
      },
    },
    async (request) => {
      return {
        items: (await shares.listLinks(tenantActor(request, auth), request.params.id)).map(shareView),
      };
    },
  );

  app.delete(
    '/shares/:id',
    { schema: { tags, summary: 'Revoke a share link', params: IdParams, response: withErrors({ 200: Ok }) } },
    async (request) => {
      await shares.revokeLink(tenantActor(request, auth), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/public/shares/:token',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'What a share link offers (no name before the password)',
        params: TokenParams,
        response: withErrors({ 200: PublicInfo }),
      },
    },
    async (request) => {
      return shares.describe(request.params.token, requestOrigin(request, 'share_link'));
    },
  );

  app.post(
    '/public/shares/:token/unlock',
    {
      config: { rateLimited: true },
      schema: {
        tags,
        summary: 'Check the link password; returns a short-lived download ticket',
        params: TokenParams,
        body: Type.Object({ password: Type.String({ maxLength: 256 }) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Object({ ticket: Type.String(), info: PublicInfo }) }),
      },
    },
    async (request) => {
      return shares.unlock(request.params.token, request.body.password, requestOrigin(request, 'share_link'));
    },
  );

  app.get(
    '/public/shares/:token/content',
    {
      // A HEAD would run this handler and use up a download (link previews would eat one-time links).
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: 'Download through a share link (ticket or X-Share-Password)',
        params: TokenParams,
        querystring: Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 200 })) }),
      },
    },
    async (request, reply) => {
      const password = request.headers['x-share-password'];
      const result = await shares.download(
        request.params.token,
        {
          ticket: request.query.ticket,
          password: typeof password === 'string' ? password : undefined,
          range: (size) => parseRange(request.headers.range, size),
        },
        requestOrigin(request, 'share_link'),
      );
      reply.type(result.info.mimeType ?? 'application/octet-stream');
      reply.header(
        'content-disposition',
        `attachment; filename*=UTF-8''${encodeURIComponent(result.info.name ?? 'download')}`,
      );
      reply.header('content-length', String(result.end - result.start + 1));
      reply.header('accept-ranges', 'bytes');
      reply.header('cache-control', 'private, no-store');
      if (result.isPartial) {
        reply.code(206).header('content-range', `bytes ${result.start}-${result.end}/${result.version.size}`);
      }
      return reply.send(result.stream);
    },
  );
};

function shareView(l: ShareLink) {
  return {
    id: l.id,
    nodeId: l.nodeId,
    tokenPrefix: l.tokenPrefix,
    hasPassword: l.passwordHash !== null,
    expiresAt: l.expiresAt,
    maxDownloads: l.maxDownloads,
    downloadCount: l.downloadCount,
    createdAt: l.createdAt,
    revokedAt: l.revokedAt,
  };
}
