/**
 * The domain error tree. Core throws only these; `http/error-map.ts` is the one place that turns a
 * category into an HTTP status. Codes are snake_case and stable forever.
 */
export type ErrorCategory =
  | 'not_found'
  | 'conflict'
  | 'validation'
  | 'bad_request'
  | 'forbidden'
  | 'unauthenticated'
  | 'quota'
  | 'precondition'
  | 'range'
  | 'integrity'
  | 'throttled'
  | 'unavailable';

export class DomainError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details?: Record<string, unknown>;

  constructor(options: {
    code: string;
    category: ErrorCategory;
    message: string;
    details?: Record<string, unknown>;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.category = options.category;
    this.details = options.details;
  }
}

/** The thing does not exist, or belongs to another tenant (never say which). */
export class NotFoundError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'not_found', message, details });
  }
}

/** The change clashes with current state (a name already taken, a stale version). */
export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'conflict', message, details });
  }
}

/** The input is well-formed but not acceptable (a bad name, a password that is too short). */
export class ValidationError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'validation', message, details });
  }
}

/**
 * A query's parameters are malformed or contradict each other (a bad cursor, a period that ends
 * before it starts): the request cannot mean anything, so it is refused as a bad request.
 */
export class BadRequestError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'bad_request', message, details });
  }
}

/** The actor is known but may not do this. */
export class ForbiddenError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'forbidden', message, details });
  }
}

/** No valid credentials were presented. */
export class UnauthenticatedError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'unauthenticated', message, details });
  }
}

/** Accepting the bytes would take the tenant over its storage quota. */
export class QuotaExceededError extends DomainError {
  constructor(details: Record<string, unknown>) {
    super({
      code: 'quota_exceeded',
      category: 'quota',
      message: 'This upload would exceed the storage quota',
      details,
    });
  }
}

/** A precondition (If-Match, tus offset, a hold) does not hold. */
export class PreconditionFailedError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, category: 'precondition', message, details });
  }
}

/** A byte range that cannot be satisfied. */
export class RangeNotSatisfiableError extends DomainError {
  constructor(size: number) {
    super({
      code: 'range_not_satisfiable',
      category: 'range',
      message: 'The requested byte range lies outside the file',
      details: { size },
    });
  }
}

/** Stored bytes failed authentication: tampered, truncated or swapped. Never serve them. */
export class IntegrityError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super({ code: 'integrity_check_failed', category: 'integrity', message, details });
  }
}

/** Too many attempts; try again later. */
export class ThrottledError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super({
      code: 'too_many_attempts',
      category: 'throttled',
      message: `Too many attempts. Try again in ${retryAfterSeconds} seconds.`,
      details: { retryAfterSeconds },
    });
  }
}
