import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor, InvalidReportQueryError, parseReportQuery } from './report.query.ts';

const ID = '01a204d9-c5cd-7408-9b94-8cd891efa226';
const TOKEN = '01a204d9-c606-76f0-9037-3fc305bd0c3a';

describe('parseReportQuery', () => {
  it('should read every filter and default the page size to 50', () => {
    const query = parseReportQuery({
      file: ID,
      actor: `${ID}/${TOKEN}`,
      ip: '2001:DB8::1',
      action: 'file.download',
    });

    assert.deepEqual(query, {
      filter: {
        fileId: ID,
        actorId: `${ID}/${TOKEN}`,
        ip: '2001:db8::1',
        action: { kind: 'exact', value: 'file.download' },
      },
      beforeSeq: undefined,
      limit: 50,
    });
  });

  it('should read `file.` and `file.*` as the same action family', () => {
    const plain = parseReportQuery({ action: 'file.' });
    const starred = parseReportQuery({ action: 'file.*' });

    assert.deepEqual(plain.filter.action, { kind: 'prefix', value: 'file.' });
    assert.deepEqual(starred.filter.action, plain.filter.action);
  });

  it('should take a whole UTC day for a date: from its first millisecond, to its last', () => {
    const query = parseReportQuery({ from: '2026-11-01', to: '2026-11-01' });

    assert.equal(query.filter.from, Date.UTC(2026, 10, 1));
    assert.equal(query.filter.to, Date.UTC(2026, 10, 2) - 1);
  });

  it('should accept a date-time with a zone and epoch milliseconds', () => {
    const query = parseReportQuery({ from: '2026-11-01T08:00:00+02:00', to: '1800000000000' });

    assert.equal(query.filter.from, Date.UTC(2026, 10, 1, 6));
    assert.equal(query.filter.to, 1_800_000_000_000);
  });

  it('should accept a period of one instant and refuse one that ends before it starts', () => {
    assert.doesNotThrow(() => parseReportQuery({ from: '1000', to: '1000' }));
    assert.throws(
      () => parseReportQuery({ from: '1001', to: '1000' }),
      (e: unknown) => e instanceof InvalidReportQueryError && e.details?.field === 'to',
    );
  });

  it('should bound the page size to 1..500', () => {
    assert.equal(parseReportQuery({ limit: '1' }).limit, 1);
    assert.equal(parseReportQuery({ limit: '500' }).limit, 500);
    for (const limit of ['0', '501', '-1', '1.5', '', ' 5']) {
      assert.throws(() => parseReportQuery({ limit }), InvalidReportQueryError, limit);
    }
  });

  it('should refuse what is not an id, an action, an address or a date', () => {
    const bad: [Record<string, string>, string][] = [
      [{ file: 'x' }, 'file'],
      [{ actor: `${ID}/${TOKEN}/x` }, 'actor'],
      [{ actor: `${ID}/` }, 'actor'],
      [{ ip: '10.0.0.256' }, 'ip'],
      [{ ip: '10.0.0.0/8' }, 'ip'],
      [{ action: 'File.Download' }, 'action'],
      [{ action: '*' }, 'action'],
      [{ action: 'file.*.x' }, 'action'],
      [{ from: '2026-13-01' }, 'from'],
      [{ from: '2026-11-01T08:00:00' }, 'from'],
      [{ to: '99999999999999999' }, 'to'],
    ];
    for (const [raw, field] of bad) {
      assert.throws(
        () => parseReportQuery(raw),
        (e: unknown) => e instanceof InvalidReportQueryError && e.details?.field === field,
        JSON.stringify(raw),
      );
    }
  });
});

describe('encodeCursor / decodeCursor', () => {
  it('should round-trip a seq', () => {
    assert.equal(decodeCursor(encodeCursor(1)), 1);
    assert.equal(decodeCursor(encodeCursor(9_007_199_254_740)), 9_007_199_254_740);
  });

  // A cursor is a position in the caller's own log, not a secret: any seq it names is fine to page from.
  it('should refuse a cursor it did not make', () => {
    const good = encodeCursor(42);
    for (const cursor of ['', 'c1.', 'c2.NDI', 'c1.MA', 'c1.LTE', `${good}=`, 'garbage']) {
      assert.throws(() => decodeCursor(cursor), InvalidReportQueryError, cursor);
    }
  });
});
