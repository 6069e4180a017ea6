// A thin client for the Custodia REST API (/api/v1). The session cookie travels by itself; unsafe
// requests carry the CSRF token the server put in the `csrftoken` cookie (or returned at sign-in).
// The portal itself never sets a cookie.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    requestId?: string,
    details?: Record<string, unknown>,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details;
  }
}

let csrfFromServer: string | undefined;

/** Remembers the CSRF token from a sign-in or /me response (the cookie says the same). */
export function rememberCsrf(token: string | undefined): void {
  if (token) {
    csrfFromServer = token;
  }
}

export function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
  return match?.[1] ? decodeURIComponent(match[1]) : csrfFromServer;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Codes after which the signed-in state the page shows is no longer true (expired, signed out elsewhere). */
const SESSION_LOST = new Set([
  'not_signed_in',
  'second_factor_required',
  'second_factor_enrollment_required',
]);
let onSessionLost: (() => void) | undefined;

/** The session provider listens here, so an expired session shows the sign-in page at once. */
export function whenSessionLost(listener: (() => void) | undefined): void {
  onSessionLost = listener;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) {
      headers['x-csrf-token'] = token;
    }
  }
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'Custodia could not be reached. Check your connection, then try again.');
  }
  if (response.status === 204) {
    return undefined as T;
  }
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const code = (data as { error?: { code?: string } })?.error?.code;
    if (code && SESSION_LOST.has(code) && path !== '/me' && !path.startsWith('/auth/')) {
      onSessionLost?.();
    }
    const error = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
      ?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_' + response.status,
      error?.message ??
        (response.status >= 500
          ? 'Something went wrong on our side. Try again in a moment.'
          : `The request failed (${response.status}).`),
      (data as { requestId?: string })?.requestId,
      error?.details,
    );
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

/** The text to show a person for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return error.message;
  }
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return 'Something unexpected happened. Reload the page and try again.';
}

// ---- API shapes (mirroring the OpenAPI document at /api/docs) ----

export type Role = 'owner' | 'admin' | 'compliance_officer' | 'member' | 'guest';

export interface Me {
  user: { id: string; email: string; displayName: string; isOperator: boolean; mfaEnabled: boolean };
  tenant: { id: string; name: string; slug: string; role: Role; requireMfa: boolean } | null;
  memberships: { tenantId: string; tenantName: string; role: Role }[];
  secondFactorPending: boolean;
  enrollmentRequired: boolean;
  csrfToken?: string;
}

export interface NodeItem {
  id: string;
  parentId: string | null;
  kind: 'folder' | 'file';
  name: string;
  size: number;
  mimeType: string | null;
  currentVersionId: string | null;
  createdBy: string | null;
  updatedBy: string | null;
  createdAt: number;
  updatedAt: number;
  trashedAt: number | null;
}

export interface NodeDetail {
  node: NodeItem;
  path: { id: string; name: string }[];
  canWrite: boolean;
}

export interface Version {
  id: string;
  number: number;
  size: number;
  sha256: string | null;
  createdBy: string | null;
  createdAt: number;
  isCurrent: boolean;
}

export interface ShareLink {
  id: string;
  nodeId: string;
  tokenPrefix: string;
  hasPassword: boolean;
  expiresAt: number | null;
  maxDownloads: number | null;
  downloadCount: number;
  createdAt: number;
  revokedAt: number | null;
}

export interface Member {
  userId: string;
  email: string;
  displayName: string;
  role: Role;
  mfaEnabled: boolean;
  joinedAt: number;
}

export interface TenantSettings {
  id: string;
  name: string;
  slug: string;
  requireMfa: boolean;
  keepVersions: number;
  quotaBytes: number;
  usedBytes: number;
}

export interface Invite {
  invitationId: string;
  email: string;
  role: string;
  link: string;
  expiresAt: number;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  userId: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface OperatorTenant {
  id: string;
  slug: string;
  name: string;
  status: string;
  quotaBytes: number;
  usedBytes: number;
  keepVersions: number;
  requireMfa: boolean;
  createdAt: number;
  suspendedAt: number | null;
}

export interface SessionInfo {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  isCurrent: boolean;
}

export interface PublicShareInfo {
  name: string | null;
  size: number | null;
  mimeType: string | null;
  expiresAt: number | null;
  downloadsLeft: number | null;
  needsPassword: boolean;
}

export const ROLE_LABEL: Record<Role, string> = {
  owner: 'Owner',
  admin: 'Administrator',
  compliance_officer: 'Compliance officer',
  member: 'Member',
  guest: 'Guest',
};

export const ROLE_HELP: Record<Role, string> = {
  owner: 'Everything, including making other owners',
  admin: 'Files, sharing, members and settings',
  compliance_officer: 'Reads files and compliance records; changes nothing',
  member: 'Reads, uploads and shares files',
  guest: 'Only the folders given to them',
};
