import type { ErrorCategory } from '../core/shared/errors.ts';

/** The only table from domain error category to HTTP status. */
export const STATUS_BY_CATEGORY: Record<ErrorCategory, number> = {
  not_found: 404,
  conflict: 409,
  validation: 422,
  bad_request: 400,
  forbidden: 403,
  unauthenticated: 401,
  quota: 413,
  precondition: 412,
  range: 416,
  integrity: 500,
  throttled: 429,
  unavailable: 503,
};
