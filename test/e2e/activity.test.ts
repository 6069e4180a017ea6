/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
 * The Activity page in a real browser: from a file's menu to that file's history, the filters, the
 * compliance centre's link, and the printable report under its own strict CSP. Screenshots go to
 * test-artifacts/screenshots/activity-*.png.
 */
const skip = browserSkipReason();
const OWNER = { email: 'owner@activity.example', name: 'Oscar Owner', password: 'owner password 12' };

describe('activity reports in a browser', { skip, timeout: 180_000 }, () => {
  let server: PortalServer;
  let browser: Browser;
  let page: Page;
  let token = '';
  const traffic = new TrafficRecorder();

  const apiCall = async (method: string, path: string, body?: BodyInit, contentType?: string) => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(contentType ? { 'content-type': contentType } : {}),
      },
      body,
    });
    if (!response.ok) {
      assert.fail(`${method} ${path}: ${response.status} ${await response.text()}`);
    }
    return response;
  };
  const json = async (method: string, path: string, body?: object) =>
    (
      await apiCall(
        method,
        path,
        body ? JSON.stringify(body) : undefined,
        body ? 'application/json' : undefined,
      )
    ).json();

  before(async () => {
    server = await startPortalServer();
    browser = await launchBrowser();
    ({ token } = await createOrganisation(server, { name: 'Acme Ltd', slug: 'acme', owner: OWNER }));

    // A little history: one file uploaded, read, renamed and replaced; another only uploaded.
    const root = (await json('GET', '/nodes/root')) as { node: { id: string } };
    const put = (name: string, text: string) =>
      apiCall('PUT', `/nodes/${root.node.id}/files/${name}`, text, 'application/octet-stream');
    const minutes = (await (await put('minutes.txt', 'Board minutes, draft')).json()) as {
      node: { id: string };
    };
    await put('budget.xlsx', 'numbers');
    await apiCall('GET', `/nodes/${minutes.node.id}/content`);
    await json('PATCH', `/nodes/${minutes.node.id}`, { name: 'minutes-final.txt' });
    await put('minutes-final.txt', 'Board minutes, approved');

    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    traffic.watch(context);
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("should open a file's history from its menu and show only that file's events", async () => {
    await page.goto(server.url);
    await page.getByRole('textbox', { name: 'E-mail', exact: true }).fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('file-table').waitFor();

    await page.getByRole('button', { name: 'Actions for minutes-final.txt', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    const table = page.getByTestId('activity-table');
    await table.waitFor();

    assert.match(new URL(page.url()).search, /^\?file=[0-9a-f-]{36}$/);
    const rows = await table.locator('tbody tr').allInnerTexts();
    assert.equal(rows.length, 4, rows.join('\n'));
    for (const what of ['Uploaded', 'Downloaded', 'Renamed', 'Uploaded a new version']) {
      assert.ok(
        rows.some((r) => r.includes(what)),
        `${what} missing:\n${rows.join('\n')}`,
      );
    }
    assert.ok(rows.every((r) => r.includes('minutes-final.txt') && r.includes(OWNER.name)));
    assert.ok(!rows.some((r) => r.includes('budget.xlsx')));
    await page.getByText('Showing everything done with').waitFor();
    await screenshot(page, 'activity-file');
    assert.deepEqual(await accessibilityProblems(page, 'activity'), []);
  });

  it('should filter the whole log by action and page back to all of it', async () => {
    await page.getByRole('button', { name: 'Show all files' }).click();
    await page.getByRole('combobox', { name: 'Action' }).click();
    await page.getByRole('option', { name: 'Uploaded (file.upload)' }).click();
    await page.getByRole('button', { name: 'Show activity' }).click();
    await page.waitForURL(/action=file\.upload/);

    const rows = await page.getByTestId('activity-table').locator('tbody tr').allInnerTexts();
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.ok(rows.some((r) => r.includes('budget.xlsx')));
    await screenshot(page, 'activity-filtered');
  });

  it('should reach the page from the compliance centre', async () => {
    await page.getByRole('link', { name: 'Compliance centre' }).click();
    await page.getByRole('link', { name: 'Open the activity log' }).click();

    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/activity');
  });

  it('should open a printable report styled under its own CSP, with no violation', async () => {
    const popup = page.waitForEvent('popup');
    await page.getByRole('link', { name: 'Printable report' }).click();
    const report = await popup;
    await report.getByRole('heading', { name: /Activity report — Acme Ltd/ }).waitFor();

    const headerBackground = await report
      .locator('th')
      .first()
      .evaluate((th) => getComputedStyle(th).backgroundColor);
    assert.equal(headerBackground, 'rgb(241, 243, 245)', 'the hashed stylesheet applied');
    // Cut at the latest checkpoint if the signer has made one, else it says there is none yet.
    assert.match(
      await report.locator('body').innerText(),
      /No signed checkpoint covers this log yet|This report is cut at the checkpoint below/,
    );
    await screenshot(report, 'activity-printable-report');
    assert.deepEqual(traffic.cspViolations, []);
  });
});
