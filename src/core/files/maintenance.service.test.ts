// An integration test: the crash sweep on real repositories, a real blob directory and a real
// database of each dialect. "Another node" is a second process lease in the same database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { KyselyProcessRegistry } from '../../adapters/db/process-registry.ts';
import {
  createTenantFixture,
  createTestContext,
  type TenantFixture,
  type TestContext,
} from '../../../test/support/build-app.ts';
import { dialectsUnderTest } from '../../../test/support/dialects.ts';
import { systemClock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { newId } from '../shared/ids.ts';
import { UploadAbandonedError } from './files.errors.ts';
import { MaintenanceService } from './maintenance.service.ts';
import { SealedContent } from './sealed-content.ts';

const LEASE_MS = 60_000;

for (const dialect of await dialectsUnderTest()) {
  describe(`${MaintenanceService.name} (${dialect})`, () => {
    let ctx: TestContext;
    let tenant: TenantFixture;
    let actor: TenantActor;

    before(async () => {
      ctx = await createTestContext(dialect);
      tenant = await createTenantFixture(ctx);
      actor = {
        kind: 'member',
        tenantId: tenant.tenantId,
        userId: tenant.ownerId,
        role: 'owner',
        channel: 'api',
      };
    });
    after(async () => ctx.close());

    /** A process on another node, its lease taken `ageMs` ago and not renewed since. */
    async function otherNode(ageMs: number): Promise<KyselyProcessRegistry> {
      const registry = new KyselyProcessRegistry({
        db: ctx.services.database.db,
        clock: { now: () => Date.now() - ageMs },
        leaseMs: LEASE_MS,
      });
      await registry.renew();
      return registry;
    }

    function writerFor(processId: string): SealedContent {
      return new SealedContent({
        blobs: ctx.services.blobs,
        keys: ctx.services.keys,
        intents: ctx.services.store.repos.blobIntents,
        inlineBlobs: ctx.services.store.repos.inlineBlobs,
        inlineMaxBytes: ctx.services.config.inlineContentMaxBytes,
        processId,
        clock: systemClock,
      });
    }

    async function writeBlob(processId: string) {
      return writerFor(processId).write(
        tenant.tenantId,
        Readable.from([Buffer.from('half-finished payroll')]),
        {
          maxBytes: 1024 * 1024,
        },
      );
    }

    describe('sweepAbandonedWrites', () => {
      it('should destroy the blob, data key and intent of a writer whose lease ran out', async () => {
        const gone = await otherNode(2 * LEASE_MS);
        const sealed = await writeBlob(gone.selfId);

        const result = await ctx.services.maintenance.sweepAbandonedWrites();

        assert.ok(result.deleted >= 1);
        assert.equal(await ctx.services.blobs.stat(sealed.blobKey), undefined);
        await assert.rejects(ctx.services.keys.getDataKey(tenant.tenantId, sealed.dataKeyId));
        assert.ok(
          !(await ctx.services.store.repos.blobIntents.listBlobKeys(tenant.tenantId)).has(sealed.blobKey),
        );
      });

      it("should leave a live writer's blob alone so that it can still commit", async () => {
        const live = await otherNode(0);
        const sealed = await writeBlob(live.selfId);

        await ctx.services.maintenance.sweepAbandonedWrites();
        const committed = await ctx.services.files.commitSealedUpload(actor, {
          parentId: tenant.rootId,
          name: 'live-writer.txt',
          sealed,
        });

        assert.ok(await ctx.services.blobs.stat(sealed.blobKey));
        assert.equal(committed.version.blobKey, sealed.blobKey);
        assert.ok(
          !(await ctx.services.store.repos.blobIntents.listBlobKeys(tenant.tenantId)).has(sealed.blobKey),
        );
        await live.stop();
      });

      it('should treat a process on this machine whose pid has exited as gone before its lease ends', async () => {
        const dead = await otherNode(0);
        await ctx.services.database.db
          .updateTable('process_leases')
          .set({ pid: await exitedPid() })
          .where('id', '=', dead.selfId)
          .execute();
        const sealed = await writeBlob(dead.selfId);

        await ctx.services.maintenance.sweepAbandonedWrites();

        assert.equal(await ctx.services.blobs.stat(sealed.blobKey), undefined);
      });

      it('should not trust the pid of a process on another machine', async () => {
        const remote = await otherNode(0);
        await ctx.services.database.db
          .updateTable('process_leases')
          .set({ pid: await exitedPid(), host_scope: 'another-machine/pid:[1]' })
          .where('id', '=', remote.selfId)
          .execute();
        const sealed = await writeBlob(remote.selfId);

        await ctx.services.maintenance.sweepAbandonedWrites();

        assert.ok(await ctx.services.blobs.stat(sealed.blobKey));
        await ctx.services.database.db.deleteFrom('process_leases').where('id', '=', remote.selfId).execute();
        await ctx.services.maintenance.sweepAbandonedWrites();
      });

      it('should make the commit of a writer presumed gone fail and leave nothing visible', async () => {
        const presumedGone = await otherNode(2 * LEASE_MS);
        const sealed = await writeBlob(presumedGone.selfId);
        await ctx.services.maintenance.sweepAbandonedWrites();

        const commit = ctx.services.files.commitSealedUpload(actor, {
          parentId: tenant.rootId,
          name: 'too-late.txt',
          sealed,
        });

        await assert.rejects(commit, UploadAbandonedError);
        const children = await ctx.services.store.repos.nodes.listLiveChildren(
          tenant.tenantId,
          tenant.rootId,
        );
        assert.ok(!children.some((node) => node.name === 'too-late.txt'));
      });

      it('should remove temp files of gone writers and keep those of live ones', async () => {
        const incoming = join(ctx.database.dataDir, 'blobs', '.incoming');
        const mine = `${ctx.services.processes.selfId}.aaaa.part`;
        await writeFile(join(incoming, mine), 'upload in flight');
        await writeFile(join(incoming, `${newId()}.bbbb.part`), 'left by a crash');
        await writeFile(join(incoming, 'c0ffee.part'), 'left by an older version');

        await ctx.services.maintenance.sweepAbandonedWrites();

        assert.deepEqual(await readdir(incoming), [mine]);
      });

      it('should forget the leases of gone processes', async () => {
        const gone = await otherNode(2 * LEASE_MS);

        await ctx.services.maintenance.sweepAbandonedWrites();

        const rows = await ctx.services.database.db.selectFrom('process_leases').select('id').execute();
        assert.ok(!rows.some((row) => row.id === gone.selfId));
        assert.ok(rows.some((row) => row.id === ctx.services.processes.selfId));
      });
    });

    describe('sweepOrphanBlobs', () => {
      it('should keep a blob whose intent is live even with no grace period', async () => {
        const live = await otherNode(0);
        const sealed = await writeBlob(live.selfId);

        await ctx.services.maintenance.sweepOrphanBlobs(0);

        assert.ok(await ctx.services.blobs.stat(sealed.blobKey));
        await live.stop();
        await ctx.services.maintenance.sweepAbandonedWrites();
      });
    });
  });
}

describe(KyselyProcessRegistry.name, () => {
  it('should take a new lease on renewal after another process dropped it', async () => {
    const ctx = await createTestContext('sqlite');
    try {
      const registry = ctx.services.processes;
      await ctx.services.database.db.deleteFrom('process_leases').where('id', '=', registry.selfId).execute();

      await registry.renew();

      const rows = await ctx.services.database.db.selectFrom('process_leases').select('id').execute();
      assert.deepEqual(
        rows.map((row) => row.id),
        [registry.selfId],
      );
    } finally {
      await ctx.close();
    }
  });
});

/** The pid of a process that has run and exited (and been reaped). */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 999_999;
}
