import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type SecureVersion } from 'node:tls';
import type { InjectOptions } from 'fastify';
import { KyselyAuditLog } from '../../src/adapters/db/repositories/audit.repository.ts';
import { systemClock } from '../../src/core/shared/clock.ts';
import {
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { freePort, runMain } from '../support/server-process.ts';

/**
 * The Transport and Health sections: strict headers on every kind of response, HTTPS with
 * TLS 1.2 as the floor, HSTS and Secure cookies under TLS, X-Forwarded-* believed only from
 * configured proxies, liveness/readiness, and a bad setting stopping start-up with one clear line.
 */

interface Certificate {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: Buffer;
}

/** A throw-away self-signed certificate for 127.0.0.1 (never committed). */
function makeCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'custodia-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { dir, certFile, keyFile, cert: readFileSync(certFile) };
}

/** The protocol a TLS handshake at exactly `version` agrees on, or the error code it fails with. */
async function handshake(port: number, version: SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        minVersion: version,
        maxVersion: version,
        rejectUnauthorized: false,
        // Lets this client offer TLS 1.1 at all (OpenSSL 3 refuses it at the default level).
        ciphers: 'DEFAULT@SECLEVEL=0',
      },
      () => {
        resolve(socket.getProtocol() ?? 'unknown');
        socket.end();
      },
    );
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(`error:${error.code ?? error.message}`));
  });
}

/** A real HTTPS request, trusting only the test certificate. */
async function httpsCall(
  port: number,
  cert: Buffer,
  options: { method?: string; path: string; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        ca: cert,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

describe('security headers on every kind of response', () => {
  let ctx: TestContext;
  let tenant: TenantFixture;
  let fileId: string;

  before(async () => {
    ctx = await createTestContext('sqlite');
    tenant = await createTenantFixture(ctx);
    fileId = (await uploadViaApi(ctx, tenant, tenant.rootId, 'page.html', '<script>alert(1)</script>')).json
      .node.id;
  });
  after(async () => ctx.close());

  const kinds: Array<{ kind: string; status: number; request: () => InjectOptions }> = [
    { kind: 'JSON', status: 200, request: () => ({ url: '/api/v1/me', headers: tenant.auth }) },
    { kind: 'an error', status: 401, request: () => ({ url: '/api/v1/me' }) },
    {
      kind: 'a validation error',
      status: 400,
      request: () => ({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        headers: { 'content-type': 'application/json' },
        payload: '{"email": 1',
      }),
    },
    { kind: 'an unknown route', status: 404, request: () => ({ url: '/api/v1/no-such-route' }) },
    {
      kind: 'file content',
      status: 200,
      request: () => ({ url: `/api/v1/nodes/${fileId}/content`, headers: tenant.auth }),
    },
    {
      kind: 'a byte range of file content',
      status: 206,
      request: () => ({
        url: `/api/v1/nodes/${fileId}/content`,
        headers: { ...tenant.auth, range: 'bytes=0-3' },
      }),
    },
    { kind: 'the API explorer', status: 200, request: () => ({ url: '/api/docs' }) },
    { kind: 'the OpenAPI document', status: 200, request: () => ({ url: '/api/docs/json' }) },
    { kind: 'the liveness probe', status: 200, request: () => ({ url: '/healthz' }) },
  ];

  for (const { kind, status, request } of kinds) {
    it(`should send CSP with frame-ancestors 'none', nosniff and a referrer policy on ${kind}`, async () => {
      const response = await ctx.app.inject(request());

      assert.equal(response.statusCode, status);
      const csp = String(response.headers['content-security-policy'] ?? '');
      assert.match(csp, /(^|;\s*)frame-ancestors 'none'(;|$)/);
      assert.equal((csp.match(/frame-ancestors/g) ?? []).length, 1);
      assert.doesNotMatch(csp, /https?:|\b[a-z0-9-]+\.[a-z]{2,}\b|\*/, 'no source outside our own origin');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    });
  }

  it('should sandbox served file content so it never runs as one of our pages', async () => {
    const response = await ctx.app.inject({ url: `/api/v1/nodes/${fileId}/content`, headers: tenant.auth });

    assert.match(String(response.headers['content-security-policy']), /(^|;\s*)sandbox(;|$)/);
    assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
  });

  it('should not mark the session cookie Secure over plain HTTP', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/sign-in',
      payload: { email: tenant.ownerEmail, password: tenant.password },
    });

    assert.equal(response.statusCode, 200);
    const session = [response.headers['set-cookie']].flat().find((c) => c?.startsWith('sessionid='));
    assert.ok(session);
    assert.doesNotMatch(session, /;\s*Secure/i);
    assert.match(session, /;\s*HttpOnly/i);
    assert.match(session, /;\s*SameSite=Lax/i);
  });
});

