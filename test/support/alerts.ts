import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TenantFixture, TestContext } from './build-app.ts';

/**
 * What the alert tests need from the outside world, for real: an HTTP receiver on 127.0.0.1 that
 * records each webhook it gets, and an SMTP server on loopback (Debian's python3-aiosmtpd) that
 * writes each message to a directory. Nothing here fakes a transport.
 */
export interface ReceivedWebhook {
  headers: IncomingMessage['headers'];
  body: string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** The status the next requests get (200 by default). */
  respondWith(status: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let status = 200;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/hooks/custodia`,
    port: actual,
    received,
    respondWith: (next) => {
      status = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (yet): bound once, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const PYTHON = '/usr/bin/python3';

/**
 * Whether aiosmtpd can run. Outside CI a missing package skips the e-mail tests with a message; in CI
 * (CI=1, set by .ci/run, which installs python3-aiosmtpd) it is an error, never a silent skip.
 */
export function aiosmtpdProblem(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import aiosmtpd'], { encoding: 'utf8' });
  if (probe.status === 0) {
    return undefined;
  }
  const message =
    `python3-aiosmtpd is not installed (apt-get install -y python3-aiosmtpd): ${probe.stderr || probe.error?.message || ''}`.trim();
  if (process.env.CI) {
    throw new Error(`The e-mail tests need a real SMTP server: ${message}`);
  }
  return message;
}

export interface SmtpSink {
  url: string;
  /** Messages received so far, as raw text (first line: X-Envelope-To). */
  messages(): string[];
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'custodia-smtp-'));
  const child: ChildProcess = spawn(
    PYTHON,
    [join(import.meta.dirname, 'smtp_sink.py'), String(port), directory],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => line === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`the SMTP server exited (${code}): ${stderr}`)));
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages: () =>
      readdirSync(directory)
        .filter((f) => f.endsWith('.eml'))
        .sort()
        .map((f) => readFileSync(join(directory, f), 'utf8')),
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Sends `method url` as the tenant's owner (API token) from `ip`. */
export async function asOwner(
  ctx: TestContext,
  tenant: TenantFixture,
  input: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; ip?: string; payload?: unknown },
) {
  return ctx.app.inject({
    method: input.method,
    url: input.url,
    headers: tenant.auth,
    remoteAddress: input.ip ?? '192.0.2.10',
    ...(input.payload === undefined ? {} : { payload: input.payload as Record<string, unknown> }),
  });
}
