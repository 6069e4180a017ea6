import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WatchedEvent } from './alert.types.ts';
import { ipRanges } from './ip-ranges.ts';
import {
  accountOf,
  checksFor,
  continuesOccurrence,
  dedupeKey,
  isInWindow,
  isOverThreshold,
  measure,
  summarise,
} from './rules.ts';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const USER = '019a0000-0000-7000-8000-000000000001';

function event(seq: number, overrides: Partial<WatchedEvent> = {}): WatchedEvent {
  return {
    seq,
    occurredAt: T0 + seq * 1000,
    action: 'file.download',
    outcome: 'success',
    actorType: 'user',
    actorId: USER,
    targetId: `file-${seq}`,
    ip: '192.0.2.10',
    ...overrides,
  };
}

describe('rules', () => {
  describe('isInWindow', () => {
    it('should include an event exactly at the end and exclude one exactly a window before', () => {
      const at = T0 + 60_000;

      assert.equal(isInWindow(at, at, 60), true);
      assert.equal(isInWindow(at - 59_999, at, 60), true);
      assert.equal(isInWindow(at - 60_000, at, 60), false);
      assert.equal(isInWindow(at + 1, at, 60), false);
    });
  });

  describe('measure', () => {
    it('should count distinct files read inside the window only', () => {
      const at = T0 + 100_000;
      const events = [
        event(1, { occurredAt: at - 60_000, targetId: 'old' }), // exactly one window back: out
        event(2, { occurredAt: at - 59_999, targetId: 'a' }),
        event(3, { occurredAt: at - 10, targetId: 'a' }), // same file again
        event(4, { occurredAt: at, targetId: 'b' }),
      ];
      const [check] = checksFor({ kind: 'bulk_download', windowSeconds: 60 }, events[3]!, undefined);
      assert.ok(check);

      assert.equal(measure(check, events, at, 60), 2);
    });

    it('should ignore events written after the one being judged', () => {
      const events = [event(1), event(2), event(3)];
      const [check] = checksFor({ kind: 'sign_in_failures', windowSeconds: 60 }, failure(2), undefined);
      assert.ok(check);

      assert.equal(
        measure(
          check,
          events.map((e) => failure(e.seq)),
          failure(2).occurredAt,
          60,
        ),
        2,
      );
    });

    it('should count distinct addresses for a share link and skip expunged ones', () => {
      const link = (seq: number, ip: string | null) =>
        event(seq, { actorType: 'share_link', actorId: 'link-1', action: 'share.view', ip });
      const events = [
        link(1, '198.51.100.1'),
        link(2, '198.51.100.1'),
        link(3, null),
        link(4, '2001:db8::1'),
      ];
      const [check] = checksFor({ kind: 'share_link_many_ips', windowSeconds: 600 }, events[3]!, undefined);
      assert.ok(check);

      assert.equal(measure(check, events, events[3]!.occurredAt, 600), 2);
    });
  });

  describe('isOverThreshold', () => {
    it('should fire bulk downloads above the threshold and the others at it', () => {
      assert.equal(isOverThreshold('bulk_download', 10, 10), false);
      assert.equal(isOverThreshold('bulk_download', 11, 10), true);
      assert.equal(isOverThreshold('sign_in_failures', 9, 10), false);
      assert.equal(isOverThreshold('sign_in_failures', 10, 10), true);
      assert.equal(isOverThreshold('share_link_many_ips', 5, 5), true);
    });
  });

  describe('continuesOccurrence', () => {
    it('should end an occurrence once a whole window passes without the condition', () => {
      assert.equal(continuesOccurrence(T0, T0 + 59_999, 60), true);
      assert.equal(continuesOccurrence(T0, T0 + 60_000, 60), false);
    });
  });

  describe('checksFor', () => {
    it('should treat a token read as the account that owns the token', () => {
      const read = event(1, { actorType: 'token', actorId: `${USER}/019a-token` });

      const [check] = checksFor({ kind: 'bulk_download', windowSeconds: 60 }, read, undefined);

      assert.equal(accountOf(read), USER);
      assert.equal(check?.subject, `account:${USER}`);
      assert.equal(check?.query?.accountId, USER);
    });

    it('should ignore uploads, failed reads and alerting events', () => {
      const rule = { kind: 'bulk_download' as const, windowSeconds: 60 };

      assert.deepEqual(checksFor(rule, event(1, { action: 'file.upload' }), undefined), []);
      assert.deepEqual(checksFor(rule, event(1, { outcome: 'denied' }), undefined), []);
      assert.deepEqual(
        checksFor(
          { kind: 'outside_ip_ranges', windowSeconds: 60 },
          event(1, { action: 'alert.fired' }),
          ipRanges(['10.0.0.0/8']),
        ),
        [],
      );
    });

    it('should check the account before the address for sign-in failures', () => {
      const checks = checksFor({ kind: 'sign_in_failures', windowSeconds: 60 }, failure(1), undefined);

      assert.deepEqual(
        checks.map((c) => c.subject),
        [`account:${USER}`, 'ip:192.0.2.10'],
      );
    });

    it('should flag member activity outside the allowed ranges only', () => {
      const rule = { kind: 'outside_ip_ranges' as const, windowSeconds: 3600 };
      const ranges = ipRanges(['192.0.2.0/24', '2001:db8::/32']);

      assert.equal(checksFor(rule, event(1, { ip: '192.0.2.200' }), ranges).length, 0);
      assert.equal(checksFor(rule, event(1, { ip: '2001:db8:1::5' }), ranges).length, 0);
      assert.equal(checksFor(rule, event(1, { ip: '::ffff:192.0.2.7' }), ranges).length, 0);
      assert.equal(
        checksFor(rule, event(1, { ip: '203.0.113.9' }), ranges)[0]?.subject,
        `account:${USER}|ip:203.0.113.9`,
      );
      assert.equal(
        checksFor(rule, event(1, { ip: '203.0.113.9' }), ipRanges([])).length,
        0,
        'no ranges: anywhere',
      );
      assert.equal(
        checksFor(rule, event(1, { ip: '203.0.113.9', actorType: 'share_link', actorId: 'l' }), ranges)
          .length,
        0,
        'share-link visitors are not members',
      );
    });
  });

  describe('dedupeKey', () => {
    it('should be the same for the same subject and trigger', () => {
      assert.equal(dedupeKey('ip:192.0.2.1', 7), dedupeKey('ip:192.0.2.1', 7));
      assert.notEqual(dedupeKey('ip:192.0.2.1', 7), dedupeKey('ip:192.0.2.1', 8));
    });
  });

  describe('summarise', () => {
    it('should name the account and the count but no file', () => {
      const [check] = checksFor({ kind: 'bulk_download', windowSeconds: 600 }, event(1), undefined);
      assert.ok(check);

      const text = summarise({
        kind: 'bulk_download',
        check,
        count: 51,
        windowSeconds: 600,
        accountLabel: 'Ann <ann@x.example>',
      });

      assert.equal(text, 'Ann <ann@x.example> read 51 files within 10 minutes');
    });
  });
});

function failure(seq: number): WatchedEvent {
  return event(seq, { action: 'auth.sign_in', outcome: 'failure', targetId: null });
}