describe('HTTPS', () => {
  let certificate: Certificate;
  let ctx: TestContext;
  let tenant: TenantFixture;
  let port: number;

  before(async () => {
    certificate = makeCertificate();
    ctx = await createTestContext('sqlite', {
      env: { CUSTODIA_TLS_CERT_FILE: certificate.certFile, CUSTODIA_TLS_KEY_FILE: certificate.keyFile },
    });
    tenant = await createTenantFixture(ctx);
    await ctx.app.listen({ host: '127.0.0.1', port: 0 });
    const address = ctx.app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => {
    await ctx.close();
    rmSync(certificate.dir, { recursive: true, force: true });
  });

  it('should be testing with a client that can speak TLS 1.1 to a server that allows it', async () => {
    const legacy = createServer({
      cert: certificate.cert,
      key: readFileSync(certificate.keyFile),
      minVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
    const address = legacy.address();

    const agreed = await handshake(typeof address === 'object' && address ? address.port : 0, 'TLSv1.1');
    legacy.close();

    assert.equal(agreed, 'TLSv1.1');
  });

  it('should refuse a TLS 1.1 handshake', async () => {
    assert.match(await handshake(port, 'TLSv1.1'), /^error:/);
  });

  it('should accept TLS 1.2', async () => {
    assert.equal(await handshake(port, 'TLSv1.2'), 'TLSv1.2');
  });

  it('should accept TLS 1.3', async () => {
    assert.equal(await handshake(port, 'TLSv1.3'), 'TLSv1.3');
  });

  it('should send HSTS on every response, errors included', async () => {
    const ok = await httpsCall(port, certificate.cert, { path: '/healthz' });
    const missing = await httpsCall(port, certificate.cert, { path: '/api/v1/no-such-route' });

    assert.equal(ok.status, 200);
    assert.equal(missing.status, 404);
    for (const response of [ok, missing]) {
      assert.match(String(response.headers['strict-transport-security']), /^max-age=\d{8,}/);
    }
  });

  it('should mark the session and CSRF cookies Secure', async () => {
    const response = await httpsCall(port, certificate.cert, {
      method: 'POST',
      path: '/api/v1/auth/sign-in',
      body: JSON.stringify({ email: tenant.ownerEmail, password: tenant.password }),
    });

    assert.equal(response.status, 200);
    const cookies = [response.headers['set-cookie'] ?? []].flat();
    assert.equal(cookies.length, 2);
    for (const cookie of cookies) {
      assert.match(cookie, /;\s*Secure/i);
    }
  });
});

for (const dialect of await dialectsUnderTest()) {
  describe(`behind a reverse proxy (${dialect})`, () => {
    let direct: TestContext;
    let proxied: TestContext;

    before(async () => {
      direct = await createTestContext(dialect);
      proxied = await createTestContext(dialect, {
        env: { CUSTODIA_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1' },
      });
    });
    after(async () => {
      await direct.close();
      await proxied.close();
    });

    /** Creates a folder from `peer` with X-Forwarded-For `forwarded`; the IP its audit event recorded. */
    async function auditedIp(
      ctx: TestContext,
      peer: string,
      forwarded?: string,
    ): Promise<string | undefined> {
      const tenant = await createTenantFixture(ctx);
      const response = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/nodes/${tenant.rootId}/folders`,
        remoteAddress: peer,
        headers: { ...tenant.auth, ...(forwarded ? { 'x-forwarded-for': forwarded } : {}) },
        payload: { name: 'Contracts' },
      });
      assert.equal(response.statusCode, 201);
      const folderId = (response.json() as { id: string }).id;
      const events = await new KyselyAuditLog(ctx.services.database.db, systemClock).list({
        tenantId: tenant.tenantId,
        targetId: folderId,
        limit: 10,
      });
      assert.equal(events.length, 1);
      return events[0]?.ip;
    }

    it('should record the socket address and ignore X-Forwarded-For when no proxy is configured', async () => {
      assert.equal(await auditedIp(direct, '10.1.2.3', '203.0.113.50'), '10.1.2.3');
    });

    it('should record the forwarded client address when the peer is a configured proxy', async () => {
      assert.equal(await auditedIp(proxied, '10.1.2.3', '203.0.113.50'), '203.0.113.50');
    });

    it('should match a configured single proxy address as well as a range', async () => {
      assert.equal(await auditedIp(proxied, '192.168.1.1', '203.0.113.51'), '203.0.113.51');
    });

    it('should ignore addresses a client prepended to X-Forwarded-For', async () => {
      assert.equal(await auditedIp(proxied, '10.1.2.3', '198.51.100.1, 203.0.113.50'), '203.0.113.50');
    });

    it('should ignore X-Forwarded-For from a peer that is not a configured proxy', async () => {
      assert.equal(await auditedIp(proxied, '192.0.2.10', '203.0.113.50'), '192.0.2.10');
    });

    it('should send HSTS when a configured proxy terminated TLS, and not when anyone else claims it', async () => {
      const viaProxy = await proxied.app.inject({
        url: '/healthz',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'https' },
      });
      const viaStranger = await proxied.app.inject({
        url: '/healthz',
        remoteAddress: '192.0.2.10',
        headers: { 'x-forwarded-proto': 'https' },
      });
      const plainViaProxy = await proxied.app.inject({ url: '/healthz', remoteAddress: '10.1.2.3' });

      assert.match(String(viaProxy.headers['strict-transport-security']), /^max-age=\d{8,}/);
      assert.equal(viaStranger.headers['strict-transport-security'], undefined);
      assert.equal(plainViaProxy.headers['strict-transport-security'], undefined);
    });
  });

  describe(`health endpoints (${dialect})`, () => {
    let ctx: TestContext;

    before(async () => {
      ctx = await createTestContext(dialect);
    });
    after(async () => {
      await ctx.app.close();
      await ctx.database.cleanup();
    });

    it('should answer /healthz with 200', async () => {
      const response = await ctx.app.inject({ url: '/healthz' });

      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { status: 'ok' });
    });

    it('should answer /readyz with 200 when the database and blob store answer', async () => {
      const response = await ctx.app.inject({ url: '/readyz' });

      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { status: 'ok', checks: { database: 'ok', blobs: 'ok' } });
    });

    it('should answer /readyz with 503 once the database is gone, and /healthz still with 200', async () => {
      await ctx.services.close();

      const ready = await ctx.app.inject({ url: '/readyz' });
      const live = await ctx.app.inject({ url: '/healthz' });

      assert.equal(ready.statusCode, 503);
      assert.equal((ready.json() as { checks: { database: string } }).checks.database, 'unreachable');
      assert.equal(live.statusCode, 200);
    });
  });
}

describe('configuration errors at start-up', { concurrency: true }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'custodia-config-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const cases: Array<{ setting: string; env: Record<string, string> }> = [
    { setting: 'CUSTODIA_PORT', env: { CUSTODIA_PORT: 'abc' } },
    { setting: 'CUSTODIA_PORT', env: { CUSTODIA_PORT: '70000' } },
    { setting: 'CUSTODIA_FOO', env: { CUSTODIA_FOO: '1' } },
    { setting: 'CUSTODIA_DATABASE_URL', env: { CUSTODIA_DATABASE_URL: 'mysql://x' } },
    { setting: 'CUSTODIA_DATABASE_URL', env: { CUSTODIA_DATABASE_URL: 'https://db.example.com/x' } },
    { setting: 'CUSTODIA_PUBLIC_URL', env: { CUSTODIA_PUBLIC_URL: 'ftp://files.example.com' } },
    { setting: 'CUSTODIA_LOG_LEVEL', env: { CUSTODIA_LOG_LEVEL: 'loud' } },
    { setting: 'CUSTODIA_RUN_JOBS', env: { CUSTODIA_RUN_JOBS: 'maybe' } },
    { setting: 'CUSTODIA_TLS_KEY_FILE', env: { CUSTODIA_TLS_CERT_FILE: '/etc/hostname' } },
    {
      setting: 'CUSTODIA_TLS_CERT_FILE',
      env: { CUSTODIA_TLS_CERT_FILE: '/nonexistent/cert.pem', CUSTODIA_TLS_KEY_FILE: '/nonexistent/key.pem' },
    },
  ];

  for (const { setting, env } of cases) {
    it(`should exit non-zero with one line naming ${setting} for ${JSON.stringify(env)}`, async () => {
      const result = await runMain({ env: { CUSTODIA_DATA_DIR: dataDir, ...env } });

      assert.notEqual(result.code, 0);
      const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0] ?? '', new RegExp(`^custodia: configuration error: ${setting}: `));
      assert.equal(result.stdout, '');
    });
  }

  it('should name CUSTODIA_DATABASE_URL, without its password, when the database cannot be reached', async () => {
    const port = await freePort(); // nothing listens there
    const result = await runMain({
      env: {
        CUSTODIA_DATA_DIR: dataDir,
        CUSTODIA_DATABASE_URL: `postgres://app:s3cret-pw@127.0.0.1:${port}/custodia`,
      },
    });

    assert.notEqual(result.code, 0);
    const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] ?? '',
      /cannot reach the database named by CUSTODIA_DATABASE_URL \(postgres:\/\/app:\*\*\*@127\.0\.0\.1:/,
    );
    assert.doesNotMatch(result.stderr, /s3cret-pw/);
  });
});
