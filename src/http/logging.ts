import type { FastifyServerOptions } from 'fastify';

/**
 * Structured request logs that never carry secrets: no Authorization or Cookie headers, no query
 * strings (they can hold tickets), share-link / invitation tokens and file names cut out of paths.
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: redactUrl(req.url),
        requestId: req.id,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

export function redactUrl(url: string): string {
  const path = url.split('?')[0] ?? '';
  return (
    path
      .replace(/\/(s|shares)\/[A-Za-z0-9_-]{16,}/g, '/$1/[token]')
      // File names are personal data as often as not ("Thandi Nkosi payslip.pdf"): log ids only.
      .replace(/\/files\/[^/]+/g, '/files/[name]')
  );
}
