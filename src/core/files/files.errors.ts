import { ConflictError, DomainError, NotFoundError, ValidationError } from '../shared/errors.ts';

/** The node does not exist, is in the trash, or belongs to another tenant. */
export class NodeNotFoundError extends NotFoundError {
  constructor() {
    super('node_not_found', 'File or folder not found.');
  }
}

/** The version does not exist or is not a version of that file. */
export class VersionNotFoundError extends NotFoundError {
  constructor() {
    super('version_not_found', 'Version not found.');
  }
}

/** Something with the same name (ignoring case) is already in the folder. */
export class NameTakenError extends ConflictError {
  constructor(name: string, existingId: string) {
    super('name_taken', `"${name}" already exists in this folder.`, { existingId });
  }
}

/** The operation needs a folder (or a file) and got the other. */
export class WrongNodeKindError extends ValidationError {
  constructor(expected: 'file' | 'folder') {
    super(expected === 'folder' ? 'not_a_folder' : 'not_a_file', `This operation needs a ${expected}.`);
  }
}

/** A folder cannot be moved into itself or one of its own subfolders. */
export class MoveIntoSelfError extends ConflictError {
  constructor() {
    super('move_into_self', 'A folder cannot be moved into itself or one of its subfolders.');
  }
}

/** The body had more or fewer bytes than declared. */
export class LengthMismatchError extends ValidationError {
  constructor(declared: number, received: number) {
    super('length_mismatch', `The upload declared ${declared} bytes but sent ${received}.`, {
      declared,
      received,
    });
  }
}

/**
 * The upload's bytes were swept before its version could commit: its process was presumed gone (its
 * lease ran out, e.g. a very long pause). Nothing was stored; sending the upload again succeeds.
 */
export class UploadAbandonedError extends DomainError {
  constructor() {
    super({
      code: 'upload_abandoned',
      category: 'unavailable',
      message: 'The upload was interrupted on the server and was discarded. Send it again.',
    });
  }
}
