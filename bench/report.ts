// Turning measurements into the table: targets, ratios, pass/fail, and docs/BENCHMARKS.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as prettier from 'prettier';
import { CLIENTS } from './http-client.ts';
import type { Machine } from './machine.ts';
import type { TransferResults } from './transfers.ts';

export { renderSection, writeBenchmarksDoc, verdicts, type Results, type CustodiaResults };

interface CustodiaResults extends TransferResults {
  /** Highest VmRSS seen by polling every 50 ms during the 1 GiB uploads and downloads. */
  peakRssMB: number;
  /** The kernel's own high-water mark of resident memory, read when the run ends. */
  hwmMB: number;
}

interface Results {
  machine: Machine;
  /** Samples per measurement; the table shows their median. */
  repeat: number;
  ddMBps: number[];
  cpMBps: number[];
  nginx: TransferResults;
  /** Absent when Custodia could not be measured; `custodiaMissing` says why. */
  custodia?: CustodiaResults;
  custodiaMissing?: string;
}

interface Target {
  text: string;
  isMet: (value: number) => boolean;
}

/** Samples per column; a missing column is not applicable or not measured. */
interface Row {
  measurement: string;
  custodia?: number[];
  nginx?: number[];
  cp?: number[];
  dd?: number[];
  target?: Target;
  /** The column Custodia's median is divided by for the ratio. */
  ratioOf?: 'dd' | 'nginx';
}

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

function buildRows(r: Results): Row[] {
  const c = r.custodia;
  // NaN (shown as such) only if a baseline has no samples, which measureAll does not allow.
  const dd = median(r.ddMBps) ?? NaN;
  const nginxDownload = median(r.nginx.downloadMBps) ?? NaN;
  return [
    {
      measurement: '1 GiB upload, until the reply (MB/s)',
      custodia: c?.uploadMBps,
      nginx: r.nginx.uploadMBps,
    },
    {
      measurement: '1 GiB durable write: upload + `sync`; `cp` + `sync`; `dd conv=fsync` (MB/s)',
      custodia: c?.uploadDurableMBps,
      nginx: r.nginx.uploadDurableMBps,
      cp: r.cpMBps,
      dd: r.ddMBps,
      target: atLeast(0.7 * dd, `≥ 0.7 × dd = ${fmt(0.7 * dd)}`),
      ratioOf: 'dd',
    },
    {
      measurement: '1 GiB download (MB/s)',
      custodia: c?.downloadMBps,
      nginx: r.nginx.downloadMBps,
      target: atLeast(0.5 * nginxDownload, `≥ 0.5 × nginx = ${fmt(0.5 * nginxDownload)}`),
      ratioOf: 'nginx',
    },
    {
      measurement: `2,000 × 4 KiB uploads, ${CLIENTS} clients (files/s)`,
      custodia: c?.smallFilesPerSecond,
      nginx: r.nginx.smallFilesPerSecond,
      target: atLeast(1000, '≥ 1,000'),
      ratioOf: 'nginx',
    },
    {
      // CPU per upload moves less with other load on the machine than files/s does.
      measurement: 'Server CPU per 4 KiB upload, user + system, all threads (µs)',
      custodia: c?.smallFilesServerCpuMs.map((ms) => ms * 1000),
    },
    {
      measurement: 'Server peak RSS, polled every 50 ms during the 1 GiB transfers (MB)',
      custodia: c && [c.peakRssMB],
      target: below(250, '< 250'),
    },
    {
      measurement: 'Server VmHWM at the end of the run (MB)',
      custodia: c && [c.hwmMB],
      target: below(250, '< 250'),
    },
  ];
}

function atLeast(threshold: number, text: string): Target {
  return { text, isMet: (value) => value >= threshold };
}

function below(threshold: number, text: string): Target {
  return { text, isMet: (value) => value < threshold };
}

/** The middle sample (the mean of the middle two for an even count); undefined for none. */
function median(samples: number[] | undefined): number | undefined {
  if (!samples || samples.length === 0) {
    return undefined;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? 0) + upper) / 2;
}

