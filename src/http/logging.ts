import type { FastifyServerOptions } from 'fastify';

/**
 * Structured request logs that never carry secrets: no Authorization or Cookie headers, no query
 * strings (they can hold tickets), share-link / invitation tokens and file names cut out of paths.
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      censor: '[redacted]',
    },
    // `*.password` and `*.token` are censored here rather than as wildcard redact paths: pino runs a
    // wildcard redactor over the bindings of every child logger, i.e. on every request, and that
    // was a few per cent of the CPU of a small upload. This runs only when a line is written.
    formatters: { log: censorSecrets },
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

const SECRET_KEYS = ['password', 'token'];

/** The logged object with `<any key>.password` and `<any key>.token` replaced by '[redacted]'. */
export function censorSecrets(object: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(object)) {
    if (typeof value !== 'object' || value === null || !SECRET_KEYS.some((k) => Object.hasOwn(value, k))) {
      continue;
    }
    censored ??= { ...object };
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const secret of SECRET_KEYS) {
      if (Object.hasOwn(copy, secret)) {
        copy[secret] = '[redacted]';
      }
    }
    censored[key] = copy;
  }
  return censored ?? object;
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
