import { Type } from 'typebox';
import { NullableTimestamp, Role, Timestamp } from '../common.schemas.ts';

export const SignInBody = Type.Object(
  { email: Type.String({ maxLength: 320 }), password: Type.String({ maxLength: 1024 }) },
  { additionalProperties: false },
);
export const SetupBody = Type.Object(
  {
    setupToken: Type.String({ maxLength: 200 }),
    email: Type.String({ maxLength: 320 }),
    displayName: Type.String({ maxLength: 200 }),
    password: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export const CodeBody = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 32 }) },
  { additionalProperties: false },
);
export const AcceptInvitationBody = Type.Object(
  {
    token: Type.String({ maxLength: 200 }),
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    password: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export const InvitationQuery = Type.Object({ token: Type.String({ maxLength: 200 }) });

export const Me = Type.Object({
  user: Type.Object({
    id: Type.String(),
    email: Type.String(),
    displayName: Type.String(),
    isOperator: Type.Boolean(),
    mfaEnabled: Type.Boolean(),
  }),
  tenant: Type.Union([
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      slug: Type.String(),
      role: Role,
      requireMfa: Type.Boolean(),
    }),
    Type.Null(),
  ]),
  memberships: Type.Array(Type.Object({ tenantId: Type.String(), tenantName: Type.String(), role: Role })),
  secondFactorPending: Type.Boolean(),
  enrollmentRequired: Type.Boolean(),
  csrfToken: Type.Optional(Type.String()),
});

export const SignInResult = Type.Object({
  secondFactorPending: Type.Boolean(),
  enrollmentRequired: Type.Boolean(),
  csrfToken: Type.String(),
});

export const SessionList = Type.Object({
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      createdAt: Timestamp,
      lastSeenAt: Timestamp,
      expiresAt: Timestamp,
      ip: Type.Union([Type.String(), Type.Null()]),
      userAgent: Type.Union([Type.String(), Type.Null()]),
      isCurrent: Type.Boolean(),
    }),
  ),
});

export const Enrollment = Type.Object({ secret: Type.String(), otpauthUrl: Type.String() });
export const RecoveryCodes = Type.Object({ recoveryCodes: Type.Array(Type.String()) });
export const InvitationInfo = Type.Object({
  email: Type.String(),
  role: Type.String(),
  tenantName: Type.Union([Type.String(), Type.Null()]),
  hasAccount: Type.Boolean(),
});
export const SetupStatus = Type.Object({ setupPending: Type.Boolean() });
export const SwitchTenantBody = Type.Object(
  { tenantId: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);
export { NullableTimestamp };
export const RecoveryCodesLeft = Type.Object({ recoveryCodesLeft: Type.Integer() });
export const Count = Type.Object({ count: Type.Integer() });
