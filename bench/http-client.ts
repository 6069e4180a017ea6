// The one HTTP client used against every server, so that client-side costs are identical.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { CLIENTS, createEndpoint, exchange, putMany, findFreePort, waitForHttp, type Endpoint, type Outcome };

/** Concurrent clients for the small-file test; also the agent's socket limit. */
const CLIENTS = 8;

/** A stalled server must fail the run, not hang it. */
const IDLE_TIMEOUT_MS = 120_000;

/** How much of a response body we keep: enough for JSON replies and error messages. */
const KEEP_BYTES = 64 * 1024;

interface Endpoint {
  port: number;
  agent: http.Agent;
  /** Sent with every request (e.g. the bearer token). */
  headers: Record<string, string>;
}

interface Exchange {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  /** A buffer, or a file on disk streamed with fs.createReadStream. */
  body?: Buffer | { file: string };
  /** Hash the response body (costs client CPU, so timed downloads leave it off). */
  hash?: boolean;
}

interface Outcome {
  status: number;
  /** The start of the response body, as text. */
  text: string;
  /** Response body bytes received. */
  bytes: number;
  sha256?: string;
  /** From sending the request to the last byte of the response. */
  seconds: number;
}

/** Keep-alive, so small-file rates measure request handling rather than TCP handshakes. */
function createEndpoint(port: number, headers: Record<string, string> = {}): Endpoint {
  return { port, headers, agent: new http.Agent({ keepAlive: true, maxSockets: CLIENTS }) };
}

function exchange(endpoint: Endpoint, ex: Exchange): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: endpoint.port,
        method: ex.method,
        path: ex.path,
        agent: endpoint.agent,
        headers: { ...endpoint.headers, ...ex.headers },
      },
      (res) => {
        const hash = ex.hash ? createHash('sha256') : undefined;
        const kept: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes < KEEP_BYTES) {
            kept.push(chunk);
          }
          bytes += chunk.length;
          hash?.update(chunk);
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(kept).subarray(0, KEEP_BYTES).toString('utf8'),
            bytes,
            sha256: hash?.digest('hex'),
            seconds: (performance.now() - started) / 1000,
          }),
        );
      },
    );
    req.setTimeout(IDLE_TIMEOUT_MS, () =>
      req.destroy(new Error(`${ex.method} ${ex.path}: no progress for 120 s`)),
    );
    req.on('error', reject);
    sendBody(req, ex.body);
  });
}

function sendBody(req: http.ClientRequest, body: Exchange['body']): void {
  if (body === undefined || Buffer.isBuffer(body)) {
    req.end(body);
    return;
  }
  // 1 MiB reads: fewer, larger writes to the socket; the same for every server.
  const stream = createReadStream(body.file, { highWaterMark: 1024 * 1024 });
  stream.on('error', (error) => req.destroy(error));
  stream.pipe(req);
}

/**
 * PUTs `bodies` with CLIENTS requests in flight at a time and returns the wall time for all.
 * Any reply not in `okStatuses` fails the run: a fast error is not a fast upload.
 */
async function putMany(
  endpoint: Endpoint,
  opts: { bodies: Buffer[]; pathFor: (index: number) => string; okStatuses: number[] },
): Promise<number> {
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < opts.bodies.length) {
      const index = next++;
      const body = opts.bodies[index] as Buffer; // index < length, checked above
      const path = opts.pathFor(index);
      const outcome = await exchange(endpoint, {
        method: 'PUT',
        path,
        body,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length },
      });
      if (!opts.okStatuses.includes(outcome.status)) {
        throw new Error(`PUT ${path} answered ${outcome.status}: ${outcome.text.slice(0, 500)}`);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return (performance.now() - started) / 1000;
}

/** A port the kernel says is free now; the server we start binds it moments later. */
async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') {
    throw new Error('could not find a free port');
  }
  return address.port;
}

/**
 * Polls GET `path` until `isReady(status)`; gives up after `timeoutMs` or when `hasExited()`
 * says the server died (then waiting longer would only hide the reason).
 */
async function waitForHttp(opts: {
  port: number;
  path: string;
  isReady: (status: number) => boolean;
  hasExited: () => boolean;
  timeoutMs: number;
}): Promise<void> {
  const endpoint = createEndpoint(opts.port);
  const deadline = Date.now() + opts.timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (opts.hasExited()) {
        throw new Error('server exited before it became ready');
      }
      const status = await exchange(endpoint, { method: 'GET', path: opts.path }).then(
        (outcome) => outcome.status,
        () => 0,
      );
      if (opts.isReady(status)) {
        return;
      }
      await sleep(100);
    }
    throw new Error(`GET ${opts.path} on port ${opts.port} was not ready within ${opts.timeoutMs} ms`);
  } finally {
    endpoint.agent.destroy();
  }
}
