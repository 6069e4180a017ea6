/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  accessibilityProblems,
  browserSkipReason,
  createOrganisation,
  launchBrowser,
  screenshot,
  startPortalServer,
  TrafficRecorder,
  type PortalServer,
} from '../support/portal.ts';

/**
 * The Alerts page in a real browser against a real server: the owner reaches it from the compliance
 * centre, creates a rule with the offered defaults changed, sees the alert it fires (with its
 * delivery status) and acknowledges it, and sets the allowed IP ranges (a bad one is refused).
 */
const skip = browserSkipReason();
const OWNER = { email: 'owner@alerts.example', name: 'Alice Owner', password: 'owner password 12' };

describe('alerts page in a browser', { skip, timeout: 120_000 }, () => {
  let server: PortalServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token = '';
  const traffic = new TrafficRecorder();

  before(async () => {
    server = await startPortalServer();
    browser = await launchBrowser();
    ({ token } = await createOrganisation(server, { name: 'Alerts Ltd', slug: 'alerts-ltd', owner: OWNER }));
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    traffic.watch(context);
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Two files uploaded and read by the owner's API token: a burst for a threshold of one. */
  async function readTwoFiles(): Promise<void> {
    const headers = { authorization: `Bearer ${token}` };
    const rootResponse = await fetch(`${server.url}/api/v1/nodes/root`, { headers });
    const root = ((await rootResponse.json()) as { node: { id: string } }).node.id;
    for (const name of ['minutes.txt', 'salaries.txt']) {
      const put = await fetch(`${server.url}/api/v1/nodes/${root}/files/${name}`, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: `contents of ${name}`,
      });
      const uploaded = (await put.json()) as { node: { id: string } };
      assert.equal(put.status, 201, JSON.stringify(uploaded));
      const { node } = uploaded;
      const read = await fetch(`${server.url}/api/v1/nodes/${node.id}/content`, { headers });
      assert.equal(read.status, 200);
      await read.arrayBuffer();
    }
  }

  it('should create a rule, show the alert it fires and acknowledge it', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('textbox', { name: 'E-mail', exact: true }).fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Compliance centre' }).click();
    await page.getByRole('link', { name: 'Set up alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor();
    await page.getByText('No alert rules yet').waitFor();
    await screenshot(page, 'alerts-01-empty');

    await page.getByRole('button', { name: 'New rule' }).click();
    const dialog = page.getByRole('dialog');
    assert.equal(await dialog.getByRole('textbox', { name: 'More than (files)' }).inputValue(), '50');
    assert.equal(await dialog.getByRole('textbox', { name: 'Within (minutes)' }).inputValue(), '10');
    await dialog.getByRole('textbox', { name: 'More than (files)' }).fill('1');
    await dialog.getByRole('textbox', { name: 'Webhook URL' }).fill('http://10.0.0.5/hook');
    await dialog.getByRole('button', { name: 'Create rule' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'https' }).waitFor();
    await screenshot(page, 'alerts-02-rule-refused');
    await dialog.getByRole('textbox', { name: 'Webhook URL' }).fill('https://hooks.example.com/custodia');
    await dialog.getByRole('button', { name: 'Create rule' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'Webhook signing secret' });
    assert.match(await secretDialog.getByRole('textbox', { name: 'Secret' }).inputValue(), /^whsec_/);
    await screenshot(page, 'alerts-03-secret-once');
    await secretDialog.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByText('One account reads more than 1 file within 10 minutes').waitFor();

    await readTwoFiles();
    assert.equal((await server.services.alertEvaluator.evaluateAll()).fired, 1);
    await page.reload();

    const row = page.getByTestId('fired-alert');
    await row.filter({ hasText: `${OWNER.name} <${OWNER.email}> read 2 files within 10 minutes` }).waitFor();
    await row.getByText('Webhook: queued').waitFor();
    assert.ok(!(await page.content()).includes('salaries.txt'), 'no file names on the page');
    await page.getByRole('textbox', { name: 'Ranges' }).fill('192.0.2.0/24\n2001:db8::/32\n10.0.0.0/33');
    await page.getByRole('button', { name: 'Save ranges' }).click();
    await page.getByRole('alert').filter({ hasText: '10.0.0.0/33' }).waitFor();
    await page.getByRole('textbox', { name: 'Ranges' }).fill('192.0.2.0/24\n2001:DB8::/32');
    await page.getByRole('button', { name: 'Save ranges' }).click();
    await page.getByText('Allowed IP ranges saved').waitFor();
    await screenshot(page, 'alerts-04-fired');
    const problems = await accessibilityProblems(page, 'alerts');

    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await row.getByText(/^Acknowledged /).waitFor();
    await screenshot(page, 'alerts-05-acknowledged');

    assert.deepEqual(problems, []);
    assert.deepEqual(traffic.cspViolations, []);
    assert.deepEqual([...traffic.hosts], [new URL(server.url).host]);
    assert.deepEqual(
      await server.services.alerts.getAllowedIpRanges({
        kind: 'member',
        tenantId: (await server.services.store.repos.tenants.findBySlug('alerts-ltd'))!.id,
        userId: 'x',
        role: 'owner',
        channel: 'api',
      }),
      ['192.0.2.0/24', '2001:db8::/32'],
    );
  });
});
