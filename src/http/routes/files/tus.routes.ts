import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorCodes, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Type } from 'typebox';
import type { Services } from '../../../compose.ts';
import type { Upload } from '../../../core/files/file.types.ts';
import { DomainError, PreconditionFailedError, ValidationError } from '../../../core/shared/errors.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { ErrorResponse, IdParams, withErrors } from '../common.schemas.ts';

/**
 * Resumable uploads, tus 1.0.0 (https://tus.io/protocols/resumable-upload): core protocol plus the
 * creation, termination and expiration extensions. Each handler is one UploadService call; this file
 * only speaks the protocol's headers. Bodies are raw streams, so this scope parses none.
 */
export const TUS_VERSION = '1.0.0';
const TUS_EXTENSIONS = 'creation,termination,expiration';
const CHUNK_TYPE = 'application/offset+octet-stream';
const DIGITS = '^[0-9]{1,16}$';

const CreateHeaders = Type.Object({ 'upload-length': Type.String({ pattern: DIGITS }) });
const PatchHeaders = Type.Object({ 'upload-offset': Type.String({ pattern: DIGITS }) });
const NoBody = Type.Null({ description: 'No body; the answer is in the tus headers.' });

export const tusRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, uploads } = services;
  const tags = ['uploads'];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  // Who may call comes first (401/403), then the protocol version (412), then header validation (400).
  app.addHook('preValidation', async (request) => {
    if (request.method === 'OPTIONS') {
      return;
    }
    tenantActor(request, auth);
    if (request.headers['tus-resumable'] !== TUS_VERSION) {
      throw new PreconditionFailedError(
        'tus_version_unsupported',
        `This server speaks tus ${TUS_VERSION}; send Tus-Resumable: ${TUS_VERSION}.`,
      );
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('tus-resumable', TUS_VERSION);
    if (reply.statusCode === 412 || request.method === 'OPTIONS') {
      reply.header('tus-version', TUS_VERSION);
    }
    if (request.method === 'PATCH' && !request.raw.complete) {
      // A refused chunk was left half-read: drain the rest so the client gets this answer and the
      // connection stays usable (Node only drains bodies nobody started reading).
      request.raw.resume();
    }
    return payload;
  });

  app.options(
    '/uploads',
    { schema: { tags, summary: 'tus capabilities (no sign-in needed)', response: { 204: NoBody } } },
    async (request, reply) => {
      reply.header('tus-extension', TUS_EXTENSIONS);
      const maxSize = request.authn ? await maxUploadSize(request) : undefined;
      if (maxSize !== undefined) {
        reply.header('tus-max-size', String(maxSize));
      }
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/uploads',
    {
      schema: {
        tags,
        summary: 'Create a resumable upload (Upload-Length; Upload-Metadata filename, parentId, filetype)',
        headers: CreateHeaders,
        response: withErrors({ 201: NoBody, 412: ErrorResponse, 413: ErrorResponse }),
      },
    },
    async (request, reply) => {
      const metadata = parseMetadata(request.headers['upload-metadata']);
      const { filename, parentId, ...rest } = metadata;
      if (filename === undefined) {
        throw new ValidationError('invalid_upload_metadata', 'Upload-Metadata must include a filename.');
      }
      const upload = await uploads.createUpload(tenantActor(request, auth), {
        length: Number(request.headers['upload-length']),
        name: filename,
        parentId,
        metadata: rest.filetype === undefined ? {} : { filetype: rest.filetype.slice(0, 255) },
      });
      const base = request.url.split('?')[0]?.replace(/\/$/, '') ?? '';
      reply.header('location', `${base}/${upload.id}`);
      return sendState(reply.code(201), upload);
    },
  );

  app.head(
    '/uploads/:id',
    {
      schema: {
        tags,
        summary: 'How many bytes of the upload the server holds (Upload-Offset)',
        params: IdParams,
        response: withErrors({ 200: NoBody, 412: ErrorResponse }),
      },
    },
    async (request, reply) => {
      const upload = await uploads.describeUpload(tenantActor(request, auth), request.params.id);
      reply.header('cache-control', 'no-store');
      reply.header('upload-length', String(upload.length));
      reply.header('upload-metadata', formatMetadata(upload));
      return sendState(reply.code(200), upload);
    },
  );

  app.patch(
    '/uploads/:id',
    {
      schema: {
        tags,
        summary: 'Send bytes at Upload-Offset (Content-Type: application/offset+octet-stream)',
        params: IdParams,
        headers: PatchHeaders,
        response: withErrors({ 204: NoBody, 412: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse }),
      },
    },
    async (request, reply) => {
      const type = request.headers['content-type'];
      if (type?.split(';')[0]?.trim().toLowerCase() !== CHUNK_TYPE) {
        throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(type ?? '');
      }
      const upload = await uploads.appendBytes(tenantActor(request, auth), request.params.id, {
        offset: Number(request.headers['upload-offset']),
        declaredLength: declaredLength(request),
        content: untilDisconnected(request.raw),
      });
      return sendState(reply.code(204), upload);
    },
  );

  app.delete(
    '/uploads/:id',
    {
      schema: {
        tags,
        summary: 'Terminate an unfinished upload and destroy its staged bytes',
        params: IdParams,
        response: withErrors({ 204: NoBody, 412: ErrorResponse }),
      },
    },
    async (request, reply) => {
      await uploads.terminateUpload(tenantActor(request, auth), request.params.id);
      return reply.code(204).send(null);
    },
  );

  /** Tus-Max-Size for a signed-in member; none for anyone else (OPTIONS needs no sign-in). */
  async function maxUploadSize(request: FastifyRequest): Promise<number | undefined> {
    try {
      return await uploads.maxUploadSize(tenantActor(request, auth));
    } catch (error) {
      if (error instanceof DomainError) {
        return undefined;
      }
      throw error;
    }
  }
};

/** Upload-Offset, and Upload-Expires while unfinished; a finished upload names its file. */
function sendState(reply: FastifyReply, upload: Upload): FastifyReply {
  reply.header('upload-offset', String(upload.received));
  if (upload.completedAt === null) {
    reply.header('upload-expires', new Date(upload.expiresAt).toUTCString());
  }
  if (upload.nodeId) {
    reply.header('custodia-node-id', upload.nodeId);
  }
  return reply.send();
}

/**
 * tus Upload-Metadata: comma-separated `key base64value` pairs (a value may be absent). Keys are
 * unique ASCII without spaces or commas; values must be strict base64 of UTF-8 text.
 */
export function parseMetadata(header: string | string[] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (header === undefined || header === '') {
    return result;
  }
  const bad = (why: string): never => {
    throw new ValidationError('invalid_upload_metadata', `Upload-Metadata is not valid: ${why}.`);
  };
  if (typeof header !== 'string') {
    return bad('it was sent more than once');
  }
  for (const pair of header.split(',')) {
    const [key = '', value = '', ...extra] = pair.trim().split(' ');
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(key) || extra.length > 0 || key in result) {
      bad(`"${key.slice(0, 40)}" is not a unique key followed by one value`);
    }
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value)) {
      bad(`the value of ${key} is not base64`);
    }
    result[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return result;
}

function formatMetadata(upload: Upload): string {
  const pairs = { filename: upload.name, ...upload.metadata };
  return Object.entries(pairs)
    .map(([key, value]) => `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)
    .join(',');
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header !== undefined && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}

/**
 * The request body as it arrives. A client that goes away mid-body simply ends it: tus keeps every
 * byte that arrived. Leaving early (a refused chunk) does not destroy the request, so the refusal
 * can still be sent.
 */
async function* untilDisconnected(raw: IncomingMessage): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of raw.iterator({ destroyOnReturn: false })) {
      yield chunk as Buffer; // an IncomingMessage without setEncoding() yields Buffers
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const isDisconnect = code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
    if (raw.complete || !isDisconnect) {
      throw error;
    }
  }
}
