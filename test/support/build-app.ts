import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Argon2PasswordHasher } from '../../src/adapters/security/argon2-hasher.ts';
import { compose, type Services } from '../../src/compose.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Clock } from '../../src/core/shared/clock.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestDatabase, type DialectName, type TestDatabase } from './dialects.ts';

export interface TestContext {
  dialect: DialectName;
  database: TestDatabase;
  services: Services;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Cheap argon2 parameters: tests create many users; production uses the OWASP defaults. */
export const testHasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });

/**
 * A real server for one dialect: fresh database, private data dir (blobs, key store, master key),
 * real services, the Fastify app ready for inject(). Nothing is mocked but the clock, when given.
 */
export async function createTestContext(
  dialect: DialectName,
  options: { env?: Record<string, string>; clock?: Clock } = {},
): Promise<TestContext> {
  const database = await createTestDatabase(dialect);
  const config = loadConfig({
    CUSTODIA_DATA_DIR: database.dataDir,
    CUSTODIA_DATABASE_URL: database.url,
    CUSTODIA_KEYSTORE_URL:
      dialect === 'sqlite' ? `sqlite:${join(database.dataDir, 'keys', 'keystore.db')}` : database.url,
    CUSTODIA_PUBLIC_URL: 'http://localhost:8080',
    CUSTODIA_LOG_LEVEL: 'silent',
    // Suites send hundreds of requests from one address; test/http/rate-limit.test.ts sets the real limits.
    CUSTODIA_RATE_LIMIT_PER_MINUTE: '100000',
    CUSTODIA_NOT_FOUND_LIMIT_PER_MINUTE: '100000',
    ...options.env,
  });
  const services = await compose(config, { hasher: testHasher, clock: options.clock });
  const app = await buildApp(services);
  await app.ready();
  return {
    dialect,
    database,
    services,
    app,
    close: async () => {
      await app.close();
      await services.close();
      await database.cleanup();
    },
  };
}

export interface TenantFixture {
  tenantId: string;
  slug: string;
  rootId: string;
  ownerId: string;
  ownerEmail: string;
  password: string;
  token: string;
  auth: { authorization: string };
}

/** An organisation with an owner and an owner API token, made through the real services. */
export async function createTenantFixture(
  ctx: TestContext,
  options: { slug?: string } = {},
): Promise<TenantFixture> {
  const s = ctx.services;
  const password = 'correct horse battery staple';
  if (await s.members.isSetupPending()) {
    await s.members.completeSetup({
      isLocalConsole: true,
      email: 'operator@example.com',
      displayName: 'Operator',
      password,
      origin: { channel: 'cli' },
    });
  }
  const [operator] = await s.store.repos.users.listOperators();
  if (!operator) {
    throw new Error('no operator');
  }
  const actor = { kind: 'operator' as const, userId: operator.id, channel: 'cli' as const };
  const slug = options.slug ?? `t-${randomBytes(4).toString('hex')}`;
  const tenant = await s.tenants.createTenant(actor, { name: `Tenant ${slug}`, slug });
  const ownerEmail = `owner@${slug}.example.com`;
  const invite = await s.members.inviteMember(actor, {
    tenantId: tenant.id,
    email: ownerEmail,
    role: 'owner',
  });
  const owner = await s.members.acceptInvitation({
    token: invite.token,
    displayName: 'Owner',
    password,
    origin: { channel: 'web' },
  });
  const token = await s.members.createToken(
    { kind: 'member', tenantId: tenant.id, userId: owner.id, role: 'owner', channel: 'cli' },
    { name: 'test' },
  );
  const root = await s.store.repos.nodes.findRoot(tenant.id);
  if (!root) {
    throw new Error('no root');
  }
  return {
    tenantId: tenant.id,
    slug,
    rootId: root.id,
    ownerId: owner.id,
    ownerEmail,
    password,
    token: token.token,
    auth: { authorization: `Bearer ${token.token}` },
  };
}

/** Adds a member with `role` and returns an API token for them. */
export async function addMember(
  ctx: TestContext,
  tenant: TenantFixture,
  role: 'owner' | 'admin' | 'compliance_officer' | 'member' | 'guest',
): Promise<{ userId: string; email: string; auth: { authorization: string } }> {
  const s = ctx.services;
  const email = `${role}-${randomBytes(3).toString('hex')}@${tenant.slug}.example.com`;
  const ownerActor = {
    kind: 'member' as const,
    tenantId: tenant.tenantId,
    userId: tenant.ownerId,
    role: 'owner' as const,
    channel: 'api' as const,
  };
  const invite = await s.members.inviteMember(ownerActor, { tenantId: tenant.tenantId, email, role });
  const user = await s.members.acceptInvitation({
    token: invite.token,
    displayName: role,
    password: tenant.password,
    origin: { channel: 'web' },
  });
  const token = await s.members.createToken(
    { kind: 'member', tenantId: tenant.tenantId, userId: user.id, role, channel: 'cli' },
    { name: 'test' },
  );
  return { userId: user.id, email, auth: { authorization: `Bearer ${token.token}` } };
}

/** Uploads bytes through the HTTP API and returns the parsed result. */
export async function uploadViaApi(
  ctx: TestContext,
  tenant: { auth: { authorization: string } },
  folderId: string,
  name: string,
  body: Buffer | string,
) {
  const response = await ctx.app.inject({
    method: 'PUT',
    url: `/api/v1/nodes/${folderId}/files/${encodeURIComponent(name)}`,
    headers: { ...tenant.auth, 'content-type': 'application/octet-stream' },
    payload: body,
  });
  return {
    response,
    json: response.json() as {
      node: { id: string; currentVersionId: string };
      version: { id: string; sha256: string; number: number };
    },
  };
}

export function randomBuffer(size: number): Buffer {
  return randomBytes(size);
}