function fmt(value: number | undefined): string {
  if (value === undefined) {
    return '–';
  }
  return Math.round(value).toLocaleString('en-US');
}

function verdict(row: Row): string {
  const value = median(row.custodia);
  if (!row.target) {
    return '';
  }
  if (value === undefined) {
    return 'not run';
  }
  return row.target.isMet(value) ? 'pass' : '**FAIL**';
}

function ratio(row: Row): string {
  const value = median(row.custodia);
  const base = row.ratioOf && median(row[row.ratioOf]);
  if (value === undefined || !base || !row.ratioOf) {
    return '';
  }
  return `${(value / base).toFixed(2)} × ${row.ratioOf}`;
}

/** One line per target, for the console. */
function verdicts(r: Results): string[] {
  return buildRows(r)
    .filter((row) => row.target)
    .map(
      (row) =>
        `${verdict(row).replaceAll('*', '').padEnd(7)} ${row.measurement}: ${fmt(median(row.custodia))}`,
    );
}

function renderTable(r: Results): string {
  const header = '| measurement | Custodia | nginx WebDAV | cp | dd | target | ratio | pass/fail |';
  const lines = [header, '|---|--:|--:|--:|--:|---|---|---|'];
  for (const row of buildRows(r)) {
    const values = [row.custodia, row.nginx, row.cp, row.dd].map((samples) => fmt(median(samples)));
    const cells = [row.measurement, ...values, row.target?.text ?? '', ratio(row), verdict(row)];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Every sample behind the medians, so the spread is visible. */
function renderSamples(r: Results): string {
  if (r.repeat === 1) {
    return 'Each figure above is a single sample.';
  }
  const lines = [
    `Each figure above is the median of ${r.repeat} samples; all samples, in the order taken:`,
    '',
  ];
  const columns = [
    ['Custodia', 'custodia'],
    ['nginx', 'nginx'],
    ['cp', 'cp'],
    ['dd', 'dd'],
  ] as const;
  for (const row of buildRows(r)) {
    const parts = columns
      .filter(([, key]) => (row[key]?.length ?? 0) > 1)
      .map(([label, key]) => `${label} ${(row[key] ?? []).map(fmt).join(', ')}`);
    if (parts.length > 0) {
      lines.push(`- ${row.measurement}: ${parts.join('; ')}`);
    }
  }
  return lines.join('\n');
}

function renderMachine(m: Machine): string {
  const rows = [
    ['CPUs (`nproc`)', m.cpus],
    ['CPU model', m.cpuModel],
    ['memory', m.memory],
    ['bench disk (`df`)', m.disk],
    ['kernel', m.kernel],
    ['Node', m.node],
    ['nginx', m.nginx],
    ['load average at start', m.loadAverage],
    ['date', m.date],
  ];
  return ['| machine | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

/** The generated part of docs/BENCHMARKS.md, also printed to the console. */
function renderSection(r: Results): string {
  const parts = ['## Latest run', renderMachine(r.machine), renderTable(r), renderSamples(r)];
  if (r.custodiaMissing) {
    parts.push(`Custodia was not measured: ${r.custodiaMissing}`);
  }
  return parts.join('\n\n');
}

/**
 * Replaces the generated section and keeps everything else in the file as it is. The file is
 * run through Prettier, because `npm run lint` checks markdown too.
 */
async function writeBenchmarksDoc(path: string, r: Results): Promise<void> {
  const section = `${BEGIN}\n${renderSection(r)}\n${END}`;
  const content = existsSync(path)
    ? replaceSection(readFileSync(path, 'utf8'), section)
    : `${INTRO}\n${section}\n`;
  const options = await prettier.resolveConfig(path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await prettier.format(content, { ...options, filepath: path }));
}

function replaceSection(current: string, section: string): string {
  const begin = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (begin === -1 || end < begin) {
    return `${current.trimEnd()}\n\n${section}\n`;
  }
  return current.slice(0, begin) + section + current.slice(end + END.length);
}

/** Written once, when docs/BENCHMARKS.md does not exist yet; edit it freely afterwards. */
const INTRO = `# Benchmarks

\`npm run bench\` (\`node bench/run.ts\`) measures, in one run on the machine it runs on, how
Custodia's REST API compares with the disk underneath and with nginx serving WebDAV from the same
disk. It prints the results and rewrites the section between the \`bench:begin\` and \`bench:end\`
markers below: a description of the machine (\`nproc\`, memory, CPU model from /proc/cpuinfo, the
bench directory's disk from \`df\`, Node version, load average, date) and the table. The rest of this
file is kept as it is.

It needs nginx with WebDAV (\`apt-get install nginx-core libnginx-mod-http-dav-ext\`), about 8 GiB
free and a few minutes. Scratch data goes to \`BENCH_DIR\` (default \`./tmp-bench\`; a tmpfs is
refused because it would measure memory, not the disk) and is removed at the end, also when the run
fails or is interrupted; every server it starts listens on 127.0.0.1 only and is stopped on exit.
\`--skip-custodia\` measures only the baselines. \`BENCH_REPEAT\` (default 3) sets how many samples
each measurement takes; the table shows the median and lists every sample below it.

## What is measured

- **dd**: \`dd if=/dev/zero bs=1M count=1024 conv=fsync\`, the disk's durable sequential write rate.
- **cp**: \`cp\` of a 1 GiB random file followed by \`sync\` of the copy, timed together.
- **nginx WebDAV** and **Custodia**: the same client (Node's \`http.request\` with a keep-alive
  agent, the body streamed with \`fs.createReadStream\`) against each server:
  - PUT of the 1 GiB random file (a new name each time), timed to the server's reply, and again
    to the end of a \`sync\` that follows it. nginx never fsyncs an upload, so only the second
    figure compares with dd and cp, and it is the one the upload target is checked against; a
    server that makes the file durable before replying leaves the sync nothing to do.
  - GET of it back, counting the bytes. A second, untimed GET hashes them: the run fails if the
    sha256 differs from the uploaded file's (and for Custodia, if the upload reply's sha256 or
    size differ). Hashing is kept out of the timed GET because on a small machine sha256 is
    slower than loopback and would cap both servers.
  - 2,000 files of 4 KiB (distinct random contents) uploaded by 8 concurrent clients. Neither
    figure includes a final sync.
- **Custodia's memory**: VmRSS of the server process from /proc every 50 ms during the 1 GiB
  transfers, and VmHWM (the kernel's high-water mark) when the run ends.

Custodia runs as \`npm start\` runs it: \`node\` with the Node flags of package.json's \`start\`
script, then \`src/main.ts serve\` (started directly, so that the pid is the server's). It gets a
fresh data dir on the bench disk, SQLite and local blobs (inherited \`CUSTODIA_*\` settings are
dropped), log level warn and background jobs off; a tenant and a bearer token come from
\`custodia bootstrap\`. nginx runs with \`worker_processes auto\`,
\`sendfile on\` and no access log, its body temp path on the bench disk.

## Reading the numbers

- MB = 10^6 bytes, as dd prints it.
- Client and servers share the machine's CPUs and talk over loopback; anything else running at the
  time (see the load average) slows them. On a virtual disk, single dd samples have been seen to
  vary by a third from one second to the next; compare medians, and rerun before trusting a small
  difference.
- Both downloads are served from the page cache (the file was just written), so they measure the
  server's read path, not the disk. The source file is in the page cache too, so uploads measure
  the write side.
- Node's HTTP client is itself a limit on downloads: it reads the socket 64 KiB at a time, and on
  the 2-vCPU machine this was written on it received from nginx at about 0.4–0.7 GB/s, where curl
  fetched the same file at about 2 GB/s. The download target therefore compares the two servers
  through the same client; it does not say what nginx could do on its own.
- Results are reported as measured. A missed target shows as FAIL; the run still exits 0 unless
  something broke (a server error, or bytes that differ), which exits 1.
`;
