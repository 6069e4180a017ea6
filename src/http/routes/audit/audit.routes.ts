import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Readable } from 'node:stream';
import type { Services } from '../../../compose.ts';
import type { ExportFormat, ReportExport } from '../../../core/audit/report.service.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { IdParams, withErrors } from '../common.schemas.ts';
import { csvLines, jsonChunks, PRINT_CSP, printableHtml } from './audit.exports.ts';
import { FileActivityQuerystring, ReportPageView, ReportQuerystring } from './audit.schemas.ts';

/**
 * Activity reports (owners, admins, compliance officers): pages for the portal and API, the history
 * of one file, and exports that stream every matching entry. Exports answer to GET only (no HEAD:
 * each one is recorded as audit.export).
 */
export const auditRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, reports } = services;
  const tags = ['activity'];

  app.get(
    '/audit/events',
    {
      schema: {
        tags,
        summary: 'Activity log entries, newest first, filtered and paged',
        querystring: ReportQuerystring,
        response: withErrors({ 200: ReportPageView }),
      },
    },
    async (request) => reports.listEvents(tenantActor(request, auth), request.query),
  );

  app.get(
    '/nodes/:id/activity',
    {
      schema: {
        tags,
        summary: "A file's history: every event about it, across versions, moves and shares",
        params: IdParams,
        querystring: FileActivityQuerystring,
        response: withErrors({ 200: ReportPageView }),
      },
    },
    async (request) => reports.listFileActivity(tenantActor(request, auth), request.params.id, request.query),
  );

  for (const e of EXPORTS) {
    app.get(
      e.path,
      {
        exposeHeadRoute: false,
        // No response schema: the body is a stream of text, not one serialised value.
        schema: { tags, summary: e.summary, querystring: ReportQuerystring },
      },
      async (request, reply) => {
        const report = await reports.exportEvents(tenantActor(request, auth), request.query, e.format);
        if (e.csp) {
          reply.header('content-security-policy', e.csp);
        }
        const disposition = e.isDownload ? `attachment; filename="${fileName(report, e.format)}"` : 'inline';
        return reply
          .header('content-type', e.contentType)
          .header('content-disposition', disposition)
          .header('cache-control', 'no-store')
          .send(Readable.from(e.render(report)));
      },
    );
  }
};

/** The export routes: each streams every matching entry (html: up to the signed checkpoint). */
const EXPORTS: readonly {
  path: string;
  format: ExportFormat;
  summary: string;
  contentType: string;
  isDownload: boolean;
  csp?: string;
  render: (report: ReportExport) => AsyncGenerator<string>;
}[] = [
  {
    path: '/audit/events.csv',
    format: 'csv',
    summary: 'Every matching entry as CSV (streamed)',
    contentType: 'text/csv; charset=utf-8',
    isDownload: true,
    render: csvLines,
  },
  {
    path: '/audit/events.json',
    format: 'json',
    summary: 'Every matching entry as JSON (streamed)',
    contentType: 'application/json; charset=utf-8',
    isDownload: true,
    render: jsonChunks,
  },
  {
    path: '/audit/report.html',
    format: 'html',
    summary: 'A printable report, cut at the latest signed checkpoint',
    contentType: 'text/html; charset=utf-8',
    isDownload: false,
    csp: PRINT_CSP,
    render: printableHtml,
  },
];

function fileName(report: ReportExport, extension: string): string {
  const stamp = new Date(report.generatedAt).toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `activity-${stamp}.${extension}`;
}
