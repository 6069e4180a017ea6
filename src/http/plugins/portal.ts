import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` writes the portal (web/dist at the repository root). */
export const PORTAL_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/**
 * Serves the web portal (web/dist) at `/`: built files as they are, and index.html for every other
 * GET outside /api so the portal's own router can answer deep links (/setup, /files/…, /s/<token>).
 * Vite names assets by content hash, so /assets/* is cached for a year; index.html is revalidated
 * on every load so a new release is picked up at once. Unknown /api paths stay JSON 404s.
 */
export async function portalPlugin(app: FastifyInstance, options: { root?: string } = {}): Promise<void> {
  const root = options.root ?? PORTAL_DIST;
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true, dotfiles: 'deny' });

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = decodeURIComponentSafe(request.url.split('?')[0] ?? '/');
    if (path === undefined || path === '/api' || path.startsWith('/api/')) {
      return reply.callNotFound();
    }
    if (!existsSync(join(root, 'index.html'))) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(
          'The web portal has not been built yet. Run `npm run build:web` (or `npm start`, which builds it).',
        );
    }
    const relative = normalize(path).replace(/^[/\\]+/, '');
    const isInside = relative !== '' && !relative.startsWith('..') && !relative.split(sep).includes('..');
    if (isInside && isFile(join(root, relative))) {
      const isHashed = relative.startsWith(`assets${sep}`) || relative.startsWith('assets/');
      return reply
        .header('cache-control', isHashed ? 'public, max-age=31536000, immutable' : 'public, max-age=3600')
        .sendFile(relative, { cacheControl: false });
    }
    if (path.startsWith('/assets/')) {
      return reply.callNotFound(); // a stale hashed asset: never answer it with HTML
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function decodeURIComponentSafe(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
