import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { newId } from '../../src/core/shared/ids.ts';
import { listRoutes, type RouteEntry } from '../../src/http/app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

/**
 * Every route the app registers, with who may call it. A route missing from ROUTES fails the
 * coverage test, so a new endpoint cannot ship without its 401/403/404 checks. For each entry:
 * - public routes answer an anonymous caller with `allowed`;
 * - every other route answers no credentials (and an unknown token) with 401 not_signed_in;
 * - operator routes refuse a tenant owner (token: 403, session: 403 operator_only), and
 *   browser-session routes refuse an API token (session_required);
 * - tenant routes refuse a signed-in user without a tenant (403 no_tenant) and each role in `refuse`;
 * - every id slot answers another tenant's id exactly as it answers an unknown id (404);
 * - finally the allowed caller gets `allowed`, which proves the request was well-formed, so the
 *   refusals above came from the access rules and not from a bad request.
 * HEAD routes run the same refusals as the GET of the same URL (status only: HEAD has no body).
 */

type Role = 'owner' | 'admin' | 'compliance_officer' | 'member' | 'guest';
type Access = 'public' | 'signed_in' | 'tenant' | 'operator';

interface Caller {
  headers: Record<string, string>;
}

/** A concrete request for one route, as the allowed caller sends it. */
interface RequestSpec {
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: Record<string, unknown>;
  /** Sent as application/octet-stream unless `headers` name another type. */
  raw?: string;
  /** Extra request headers (the tus protocol's, for example). */
  headers?: Record<string, string>;
  /** tus Upload-Metadata, base64-encoded into its header by send(). */
  metadata?: Record<string, string>;
  /** Who the allowed call is made by (default: A's owner token; operator routes: the operator session). */
  as?: Caller;
}

interface IdSlot {
  in: 'params' | 'body' | 'query' | 'metadata';
  name: string;
  /** The same kind of object in tenant B. Absent on operator routes, which span tenants by design. */
  foreign?: (w: World) => string;
  /** The refusal for an unknown or foreign id; 404 unless stated. */
  status?: number;
}

interface RouteRule {
  access: Access;
  /** Builds the request; destructive routes get fresh objects so shared fixtures stay intact. */
  request: (w: World) => Promise<RequestSpec> | RequestSpec;
  /** The status the allowed caller gets (a list where it depends on the build, e.g. the portal). */
  allowed: number | readonly number[];
  /** Browser-session routes: the status an API token gets, with code session_required. */
  sessionOnly?: 403 | 422;
  /** Roles of tenant A that must be refused: 403 (not allowed) or 404 (hidden from that role). */
  refuse?: Partial<Record<Role, 403 | 404>>;
  ids?: IdSlot[];
}

interface TenantObjects {
  folderId: string;
  fileId: string;
  versionId: string;
  trashedId: string;
  memberId: string;
  tokenId: string;
  shareId: string;
  uploadId: string;
  alertRuleId: string;
  alertId: string;
}

interface World {
  ctx: TestContext;
  a: TenantFixture;
  b: TenantFixture;
  /** API tokens of tenant A members, by role. */
  roles: Record<Role, Caller & { userId: string }>;
  ownerSession: Caller;
  operatorSession: Caller;
  inA: TenantObjects;
  inB: TenantObjects;
  fresh: FreshObjects;
}

const API = '/api/v1';
const PASSWORD = 'correct horse battery staple';
const NOT_ALLOWED: Partial<Record<Role, 403 | 404>> = { guest: 403, compliance_officer: 403 };
const NO_WRITE: Partial<Record<Role, 403 | 404>> = { guest: 404, compliance_officer: 403 };
const NO_MANAGE: Partial<Record<Role, 403 | 404>> = { guest: 403, compliance_officer: 403, member: 403 };
const NOT_MINE: Partial<Record<Role, 403 | 404>> = {
  admin: 404,
  compliance_officer: 404,
  member: 404,
  guest: 404,
};
/** The activity log is for owners, admins and compliance officers. */
const NO_AUDIT: Partial<Record<Role, 403 | 404>> = { member: 403, guest: 403 };
const TUS = { 'tus-resumable': '1.0.0' };

const node = (from: (w: World) => TenantObjects, key: keyof TenantObjects) => (w: World) => from(w)[key];
const inB = (key: keyof TenantObjects) => node((w) => w.inB, key);

