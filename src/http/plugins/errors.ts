import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../../core/shared/errors.ts';
import { STATUS_BY_CATEGORY } from '../error-map.ts';

/** One error shape for every response: `{ error: { code, message, details? }, requestId }`. */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof DomainError) {
      const status = STATUS_BY_CATEGORY[error.category];
      if (error.category === 'throttled' && typeof error.details?.retryAfterSeconds === 'number') {
        void reply.header('retry-after', String(error.details.retryAfterSeconds));
      }
      if (error.category === 'range' && typeof error.details?.size === 'number') {
        void reply.header('content-range', `bytes */${error.details.size}`);
      }
      if (error.category === 'integrity') {
        request.log.error(
          { err: { code: error.code, details: error.details } },
          'stored content failed authentication',
        );
      }
      const details = error.category === 'integrity' ? undefined : error.details;
      return send(reply, request, status, error.code, error.message, details);
    }
    if (error.validation) {
      return send(reply, request, 400, 'invalid_request', `Invalid request: ${error.message}`);
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return send(reply, request, 415, 'unsupported_media_type', 'This content type is not accepted here.');
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(reply, request, 413, 'body_too_large', 'The request body is too large.');
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, request, error.statusCode, 'invalid_request', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(
      reply,
      request,
      500,
      'internal_error',
      'Something went wrong on our side. Quote the request id if you contact support.',
    );
  });

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      request,
      404,
      'route_not_found',
      `No route for ${request.method} ${request.url.split('?')[0]}`,
    ),
  );
});

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): FastifyReply {
  if (reply.sent || reply.raw.headersSent) {
    // Mid-stream failure: the only honest signal left is to cut the connection.
    reply.raw.destroy();
    return reply;
  }
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ error: { code, message, ...(details ? { details } : {}) }, requestId: request.id });
}
