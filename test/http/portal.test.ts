import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { errorsPlugin } from '../../src/http/plugins/errors.ts';
import { portalPlugin } from '../../src/http/plugins/portal.ts';

/** How the server hands out the built portal: caching, deep links, and the /api boundary. */
describe('portal static files', () => {
  let dist: string;
  let app: FastifyInstance;
  let empty: FastifyInstance;

  before(async () => {
    dist = mkdtempSync(join(tmpdir(), 'custodia-portal-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Custodia</title>');
    writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dist, 'favicon.svg'), '<svg/>');
    writeFileSync(join(dist, '.secret'), 'no');
    app = Fastify();
    await app.register(errorsPlugin);
    await app.register(portalPlugin, { root: dist });
    await app.ready();
    empty = Fastify();
    await empty.register(errorsPlugin);
    await empty.register(portalPlugin, { root: join(dist, 'missing') });
    await empty.ready();
  });

  after(async () => {
    await app.close();
    await empty.close();
    rmSync(dist, { recursive: true, force: true });
  });

  it('serves index.html at / and for deep links, revalidated on every load', async () => {
    for (const url of [
      '/',
      '/setup',
      '/files/0192e0a4-aaaa-7bbb-8ccc-123456789abc',
      '/s/abcdefghijklmnop',
      '/invite',
    ]) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 200, url);
      assert.match(response.headers['content-type'] as string, /^text\/html/);
      assert.equal(response.headers['cache-control'], 'no-cache', url);
      assert.match(response.body, /<title>Custodia<\/title>/);
    }
  });

  it('caches hashed assets for a year and other files for an hour', async () => {
    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(asset.headers['content-type'] as string, /javascript/);
    const icon = await app.inject({ url: '/favicon.svg' });
    assert.equal(icon.headers['cache-control'], 'public, max-age=3600');
  });

  it('answers a missing asset with 404, never with the HTML page', async () => {
    const response = await app.inject({ url: '/assets/index-old.js' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error.code, 'route_not_found');
  });

  it('leaves unknown /api paths to the JSON 404', async () => {
    for (const url of ['/api', '/api/v1/nothing-here', '/api/v2/x']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json().error.code, 'route_not_found');
    }
  });

  it('does not serve dotfiles or escape its folder', async () => {
    const dot = await app.inject({ url: '/.secret' });
    assert.notEqual(dot.body, 'no');
    const escape = await app.inject({ url: '/..%2f..%2fetc%2fpasswd' });
    assert.ok(!escape.body.includes('root:'), 'no file outside web/dist');
  });

  it('says how to build the portal when web/dist is missing', async () => {
    const response = await empty.inject({ url: '/files' });
    assert.equal(response.statusCode, 503);
    assert.match(response.body, /npm run build:web/);
  });
});
