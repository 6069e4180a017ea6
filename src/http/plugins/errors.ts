import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { DomainError } from '../../core/shared/errors.ts';
import { newId } from '../../core/shared/ids.ts';
import { STATUS_BY_CATEGORY } from '../error-map.ts';

/**
 * Refusals made before a route runs (Node's HTTP parser, Fastify's router, our header limit), by
 * error code, so they too answer in the one error shape instead of the frameworks' own bodies.
 */
const PROTOCOL_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: 'The request headers are too large.',
  },
  TOO_MANY_HEADERS: { status: 431, code: 'headers_too_large', message: 'The request has too many headers.' },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    code: 'url_too_long',
    message: 'A part of the address is too long.',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_url', message: 'The address is not valid.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request took too long.' },
};
const MALFORMED = { status: 400, code: 'invalid_request', message: 'The request is malformed.' };

/** Fastify `clientErrorHandler`: a request Node could not parse gets a JSON error, then the socket closes. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const known = (error.code && PROTOCOL_ERRORS[error.code]) || MALFORMED;
  const body = JSON.stringify({ error: { code: known.code, message: known.message }, requestId: newId() });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  } else {
    socket.destroy();
  }
}

/** Fastify `frameworkErrors`: router refusals (a bad escape, an over-long path segment). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known = PROTOCOL_ERRORS[error.code] ?? {
    status: 500,
    code: 'internal_error',
    message: 'Something went wrong on our side. Quote the request id if you contact support.',
  };
  send(reply, request, known.status, known.code, known.message);
}

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
    const protocol = PROTOCOL_ERRORS[error.code];
    if (protocol) {
      return send(reply, request, protocol.status, protocol.code, protocol.message);
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
