import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asOwner } from '../support/alerts.ts';
import {
  addMember,
  createTenantFixture,
  createTestContext,
  type TenantFixture,
  type TestContext,
} from '../support/build-app.ts';
import { dialectsUnderTest } from '../support/dialects.ts';

const API = '/api/v1';
const HOOK = 'https://hooks.example.com/custodia';

for (const dialect of await dialectsUnderTest()) {
  describe(`alerts API (${dialect})`, () => {
    let ctx: TestContext;
    let a: TenantFixture;
    let b: TenantFixture;

    before(async () => {
      ctx = await createTestContext(dialect);
      a = await createTenantFixture(ctx);
      b = await createTenantFixture(ctx);
    });
    after(() => ctx.close());

    const send = (
      tenant: TenantFixture,
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      url: string,
      payload?: unknown,
    ) => asOwner(ctx, tenant, { method, url: `${API}${url}`, payload });

    async function auditActions(tenant: TenantFixture): Promise<string[]> {
      const events = await ctx.services.store.repos.audit.list({ tenantId: tenant.tenantId, limit: 50 });
      return events.map((e) => e.action);
    }

    describe('rules', () => {
      it('should create with the defaults of the kind and show the webhook secret once', async () => {
        const created = await send(a, 'POST', '/alert-rules', { kind: 'sign_in_failures', webhookUrl: HOOK });

        assert.equal(created.statusCode, 201, created.body);
        const body = created.json() as { rule: Record<string, unknown>; webhookSecret: string };
        assert.equal(body.rule.threshold, 10);
        assert.equal(body.rule.windowSeconds, 900);
        assert.equal(body.rule.name, 'Repeated sign-in failures');
        assert.equal(body.rule.hasWebhookSecret, true);
        assert.match(body.webhookSecret, /^whsec_[A-Za-z0-9_-]{43}$/);
        const again = await send(a, 'GET', `/alert-rules/${String(body.rule.id)}`);
        assert.equal(again.statusCode, 200);
        assert.ok(!again.body.includes(body.webhookSecret), 'never shown again');
        const stored = await ctx.services.database.db
          .selectFrom('alert_rules')
          .select('webhook_secret_enc')
          .where('id', '=', String(body.rule.id))
          .executeTakeFirstOrThrow();
        assert.ok(
          stored.webhook_secret_enc && !stored.webhook_secret_enc.includes(body.webhookSecret.slice(6)),
          'stored sealed',
        );
        assert.ok((await auditActions(a)).includes('alert_rule.create'));
      });

      it('should change, disable, rotate and delete, each in the activity log', async () => {
        const created = await send(a, 'POST', '/alert-rules', { kind: 'bulk_download', webhookUrl: HOOK });
        const { rule, webhookSecret } = created.json() as { rule: { id: string }; webhookSecret: string };

        const patched = await send(a, 'PATCH', `/alert-rules/${rule.id}`, { threshold: 20, enabled: false });
        const rotated = await send(a, 'POST', `/alert-rules/${rule.id}/rotate-secret`);
        const deleted = await send(a, 'DELETE', `/alert-rules/${rule.id}`);

        assert.equal(patched.statusCode, 200, patched.body);
        assert.deepEqual(
          [
            (patched.json() as { rule: { threshold: number; enabled: boolean } }).rule.threshold,
            (patched.json() as { rule: { enabled: boolean } }).rule.enabled,
          ],
          [20, false],
        );
        assert.equal(rotated.statusCode, 200, rotated.body);
        assert.notEqual((rotated.json() as { webhookSecret: string }).webhookSecret, webhookSecret);
        assert.equal(deleted.statusCode, 200);
        assert.equal((await send(a, 'GET', `/alert-rules/${rule.id}`)).statusCode, 404);
        const actions = await auditActions(a);
        for (const action of ['alert_rule.update', 'alert_rule.rotate_secret', 'alert_rule.delete']) {
          assert.ok(actions.includes(action), action);
        }
      });

      it('should offer the defaults of every kind with the list', async () => {
        const list = await send(a, 'GET', '/alert-rules');

        const body = list.json() as {
          defaults: Record<string, { threshold: number }>;
          emailAvailable: boolean;
        };
        assert.deepEqual(Object.keys(body.defaults).sort(), [
          'bulk_download',
          'outside_ip_ranges',
          'share_link_many_ips',
          'sign_in_failures',
        ]);
        assert.equal(body.emailAvailable, false);
      });

      const badRules: Array<[string, Record<string, unknown>, number, string]> = [
        ['an unknown kind', { kind: 'mass_delete' }, 400, 'invalid_request'],
        ['threshold 0', { kind: 'bulk_download', threshold: 0 }, 400, 'invalid_request'],
        ['a negative threshold', { kind: 'bulk_download', threshold: -5 }, 400, 'invalid_request'],
        ['a huge threshold', { kind: 'bulk_download', threshold: 1e9 }, 400, 'invalid_request'],
        ['a fractional threshold', { kind: 'bulk_download', threshold: 2.5 }, 400, 'invalid_request'],
        ['a window too short', { kind: 'bulk_download', windowSeconds: 9 }, 400, 'invalid_request'],
        ['a window too long', { kind: 'bulk_download', windowSeconds: 86_401 }, 400, 'invalid_request'],
        ['an unknown field', { kind: 'bulk_download', secret: 'x' }, 400, 'invalid_request'],
        [
          'a URL that is no URL',
          { kind: 'bulk_download', webhookUrl: 'hooks example' },
          400,
          'invalid_webhook_url',
        ],
        [
          'a plain-http URL',
          { kind: 'bulk_download', webhookUrl: 'http://hooks.example.com/x' },
          400,
          'invalid_webhook_url',
        ],
        [
          'a private-address URL',
          { kind: 'bulk_download', webhookUrl: 'https://10.1.2.3/x' },
          400,
          'invalid_webhook_url',
        ],
        [
          'a metadata-address URL',
          { kind: 'bulk_download', webhookUrl: 'https://169.254.169.254/x' },
          400,
          'invalid_webhook_url',
        ],
        [
          'a loopback URL (flag off)',
          { kind: 'bulk_download', webhookUrl: 'http://127.0.0.1:9/x' },
          400,
          'invalid_webhook_url',
        ],
        ['a bad e-mail', { kind: 'bulk_download', emailTo: ['not-an-address'] }, 400, 'invalid_email'],
        [
          'e-mail without SMTP configured',
          { kind: 'bulk_download', emailTo: ['it@example.com'] },
          422,
          'email_not_configured',
        ],
        ['a blank name', { kind: 'bulk_download', name: '   ' }, 400, 'invalid_name'],
      ];
      for (const [label, body, status, code] of badRules) {
        it(`should refuse ${label} with ${status} ${code} and create nothing`, async () => {
          const before = (
            await ctx.services.store.repos.audit.list({
              tenantId: a.tenantId,
              action: 'alert_rule.create',
              limit: 500,
            })
          ).length;

          const response = await send(a, 'POST', '/alert-rules', body);

          assert.equal(response.statusCode, status, response.body);
          assert.equal((response.json() as { error: { code: string } }).error.code, code);
          const after = (
            await ctx.services.store.repos.audit.list({
              tenantId: a.tenantId,
              action: 'alert_rule.create',
              limit: 500,
            })
          ).length;
          assert.equal(after, before);
        });
      }

      it('should refuse a bad change with the same checks', async () => {
        const { rule } = (await send(a, 'POST', '/alert-rules', { kind: 'bulk_download' })).json() as {
          rule: { id: string };
        };

        assert.equal((await send(a, 'PATCH', `/alert-rules/${rule.id}`, { threshold: 0 })).statusCode, 400);
        assert.equal(
          (await send(a, 'PATCH', `/alert-rules/${rule.id}`, { webhookUrl: 'https://192.168.0.1/' }))
            .statusCode,
          400,
        );
        assert.equal(
          (await send(a, 'PATCH', `/alert-rules/${rule.id}`, { kind: 'sign_in_failures' })).statusCode,
          400,
        );
      });

      it("should answer 404 for another tenant's rule, exactly as for none", async () => {
        const { rule } = (await send(b, 'POST', '/alert-rules', { kind: 'bulk_download' })).json() as {
          rule: { id: string };
        };

        for (const [method, url, payload] of [
          ['GET', `/alert-rules/${rule.id}`],
          ['PATCH', `/alert-rules/${rule.id}`, { threshold: 5 }],
          ['DELETE', `/alert-rules/${rule.id}`],
          ['POST', `/alert-rules/${rule.id}/test`],
          ['POST', `/alert-rules/${rule.id}/rotate-secret`],
        ] as const) {
          const response = await send(a, method, url, payload);
          assert.equal(response.statusCode, 404, `${method} ${url}`);
          assert.equal((response.json() as { error: { code: string } }).error.code, 'alert_rule_not_found');
        }
        assert.equal((await send(b, 'GET', `/alert-rules/${rule.id}`)).statusCode, 200, 'untouched');
        const listed = (await send(a, 'GET', '/alert-rules')).json() as { items: Array<{ id: string }> };
        assert.ok(!listed.items.some((r) => r.id === rule.id));
      });

      it('should refuse members and guests, and let a compliance officer manage rules', async () => {
        const member = await addMember(ctx, a, 'member');
        const officer = await addMember(ctx, a, 'compliance_officer');

        const refused = await ctx.app.inject({
          method: 'POST',
          url: `${API}/alert-rules`,
          headers: member.auth,
          payload: { kind: 'bulk_download' },
        });
        const allowed = await ctx.app.inject({
          method: 'POST',
          url: `${API}/alert-rules`,
          headers: officer.auth,
          payload: { kind: 'bulk_download' },
        });

        assert.equal(refused.statusCode, 403);
        assert.equal(allowed.statusCode, 201, allowed.body);
      });
    });

    describe('allowed IP ranges', () => {
      it('should store canonical ranges, IPv4 and IPv6, and audit the change', async () => {
        const set = await send(a, 'PUT', '/tenant/allowed-ip-ranges', {
          ranges: ['192.0.2.0/24', '2001:DB8::/32', '198.51.100.7', '192.0.2.0/24'],
        });

        assert.equal(set.statusCode, 200, set.body);
        assert.deepEqual((set.json() as { ranges: string[] }).ranges, [
          '192.0.2.0/24',
          '2001:db8::/32',
          '198.51.100.7/32',
        ]);
        assert.deepEqual((await send(a, 'GET', '/tenant/allowed-ip-ranges')).json(), {
          ranges: ['192.0.2.0/24', '2001:db8::/32', '198.51.100.7/32'],
        });
        assert.deepEqual(
          (await send(b, 'GET', '/tenant/allowed-ip-ranges')).json(),
          { ranges: [] },
          'tenant B untouched',
        );
        assert.ok((await auditActions(a)).includes('tenant.allowed_ip_ranges_update'));
      });

      for (const bad of ['10.0.0.0/33', 'example.com/24', '10.0.0/8', '2001:db8::/129', '']) {
        it(`should refuse ${JSON.stringify(bad)} and keep the ranges as they were`, async () => {
          const before = (await send(a, 'GET', '/tenant/allowed-ip-ranges')).json();

          const response = await send(a, 'PUT', '/tenant/allowed-ip-ranges', {
            ranges: ['192.0.2.0/24', bad],
          });

          assert.equal(response.statusCode, 400, response.body);
          assert.equal((response.json() as { error: { code: string } }).error.code, 'invalid_ip_range');
          assert.deepEqual((await send(a, 'GET', '/tenant/allowed-ip-ranges')).json(), before);
        });
      }

      it('should refuse a body that is not a list of ranges with 400', async () => {
        assert.equal(
          (await send(a, 'PUT', '/tenant/allowed-ip-ranges', { ranges: '10.0.0.0/8' })).statusCode,
          400,
        );
        assert.equal(
          (await send(a, 'PUT', '/tenant/allowed-ip-ranges', { ranges: Array(101).fill('10.0.0.0/8') }))
            .statusCode,
          400,
        );
      });
    });

    describe('alerts', () => {
      it("should answer 404 when acknowledging another tenant's alert or none", async () => {
        assert.equal(
          (await send(a, 'POST', '/alerts/019a0000-0000-7000-8000-000000000000/acknowledge')).statusCode,
          404,
        );
        assert.equal((await send(a, 'GET', '/alerts?limit=0')).statusCode, 400);
        assert.equal((await send(a, 'GET', '/alerts?limit=abc')).statusCode, 400);
      });
    });
  });
}
