import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type DatabaseHandle } from '../adapters/db/database.ts';
import { migrateToLatest } from '../adapters/db/migrate.ts';
import { MIGRATIONS } from '../adapters/db/migrations/index.ts';
import type { Database } from '../adapters/db/tables.ts';
import { createTestDatabase, dialectsUnderTest, type TestDatabase } from '../../test/support/dialects.ts';
import { JobRunner } from './runner.ts';

class FakeClock {
  time = Date.UTC(2026, 10, 22, 12, 0, 0);
  now = () => this.time;
}

for (const dialect of await dialectsUnderTest()) {
  describe(`${JobRunner.name} (${dialect})`, () => {
    let testDb: TestDatabase;
    let handle: DatabaseHandle<Database>;

    before(async () => {
      testDb = await createTestDatabase(dialect);
      handle = openDatabase<Database>(testDb.url);
      await migrateToLatest(handle.db, MIGRATIONS);
    });
    after(async () => {
      await handle.close();
      await testDb.cleanup();
    });

    describe('runDue', () => {
      it('should run a due job once and mark it done', async () => {
        const clock = new FakeClock();
        const runner = new JobRunner({ db: handle.db, dialect: handle.dialect, clock });
        const seen: number[] = [];
        runner.register('sweep-orphan-blobs', async (payload) => {
          seen.push(payload.graceMs);
        });
        await runner.enqueue('sweep-orphan-blobs', { graceMs: 42 });

        const first = await runner.runDue();
        const second = await runner.runDue();

        assert.equal(first, 1);
        assert.equal(second, 0);
        assert.deepEqual(seen, [42]);
      });

      it('should retry a failing job later with backoff and keep the error', async () => {
        const clock = new FakeClock();
        const runner = new JobRunner({ db: handle.db, dialect: handle.dialect, clock });
        let calls = 0;
        runner.register('sweep-expired-uploads', async () => {
          calls++;
          if (calls === 1) {
            throw new Error('blob store unreachable');
          }
        });
        const id = await runner.enqueue('sweep-expired-uploads', {});

        await runner.runDue();
        const failed = await handle.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        const notYet = await runner.runDue();
        clock.time += 3 * 60_000;
        const retried = await runner.runDue();
        const done = await handle.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();

        assert.equal(failed.last_error, 'blob store unreachable');
        assert.equal(failed.done_at, null);
        assert.equal(notYet, 0);
        assert.equal(retried, 1);
        assert.notEqual(done.done_at, null);
        assert.equal(calls, 2);
      });

      it('should hand each job to exactly one of two concurrent workers', async () => {
        const clock = new FakeClock();
        const runs: string[] = [];
        const make = (label: string) => {
          const runner = new JobRunner({ db: handle.db, dialect: handle.dialect, clock });
          runner.register('purge-expired-sessions', async () => {
            runs.push(label);
            await new Promise((resolve) => setTimeout(resolve, 5));
          });
          return runner;
        };
        const [one, two] = [make('one'), make('two')];
        for (let i = 0; i < 20; i++) {
          await one.enqueue('purge-expired-sessions', {});
        }

        const [a, b] = await Promise.all([one.runDue(), two.runDue()]);

        assert.equal(a + b, 20);
        assert.equal(runs.length, 20);
      });
    });

    describe('schedule', () => {
      it('should keep exactly one pending row per recurring job and re-arm it after a run', async () => {
        const clock = new FakeClock();
        const runner = new JobRunner({ db: handle.db, dialect: handle.dialect, clock });
        runner.register('sweep-orphan-blobs', async () => undefined);
        const recurring = [
          { name: 'sweep-orphan-blobs' as const, payload: { graceMs: 1 }, everyMs: 3600_000 },
        ];
        await handle.db.deleteFrom('jobs').execute();

        await runner.schedule(recurring);
        await runner.schedule(recurring);
        const pendingBefore = await handle.db
          .selectFrom('jobs')
          .select('run_at')
          .where('done_at', 'is', null)
          .execute();
        await runner.runDue(recurring);
        const pendingAfter = await handle.db
          .selectFrom('jobs')
          .select('run_at')
          .where('done_at', 'is', null)
          .execute();

        assert.equal(pendingBefore.length, 1);
        assert.equal(pendingAfter.length, 1);
        assert.equal(pendingAfter[0]?.run_at, clock.time + 3600_000);
      });
    });

    describe('purgeFinished', () => {
      it('should delete finished jobs older than the limit and keep recent and pending ones', async () => {
        const clock = new FakeClock();
        const runner = new JobRunner({ db: handle.db, dialect: handle.dialect, clock });
        await handle.db.deleteFrom('jobs').execute();
        runner.register('purge-expired-sessions', async () => undefined);
        await runner.enqueue('purge-expired-sessions', {});
        await runner.runDue();
        clock.time += 2 * 3_600_000;
        await runner.enqueue('purge-expired-sessions', {});
        await runner.runDue();
        await runner.enqueue('purge-expired-sessions', {}, clock.time + 60_000);

        const result = await runner.purgeFinished(3_600_000);

        assert.deepEqual(result, { deleted: 1 });
        const left = await handle.db.selectFrom('jobs').select(['done_at']).execute();
        assert.equal(left.length, 2, 'the recent run and the pending one');
      });
    });
  });
}
