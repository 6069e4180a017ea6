import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from '../shared/errors.ts';

/** Wrong e-mail or password (never says which). */
export class InvalidCredentialsError extends UnauthenticatedError {
  constructor() {
    super('invalid_credentials', 'The e-mail address or password is not right.');
  }
}

/** The session or token is missing, expired or revoked. */
export class NotSignedInError extends UnauthenticatedError {
  constructor() {
    super('not_signed_in', 'Sign in to continue.');
  }
}

/** Password was right; the second factor is still needed. */
export class SecondFactorRequiredError extends UnauthenticatedError {
  constructor() {
    super(
      'second_factor_required',
      'Enter the code from your authenticator app (or a recovery code) to finish signing in.',
    );
  }
}

/** The tenant requires two-factor sign-in and this user has not enrolled yet. */
export class SecondFactorEnrollmentRequiredError extends ForbiddenError {
  constructor() {
    super(
      'second_factor_enrollment_required',
      'This organisation requires two-factor sign-in. Set up an authenticator app to continue.',
    );
  }
}

/** The organisation was suspended by the operator: its members cannot reach its files until resumed. */
export class TenantSuspendedError extends ForbiddenError {
  constructor() {
    super(
      'tenant_suspended',
      'This organisation is suspended by the operator of this installation. Its files cannot be reached until it is resumed; contact your operator.',
    );
  }
}

/** The TOTP or recovery code did not match. */
export class InvalidSecondFactorError extends UnauthenticatedError {
  constructor() {
    super(
      'invalid_second_factor',
      'That code is not right or has expired. Check the time on your device and try the newest code.',
    );
  }
}

/** The invitation link is unknown, used or expired. */
export class InvitationNotFoundError extends NotFoundError {
  constructor() {
    super('invitation_not_found', 'This invitation link is not valid any more. Ask for a new one.');
  }
}

/** A password that does not meet the minimum. */
export class WeakPasswordError extends ValidationError {
  constructor(minimum: number) {
    super('weak_password', `Choose a password of at least ${minimum} characters.`, { minimum });
  }
}

/** The role lacks the capability for this action. */
export class NotAllowedError extends ForbiddenError {
  constructor(what: string) {
    super('not_allowed', `Your role does not allow you to ${what}.`);
  }
}
