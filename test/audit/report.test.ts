import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signCheckpoint } from '../../src/core/audit/chain.ts';
import { newId } from '../../src/core/shared/ids.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';

/**
 * Activity reports over HTTP with real services and a real database: a file's report lists exactly
 * the events that touched it, paging returns every entry once, filters combine, exports stream and
 * are themselves recorded, the printable report is cut at the signed checkpoint, and only owners,
 * admins and compliance officers read any of it.
 */

const API = '/api/v1';

interface Entry {
  seq: number;
  action: string;
  actorId: string | null;
  actorName: string | null;
  fileId: string | null;
  fileName: string | null;
  ip: string | null;
  occurredAt: number;
  details: Record<string, unknown> | null;
}
interface Page {
  entries: Entry[];
  nextCursor: string | null;
}
type Auth = { authorization: string };

for (const dialect of await dialectsUnderTest()) {
  describe(`activity reports (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;
    let officer: Auth & { userId: string };
    let member: Auth;
    let fileId: string;
    let otherFileId: string;
    let bFileId: string;
    /** The seqs of A's log written while acting on `fileId`, and while acting on anything else. */
    const aboutFile = new Set<number>();
    const notAboutFile = new Set<number>();

    const get = (url: string, auth: Auth = a.auth, remoteAddress?: string) =>
      ctx.app.inject({ method: 'GET', url, headers: auth, ...(remoteAddress ? { remoteAddress } : {}) });
    const call = async (
      method: 'GET' | 'POST' | 'PATCH' | 'PUT',
      url: string,
      body?: object,
      headers: Record<string, string> = a.auth,
    ) => {
      const response = await ctx.app.inject({ method, url, headers, ...(body ? { payload: body } : {}) });
      assert.ok(response.statusCode < 300, `${method} ${url}: ${response.statusCode} ${response.body}`);
      return response;
    };
    const headSeq = async (tenantId = a.tenantId) => {
      const row = await ctx.services.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('log_id', '=', tenantId)
        .executeTakeFirst();
      return Number(row?.seq ?? 0);
    };
    /** Runs `act` and files every entry it wrote under `into`; returns them. */
    const track = async (into: Set<number>, act: () => Promise<unknown>) => {
      const before = await headSeq();
      await act();
      const after = await headSeq();
      assert.ok(after > before, 'the step wrote no audit entry');
      for (let seq = before + 1; seq <= after; seq++) {
        into.add(seq);
      }
    };
    const page = async (query: string, auth: Auth = a.auth): Promise<Page> => {
      const response = await get(`${API}/audit/events?${query}`, auth);
      assert.equal(response.statusCode, 200, response.body);
      return response.json();
    };
    const allPages = async (query: string, limit: number): Promise<Entry[]> => {
      const out: Entry[] = [];
      let cursor: string | null = null;
      do {
        const next: Page = await page(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(next.entries.length <= limit);
        out.push(...next.entries);
        cursor = next.nextCursor;
      } while (cursor);
      return out;
    };

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
      officer = await addMember(ctx, a, 'compliance_officer').then((m) => ({ ...m.auth, userId: m.userId }));
      member = (await addMember(ctx, a, 'member')).auth;
      const folder = (await call('POST', `${API}/nodes/${a.rootId}/folders`, { name: 'Archive' })).json();

      // Everything done with one file: upload, download, rename, move, new version, share, a
      // download through the share link, restore of the first version.
      let firstVersionId = '';
      let shareToken = '';
      await track(aboutFile, async () => {
        const up = await uploadViaApi(ctx, a, a.rootId, 'contract.txt', 'first');
        assert.equal(up.response.statusCode, 201);
        fileId = up.json.node.id;
        firstVersionId = up.json.version.id;
      });
      await track(notAboutFile, async () => {
        otherFileId = (await uploadViaApi(ctx, a, a.rootId, 'other.txt', 'other')).json.node.id;
      });
      await track(aboutFile, () => call('GET', `${API}/nodes/${fileId}/content`));
      await track(aboutFile, () => call('PATCH', `${API}/nodes/${fileId}`, { name: 'contract-signed.txt' }));
      await track(aboutFile, () => call('PATCH', `${API}/nodes/${fileId}`, { parentId: folder.id }));
      await track(notAboutFile, () => get(`${API}/nodes/${otherFileId}/content`, a.auth, '203.0.113.7'));
      await track(aboutFile, async () => {
        const next = await uploadViaApi(ctx, a, folder.id, 'contract-signed.txt', 'second');
        assert.equal(next.response.statusCode, 200, next.response.body);
      });
      await track(aboutFile, async () => {
        const share = (await call('POST', `${API}/nodes/${fileId}/shares`, {})).json();
        shareToken = String(share.url).split('/s/')[1] ?? '';
      });
      await track(aboutFile, () =>
        ctx.app.inject({ method: 'GET', url: `${API}/public/shares/${shareToken}/content` }),
      );
      await track(aboutFile, () => call('POST', `${API}/nodes/${fileId}/versions/${firstVersionId}/restore`));
      await track(notAboutFile, () => call('POST', `${API}/nodes/${a.rootId}/folders`, { name: 'Later' }));

      const inB = await uploadViaApi(ctx, b, b.rootId, 'contract.txt', 'b');
      bFileId = inB.json.node.id;
      await call('GET', `${API}/nodes/${bFileId}/content`, undefined, b.auth);
    });
    after(async () => ctx?.close());

    describe('by file', () => {
      it('should list exactly the events that touched the file, across versions, moves and shares', async () => {
        const report = await page(`file=${fileId}&limit=500`);

        assert.deepEqual(
          report.entries.map((e) => e.seq),
          [...aboutFile].sort((x, y) => y - x),
        );
        assert.ok(report.entries.every((e) => e.fileId === fileId));
        assert.equal(report.nextCursor, null);
        const actions = new Set(report.entries.map((e) => e.action));
        for (const action of [
          'file.upload',
          'file.download',
          'file.version_add',
          'share.create',
          'file.version_restore',
        ]) {
          assert.ok(actions.has(action), `${action} missing from ${[...actions].join(', ')}`);
        }
        assert.ok(report.entries.some((e) => e.seq && [...notAboutFile].includes(e.seq)) === false);
      });

      it('should show the file under its current name and the owner by name', async () => {
        const report = await page(`file=${fileId}&action=file.upload`);

        assert.equal(report.entries.length, 1);
        assert.equal(report.entries[0]?.fileName, 'contract-signed.txt');
        assert.equal(report.entries[0]?.actorName, 'Owner');
      });

      it("should answer another tenant's file id exactly like an unknown one: an empty report", async () => {
        const foreign = await page(`file=${bFileId}`);
        const unknown = await page(`file=${newId()}`);

        assert.deepEqual(foreign, { entries: [], nextCursor: null });
        assert.deepEqual(unknown, foreign);
      });

      it('should serve the same history at /nodes/:id/activity, and 404 for a foreign file', async () => {
        const response = await get(`${API}/nodes/${fileId}/activity?limit=500`, officer);
        const foreign = await get(`${API}/nodes/${bFileId}/activity`, officer);

        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(
          (response.json() as Page).entries.map((e) => e.seq),
          [...aboutFile].sort((x, y) => y - x),
        );
        assert.equal(foreign.statusCode, 404);
        assert.equal(foreign.json().error.code, 'node_not_found');
      });
    });

    describe('paging and filters', () => {
      it('should return every entry of the log exactly once, newest first, over small pages', async () => {
        const all = await ctx.services.database.db
          .selectFrom('audit_events')
          .select('seq')
          .where('log_id', '=', a.tenantId)
          .orderBy('seq', 'desc')
          .execute();

        const paged = await allPages('', 3);

        assert.deepEqual(
          paged.map((e) => e.seq),
          all.map((r) => Number(r.seq)),
        );
      });

      it('should page a filtered report without losing or repeating an entry', async () => {
        const paged = await allPages(`file=${fileId}`, 2);

        assert.deepEqual(
          paged.map((e) => e.seq),
          [...aboutFile].sort((x, y) => y - x),
        );
      });

      it('should match an action family by prefix, and nothing outside it', async () => {
        const all = await allPages('', 500);

        const family = await allPages('action=file.', 4);
        const starred = await page('action=file.*&limit=500');

        const expected = all.filter((e) => e.action.startsWith('file.')).map((e) => e.seq);
        assert.ok(expected.length >= 5);
        assert.deepEqual(
          family.map((e) => e.seq),
          expected,
        );
        assert.deepEqual(
          starred.entries.map((e) => e.seq),
          expected,
        );
      });

      it('should find a user by id, including what they did through their API tokens', async () => {
        const all = await allPages('', 500);

        const byOwner = await allPages(`actor=${a.ownerId}`, 5);

        const expected = all.filter((e) => e.actorId?.split('/')[0] === a.ownerId).map((e) => e.seq);
        assert.ok(
          all.some((e) => e.actorId?.startsWith(`${a.ownerId}/`)),
          'the owner acted through a token',
        );
        assert.deepEqual(
          byOwner.map((e) => e.seq),
          expected,
        );
      });

      it('should find the events from one address', async () => {
        const report = await page('ip=203.0.113.7');

        assert.deepEqual(
          report.entries.map((e) => [e.action, e.fileId]),
          [['file.download', otherFileId]],
        );
      });

      it('should combine a period with other filters', async () => {
        const ofFile = (await page(`file=${fileId}&limit=500`)).entries;
        const oldest = ofFile.at(-1);
        const newest = ofFile[0];
        assert.ok(oldest && newest);

        const exact = await page(
          `file=${fileId}&from=${oldest.occurredAt}&to=${oldest.occurredAt}&action=file.upload`,
        );
        const future = await page(`file=${fileId}&from=${newest.occurredAt + 60_000}`);

        assert.deepEqual(
          exact.entries.map((e) => e.seq),
          [oldest.seq],
        );
        assert.deepEqual(future.entries, []);
      });

      it('should refuse bad input with 400 and name the field', async () => {
        const cases: [string, string][] = [
          ['action=FILE!', 'action'],
          ['action=file..download', 'action'],
          ['from=2026-11-22&to=2026-11-01', 'to'],
          ['from=2026-02-30', 'from'],
          ['to=yesterday', 'to'],
          ['cursor=garbage', 'cursor'],
          ['cursor=c1.MA', 'cursor'],
          ['limit=0', 'limit'],
          ['limit=100000', 'limit'],
          ['limit=ten', 'limit'],
          ['ip=999.1.1.1', 'ip'],
          ['ip=example.com', 'ip'],
          ['file=not-an-id', 'file'],
          ['actor=someone', 'actor'],
        ];
        for (const [query, field] of cases) {
          const response = await get(`${API}/audit/events?${query}`);

          assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
          assert.equal(response.json().error.code, 'invalid_report_query', query);
          assert.equal(response.json().error.details.field, field, query);
        }
        const unknown = await get(`${API}/audit/events?tenant=${b.tenantId}`);
        assert.equal(unknown.statusCode, 400);
        assert.equal(unknown.json().error.code, 'invalid_request');
      });
    });

    describe('who may read', () => {
      it('should let owners and compliance officers read, and refuse members with 403', async () => {
        const asOfficer = await get(`${API}/audit/events`, officer);
        const asMember = await get(`${API}/audit/events`, member);
        const memberExport = await get(`${API}/audit/events.csv`, member);
        const memberFile = await get(`${API}/nodes/${fileId}/activity`, member);

        assert.equal(asOfficer.statusCode, 200);
        for (const refused of [asMember, memberExport, memberFile]) {
          assert.equal(refused.statusCode, 403, refused.body);
          assert.equal(refused.json().error.code, 'not_allowed');
        }
      });

      it("should never show another tenant's entries", async () => {
        const bSeqs = await ctx.services.database.db
          .selectFrom('audit_events')
          .select('id')
          .where('log_id', '=', b.tenantId)
          .execute();

        const all = await allPages('', 500);

        assert.ok(bSeqs.length > 0);
        assert.ok(all.every((e) => e.fileId !== bFileId));
        assert.equal(all.length, await headSeq());
      });
    });

    describe('exports', () => {
      it('should stream CSV with quoting and formula cells neutralised, and record the export', async () => {
        const hostileAgent = '=HYPERLINK("http://evil.example","click, here")';
        const hostile = await ctx.app.inject({
          method: 'GET',
          url: `${API}/nodes/${otherFileId}/content`,
          headers: { ...a.auth, 'user-agent': hostileAgent },
        });
        assert.equal(hostile.statusCode, 200);
        await call('PATCH', `${API}/nodes/${otherFileId}`, { name: '-2+3 "quoted", name.txt' });

        const response = await get(`${API}/audit/events.csv?file=${otherFileId}`, officer);

        assert.equal(response.statusCode, 200, response.body);
        assert.match(String(response.headers['content-type']), /^text\/csv/);
        assert.match(
          String(response.headers['content-disposition']),
          /^attachment; filename="activity-\d{8}T\d{6}\.csv"$/,
        );
        const rows = parseCsv(response.body.replace(/^\uFEFF/, ''));
        const header = rows[0] ?? [];
        const column = (name: string) => header.indexOf(name);
        const body = rows.slice(1);
        assert.equal(body.length, (await page(`file=${otherFileId}&limit=500`)).entries.length);
        const agents = body.map((r) => r[column('user_agent')]);
        assert.ok(agents.includes(`'${hostileAgent}`), `agents: ${agents.join(' | ')}`);
        assert.ok(body.every((r) => r[column('file_name')] === `'-2+3 "quoted", name.txt`));
        assert.ok(body.every((r) => r.length === header.length));

        const recorded = await page(`action=audit.export&actor=${officer.userId}`);
        assert.equal(recorded.entries[0]?.details?.format, 'csv');
        assert.deepEqual(recorded.entries[0]?.details?.filter, { file: otherFileId });
      });

      it('should stream JSON with every matching entry', async () => {
        const response = await get(`${API}/audit/events.json?file=${fileId}`);

        assert.equal(response.statusCode, 200, response.body);
        const body = response.json() as { filter: Record<string, string>; entries: Entry[] };
        assert.deepEqual(body.filter, { file: fileId });
        assert.deepEqual(
          body.entries.map((e) => e.seq),
          [...aboutFile].sort((x, y) => y - x),
        );
      });

      it('should cut the printable report at the latest signed checkpoint and show it', async () => {
        // A checkpoint as the checkpointing job writes it, over the log's current last entry.
        const db = ctx.services.database.db;
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const keyId = `report-test-${newId()}`;
        await db
          .insertInto('audit_signing_keys')
          .values({
            key_id: keyId,
            public_key: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            created_at: Date.now(),
            retired_at: null,
          })
          .execute();
        const last = await db
          .selectFrom('audit_events')
          .select(['seq', 'entry_hash'])
          .where('log_id', '=', a.tenantId)
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow();
        assert.ok(last.entry_hash, 'append writes the chain hash');
        const checkpoint = signCheckpoint(
          {
            logId: a.tenantId,
            seq: Number(last.seq),
            entryHash: last.entry_hash,
            createdAt: Date.now(),
            keyId,
          },
          privateKey,
        );
        await db
          .insertInto('audit_checkpoints')
          .values({
            log_id: checkpoint.logId,
            seq: checkpoint.seq,
            entry_hash: checkpoint.entryHash,
            created_at: checkpoint.createdAt,
            key_id: checkpoint.keyId,
            signature: checkpoint.signature,
          })
          .execute();
        const afterCut = await uploadViaApi(ctx, a, a.rootId, 'after-the-cut.txt', 'late');

        const response = await get(`${API}/audit/report.html`, officer);

        assert.equal(response.statusCode, 200, response.body);
        const html = response.body;
        for (const fact of [`${checkpoint.seq}`, checkpoint.entryHash, keyId, checkpoint.signature]) {
          assert.ok(html.includes(fact), `${fact} missing from the report`);
        }
        assert.ok(html.includes('contract-signed.txt'));
        assert.ok(!html.includes('after-the-cut.txt'), 'an entry after the checkpoint is listed');
        assert.ok(afterCut.json.node.id);
        const csp = String(response.headers['content-security-policy']);
        const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
        const hash = createHash('sha256').update(style).digest('base64');
        assert.ok(csp.includes(`'sha256-${hash}'`), csp);
        assert.ok(!csp.includes('unsafe-inline'));
        assert.match(csp, /default-src 'none'/);
        assert.ok(!/<script/i.test(html));
      });

      it('should escape what users control in the printable report', async () => {
        await call('PATCH', `${API}/nodes/${otherFileId}`, { name: '<img src=x onerror=alert(1)>.txt' });

        const response = await get(`${API}/audit/report.html?file=${otherFileId}`, officer);

        assert.equal(response.statusCode, 200);
        assert.ok(!response.body.includes('<img'));
        assert.ok(response.body.includes('&#60;img src=x onerror=alert(1)&#62;.txt'));
      });
    });
  });
}

/** RFC 4180, enough to read back what the export wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  return rows;
}
