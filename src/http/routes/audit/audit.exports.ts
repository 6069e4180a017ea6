import { createHash } from 'node:crypto';
import { describeFilter } from '../../../core/audit/report.query.ts';
import type { ReportExport } from '../../../core/audit/report.service.ts';
import type { ReportEntry, ReportFilter } from '../../../core/audit/report.types.ts';

/**
 * The text forms of an activity export, each produced entry by entry as the rows arrive, so an
 * export of millions of entries never sits in memory.
 */

const CSV_COLUMNS: readonly [string, (e: ReportEntry) => string | number | null][] = [
  ['seq', (e) => e.seq],
  ['occurred_at', (e) => new Date(e.occurredAt).toISOString()],
  ['action', (e) => e.action],
  ['outcome', (e) => e.outcome],
  ['actor_type', (e) => e.actorType],
  ['actor_id', (e) => e.actorId],
  ['actor_name', (e) => e.actorName],
  ['actor_email', (e) => e.actorEmail],
  ['target_type', (e) => e.targetType],
  ['target_id', (e) => e.targetId],
  ['file_id', (e) => e.fileId],
  ['file_name', (e) => e.fileName],
  ['channel', (e) => e.channel],
  ['ip', (e) => e.ip],
  ['user_agent', (e) => e.userAgent],
  ['details', (e) => (e.details ? JSON.stringify(e.details) : null)],
  ['entry_hash', (e) => e.entryHash],
];

/**
 * One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula (starting with
 * = + - @, or a tab or carriage return) gets a leading apostrophe first (OWASP "CSV injection"):
 * file names and user agents are chosen by whoever uploads or connects.
 */
export function csvField(value: string | number | null): string {
  if (value === null) {
    return '';
  }
  if (typeof value === 'number') {
    return String(value);
  }
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export async function* csvLines(report: ReportExport): AsyncGenerator<string> {
  // The byte order mark makes spreadsheet programs read the file as UTF-8.
  yield `\uFEFF${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`;
  for await (const entry of report.entries) {
    yield `${CSV_COLUMNS.map(([, pick]) => csvField(pick(entry))).join(',')}\r\n`;
  }
}

export async function* jsonChunks(report: ReportExport): AsyncGenerator<string> {
  const head = {
    generatedAt: new Date(report.generatedAt).toISOString(),
    filter: filterView(report.filter),
    upToSeq: report.upToSeq,
    checkpoint: report.checkpoint ?? null,
  };
  yield `${JSON.stringify(head).slice(0, -1)},"entries":[`;
  let separator = '\n';
  for await (const entry of report.entries) {
    yield separator + JSON.stringify(entry);
    separator = ',\n';
  }
  yield '\n]}\n';
}

/** The printed report's stylesheet; allowed by its hash in the page's own CSP, nothing else is. */
const PRINT_CSS = `
body{font:11pt/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:24px}
h1{font-size:18pt;margin:0 0 4px}
h2{font-size:12pt;margin:18px 0 6px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:9pt;overflow-wrap:anywhere}
.note{color:#444;font-size:10pt}
td .note{font-size:8pt}
table{border-collapse:collapse;width:100%;font-size:9pt;margin-top:8px}
thead{display:table-header-group}
th,td{border-bottom:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
tr{break-inside:avoid}
.failure td{background:#fff4e6}
@page{size:A4 landscape;margin:12mm}
@media print{body{margin:0}}
`;
export const PRINT_CSS_HASH = `'sha256-${createHash('sha256').update(PRINT_CSS).digest('base64')}'`;
/** No scripts, no other sources: the page is text and one hashed style element. */
export const PRINT_CSP = `default-src 'none'; style-src ${PRINT_CSS_HASH}; img-src 'none'; base-uri 'none'; form-action 'none'`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function* printableHtml(report: ReportExport): AsyncGenerator<string> {
  const { tenantName } = report;
  const e = escapeHtml;
  const filters = Object.entries(filterView(report.filter));
  const cp = report.checkpoint;
  yield `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Activity report — ${e(tenantName)}</title><style>${PRINT_CSS}</style></head><body>`;
  yield `<h1>Activity report — ${e(tenantName)}</h1>`;
  yield `<dl><dt>Generated</dt><dd>${e(iso(report.generatedAt))}</dd>`;
  yield `<dt>Filters</dt><dd>${filters.length === 0 ? 'none (every entry)' : filters.map(([k, v]) => `${e(k)}: ${e(String(v))}`).join('; ')}</dd></dl>`;
  yield '<h2>Signed checkpoint</h2>';
  if (cp) {
    yield `<p class="note">This report is cut at the checkpoint below: it lists matching entries up to seq ${cp.seq}; later entries are not included. Verify it with <span class="mono">custodia audit verify</span> and the public key.</p>`;
    yield `<dl><dt>Seq</dt><dd>${cp.seq}</dd><dt>Signed at</dt><dd>${e(iso(cp.createdAt))}</dd>`;
    yield `<dt>Entry hash</dt><dd class="mono">${e(cp.entryHash)}</dd><dt>Key id</dt><dd class="mono">${e(cp.keyId)}</dd>`;
    yield `<dt>Signature</dt><dd class="mono">${e(cp.signature)}</dd>`;
    yield `<dt>Public key</dt><dd class="mono">${e(cp.publicKey ?? 'not on record')}</dd></dl>`;
  } else {
    yield `<p class="note">No signed checkpoint covers this log yet. The report lists matching entries up to seq ${report.upToSeq} as of its generation time, without a signature to pin them.</p>`;
  }
  yield '<h2>Entries</h2><table><thead><tr><th>Time (UTC)</th><th>Action</th><th>Outcome</th><th>Who</th><th>File</th><th>From</th><th>Seq / entry hash</th></tr></thead><tbody>';
  let count = 0;
  for await (const entry of report.entries) {
    count++;
    yield htmlRow(entry);
  }
  yield `</tbody></table><p class="note">${count} ${count === 1 ? 'entry' : 'entries'}, newest first${
    count >= report.printLimit
      ? ` (the printable report stops at ${report.printLimit}; the CSV and JSON exports list every entry)`
      : ''
  }.</p></body></html>\n`;
}

function htmlRow(entry: ReportEntry): string {
  const e = escapeHtml;
  const who = entry.actorName
    ? `${e(entry.actorName)}<br><span class="note">${e(entry.actorEmail ?? '')}</span>`
    : e(entry.actorId ?? entry.actorType);
  const file = entry.fileId
    ? entry.fileName
      ? e(entry.fileName)
      : `<span class="mono">${e(entry.fileId)}</span>`
    : '';
  const from = [entry.ip ?? '', entry.channel].filter(Boolean).map(e).join('<br>');
  return `<tr${entry.outcome === 'success' ? '' : ' class="failure"'}><td>${e(iso(entry.occurredAt))}</td><td>${e(entry.action)}</td><td>${e(entry.outcome)}</td><td>${who}</td><td>${file}</td><td>${from}</td><td class="mono">${entry.seq}<br>${e((entry.entryHash ?? '').slice(0, 16))}</td></tr>`;
}

function filterView(filter: ReportFilter): Record<string, string> {
  const described = describeFilter(filter);
  return Object.fromEntries(
    Object.entries(described).map(([k, v]) => [k, typeof v === 'number' ? iso(v) : v]),
  );
}

function iso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