const ROUTES: Record<string, RouteRule> = {
  // --- first run, sign-in, invitations ---
  'GET /api/v1/setup': { access: 'public', request: () => ({}), allowed: 200 },
  'POST /api/v1/setup': {
    access: 'public',
    // Setup is done by the fixtures; reaching the service proves the route needs no sign-in.
    request: () => ({
      body: {
        setupToken: 'x'.repeat(32),
        email: 'late@example.com',
        displayName: 'Late',
        password: PASSWORD,
      },
    }),
    allowed: 409,
  },
  'POST /api/v1/auth/sign-in': {
    access: 'public',
    request: (w) => ({ body: { email: w.a.ownerEmail, password: PASSWORD } }),
    allowed: 200,
  },
  'POST /api/v1/auth/sign-out': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/v1/invitations': {
    access: 'public',
    request: async (w) => ({ query: { token: await w.fresh.invitation() } }),
    allowed: 200,
  },
  'POST /api/v1/invitations/accept': {
    access: 'public',
    request: async (w) => ({
      body: { token: await w.fresh.invitation(), displayName: 'Invitee', password: PASSWORD },
    }),
    allowed: 200,
  },
  'GET /api/v1/public/shares/:token': {
    access: 'public',
    request: async (w) => ({ params: { token: (await w.fresh.share()).token } }),
    allowed: 200,
  },
  'POST /api/v1/public/shares/:token/unlock': {
    access: 'public',
    request: async (w) => ({
      params: { token: (await w.fresh.share({ password: 'link-password' })).token },
      body: { password: 'link-password' },
    }),
    allowed: 200,
  },
  'GET /api/v1/public/shares/:token/content': {
    access: 'public',
    request: async (w) => ({ params: { token: (await w.fresh.share()).token } }),
    allowed: 200,
  },

  // --- the signed-in user ---
  'POST /api/v1/auth/second-factor': {
    access: 'signed_in',
    request: () => ({ body: { code: '123456' } }),
    allowed: 409, // second_factor_not_pending: a token never waits for a second factor
  },
  'GET /api/v1/me': { access: 'signed_in', request: () => ({}), allowed: 200 },
  'POST /api/v1/me/tenant': {
    access: 'signed_in',
    request: (w) => ({ body: { tenantId: w.a.tenantId }, as: w.ownerSession }),
    allowed: 200,
    sessionOnly: 422,
    // Not a member of that organisation (or it does not exist): one answer for both.
    ids: [{ in: 'body', name: 'tenantId', foreign: (w) => w.b.tenantId, status: 409 }],
  },
  'GET /api/v1/me/sessions': { access: 'signed_in', request: () => ({}), allowed: 200 },
  'POST /api/v1/me/sessions/sign-out-others': {
    access: 'signed_in',
    request: async (w) => ({ as: await w.fresh.member() }),
    allowed: 200,
  },
  'POST /api/v1/me/mfa/enroll': {
    access: 'signed_in',
    request: async (w) => ({ as: await w.fresh.memberSession() }),
    allowed: 200,
    sessionOnly: 403,
  },
  'POST /api/v1/me/mfa/confirm': {
    access: 'signed_in',
    request: async (w) => ({ body: { code: '123456' }, as: await w.fresh.memberSession() }),
    allowed: 409, // mfa_enrollment_not_started
    sessionOnly: 403,
  },
  'POST /api/v1/me/mfa/recovery-codes': {
    access: 'signed_in',
    request: async (w) => ({ as: await w.fresh.memberSession() }),
    allowed: 409, // mfa_not_enabled
    sessionOnly: 403,
  },

  // --- the folder tree ---
  'GET /api/v1/nodes/root': { access: 'tenant', request: () => ({}), allowed: 200, refuse: { guest: 404 } },
  'GET /api/v1/nodes/resolve': {
    access: 'tenant',
    request: () => ({ query: { path: '/Shared folder' } }),
    allowed: 200,
    refuse: { guest: 404 },
  },
  'GET /api/v1/nodes/:id': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId } }),
    allowed: 200,
    refuse: { guest: 404 },
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },
  'GET /api/v1/nodes/:id/children': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.folderId } }),
    allowed: 200,
    refuse: { guest: 404 },
    ids: [{ in: 'params', name: 'id', foreign: inB('folderId') }],
  },
  'POST /api/v1/nodes/:id/folders': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.folderId }, body: { name: w.fresh.name() } }),
    allowed: 201,
    refuse: NO_WRITE,
    ids: [{ in: 'params', name: 'id', foreign: inB('folderId') }],
  },
  'PATCH /api/v1/nodes/:id': {
    access: 'tenant',
    request: async (w) => ({
      params: { id: await w.fresh.folder() },
      body: { name: w.fresh.name(), parentId: w.inA.folderId },
    }),
    allowed: 200,
    refuse: NO_WRITE,
    ids: [
      { in: 'params', name: 'id', foreign: inB('folderId') },
      { in: 'body', name: 'parentId', foreign: inB('folderId') },
    ],
  },
  'POST /api/v1/nodes/:id/copy': {
    access: 'tenant',
    request: (w) => ({
      params: { id: w.inA.fileId },
      body: { parentId: w.inA.folderId, name: w.fresh.name() },
    }),
    allowed: 201,
    refuse: NO_WRITE,
    ids: [
      { in: 'params', name: 'id', foreign: inB('fileId') },
      { in: 'body', name: 'parentId', foreign: inB('folderId') },
    ],
  },
  'DELETE /api/v1/nodes/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: (await w.fresh.file()).id } }),
    allowed: 200,
    refuse: NO_WRITE,
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },
  'GET /api/v1/nodes/:id/versions': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId } }),
    allowed: 200,
    refuse: { guest: 404 },
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },
  'POST /api/v1/nodes/:id/versions/:versionId/restore': {
    access: 'tenant',
    request: async (w) => {
      const file = await w.fresh.file({ versions: 2 });
      return { params: { id: file.id, versionId: file.firstVersionId } };
    },
    allowed: 200,
    refuse: NO_WRITE,
    ids: [
      { in: 'params', name: 'id', foreign: inB('fileId') },
      { in: 'params', name: 'versionId', foreign: inB('versionId') },
    ],
  },
  'GET /api/v1/trash': { access: 'tenant', request: () => ({}), allowed: 200, refuse: NOT_ALLOWED },
  'POST /api/v1/trash/:id/restore': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await w.fresh.trashed() } }),
    allowed: 200,
    refuse: NOT_ALLOWED,
    ids: [{ in: 'params', name: 'id', foreign: inB('trashedId') }],
  },
  'DELETE /api/v1/trash/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await w.fresh.trashed() } }),
    allowed: 200,
    refuse: NOT_ALLOWED,
    ids: [{ in: 'params', name: 'id', foreign: inB('trashedId') }],
  },
  'GET /api/v1/shared-with-me': { access: 'tenant', request: () => ({}), allowed: 200 },
  'GET /api/v1/nodes/:id/grants': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.folderId } }),
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [{ in: 'params', name: 'id', foreign: inB('folderId') }],
  },
  'POST /api/v1/nodes/:id/grants': {
    access: 'tenant',
    request: async (w) => ({
      params: { id: await w.fresh.folder() },
      body: { userId: w.roles.guest.userId, access: 'read' },
    }),
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [
      { in: 'params', name: 'id', foreign: inB('folderId') },
      { in: 'body', name: 'userId', foreign: inB('memberId') },
    ],
  },
  'DELETE /api/v1/nodes/:id/grants/:userId': {
    access: 'tenant',
    request: async (w) => {
      const folderId = await w.fresh.folder();
      await w.fresh.grant(folderId, w.roles.guest.userId);
      return { params: { id: folderId, userId: w.roles.guest.userId } };
    },
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [
      { in: 'params', name: 'id', foreign: inB('folderId') },
      { in: 'params', name: 'userId', foreign: inB('memberId') },
    ],
  },

  // --- file bytes ---
  'PUT /api/v1/nodes/:id/files/:name': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.folderId, name: `${w.fresh.name()}.txt` }, raw: 'new bytes' }),
    allowed: 201,
    refuse: NO_WRITE,
    ids: [{ in: 'params', name: 'id', foreign: inB('folderId') }],
  },
  'GET /api/v1/nodes/:id/content': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId }, query: { version: w.inA.versionId } }),
    allowed: 200,
    refuse: { guest: 404 },
    ids: [
      { in: 'params', name: 'id', foreign: inB('fileId') },
      { in: 'query', name: 'version', foreign: inB('versionId') },
    ],
  },

  // --- resumable uploads (tus): an upload is its creator's alone, so every other role gets 404 ---
  'OPTIONS /api/v1/uploads': { access: 'public', request: () => ({}), allowed: 204 },
  'POST /api/v1/uploads': {
    access: 'tenant',
    request: (w) => ({
      headers: { ...TUS, 'upload-length': '10' },
      metadata: { filename: `${w.fresh.name()}.bin`, parentId: w.inA.folderId },
    }),
    allowed: 201,
    refuse: NO_WRITE,
    ids: [{ in: 'metadata', name: 'parentId', foreign: inB('folderId') }],
  },
  'HEAD /api/v1/uploads/:id': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.uploadId }, headers: TUS }),
    allowed: 200,
    refuse: NOT_MINE,
    ids: [{ in: 'params', name: 'id', foreign: inB('uploadId') }],
  },
  'PATCH /api/v1/uploads/:id': {
    access: 'tenant',
    request: async (w) => ({
      params: { id: await w.fresh.upload() },
      headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      raw: 'first part',
    }),
    allowed: 204,
    refuse: NOT_MINE,
    ids: [{ in: 'params', name: 'id', foreign: inB('uploadId') }],
  },
  'DELETE /api/v1/uploads/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await w.fresh.upload() }, headers: TUS }),
    allowed: 204,
    refuse: NOT_MINE,
    ids: [{ in: 'params', name: 'id', foreign: inB('uploadId') }],
  },

  // --- the organisation's own administration ---
  'GET /api/v1/tenant': { access: 'tenant', request: () => ({}), allowed: 200 },
  'PATCH /api/v1/tenant': {
    access: 'tenant',
    request: (w) => ({ body: { name: `Tenant ${w.a.slug}` } }),
    allowed: 200,
    refuse: NO_MANAGE,
  },
  'GET /api/v1/members': { access: 'tenant', request: () => ({}), allowed: 200, refuse: { guest: 403 } },
  'POST /api/v1/members/invitations': {
    access: 'tenant',
    request: (w) => ({ body: { email: `${w.fresh.name()}@example.com`, role: 'member' } }),
    allowed: 201,
    refuse: NO_MANAGE,
  },
  'GET /api/v1/members/invitations': {
    access: 'tenant',
    request: () => ({}),
    allowed: 200,
    refuse: NO_MANAGE,
  },
  'PATCH /api/v1/members/:userId': {
    access: 'tenant',
    request: async (w) => ({ params: { userId: (await w.fresh.member()).userId }, body: { role: 'guest' } }),
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [{ in: 'params', name: 'userId', foreign: inB('memberId') }],
  },
  'DELETE /api/v1/members/:userId': {
    access: 'tenant',
    request: async (w) => ({ params: { userId: (await w.fresh.member()).userId } }),
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [{ in: 'params', name: 'userId', foreign: inB('memberId') }],
  },
  'POST /api/v1/members/:userId/reset-mfa': {
    access: 'tenant',
    request: async (w) => ({ params: { userId: (await w.fresh.member()).userId } }),
    allowed: 200,
    refuse: NO_MANAGE,
    ids: [{ in: 'params', name: 'userId', foreign: inB('memberId') }],
  },
  'GET /api/v1/tokens': { access: 'tenant', request: () => ({}), allowed: 200 },
  'POST /api/v1/tokens': {
    access: 'tenant',
    request: (w) => ({ body: { name: w.fresh.name() } }),
    allowed: 201,
  },
  'DELETE /api/v1/tokens/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await w.fresh.token() } }),
    allowed: 200,
    // Someone else's token is invisible to anyone who cannot manage members.
    refuse: { guest: 404, compliance_officer: 404, member: 404 },
    ids: [{ in: 'params', name: 'id', foreign: inB('tokenId') }],
  },

  // --- share links (managed by members) ---
  'POST /api/v1/nodes/:id/shares': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId }, body: { maxDownloads: 3 } }),
    allowed: 201,
    refuse: NOT_ALLOWED,
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },
  'GET /api/v1/nodes/:id/shares': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId } }),
    allowed: 200,
    refuse: { guest: 404 },
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },
  'DELETE /api/v1/shares/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: (await w.fresh.share()).id } }),
    allowed: 200,
    refuse: NOT_ALLOWED,
    ids: [{ in: 'params', name: 'id', foreign: inB('shareId') }],
  },

  // --- activity reports: owners, admins and compliance officers only ---
  'GET /api/v1/audit/events': {
    access: 'tenant',
    request: (w) => ({ query: { file: w.inA.fileId, limit: '10' } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'GET /api/v1/audit/events.csv': {
    access: 'tenant',
    request: (w) => ({ query: { file: w.inA.fileId } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'GET /api/v1/audit/events.json': {
    access: 'tenant',
    request: () => ({ query: { action: 'file.' } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'GET /api/v1/audit/report.html': {
    access: 'tenant',
    request: (w) => ({ query: { actor: w.a.ownerId } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'GET /api/v1/nodes/:id/activity': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.fileId } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('fileId') }],
  },

  // --- the tamper-evident chain: verify, export, keys, telemetry retention and forensic holds ---
  'GET /api/v1/audit/verify': { access: 'tenant', request: () => ({}), allowed: 200, refuse: NO_AUDIT },
  'GET /api/v1/audit/export': { access: 'tenant', request: () => ({}), allowed: 200, refuse: NO_AUDIT },
  'GET /api/v1/audit/public-key': { access: 'tenant', request: () => ({}), allowed: 200 },
  'GET /api/v1/audit/telemetry-policy': {
    access: 'tenant',
    request: () => ({}),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'PUT /api/v1/audit/telemetry-policy': {
    access: 'tenant',
    request: () => ({ body: { retentionDays: 60 } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'POST /api/v1/audit/forensic-hold': {
    access: 'tenant',
    request: async (w) => {
      await setForensicHold(w, false);
      return { body: { reason: 'route matrix' } };
    },
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'POST /api/v1/audit/forensic-hold/lift': {
    access: 'tenant',
    request: async (w) => {
      await setForensicHold(w, true);
      return { body: { reason: 'route matrix' } };
    },
    allowed: 200,
    refuse: NO_AUDIT,
  },

  // --- alert rules, fired alerts, allowed IP ranges: owners, admins and compliance officers ---
  'GET /api/v1/alert-rules': { access: 'tenant', request: () => ({}), allowed: 200, refuse: NO_AUDIT },
  'POST /api/v1/alert-rules': {
    access: 'tenant',
    request: () => ({ body: { kind: 'bulk_download' } }),
    allowed: 201,
    refuse: NO_AUDIT,
  },
  'GET /api/v1/alert-rules/:id': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.alertRuleId } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertRuleId') }],
  },
  'PATCH /api/v1/alert-rules/:id': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.alertRuleId }, body: { enabled: true } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertRuleId') }],
  },
  'DELETE /api/v1/alert-rules/:id': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await freshAlertRule(w) } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertRuleId') }],
  },
  'POST /api/v1/alert-rules/:id/test': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.alertRuleId } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertRuleId') }],
  },
  'POST /api/v1/alert-rules/:id/rotate-secret': {
    access: 'tenant',
    request: async (w) => ({ params: { id: await freshAlertRule(w, 'https://hooks.example.com/custodia') } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertRuleId') }],
  },
  'GET /api/v1/alerts': { access: 'tenant', request: () => ({}), allowed: 200, refuse: NO_AUDIT },
  'POST /api/v1/alerts/:id/acknowledge': {
    access: 'tenant',
    request: (w) => ({ params: { id: w.inA.alertId } }),
    allowed: 200,
    refuse: NO_AUDIT,
    ids: [{ in: 'params', name: 'id', foreign: inB('alertId') }],
  },
  'GET /api/v1/tenant/allowed-ip-ranges': {
    access: 'tenant',
    request: () => ({}),
    allowed: 200,
    refuse: NO_AUDIT,
  },
  'PUT /api/v1/tenant/allowed-ip-ranges': {
    access: 'tenant',
    request: () => ({ body: { ranges: [] } }),
    allowed: 200,
    refuse: NO_AUDIT,
  },

  // --- the operator console (tenant C is made per call, so tenants A and B are never suspended) ---
  'GET /api/v1/operator/tenants': { access: 'operator', request: () => ({}), allowed: 200 },
  'POST /api/v1/operator/tenants': {
    access: 'operator',
    request: (w) => ({ body: { name: 'New organisation', slug: `new-${w.fresh.name()}` } }),
    allowed: 201,
  },
  'GET /api/v1/operator/tenants/:id': {
    access: 'operator',
    request: (w) => ({ params: { id: w.a.tenantId } }),
    allowed: 200,
    ids: [{ in: 'params', name: 'id' }],
  },
  'POST /api/v1/operator/tenants/:id/suspend': {
    access: 'operator',
    request: async (w) => ({ params: { id: await w.fresh.tenant() } }),
    allowed: 200,
    ids: [{ in: 'params', name: 'id' }],
  },
  'POST /api/v1/operator/tenants/:id/resume': {
    access: 'operator',
    request: async (w) => ({ params: { id: await w.fresh.tenant() } }),
    allowed: 200,
    ids: [{ in: 'params', name: 'id' }],
  },
  'PUT /api/v1/operator/tenants/:id/quota': {
    access: 'operator',
    request: async (w) => ({ params: { id: await w.fresh.tenant() }, body: { quotaBytes: 1_000_000 } }),
    allowed: 200,
    ids: [{ in: 'params', name: 'id' }],
  },
  'POST /api/v1/operator/tenants/:id/invitations': {
    access: 'operator',
    request: async (w) => ({
      params: { id: await w.fresh.tenant() },
      body: { email: `${w.fresh.name()}@example.com` },
    }),
    allowed: 201,
    ids: [{ in: 'params', name: 'id' }],
  },
  'GET /api/v1/operator/admins': { access: 'operator', request: () => ({}), allowed: 200 },
  'POST /api/v1/operator/admins/invitations': {
    access: 'operator',
    request: (w) => ({ body: { email: `${w.fresh.name()}@example.com` } }),
    allowed: 201,
  },

  // --- outside the API: probes and the API explorer ---
  'GET /healthz': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /readyz': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/docs': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/docs/json': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/docs/yaml': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/docs/static/index.html': { access: 'public', request: () => ({}), allowed: 302 },
  'GET /api/docs/static/swagger-initializer.js': { access: 'public', request: () => ({}), allowed: 200 },
  'GET /api/docs/static/*': {
    access: 'public',
    request: () => ({ params: { '*': 'swagger-ui.css' } }),
    allowed: 200,
  },
  // The web portal's pages: 503 until web/dist is built.
  'GET /*': { access: 'public', request: () => ({ params: { '*': 'files' } }), allowed: [200, 503] },
};

/**
 * HEAD routes that have no GET twin in ROUTES: @fastify/swagger-ui registers `HEAD /api/docs/`
 * on its own (its GET twin is added without the onRoute hook).
 */
const LONE_HEAD_ROUTES = new Set(['HEAD /api/docs/']);

for (const dialect of await dialectsUnderTest()) {
  describe(`route access matrix (${dialect})`, () => {
    let w: World;

    before(async () => {
      w = await createWorld(dialect);
    });
    after(async () => w.ctx.close());

    it('should have an access rule for every registered route, and no rule without a route', () => {
      const registered = listRoutes(w.ctx.app).map(key);
      const isCovered = (k: string) =>
        k in ROUTES || LONE_HEAD_ROUTES.has(k) || (k.startsWith('HEAD ') && `GET ${k.slice(5)}` in ROUTES);

      const unclassified = registered.filter((k) => !isCovered(k));
      const stale = Object.keys(ROUTES).filter((k) => !registered.includes(k));

      assert.deepEqual(
        unclassified,
        [],
        `Routes without an access rule; add them to ROUTES in test/http/route-matrix.test.ts`,
      );
      assert.deepEqual(stale, [], 'Access rules for routes that no longer exist');
    });

    for (const [routeKey, rule] of Object.entries(ROUTES)) {
      it(`should guard ${routeKey} as a ${rule.access} route`, async () => {
        const [method = '', pattern = ''] = routeKey.split(' ');
        const spec = await rule.request(w);
        const head = method === 'GET' && listRoutes(w.ctx.app).some((r) => key(r) === `HEAD ${pattern}`);
        const methods = head ? [method, 'HEAD'] : [method];

        if (rule.access !== 'public') {
          for (const m of methods) {
            await expectRefusal(w, m, pattern, spec, undefined, 401, 'not_signed_in');
            const bogus = { headers: { authorization: 'Bearer cst_not-a-real-token' } };
            await expectRefusal(w, m, pattern, spec, bogus, 401, 'not_signed_in');
            if (rule.access === 'operator') {
              await expectRefusal(w, m, pattern, spec, w.roles.owner, 403);
              await expectRefusal(w, m, pattern, spec, w.ownerSession, 403, 'operator_only');
            }
            if (rule.sessionOnly) {
              await expectRefusal(w, m, pattern, spec, w.roles.owner, rule.sessionOnly, 'session_required');
            }
            if (rule.access === 'tenant') {
              await expectRefusal(w, m, pattern, spec, w.operatorSession, 403, 'no_tenant');
            }
            for (const [role, status] of Object.entries(rule.refuse ?? {})) {
              const code = status === 403 ? 'not_allowed' : /_not_found$/;
              await expectRefusal(w, m, pattern, spec, w.roles[role as Role], status, code);
            }
            for (const slot of rule.ids ?? []) {
              await expectForeignLikeMissing(w, m, pattern, spec, rule, slot);
            }
          }
        }
        const response = await send(w, method, pattern, spec, spec.as ?? defaultCaller(w, rule));

        assert.ok(
          [rule.allowed].flat().includes(response.statusCode),
          `${routeKey} as allowed caller: ${response.statusCode} ${response.body.slice(0, 200)}`,
        );
      });
    }
  });
}

function key(route: RouteEntry): string {
  return `${route.method} ${route.url}`;
}

function defaultCaller(w: World, rule: RouteRule): Caller | undefined {
  return rule.access === 'public'
    ? undefined
    : rule.access === 'operator'
      ? w.operatorSession
      : w.roles.owner;
}

async function send(
  w: World,
  method: string,
  pattern: string,
  spec: RequestSpec,
  caller: Caller | undefined,
): Promise<LightMyRequestResponse> {
  const path = pattern.replace(/:(\w+)|\*/g, (_match, name: string | undefined) => {
    const value = spec.params?.[name ?? '*'];
    assert.ok(value !== undefined, `no value for ${name ?? '*'} in ${pattern}`);
    return name ? encodeURIComponent(value) : value;
  });
  const query = spec.query ? `?${new URLSearchParams(spec.query).toString()}` : '';
  const headers: Record<string, string> = { ...spec.headers, ...caller?.headers };
  if (spec.metadata) {
    headers['upload-metadata'] = Object.entries(spec.metadata)
      .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
      .join(',');
  }
  let payload: string | undefined;
  if (spec.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(spec.body);
  } else if (spec.raw !== undefined) {
    headers['content-type'] ??= 'application/octet-stream';
    payload = spec.raw;
  }
  return w.ctx.app.inject({
    method: method as 'GET',
    url: `${path}${query}`,
    headers,
    payload,
  });
}

async function expectRefusal(
  w: World,
  method: string,
  pattern: string,
  spec: RequestSpec,
  caller: Caller | undefined,
  status: number,
  code?: string | RegExp,
): Promise<LightMyRequestResponse> {
  const response = await send(w, method, pattern, spec, caller);
  const what = `${method} ${pattern} as ${caller ? JSON.stringify(caller.headers).slice(0, 60) : 'anonymous'}`;
  assert.equal(response.statusCode, status, `${what}: ${response.body}`);
  if (method !== 'HEAD') {
    const body = response.json() as { error: { code: string; message: string }; requestId: string };
    assert.equal(typeof body.error.message, 'string', what);
    assert.equal(typeof body.requestId, 'string', what);
    if (typeof code === 'string') {
      assert.equal(body.error.code, code, what);
    } else if (code) {
      assert.match(body.error.code, code, what);
    }
  }
  return response;
}

/** Another tenant's id must be answered exactly like an id that does not exist. */
async function expectForeignLikeMissing(
  w: World,
  method: string,
  pattern: string,
  spec: RequestSpec,
  rule: RouteRule,
  slot: IdSlot,
): Promise<void> {
  const status = slot.status ?? 404;
  const caller = spec.as ?? defaultCaller(w, rule);
  const withId = (id: string): RequestSpec => ({ ...spec, [slot.in]: { ...spec[slot.in], [slot.name]: id } });

  const missing = await expectRefusal(w, method, pattern, withId(newId()), caller, status);
  if (!slot.foreign) {
    return;
  }
  const foreign = await expectRefusal(w, method, pattern, withId(slot.foreign(w)), caller, status);

  if (method !== 'HEAD') {
    assert.equal(foreign.json().error.code, missing.json().error.code, `${method} ${pattern} ${slot.name}`);
    assert.equal(foreign.json().error.message, missing.json().error.message);
  }
}

/** Puts tenant A's forensic hold in the state the next call expects (it places or lifts one). */
async function setForensicHold(w: World, isHeld: boolean): Promise<void> {
  const owner = {
    kind: 'member',
    tenantId: w.a.tenantId,
    userId: w.a.ownerId,
    role: 'owner',
    channel: 'api',
  } as const;
  const policy = await w.ctx.services.telemetry.getPolicy(owner);
  if (isHeld && !policy.forensicHold) {
    await w.ctx.services.telemetry.placeForensicHold(owner, 'set up by the route matrix');
  } else if (!isHeld && policy.forensicHold) {
    await w.ctx.services.telemetry.liftForensicHold(owner, 'set up by the route matrix');
  }
}

interface FreshObjects {
  name(): string;
  folder(): Promise<string>;
  file(options?: { versions?: number }): Promise<{ id: string; firstVersionId: string }>;
  trashed(): Promise<string>;
  grant(folderId: string, userId: string): Promise<void>;
  member(): Promise<Caller & { userId: string }>;
  memberSession(): Promise<Caller>;
  token(): Promise<string>;
  share(options?: { password?: string }): Promise<{ id: string; token: string }>;
  invitation(): Promise<string>;
  tenant(): Promise<string>;
  upload(): Promise<string>;
}

/** Tenants A and B with one object of every kind, A's members by role, and sessions. */
async function createWorld(dialect: TestContext['dialect']): Promise<World> {
  const ctx = await createTestContext(dialect);
  const a = await createTenantFixture(ctx);
  const b = await createTenantFixture(ctx);
  const roles = {
    owner: { userId: a.ownerId, headers: a.auth },
    admin: await memberCaller(ctx, a, 'admin'),
    compliance_officer: await memberCaller(ctx, a, 'compliance_officer'),
    member: await memberCaller(ctx, a, 'member'),
    guest: await memberCaller(ctx, a, 'guest'),
  };
  const fresh = freshObjects(ctx, a);
  const [operator] = await ctx.services.store.repos.users.listOperators();
  assert.ok(operator);
  const w: World = {
    ctx,
    a,
    b,
    roles,
    ownerSession: await signIn(ctx, a.ownerEmail),
    operatorSession: await signIn(ctx, operator.email),
    inA: await tenantObjects(ctx, a),
    inB: await tenantObjects(ctx, b),
    fresh,
  };
  return w;
}

async function memberCaller(
  ctx: TestContext,
  tenant: TenantFixture,
  role: Role,
): Promise<Caller & { userId: string }> {
  const member = await addMember(ctx, tenant, role);
  return { userId: member.userId, headers: member.auth };
}

async function signIn(ctx: TestContext, email: string): Promise<Caller> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: `${API}/auth/sign-in`,
    payload: { email, password: PASSWORD },
  });
  assert.equal(response.statusCode, 200, response.body);
  const session = response.cookies.find((c) => c.name === 'sessionid');
  assert.ok(session);
  return { headers: { cookie: `sessionid=${session.value}`, 'x-csrf-token': response.json().csrfToken } };
}

async function tenantObjects(ctx: TestContext, tenant: TenantFixture): Promise<TenantObjects> {
  const fresh = freshObjects(ctx, tenant);
  const folder = await apiJson(ctx, tenant, 'POST', `${API}/nodes/${tenant.rootId}/folders`, {
    name: 'Shared folder',
  });
  const file = await fresh.file({ versions: 2 });
  const share = await fresh.share();
  const member = await addMember(ctx, tenant, 'member');
  return {
    folderId: folder.id,
    fileId: file.id,
    versionId: file.firstVersionId,
    trashedId: await fresh.trashed(),
    memberId: member.userId,
    tokenId: await fresh.token(),
    shareId: share.id,
    uploadId: await fresh.upload(),
    ...(await firedAlert(ctx, tenant, fresh)),
  };
}

/** An alert rule and an alert it fired (two files read against a threshold of one). */
async function firedAlert(
  ctx: TestContext,
  tenant: TenantFixture,
  fresh: FreshObjects,
): Promise<{ alertRuleId: string; alertId: string }> {
  const created = await apiJson(ctx, tenant, 'POST', `${API}/alert-rules`, {
    kind: 'bulk_download',
    threshold: 1,
    windowSeconds: 600,
  });
  for (const { id } of [await fresh.file(), await fresh.file()]) {
    const read = await ctx.app.inject({
      method: 'GET',
      url: `${API}/nodes/${id}/content`,
      headers: tenant.auth,
    });
    assert.equal(read.statusCode, 200, read.body);
  }
  await ctx.services.alertEvaluator.evaluateAll();
  const [alert] = await ctx.services.alerts.listAlerts(
    { kind: 'member', tenantId: tenant.tenantId, userId: tenant.ownerId, role: 'owner', channel: 'api' },
    1,
  );
  assert.ok(alert, 'the alert fired');
  return { alertRuleId: created.rule.id, alertId: alert.id };
}

async function freshAlertRule(w: World, webhookUrl?: string): Promise<string> {
  const created = await apiJson(w.ctx, w.a, 'POST', `${API}/alert-rules`, {
    kind: 'sign_in_failures',
    webhookUrl,
  });
  return created.rule.id;
}

function freshObjects(ctx: TestContext, tenant: TenantFixture): FreshObjects {
  let counter = 0;
  const name = () => `item-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const file = async (options: { versions?: number } = {}) => {
    const fileName = `${name()}.txt`;
    const first = await uploadViaApi(ctx, tenant, tenant.rootId, fileName, 'first version');
    assert.equal(first.response.statusCode, 201, first.response.body);
    for (let n = 1; n < (options.versions ?? 1); n++) {
      const next = await uploadViaApi(ctx, tenant, tenant.rootId, fileName, `version ${n + 1}`);
      assert.equal(next.response.statusCode, 200, next.response.body);
    }
    return { id: first.json.node.id, firstVersionId: first.json.version.id };
  };
  return {
    name,
    file,
    folder: async () =>
      (await apiJson(ctx, tenant, 'POST', `${API}/nodes/${tenant.rootId}/folders`, { name: name() })).id,
    trashed: async () => {
      const { id } = await file();
      await apiJson(ctx, tenant, 'DELETE', `${API}/nodes/${id}`);
      return id;
    },
    grant: async (folderId, userId) => {
      await apiJson(ctx, tenant, 'POST', `${API}/nodes/${folderId}/grants`, { userId, access: 'read' });
    },
    member: async () => memberCaller(ctx, tenant, 'member'),
    memberSession: async () => signIn(ctx, (await addMember(ctx, tenant, 'member')).email),
    token: async () => (await apiJson(ctx, tenant, 'POST', `${API}/tokens`, { name: name() })).record.id,
    share: async (options = {}) => {
      const { id } = await file();
      const created = await apiJson(ctx, tenant, 'POST', `${API}/nodes/${id}/shares`, options);
      return { id: created.share.id, token: String(created.url).split('/s/')[1] ?? '' };
    },
    invitation: async () => {
      const invite = await apiJson(ctx, tenant, 'POST', `${API}/members/invitations`, {
        email: `${name()}@example.com`,
        role: 'member',
      });
      return String(invite.link).split('#')[1] ?? '';
    },
    upload: async () => {
      const response = await ctx.app.inject({
        method: 'POST',
        url: `${API}/uploads`,
        headers: {
          ...tenant.auth,
          ...TUS,
          'upload-length': '100',
          'upload-metadata': `filename ${Buffer.from(`${name()}.bin`).toString('base64')}`,
        },
      });
      assert.equal(response.statusCode, 201, response.body);
      return String(response.headers.location).split('/').pop() ?? '';
    },
    tenant: async () => {
      const [operator] = await ctx.services.store.repos.users.listOperators();
      assert.ok(operator);
      const created = await ctx.services.tenants.createTenant(
        { kind: 'operator', userId: operator.id, channel: 'cli' },
        { name: 'Tenant C', slug: `c-${name()}` },
      );
      return created.id;
    },
  };
}

/** The few fields fixture set-up reads from create responses. */
interface Created {
  id: string;
  url: string;
  link: string;
  share: { id: string };
  record: { id: string };
  rule: { id: string };
}

async function apiJson(
  ctx: TestContext,
  tenant: TenantFixture,
  method: string,
  url: string,
  body?: object,
): Promise<Created> {
  const response = await ctx.app.inject({
    method: method as 'POST',
    url,
    headers: tenant.auth,
    ...(body ? { payload: body } : {}),
  });
  assert.ok(response.statusCode < 300, `${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json();
}
