import { ConflictError, DomainError, NotFoundError } from '../shared/errors.ts';

/** The resumable upload does not exist, has expired, or belongs to another user or tenant. */
export class UploadNotFoundError extends NotFoundError {
  constructor() {
    super('upload_not_found', 'Upload not found.');
  }
}

/**
 * A chunk was sent for an offset other than the one the server has durably stored (tus 1.0: 409).
 * `details.offset` is where the client should resume (after a HEAD).
 */
export class UploadOffsetMismatchError extends ConflictError {
  constructor(offset: number) {
    super('upload_offset_mismatch', `The upload continues at byte ${offset}; send that offset.`, {
      offset,
    });
  }
}

/** A chunk would take the upload past the Upload-Length declared when it was created. */
export class UploadLengthExceededError extends DomainError {
  constructor(length: number, attempted: number) {
    super({
      code: 'upload_length_exceeded',
      category: 'quota',
      message: `The upload was declared as ${length} bytes; this request goes beyond that.`,
      details: { length, attempted },
    });
  }
}

/** The upload has finished and is now an ordinary file: it can no longer be changed or terminated. */
export class UploadCompletedError extends ConflictError {
  constructor(nodeId: string | null) {
    super('upload_completed', 'This upload has finished; the file is stored. Delete the file instead.', {
      nodeId,
    });
  }
}
