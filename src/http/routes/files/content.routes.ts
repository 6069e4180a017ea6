import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../compose.ts';
import type { FileVersion, StoredNode } from '../../../core/files/file.types.ts';
import { ValidationError } from '../../../core/shared/errors.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { parseRange } from '../../range.ts';
import { withErrors, IdParams, ErrorResponse } from '../common.schemas.ts';
import { ContentQuery, UploadParams, UploadResult } from './files.schemas.ts';
import { nodeView, versionView } from './files.views.ts';

/**
 * File bytes: PUT streams a body into a new version (never buffered whole); GET streams it back with
 * Range, ETag and conditional requests. Bodies here are raw bytes, so this scope parses none.
 */
export const contentRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, files } = services;
  const tags = ['files'];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.put(
    '/nodes/:id/files/:name',
    {
      schema: {
        tags,
        summary: 'Upload a file into this folder (a new version if the name exists)',
        params: UploadParams,
        response: withErrors({
          200: UploadResult,
          201: UploadResult,
          412: ErrorResponse,
          413: ErrorResponse,
        }),
      },
    },
    async (request, reply) => {
      const actor = tenantActor(request, auth);
      const result = await files.uploadFile(actor, {
        parentId: request.params.id,
        name: request.params.name,
        content: request.raw,
        declaredLength: declaredLength(request),
        ifMatchVersionId: etagValue(request.headers['if-match']),
        isCreateOnly: request.headers['if-none-match'] === '*',
      });
      reply.header('etag', etag(result.version));
      return reply
        .code(result.isNew ? 201 : 200)
        .send({ node: nodeView(result.node), version: versionView(result.version, result.version.id) });
    },
  );

  app.get(
    '/nodes/:id/content',
    {
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: 'Download file bytes (Range, ETag, If-None-Match, If-Range supported)',
        params: IdParams,
        querystring: ContentQuery,
      },
    },
    async (request, reply) => {
      const actor = tenantActor(request, auth);
      const { node, version } = await files.describeContent(actor, request.params.id, request.query.version);
      if (answerConditional(request, reply, version)) {
        return reply;
      }
      const range = rangeFor(request, version);
      const opened = await files.openContent(actor, node.id, { versionId: version.id, range });
      setContentHeaders(reply, node, version, request.query.download === true);
      reply.header('content-length', String(opened.end - opened.start + 1));
      if (range) {
        reply.code(206).header('content-range', `bytes ${opened.start}-${opened.end}/${version.size}`);
      }
      return reply.send(opened.stream);
    },
  );

  app.head(
    '/nodes/:id/content',
    {
      schema: {
        tags,
        summary: 'File size, type and ETag without the bytes',
        params: IdParams,
        querystring: ContentQuery,
      },
    },
    async (request, reply) => {
      const { node, version } = await files.describeContent(
        tenantActor(request, auth),
        request.params.id,
        request.query.version,
      );
      if (answerConditional(request, reply, version)) {
        return reply;
      }
      setContentHeaders(reply, node, version, false);
      reply.header('content-length', String(version.size));
      return reply.send();
    },
  );
};

export function etag(version: FileVersion): string {
  return `"${version.id}"`;
}

/** The version id inside an ETag-valued header (`"…"` or `W/"…"`), if one was given. */
export function etagValue(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') {
    return undefined;
  }
  const match = /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(header);
  return match ? match[1] : header.trim();
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) {
    return undefined;
  }
  if (!/^\d{1,16}$/.test(header)) {
    throw new ValidationError('invalid_content_length', 'Content-Length must be a whole number of bytes.');
  }
  return Number(header);
}

/** Handles If-None-Match / If-Modified-Since (304) and If-Match (412). True when answered. */
export function answerConditional(
  request: FastifyRequest,
  reply: FastifyReply,
  version: FileVersion,
): boolean {
  const tag = etag(version);
  const ifMatch = request.headers['if-match'];
  if (ifMatch && ifMatch !== '*' && !ifMatch.split(',').some((t) => etagValue(t) === version.id)) {
    void reply.code(412).send({
      error: { code: 'version_mismatch', message: 'The file has changed since you last read it.' },
      requestId: request.id,
    });
    return true;
  }
  const ifNoneMatch = request.headers['if-none-match'];
  const modifiedSince = request.headers['if-modified-since'];
  const isNotModified = ifNoneMatch
    ? ifNoneMatch === '*' || ifNoneMatch.split(',').some((t) => etagValue(t) === version.id)
    : modifiedSince !== undefined &&
      !Number.isNaN(Date.parse(modifiedSince)) &&
      Math.floor(version.createdAt / 1000) <= Math.floor(Date.parse(modifiedSince) / 1000);
  if (isNotModified) {
    void reply.code(304).header('etag', tag).send();
    return true;
  }
  return false;
}

/** The byte range to serve, honouring If-Range (a stale validator means: send it all). */
export function rangeFor(
  request: FastifyRequest,
  version: FileVersion,
): { start: number; end: number } | undefined {
  const ifRange = request.headers['if-range'];
  if (ifRange && etagValue(ifRange) !== version.id) {
    return undefined;
  }
  return parseRange(request.headers.range, version.size);
}

export function setContentHeaders(
  reply: FastifyReply,
  node: StoredNode,
  version: FileVersion,
  isAttachment: boolean,
): void {
  reply.header('etag', etag(version));
  reply.header('last-modified', new Date(version.createdAt).toUTCString());
  reply.header('accept-ranges', 'bytes');
  reply.header('cache-control', 'private, no-cache');
  // Served content never runs as a page of ours, whatever its type.
  reply.header(
    'content-security-policy',
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
  );
  reply.type(node.mimeType ?? 'application/octet-stream');
  const disposition = isAttachment ? 'attachment' : 'inline';
  reply.header('content-disposition', `${disposition}; filename*=UTF-8''${encodeURIComponent(node.name)}`);
}
