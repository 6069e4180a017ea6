import { Type, type TSchema } from 'typebox';

/** Schemas shared by several route areas. Response schemas also stop fields from leaking. */
export const Id = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'An id issued by Custodia (UUIDv7).',
});
export const IdParams = Type.Object({ id: Id });
export const Timestamp = Type.Integer({ description: 'Milliseconds since the Unix epoch, UTC.' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
  requestId: Type.String(),
});

/** Standard error responses, so the OpenAPI document lists them for every route. */
export function withErrors<T extends Record<number, TSchema>>(
  responses: T,
): T & Record<400 | 401 | 403 | 404 | 409 | 422 | 429, typeof ErrorResponse> {
  return {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    404: ErrorResponse,
    409: ErrorResponse,
    422: ErrorResponse,
    429: ErrorResponse,
    ...responses,
  };
}

export const Role = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('compliance_officer'),
  Type.Literal('member'),
  Type.Literal('guest'),
]);

export const Ok = Type.Object({ ok: Type.Literal(true) });
