// nginx as a WebDAV server: the reference for what a lean C server gets out of this machine.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEndpoint, findFreePort, waitForHttp } from './http-client.ts';
import { logTail, startChild, stopChild } from './proc.ts';
import type { StorageTarget } from './transfers.ts';

export { startNginx, type RunningNginx };

/** Debian ships PROPFIND support (dav_ext) as a dynamic module. */
const DAV_EXT_MODULE = '/usr/lib/nginx/modules/ngx_http_dav_ext_module.so';

interface RunningNginx {
  target: StorageTarget;
  stop: () => Promise<void>;
}

async function startNginx(benchDir: string): Promise<RunningNginx> {
  const dir = join(benchDir, 'nginx');
  for (const sub of ['root', 'body-temp', 'temp']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  const port = await findFreePort();
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, nginxConf(dir, port));
  const logPath = join(dir, 'stderr.log');
  const child = startChild({
    cmd: 'nginx',
    // -e: errors go to our dir from the first moment, before the config is read.
    args: ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')],
    logPath,
  });
  await waitUntilUp(child, port, dir);
  const endpoint = createEndpoint(port);
  return {
    target: {
      name: 'nginx',
      endpoint,
      putPath: (name) => `/${encodeURIComponent(name)}`,
      putOk: [201, 204],
      getPath: (name) => `/${encodeURIComponent(name)}`,
    },
    stop: async () => {
      endpoint.agent.destroy();
      await stopChild(child);
    },
  };
}

async function waitUntilUp(child: ChildProcess, port: number, dir: string): Promise<void> {
  try {
    await waitForHttp({
      port,
      path: '/',
      // Any answer means it is serving (GET / on a directory without autoindex is 403).
      isReady: (status) => status > 0 && status < 500,
      hasExited: () => child.exitCode !== null,
      timeoutMs: 10_000,
    });
  } catch (error) {
    await stopChild(child);
    throw new Error(`nginx did not start (${String(error)}):\n${logTail(join(dir, 'error.log'))}`, {
      cause: error,
    });
  }
}

/**
 * A production-like WebDAV server: workers per core, sendfile, no access log (Custodia's request
 * log is off at level warn too). Every path nginx writes is inside `dir`, on the disk under test;
 * the body temp path in particular, because PUT bodies land there first and are then renamed.
 */
function nginxConf(dir: string, port: number): string {
  const loadDavExt = existsSync(DAV_EXT_MODULE) ? `load_module ${DAV_EXT_MODULE};` : '';
  const davExtMethods = loadDavExt ? 'dav_ext_methods PROPFIND OPTIONS;' : '';
  return `# Written by bench/nginx.ts for one benchmark run.
${loadDavExt}
user root;
worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
  worker_connections 1024;
}

http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_max_body_size 0;
  client_body_temp_path ${dir}/body-temp;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;

  server {
    listen 127.0.0.1:${port};
    root ${dir}/root;

    location / {
      dav_methods PUT DELETE MKCOL COPY MOVE;
      ${davExtMethods}
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}
