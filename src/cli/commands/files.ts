import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';

interface ClientOptions {
  url?: string;
  token?: string;
}

/** `custodia files ls|put|get`: a client of the REST API (bearer token), with a progress bar. */
export function registerFiles(program: Command): void {
  const files = program
    .command('files')
    .description(
      'Work with files through the API (needs CUSTODIA_API_URL and CUSTODIA_API_TOKEN, or --url/--token)',
    );
  const withClient = (c: Command) =>
    c
      .option('--url <url>', 'server address', process.env.CUSTODIA_API_URL ?? 'http://localhost:8080')
      .option('--token <token>', 'API token (default: CUSTODIA_API_TOKEN)');

  withClient(files.command('ls [path]').description('List a folder')).action(
    async (path: string | undefined, o: ClientOptions) => {
      const api = client(o);
      const folder = await api.json<{ node: { id: string } }>(
        `/nodes/resolve?path=${encodeURIComponent(path ?? '/')}`,
      );
      const list = await api.json<{
        items: Array<{ kind: string; name: string; size: number; updatedAt: number }>;
      }>(`/nodes/${folder.node.id}/children`);
      for (const item of list.items) {
        process.stdout.write(
          `${item.kind === 'folder' ? 'd' : '-'} ${String(item.size).padStart(12)} ${new Date(item.updatedAt).toISOString().slice(0, 19)} ${item.name}${item.kind === 'folder' ? '/' : ''}\n`,
        );
      }
    },
  );

  withClient(
    files
      .command('put <local> [remoteFolder]')
      .description('Upload a file into a folder (default: the top folder)'),
  ).action(async (local: string, remote: string | undefined, o: ClientOptions) => {
    const api = client(o);
    const info = await stat(local);
    const folder = await api.json<{ node: { id: string } }>(
      `/nodes/resolve?path=${encodeURIComponent(remote ?? '/')}`,
    );
    const bar = progress(info.size);
    const body = Readable.toWeb(createReadStream(local).pipe(counter(bar))) as ReadableStream;
    const response = await api.raw(`/nodes/${folder.node.id}/files/${encodeURIComponent(basename(local))}`, {
      method: 'PUT',
      body,
      duplex: 'half',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(info.size) },
    } as RequestInit);
    bar.stop();
    const result = (await response.json()) as { version: { sha256: string; number: number } };
    process.stdout.write(
      `Uploaded ${basename(local)} (version ${result.version.number}, sha256 ${result.version.sha256})\n`,
    );
  });

  withClient(files.command('get <remotePath> [local]').description('Download a file')).action(
    async (remotePath: string, local: string | undefined, o: ClientOptions) => {
      const api = client(o);
      const node = await api.json<{ node: { id: string; size: number; name: string } }>(
        `/nodes/resolve?path=${encodeURIComponent(remotePath)}`,
      );
      const response = await api.raw(`/nodes/${node.node.id}/content`);
      const bar = progress(node.node.size);
      if (!response.body) {
        throw new Error('The server sent no content');
      }
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        counter(bar),
        createWriteStream(local ?? node.node.name),
      );
      bar.stop();
    },
  );
}

function client(o: ClientOptions) {
  const token = o.token ?? process.env.CUSTODIA_API_TOKEN;
  if (!token) {
    throw new Error(
      'Give an API token with --token or CUSTODIA_API_TOKEN (create one in the portal or with `custodia token`).',
    );
  }
  const base = `${(o.url ?? 'http://localhost:8080').replace(/\/$/, '')}/api/v1`;
  const raw = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => undefined)) as
        { error?: { message?: string } } | undefined;
      throw new Error(`${response.status}: ${body?.error?.message ?? response.statusText}`);
    }
    return response;
  };
  return { raw, json: async <T>(path: string) => (await (await raw(path)).json()) as T };
}

function progress(total: number): SingleBar {
  const bar = new SingleBar(
    { format: '{bar} {percentage}% | {value}/{total} bytes | {eta}s left', noTTYOutput: false },
    Presets.shades_classic,
  );
  if (process.stderr.isTTY) {
    bar.start(total, 0);
  }
  return bar;
}

function counter(bar: SingleBar): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      if (process.stderr.isTTY) {
        bar.update(done);
      }
      callback(null, chunk);
    },
  });
}
