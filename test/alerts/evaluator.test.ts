import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compose } from '../../src/compose.ts';
import { AlertEvaluator } from '../../src/core/alerts/alert-evaluator.service.ts';
import { registerAlerts } from '../../src/jobs/handlers/alerts.job.ts';
import { JobRunner } from '../../src/jobs/runner.ts';
import { asOwner } from '../support/alerts.ts';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  testHasher,
  uploadViaApi,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';
import { FakeClock, signInViaApi } from '../support/sessions.ts';

const API = '/api/v1';

for (const dialect of await dialectsUnderTest()) {
  describe(`${AlertEvaluator.name} (${dialect})`, () => {
    let ctx: TestContext;
    const clock = new FakeClock();

    before(async () => {
      ctx = await createTestContext(dialect, { clock });
    });
    after(() => ctx.close());

    async function rule(tenant: TenantFixture, body: Record<string, unknown>): Promise<string> {
      const response = await asOwner(ctx, tenant, {
        method: 'POST',
        url: `${API}/alert-rules`,
        payload: body,
      });
      assert.equal(response.statusCode, 201, response.body);
      return (response.json() as { rule: { id: string } }).rule.id;
    }

    async function alertsOf(tenant: TenantFixture) {
      const response = await asOwner(ctx, tenant, { method: 'GET', url: `${API}/alerts` });
      assert.equal(response.statusCode, 200, response.body);
      return (
        response.json() as {
          items: Array<{
            ruleId: string;
            subject: string;
            summary: string;
            count: number;
            lastSeq: number;
            firstSeq: number;
          }>;
        }
      ).items;
    }

    async function evaluate(times = 1) {
      for (let n = 0; n < times; n++) {
        await ctx.services.alertEvaluator.evaluateAll();
      }
    }

    async function files(tenant: TenantFixture, count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let n = 0; n < count; n++) {
        const up = await uploadViaApi(ctx, tenant, tenant.rootId, `f-${n}-${Math.random()}.txt`, `body ${n}`);
        assert.equal(up.response.statusCode, 201, up.response.body);
        ids.push(up.json.node.id);
      }
      return ids;
    }

    async function download(tenant: TenantFixture, id: string, ip = '192.0.2.10') {
      const response = await asOwner(ctx, tenant, { method: 'GET', url: `${API}/nodes/${id}/content`, ip });
      assert.equal(response.statusCode, 200, response.body);
      clock.advance(1000);
    }

    async function firedEvents(tenant: TenantFixture) {
      return ctx.services.store.repos.audit.list({
        tenantId: tenant.tenantId,
        action: 'alert.fired',
        limit: 100,
      });
    }

    describe('bulk_download', () => {
      it('should fire once for a burst over the threshold, however often it is evaluated', async () => {
        const tenant = await createTenantFixture(ctx);
        const ids = await files(tenant, 7);
        const ruleId = await rule(tenant, { kind: 'bulk_download', threshold: 3, windowSeconds: 60 });

        for (const id of ids.slice(0, 3)) {
          await download(tenant, id);
        }
        await download(tenant, ids[0]!); // the same file again is not another file
        await evaluate();
        assert.equal((await alertsOf(tenant)).length, 0, 'three files is not more than three');

        await download(tenant, ids[3]!);
        await download(tenant, ids[4]!);
        await evaluate(2);

        const alerts = await alertsOf(tenant);
        assert.equal(alerts.length, 1);
        assert.equal(alerts[0]?.ruleId, ruleId);
        assert.equal(alerts[0]?.subject, `account:${tenant.ownerId}`);
        assert.match(alerts[0]?.summary ?? '', /^Owner <owner@.*> read [45] files within 1 minute$/);
        assert.equal((await firedEvents(tenant)).length, 1);
      });

      it('should fire again only after a quiet window', async () => {
        const tenant = await createTenantFixture(ctx);
        const ids = await files(tenant, 4);
        await rule(tenant, { kind: 'bulk_download', threshold: 2, windowSeconds: 30 });
        for (const id of ids.slice(0, 3)) {
          await download(tenant, id);
        }
        await evaluate();

        clock.advance(25_000); // still inside a window of the last read: the same occurrence
        await download(tenant, ids[3]!);
        await download(tenant, ids[0]!);
        await download(tenant, ids[1]!);
        await evaluate();
        assert.equal((await alertsOf(tenant)).length, 1);

        clock.advance(31_000); // quiet for a whole window
        for (const id of ids.slice(0, 3)) {
          await download(tenant, id);
        }
        await evaluate();

        assert.equal((await alertsOf(tenant)).length, 2);
      });

      it('should not fire twice when the cursor is set back and the log read again (a lost restart)', async () => {
        const tenant = await createTenantFixture(ctx);
        const ids = await files(tenant, 4);
        await rule(tenant, { kind: 'bulk_download', threshold: 2, windowSeconds: 60 });
        const start = await ctx.services.store.repos.audit.list({ tenantId: tenant.tenantId, limit: 1 });
        for (const id of ids) {
          await download(tenant, id);
        }
        await evaluate();

        await ctx.services.database.db
          .updateTable('alert_cursors')
          .set({ last_seq: start[0]!.seq })
          .where('log_id', '=', tenant.tenantId)
          .execute();
        await evaluate();

        assert.equal((await alertsOf(tenant)).length, 1);
      });

      it('should not judge what happened before the rule existed', async () => {
        const tenant = await createTenantFixture(ctx);
        const ids = await files(tenant, 4);
        for (const id of ids) {
          await download(tenant, id);
        }

        await rule(tenant, { kind: 'bulk_download', threshold: 2, windowSeconds: 600 });
        await evaluate();

        assert.equal((await alertsOf(tenant)).length, 0);
      });
    });

    describe('sign_in_failures', () => {
      it('should fire once for repeated failures against one account from one address', async () => {
        const tenant = await createTenantFixture(ctx);
        await rule(tenant, { kind: 'sign_in_failures', threshold: 3, windowSeconds: 120 });

        for (let n = 0; n < 6; n++) {
          const { response } = await signInViaApi(ctx, {
            email: tenant.ownerEmail,
            password: 'wrong password',
            remoteAddress: '203.0.113.5',
          });
          assert.ok([401, 429].includes(response.statusCode), response.body);
          clock.advance(1000);
        }
        await evaluate(2);

        const alerts = await alertsOf(tenant);
        assert.deepEqual(
          alerts.map((a) => a.subject),
          [`account:${tenant.ownerId}`],
        );
        assert.match(alerts[0]!.summary, /^3 failed sign-ins for Owner <owner@/);
      });

      it('should fire for one address trying several accounts', async () => {
        const tenant = await createTenantFixture(ctx);
        const members = [
          await addMember(ctx, tenant, 'member'),
          await addMember(ctx, tenant, 'member'),
          await addMember(ctx, tenant, 'admin'),
        ];
        await rule(tenant, { kind: 'sign_in_failures', threshold: 3, windowSeconds: 120 });

        for (const member of members) {
          await signInViaApi(ctx, {
            email: member.email,
            password: 'wrong password',
            remoteAddress: '198.51.100.7',
          });
          clock.advance(1000);
        }
        await evaluate(2);

        assert.deepEqual(
          (await alertsOf(tenant)).map((a) => a.subject),
          ['ip:198.51.100.7'],
        );
      });

      it('should not fire when the failures are spread wider than the window', async () => {
        const tenant = await createTenantFixture(ctx);
        await rule(tenant, { kind: 'sign_in_failures', threshold: 3, windowSeconds: 60 });

        for (let n = 0; n < 3; n++) {
          await signInViaApi(ctx, {
            email: tenant.ownerEmail,
            password: 'wrong password',
            remoteAddress: '203.0.113.6',
          });
          clock.advance(30_000); // the 1st and 3rd are exactly one window apart: never three in one window
        }
        await evaluate();

        assert.equal((await alertsOf(tenant)).length, 0);
      });
    });

    describe('outside_ip_ranges', () => {
      it('should fire once per account and address outside the allowed ranges', async () => {
        const tenant = await createTenantFixture(ctx);
        const set = await asOwner(ctx, tenant, {
          method: 'PUT',
          url: `${API}/tenant/allowed-ip-ranges`,
          payload: { ranges: ['192.0.2.0/24', '2001:db8::/32'] },
        });
        assert.equal(set.statusCode, 200, set.body);
        await rule(tenant, { kind: 'outside_ip_ranges' });

        const folder = (ip: string) =>
          asOwner(ctx, tenant, {
            method: 'POST',
            url: `${API}/nodes/${tenant.rootId}/folders`,
            ip,
            payload: { name: `f-${Math.random()}` },
          });
        await folder('192.0.2.77');
        await folder('2001:db8::77');
        await evaluate();
        assert.equal((await alertsOf(tenant)).length, 0, 'inside the ranges');

        await folder('203.0.113.9');
        await folder('203.0.113.9');
        await evaluate(2);

        const alerts = await alertsOf(tenant);
        assert.equal(alerts.length, 1);
        assert.equal(alerts[0]?.subject, `account:${tenant.ownerId}|ip:203.0.113.9`);
        assert.equal((await firedEvents(tenant)).length, 1, 'alert.fired itself triggers nothing');
      });
    });

    describe('share_link_many_ips', () => {
      it('should fire once when a share link is used from many addresses', async () => {
        const tenant = await createTenantFixture(ctx);
        const [fileId] = await files(tenant, 1);
        const created = await asOwner(ctx, tenant, {
          method: 'POST',
          url: `${API}/nodes/${fileId}/shares`,
          payload: {},
        });
        assert.equal(created.statusCode, 201, created.body);
        const token = String((created.json() as { url: string }).url).split('/s/')[1];
        await rule(tenant, { kind: 'share_link_many_ips', threshold: 3, windowSeconds: 600 });

        for (const ip of ['198.51.100.1', '198.51.100.1', '198.51.100.2', '2001:db8::9', '198.51.100.4']) {
          const response = await ctx.app.inject({
            method: 'GET',
            url: `${API}/public/shares/${token}`,
            remoteAddress: ip,
          });
          assert.equal(response.statusCode, 200, response.body);
          clock.advance(1000);
        }
        await evaluate(2);

        const alerts = await alertsOf(tenant);
        assert.equal(alerts.length, 1);
        assert.equal(alerts[0]?.count, 3, 'fired at the third address');
        const views = await ctx.services.store.repos.audit.list({
          tenantId: tenant.tenantId,
          action: 'share.view',
          limit: 10,
        });
        assert.equal(views.length, 5);
        assert.equal(alerts[0]?.firstSeq, views[4]?.seq, 'from the first use in the window');
        assert.equal(alerts[0]?.lastSeq, views[0]?.seq, 'extended to the last use');
      });
    });

    it('should run from the job queue', async () => {
      const tenant = await createTenantFixture(ctx);
      const ids = await files(tenant, 2);
      await rule(tenant, { kind: 'bulk_download', threshold: 1, windowSeconds: 60 });
      for (const id of ids) {
        await download(tenant, id);
      }
      const runner = new JobRunner({ db: ctx.services.database.db, dialect, clock });
      const recurring = registerAlerts(runner, ctx.services);

      await runner.schedule(recurring);
      await runner.runDue(recurring);

      assert.equal((await alertsOf(tenant)).length, 1);
    });

    if (dialect === 'postgres') {
      it('should fire once when several evaluators run at the same time', async () => {
        const tenant = await createTenantFixture(ctx);
        const ids = await files(tenant, 6);
        await rule(tenant, { kind: 'bulk_download', threshold: 2, windowSeconds: 600 });
        await rule(tenant, { kind: 'bulk_download', name: 'second rule', threshold: 4, windowSeconds: 600 });
        for (const id of ids) {
          await download(tenant, id);
        }
        // A second app node: its own services and connection pool on the same database.
        const node2 = await compose(ctx.services.config, { clock, hasher: testHasher });

        try {
          await Promise.all([
            ctx.services.alertEvaluator.evaluateAll(),
            node2.alertEvaluator.evaluateAll(),
            ctx.services.alertEvaluator.evaluateAll(),
            node2.alertEvaluator.evaluateAll(),
          ]);
          await evaluate();
        } finally {
          await node2.close();
        }

        const alerts = await alertsOf(tenant);
        assert.equal(alerts.length, 2, 'one per rule');
      });
    }
  });
}
