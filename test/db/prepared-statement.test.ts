import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PreparedStatement } from '../../src/adapters/db/prepared-statement.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { createTestContext, type TestContext } from '../support/build-app.ts';

const INSERT_SETTING = new PreparedStatement((db, key: string, value: string) =>
  db.insertInto('settings').values({ key, value }),
);
const FIND_SETTINGS = new PreparedStatement((db, prefix: string, limit: number) =>
  db
    .selectFrom('settings')
    .select(['key', 'value'])
    .where('key', 'like', prefix)
    .where('key', '!=', 'fixed-at-build')
    .orderBy('key')
    .limit(limit),
);

for (const dialect of await dialectsUnderTest()) {
  describe(`PreparedStatement (${dialect})`, () => {
    let ctx: TestContext;
    const db = () => ctx.services.database.db;

    before(async () => {
      ctx = await createTestContext(dialect);
    });
    after(async () => ctx.close());

    it('should run with each call’s own arguments and keep values fixed at build time', async () => {
      for (const [key, value] of [
        ['prep-a', '1'],
        ['prep-b', '2'],
        ['prep-c', '3'],
        ['other', '4'],
      ] as const) {
        await INSERT_SETTING.execute(db(), key, value);
      }

      const two = await FIND_SETTINGS.execute(db(), 'prep-%', 2);
      const all = await FIND_SETTINGS.execute(db(), 'prep-%', 10);
      const none = await FIND_SETTINGS.executeTakeFirst(db(), 'missing-%', 10);

      // node:sqlite answers objects without a prototype: compare plain copies.
      assert.deepEqual(
        two.map((row) => ({ ...row })),
        [
          { key: 'prep-a', value: '1' },
          { key: 'prep-b', value: '2' },
        ],
      );
      assert.equal(all.length, 3);
      assert.equal(none, undefined);
    });

    it('should give exactly what the same query built by Kysely gives', async () => {
      const built = await db()
        .selectFrom('settings')
        .select(['key', 'value'])
        .where('key', 'like', 'prep-%')
        .where('key', '!=', 'fixed-at-build')
        .orderBy('key')
        .limit(3)
        .execute();

      assert.deepEqual(await FIND_SETTINGS.execute(db(), 'prep-%', 3), built);
    });

    it('should run inside a transaction and roll back with it', async () => {
      await assert.rejects(
        db()
          .transaction()
          .execute(async (trx) => {
            await INSERT_SETTING.execute(trx, 'prep-rolled-back', 'x');
            assert.equal((await FIND_SETTINGS.execute(trx, 'prep-rolled-back', 1)).length, 1);
            throw new Error('roll back');
          }),
        /roll back/,
      );

      assert.deepEqual(await FIND_SETTINGS.execute(db(), 'prep-rolled-back', 1), []);
    });

    it('should refuse, on first use, an argument that Kysely does not take as a value', async () => {
      const asIdentifier = new PreparedStatement((db, column: string) =>
        db.selectFrom('settings').select(column as 'key'),
      );

      await assert.rejects(asIdentifier.execute(db(), 'key'), /must pass each argument to Kysely as a value/);
    });
  });
}
