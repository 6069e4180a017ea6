/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import {
  accessibilityProblems,
  browserSkipReason,
  launchBrowser,
  screenshot,
  startPortalServer,
  freshTotp,
  TrafficRecorder,
  type PortalServer,
} from '../support/portal.ts';

/**
 * The portal in a real browser (Debian chromium) against a real server: one organisation's life
 * from first-run setup to sign-out. The steps build on each other and run in order. Every
 * context's traffic is recorded: the last test checks that only `sessionid` and `csrftoken` were
 * ever set and that nothing was fetched from any host but the server's own.
 */
const skip = browserSkipReason();

const OPERATOR = {
  email: 'operator@custodia.example',
  name: 'Olivia Operator',
  password: 'operator password 1',
};
const OWNER = { email: 'owner@acme.example', name: 'Oscar Owner', password: 'owner password 12' };
const GUEST = { email: 'auditor@audit.example', name: 'Ada Auditor', password: 'auditor password 1' };

// A 1×1 PNG and a one-page PDF, so previews have real content to show.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360f8cfc0f01f0005ff02fe0b3a3e4e0000000049454e44ae426082',
  'hex',
);
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj\n' +
    '4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 20 70 Td (Service agreement) Tj ET\nendstream endobj\n' +
    '5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const BIG = randomBytes(20 * 1024 * 1024 + 12345);
// Handed to the browser as a file path: a 20 MB in-memory buffer crawls through the protocol.
const bigDir = mkdtempSync(join(tmpdir(), 'custodia-e2e-'));
const bigFile = join(bigDir, 'big.bin');
writeFileSync(bigFile, BIG);

describe('web portal in a browser', { skip, timeout: 280_000 }, () => {
  let server: PortalServer;
  let browser: Browser;
  const traffic = new TrafficRecorder();
  const a11y: string[] = [];
  const audit = async (page: Page, label: string) => a11y.push(...(await accessibilityProblems(page, label)));
  const contexts: BrowserContext[] = [];
  let operatorPage: Page;
  let ownerPage: Page;
  let guestPage: Page;
  let ownerSecret = '';
  let ownerRecoveryCodes: string[] = [];
  let ownerInviteLink = '';
  let shareLink = '';

  let broken = false;
  /** A step of the journey: once one fails, the rest are skipped instead of timing out one by one. */
  function step(name: string, fn: () => Promise<void>): void {
    it(name, async (t) => {
      if (broken) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await fn();
      } catch (error) {
        broken = true;
        for (const [i, context] of contexts.entries()) {
          for (const page of context.pages()) {
            await screenshot(page, `failure-${i}`).catch(() => undefined);
          }
        }
        throw error;
      }
    });
  }

  async function newPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
    const context = await browser.newContext({ viewport, acceptDownloads: true });
    traffic.watch(context);
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  before(async () => {
    server = await startPortalServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(bigDir, { recursive: true, force: true });
  });

  async function openRowMenu(page: Page, name: string): Promise<void> {
    await page.getByRole('button', { name: `Actions for ${name}`, exact: true }).click();
  }

  async function downloadBytes(page: Page, trigger: () => Promise<void>): Promise<Buffer> {
    const [download] = await Promise.all([page.waitForEvent('download'), trigger()]);
    return readFileSync(await (download as Download).path());
  }

  async function enrolTotp(page: Page): Promise<string> {
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await page.getByRole('button', { name: 'Show the QR code' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())?.trim() ?? '';
    assert.match(secret, /^[A-Z2-7]+=*$/);
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    return secret;
  }

  async function finishTotp(page: Page, secret: string): Promise<string[]> {
    await page
      .getByRole('textbox', { name: '6-digit code from the app', exact: true })
      .fill(await freshTotp(secret));
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    const codes = (await page.getByTestId('recovery-codes').locator('span').allTextContents()).filter(
      Boolean,
    );
    assert.ok(codes.length >= 8, 'recovery codes are shown once');
    return codes;
  }

  step('first-run setup creates the operator admin and signs them in', async () => {
    operatorPage = await newPage();
    const token = await server.services.members.issueSetupToken();
    assert.ok(token);
    await operatorPage.goto(`${server.url}/setup#${token}`);
    await operatorPage.getByRole('heading', { name: 'Welcome to Custodia' }).waitFor();
    await operatorPage.getByRole('textbox', { name: 'Your e-mail', exact: true }).fill(OPERATOR.email);
    await operatorPage.getByRole('textbox', { name: 'Your name', exact: true }).fill(OPERATOR.name);
    await operatorPage.getByRole('textbox', { name: 'Password', exact: true }).fill(OPERATOR.password);
    await operatorPage.getByRole('textbox', { name: 'Password again', exact: true }).fill(OPERATOR.password);
    await screenshot(operatorPage, '01-setup');
    await audit(operatorPage, 'setup');
    await operatorPage.getByRole('button', { name: 'Create operator admin' }).click();
    await operatorPage.getByRole('heading', { name: 'Account and security' }).waitFor();
    await operatorPage.getByText('You are set up').waitFor();
  });

  step('the operator turns on two-factor sign-in with a QR code and gets recovery codes once', async () => {
    const secret = await enrolTotp(operatorPage);
    await screenshot(operatorPage, '02-totp-enrolment');
    await finishTotp(operatorPage, secret);
    await screenshot(operatorPage, '03-recovery-codes');
    await operatorPage.getByLabel('I have saved these codes somewhere safe').check();
    await operatorPage.getByRole('button', { name: 'Done' }).click();
    await operatorPage.getByText('On. Signing in needs your password').waitFor();
    await screenshot(operatorPage, '04-account');
    await audit(operatorPage, 'account');
  });

  step('the operator creates an organisation and gets its owner invitation link', async () => {
    await operatorPage.getByRole('link', { name: 'Operator console' }).click();
    await operatorPage.getByRole('button', { name: 'New organisation' }).click();
    const dialog = operatorPage.getByRole('dialog');
    await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('Acme Ltd');
    assert.equal(
      await dialog.getByRole('textbox', { name: 'Short name', exact: true }).inputValue(),
      'acme-ltd',
    );
    await dialog.getByRole('textbox', { name: "Owner's e-mail", exact: true }).fill(OWNER.email);
    await dialog.getByRole('button', { name: 'Create organisation' }).click();
    ownerInviteLink = await operatorPage
      .getByRole('textbox', { name: 'Invitation link', exact: true })
      .inputValue();
    assert.match(ownerInviteLink, new RegExp(`^${server.url}/invite#`));
    await operatorPage.getByTestId('tenant-row').filter({ hasText: 'Acme Ltd' }).waitFor();
    await screenshot(operatorPage, '05-operator-console');
    await audit(operatorPage, 'operator console');
  });

  step('the owner accepts the invitation and lands in an empty file browser', async () => {
    ownerPage = await newPage();
    await ownerPage.goto(ownerInviteLink);
    await ownerPage.getByRole('heading', { name: 'Join Acme Ltd' }).waitFor();
    await ownerPage.getByRole('textbox', { name: 'Your name', exact: true }).fill(OWNER.name);
    await ownerPage.getByRole('textbox', { name: 'Choose a password', exact: true }).fill(OWNER.password);
    await ownerPage.getByRole('textbox', { name: 'Password again', exact: true }).fill(OWNER.password);
    await screenshot(ownerPage, '06-invitation');
    await ownerPage.getByRole('button', { name: 'Accept invitation' }).click();
    await ownerPage.getByText('This folder is empty').waitFor();
    assert.equal(new URL(ownerPage.url()).pathname, '/files');
    await screenshot(ownerPage, '07-files-empty');
  });

  step('the owner enrols TOTP, signs out, and signs in again with password and code', async () => {
    await ownerPage.getByRole('link', { name: 'Account and security' }).click();
    ownerSecret = await enrolTotp(ownerPage);
    ownerRecoveryCodes = await finishTotp(ownerPage, ownerSecret);
    await ownerPage.getByLabel('I have saved these codes somewhere safe').check();
    await ownerPage.getByRole('button', { name: 'Done' }).click();
    await ownerPage.getByTestId('user-menu').click();
    await ownerPage.getByRole('menuitem', { name: 'Sign out' }).click();
    await ownerPage.getByRole('heading', { name: 'Sign in' }).waitFor();
    await ownerPage.getByRole('textbox', { name: 'E-mail', exact: true }).fill(OWNER.email);
    await ownerPage.getByRole('textbox', { name: 'Password', exact: true }).fill('wrong password 123');
    await ownerPage.getByRole('button', { name: 'Sign in' }).click();
    await ownerPage.getByRole('alert').waitFor();
    await ownerPage.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await screenshot(ownerPage, '08-sign-in-error');
    await audit(ownerPage, 'sign-in');
    await ownerPage.getByRole('button', { name: 'Sign in' }).click();
    await ownerPage.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
    await screenshot(ownerPage, '09-second-factor');
    await audit(ownerPage, 'second factor');
    // The next 30-second step: still valid (±1 step), and never the code used at enrolment.
    await ownerPage.getByRole('textbox', { name: 'Code', exact: true }).fill(await freshTotp(ownerSecret));
    await ownerPage.getByRole('button', { name: 'Verify' }).click();
    await ownerPage.getByTestId('file-table').or(ownerPage.getByText('This folder is empty')).waitFor();
  });

  step('uploads several files with per-file progress and lists them', async () => {
    await ownerPage.getByTestId('file-input').setInputFiles([
      { name: 'report.txt', mimeType: 'text/plain', buffer: Buffer.from('Quarterly report\nAll is well.\n') },
      { name: 'photo.png', mimeType: 'image/png', buffer: PNG },
      { name: 'contract.pdf', mimeType: 'application/pdf', buffer: PDF },
    ]);
    for (const name of ['report.txt', 'photo.png', 'contract.pdf']) {
      await ownerPage.locator(`[data-testid="file-row"][data-name="${name}"]`).waitFor();
    }
    await ownerPage.locator('[data-testid="upload-row"][data-status="done"]').nth(2).waitFor();
    // Drag and drop: a file dropped anywhere on the page goes into the folder shown.
    const dataTransfer = await ownerPage.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped on the page'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    });
    await ownerPage.getByTestId('file-table').dispatchEvent('dragenter', { dataTransfer });
    await ownerPage.getByText('Drop to upload into').waitFor();
    await ownerPage.getByTestId('file-table').dispatchEvent('drop', { dataTransfer });
    await ownerPage.locator('[data-testid="file-row"][data-name="dropped.txt"]').waitFor();
    await screenshot(ownerPage, '10-files-uploaded');
    await audit(ownerPage, 'files');
  });

  step('a large upload whose connection is cut resumes and arrives intact', async () => {
    const hasTus = await ownerPage.evaluate(async () => {
      const r = await fetch('/api/v1/uploads', { method: 'OPTIONS' });
      return r.ok && r.headers.has('tus-version');
    });
    const row = ownerPage.locator('[data-testid="upload-row"][data-name="big.bin"]');
    if (hasTus) {
      // Slow the link down so the upload is mid-way when it is cut (paused: the request is aborted),
      // then resume: the client must ask the server for the offset (HEAD) and send only the rest.
      const requests: string[] = [];
      const onRequest = (r: { method(): string; url(): string }) => {
        if (r.url().includes('/api/v1/uploads')) {
          requests.push(r.method());
        }
      };
      ownerPage.on('request', onRequest);
      await ownerPage.getByTestId('file-input').setInputFiles(bigFile);
      const cdp = await ownerPage.context().newCDPSession(ownerPage);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: 2 * 1024 * 1024,
      });
      await ownerPage.waitForFunction(() => {
        const text =
          document.querySelector('[data-testid="upload-row"][data-name="big.bin"]')?.textContent ?? '';
        return /Uploading · [1-9][\d.]* MB of 20/.test(text);
      });
      await ownerPage.getByRole('button', { name: 'Pause big.bin' }).click();
      await row.and(ownerPage.locator('[data-status="paused"]')).waitFor();
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      const beforeResume = requests.length;
      await ownerPage.getByRole('button', { name: 'Resume big.bin' }).click();
      await row.and(ownerPage.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
      ownerPage.off('request', onRequest);
      await cdp.detach();
      const after = requests.slice(beforeResume);
      assert.equal(after[0], 'HEAD', `resuming asks the server how much arrived (${after.join(' ')})`);
      assert.ok(!after.includes('POST'), 'resuming continues the same upload instead of starting a new one');
    } else {
      // Without the tus endpoint: the cut upload stops and offers a retry (which starts over).
      let cut = 0;
      await ownerPage.route('**/api/v1/nodes/*/files/big.bin', async (route) => {
        if (cut === 0) {
          cut += 1;
          return route.abort('connectionreset');
        }
        return route.continue();
      });
      await ownerPage.getByTestId('file-input').setInputFiles(bigFile);
      await row.and(ownerPage.locator('[data-status="failed"]')).waitFor();
      await ownerPage.getByRole('button', { name: 'Retry big.bin' }).click();
      await row.and(ownerPage.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
      await ownerPage.unroute('**/api/v1/nodes/*/files/big.bin');
      assert.equal(cut, 1, 'the connection was cut once');
    }
    await ownerPage.locator('[data-testid="file-row"][data-name="big.bin"]').waitFor();
    await openRowMenu(ownerPage, 'big.bin');
    const bytes = await downloadBytes(ownerPage, () =>
      ownerPage.getByRole('menuitem', { name: 'Download' }).click(),
    );
    assert.equal(bytes.length, BIG.length);
    assert.ok(bytes.equals(BIG), 'downloaded bytes equal the uploaded bytes');
  });

  step('previews an image, a PDF and a text file', async () => {
    await ownerPage.getByRole('button', { name: 'report.txt', exact: true }).click();
    await ownerPage.getByTestId('text-preview').filter({ hasText: 'All is well.' }).waitFor();
    await screenshot(ownerPage, '11-preview-text');
    await ownerPage.keyboard.press('Escape');
    await ownerPage.getByRole('button', { name: 'photo.png', exact: true }).click();
    await ownerPage.getByRole('dialog').getByRole('img', { name: 'photo.png' }).waitFor();
    await ownerPage.keyboard.press('Escape');
    await ownerPage.getByRole('button', { name: 'contract.pdf', exact: true }).click();
    await ownerPage.locator('iframe[title="Preview of contract.pdf"]').waitFor();
    await screenshot(ownerPage, '12-preview-pdf');
    await ownerPage.keyboard.press('Escape');
  });

  step('downloads a file with the same bytes', async () => {
    await openRowMenu(ownerPage, 'contract.pdf');
    const bytes = await downloadBytes(ownerPage, () =>
      ownerPage.getByRole('menuitem', { name: 'Download' }).click(),
    );
    assert.ok(bytes.equals(PDF));
  });

  step('creates a folder, renames a file and moves it into the folder', async () => {
    await ownerPage.getByRole('button', { name: 'New folder' }).click();
    await ownerPage.getByRole('textbox', { name: 'Folder name', exact: true }).fill('Audit 2026');
    await ownerPage.getByRole('button', { name: 'Create folder' }).click();
    await ownerPage.locator('[data-testid="file-row"][data-name="Audit 2026"]').waitFor();

    await openRowMenu(ownerPage, 'report.txt');
    await ownerPage.getByRole('menuitem', { name: 'Rename…' }).click();
    await ownerPage.getByRole('textbox', { name: 'New name', exact: true }).fill('q3-report.txt');
    await ownerPage.getByRole('button', { name: 'Rename', exact: true }).click();
    await ownerPage.locator('[data-testid="file-row"][data-name="q3-report.txt"]').waitFor();

    await openRowMenu(ownerPage, 'q3-report.txt');
    await ownerPage.getByRole('menuitem', { name: 'Move to…' }).click();
    await ownerPage.getByRole('button', { name: 'Open folder Audit 2026' }).click();
    await ownerPage.getByRole('button', { name: 'Move to “Audit 2026”' }).click();
    await ownerPage
      .locator('[data-testid="file-row"][data-name="q3-report.txt"]')
      .waitFor({ state: 'detached' });
    await ownerPage.getByRole('button', { name: 'Audit 2026', exact: true }).click();
    await ownerPage.locator('[data-testid="file-row"][data-name="q3-report.txt"]').waitFor();
    await screenshot(ownerPage, '13-folder');
    await ownerPage
      .getByRole('navigation', { name: 'Folder path' })
      .getByRole('link', { name: 'Files' })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="Audit 2026"]').waitFor();

    // Copy, driven from the keyboard: focus the row's menu button, open it with Enter.
    await ownerPage.getByRole('button', { name: 'Actions for dropped.txt', exact: true }).focus();
    await ownerPage.keyboard.press('Enter');
    await ownerPage.getByRole('menuitem', { name: 'Copy to…' }).waitFor();
    await ownerPage.getByRole('menuitem', { name: 'Copy to…' }).click();
    await ownerPage.getByRole('button', { name: 'Open folder Audit 2026' }).click();
    await ownerPage.getByRole('textbox', { name: 'Name of the copy', exact: true }).fill('dropped copy.txt');
    await ownerPage.getByRole('button', { name: 'Copy to “Audit 2026”' }).click();
    await ownerPage
      .getByRole('navigation', { name: 'Folders' })
      .getByRole('link', { name: 'Audit 2026' })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="dropped copy.txt"]').waitFor();
    await ownerPage
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Files', exact: true })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="dropped.txt"]').waitFor();
  });

  step('filters and sorts the list', async () => {
    await ownerPage.getByRole('textbox', { name: 'Filter this folder by name', exact: true }).fill('photo');
    await ownerPage
      .locator('[data-testid="file-row"][data-name="contract.pdf"]')
      .waitFor({ state: 'detached' });
    assert.equal(await ownerPage.getByTestId('file-row').count(), 1);
    await ownerPage.getByRole('textbox', { name: 'Filter this folder by name', exact: true }).fill('');
    await ownerPage.locator('[data-testid="file-row"][data-name="contract.pdf"]').waitFor();
    await ownerPage.getByRole('button', { name: /^Sort by size/ }).click();
    await ownerPage.waitForFunction(() => {
      const names = [...document.querySelectorAll('[data-testid="file-row"]')].map((r) =>
        r.getAttribute('data-name'),
      );
      return names.indexOf('photo.png') < names.indexOf('big.bin');
    });
  });

  step('keeps versions and restores an old one', async () => {
    await ownerPage
      .getByTestId('file-input')
      .setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('first draft') }]);
    await ownerPage.locator('[data-testid="file-row"][data-name="notes.txt"]').waitFor();
    await ownerPage
      .locator('[data-testid="upload-row"][data-name="notes.txt"][data-status="done"]')
      .waitFor();
    await ownerPage.getByRole('button', { name: 'Clear finished' }).click();
    await ownerPage
      .getByTestId('file-input')
      .setInputFiles([
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('second draft, worse') },
      ]);
    await ownerPage
      .locator('[data-testid="upload-row"][data-name="notes.txt"][data-status="done"]')
      .waitFor();
    await openRowMenu(ownerPage, 'notes.txt');
    await ownerPage.getByRole('menuitem', { name: 'Version history' }).click();
    await ownerPage.getByTestId('version-2').waitFor();
    await screenshot(ownerPage, '14-versions');
    await audit(ownerPage, 'versions dialog');
    await ownerPage.getByTestId('version-1').getByRole('button', { name: 'Restore' }).click();
    await ownerPage.getByTestId('version-3').getByText('Current').waitFor();
    await ownerPage.keyboard.press('Escape');
    await openRowMenu(ownerPage, 'notes.txt');
    const bytes = await downloadBytes(ownerPage, () =>
      ownerPage.getByRole('menuitem', { name: 'Download' }).click(),
    );
    assert.equal(bytes.toString(), 'first draft');
  });

  step('moves a file to the trash and restores it', async () => {
    await openRowMenu(ownerPage, 'photo.png');
    await ownerPage.getByRole('menuitem', { name: 'Move to trash' }).click();
    await ownerPage.locator('[data-testid="file-row"][data-name="photo.png"]').waitFor({ state: 'detached' });
    await ownerPage.getByRole('link', { name: 'Trash' }).click();
    await ownerPage.locator('[data-testid="trash-row"][data-name="photo.png"]').waitFor();
    await screenshot(ownerPage, '15-trash');
    await ownerPage.getByRole('button', { name: 'Restore photo.png' }).click();
    await ownerPage.getByText('The trash is empty').waitFor();
    await ownerPage
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Files', exact: true })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="photo.png"]').waitFor();

    // Several at once: select two rows, move both to the trash, restore both.
    await ownerPage.getByRole('checkbox', { name: 'Select big.bin' }).check();
    await ownerPage.getByRole('checkbox', { name: 'Select dropped.txt' }).check();
    await ownerPage.getByText('2 selected').waitFor();
    await screenshot(ownerPage, '15b-selection');
    await ownerPage
      .getByRole('group', { name: 'Selection' })
      .getByRole('button', { name: 'Move to trash' })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="big.bin"]').waitFor({ state: 'detached' });
    await ownerPage.getByRole('link', { name: 'Trash' }).click();
    await ownerPage.getByRole('button', { name: 'Restore big.bin' }).click();
    await ownerPage.getByRole('button', { name: 'Restore dropped.txt' }).click();
    await ownerPage.getByText('The trash is empty').waitFor();
    await ownerPage
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Files', exact: true })
      .click();
    await ownerPage.locator('[data-testid="file-row"][data-name="big.bin"]').waitFor();
  });

  step('creates a share link with a password that works in a fresh browser', async () => {
    await openRowMenu(ownerPage, 'contract.pdf');
    await ownerPage.getByRole('menuitem', { name: 'Share link…' }).click();
    const dialog = ownerPage.getByRole('dialog');
    await dialog
      .getByRole('textbox', { name: 'Password (recommended for personal data)', exact: true })
      .fill('open sesame 42');
    await dialog.getByRole('textbox', { name: 'Download limit', exact: true }).fill('3');
    await dialog.getByRole('button', { name: 'Create link' }).click();
    shareLink = await dialog.getByRole('textbox', { name: 'Share link', exact: true }).inputValue();
    assert.match(shareLink, new RegExp(`^${server.url}/s/[A-Za-z0-9_-]+$`));
    await dialog.getByTestId('share-link-row').waitFor();
    await screenshot(ownerPage, '16-share-dialog');
    await audit(ownerPage, 'share dialog');
    await ownerPage.keyboard.press('Escape');

    const stranger = await newPage({ width: 390, height: 760 });
    await stranger.goto(shareLink);
    await stranger.getByRole('heading', { name: 'A file was shared with you' }).waitFor();
    assert.equal(await stranger.getByText('contract.pdf').count(), 0, 'no file name before the password');
    await stranger.getByRole('textbox', { name: 'Password', exact: true }).fill('not it');
    await stranger.getByRole('button', { name: 'Unlock' }).click();
    await stranger.getByRole('alert').waitFor();
    await screenshot(stranger, '17-public-share-password');
    await audit(stranger, 'public share');
    await stranger.getByRole('textbox', { name: 'Password', exact: true }).fill('open sesame 42');
    await stranger.getByRole('button', { name: 'Unlock' }).click();
    await stranger.getByTestId('shared-name').filter({ hasText: 'contract.pdf' }).waitFor();
    await screenshot(stranger, '18-public-share-download');
    const bytes = await downloadBytes(stranger, () =>
      stranger.getByRole('link', { name: 'Download' }).click(),
    );
    assert.ok(bytes.equals(PDF));
    assert.deepEqual(
      (await stranger.context().cookies()).map((c) => c.name),
      [],
      'a share link sets no cookie',
    );
  });

  step('a guest sees only the folder given to them', async () => {
    await ownerPage.getByRole('link', { name: 'Organisation' }).click();
    await ownerPage.getByRole('textbox', { name: 'E-mail', exact: true }).fill(GUEST.email);
    await ownerPage.getByRole('combobox', { name: 'Role', exact: true }).click();
    await ownerPage.getByRole('option', { name: 'Guest' }).click();
    await ownerPage.getByRole('button', { name: 'Create invitation' }).click();
    const guestLink = await ownerPage
      .getByRole('textbox', { name: 'Invitation link', exact: true })
      .inputValue();
    await screenshot(ownerPage, '19-members');
    await audit(ownerPage, 'members');

    const guest = await newPage();
    guestPage = guest;
    await guest.goto(guestLink);
    await guest.getByRole('textbox', { name: 'Your name', exact: true }).fill(GUEST.name);
    await guest.getByRole('textbox', { name: 'Choose a password', exact: true }).fill(GUEST.password);
    await guest.getByRole('textbox', { name: 'Password again', exact: true }).fill(GUEST.password);
    await guest.getByRole('button', { name: 'Accept invitation' }).click();
    await guest.getByText('Nothing shared with you yet').waitFor();

    await ownerPage.getByRole('tab', { name: 'Guest access' }).click();
    await ownerPage.getByRole('button', { name: 'Choose a folder' }).click();
    await ownerPage.getByRole('button', { name: 'Open folder Audit 2026' }).click();
    await ownerPage.getByRole('button', { name: 'Choose to “Audit 2026”' }).click();
    await ownerPage.getByRole('combobox', { name: 'Guest', exact: true }).click();
    await ownerPage.getByRole('option', { name: /Ada Auditor/ }).click();
    await ownerPage.getByRole('button', { name: 'Give access' }).click();
    await ownerPage.getByTestId('grant-row').waitFor();
    await screenshot(ownerPage, '20-guest-access');

    await guest.reload();
    await guest.getByTestId('shared-folder').filter({ hasText: 'Audit 2026' }).click();
    await guest.locator('[data-testid="file-row"][data-name="q3-report.txt"]').waitFor();
    await screenshot(guest, '21-guest-folder');
    await audit(guest, 'guest folder');
    assert.equal(await guest.getByRole('link', { name: 'Trash' }).count(), 0);
    assert.equal(await guest.getByRole('link', { name: 'Organisation' }).count(), 0);
    // Outside the folder: the top folder and the member list answer as if they did not exist.
    const outside = await guest.evaluate(async () => {
      const root = await fetch('/api/v1/nodes/root');
      const members = await fetch('/api/v1/members');
      return [root.status, members.status];
    });
    assert.ok(outside[0] === 403 || outside[0] === 404, `root folder refused (${outside[0]})`);
    assert.ok(outside[1] === 403 || outside[1] === 404, `member list refused (${outside[1]})`);
    const rootId = await ownerPage.evaluate(async () => {
      const r = await fetch('/api/v1/nodes/root');
      return ((await r.json()) as { node: { id: string } }).node.id;
    });
    await guest.goto(`${server.url}/files/${rootId}`);
    await guest.getByRole('alert').waitFor();
    assert.equal(await guest.locator('[data-testid="file-row"][data-name="contract.pdf"]').count(), 0);
  });

  step('shows the organisation settings, API tokens and the compliance centre', async () => {
    await ownerPage.getByRole('tab', { name: 'Security and storage' }).click();
    await ownerPage.getByLabel('Require two-factor sign-in for everyone').check();
    await ownerPage.getByText('Two-factor sign-in is now required.').waitFor();
    await screenshot(ownerPage, '22-settings');
    await audit(ownerPage, 'settings');
    // The guest has no second factor yet: their next page load asks them to set one up first.
    await guestPage.reload();
    await guestPage.getByRole('heading', { name: 'Set up two-factor sign-in' }).waitFor();
    await screenshot(guestPage, '22b-enrolment-required');
    await ownerPage.getByRole('tab', { name: 'API tokens' }).click();
    await ownerPage.getByRole('textbox', { name: 'What is it for?', exact: true }).fill('Nightly backup');
    await ownerPage.getByRole('button', { name: 'Create token' }).click();
    const token = await ownerPage.getByRole('textbox', { name: 'API token', exact: true }).inputValue();
    assert.match(token, /^cst_/);
    await ownerPage.getByTestId('token-row').waitFor();
    await screenshot(ownerPage, '23-api-tokens');
    await ownerPage.getByRole('link', { name: 'Compliance centre' }).click();
    await ownerPage.getByRole('heading', { name: 'Records of processing' }).waitFor();
    await screenshot(ownerPage, '24-compliance');
    await audit(ownerPage, 'compliance centre');
  });

  step('works at phone width', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await phone.goto(`${server.url}/`);
    await phone.getByRole('textbox', { name: 'E-mail', exact: true }).fill(OWNER.email);
    await phone.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await screenshot(phone, '25-phone-sign-in');
    await phone.getByRole('button', { name: 'Sign in' }).click();
    // A lost phone: a recovery code signs in once and says how many are left.
    await phone.getByRole('button', { name: 'Lost your phone? Use a recovery code' }).click();
    await phone
      .getByRole('textbox', { name: 'Recovery code', exact: true })
      .fill(ownerRecoveryCodes[0] ?? '');
    await phone.getByRole('button', { name: 'Verify' }).click();
    await phone
      .getByText(`You have ${ownerRecoveryCodes.length - 1} recovery codes left.`, { exact: false })
      .waitFor();
    await screenshot(phone, '25b-phone-recovery-code');
    await phone.getByRole('button', { name: 'Continue' }).click();
    await phone.getByTestId('file-table').waitFor();
    await screenshot(phone, '26-phone-files');
    await audit(phone, 'files at phone width');
    await phone.getByRole('button', { name: 'Open navigation' }).click();
    await phone.getByRole('link', { name: 'Trash' }).waitFor();
    await screenshot(phone, '27-phone-navigation');
    await phone.getByRole('link', { name: 'Organisation' }).click();
    await phone.getByTestId('member-row').first().waitFor();
    await screenshot(phone, '27b-phone-organisation');
    await phone.getByRole('button', { name: 'Open navigation' }).click();
    await phone.getByRole('link', { name: 'Account and security' }).click();
    await phone.getByTestId('session-row').first().waitFor();
    await screenshot(phone, '27c-phone-account');
  });

  step('the operator suspends and resumes the organisation', async () => {
    await operatorPage.getByRole('link', { name: 'Operator console' }).click();
    const row = operatorPage.getByTestId('tenant-row').filter({ hasText: 'Acme Ltd' });
    await row.getByRole('button', { name: 'Suspend' }).click();
    await row.getByText('Suspended').waitFor();
    await ownerPage.goto(`${server.url}/files`);
    await ownerPage.getByRole('heading', { name: 'Your organisation is not available' }).waitFor();
    await screenshot(ownerPage, '29-organisation-suspended');
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByText('Active').waitFor();
    await ownerPage.getByRole('button', { name: 'Try again' }).click();
    await ownerPage.getByTestId('file-table').waitFor();
  });

  step('lists sessions, signs out the other ones, then signs out', async () => {
    await ownerPage.getByRole('link', { name: 'Account and security' }).click();
    await ownerPage.getByTestId('session-row').nth(1).waitFor();
    await screenshot(ownerPage, '28-sessions');
    await ownerPage.getByRole('button', { name: 'Sign out other sessions' }).click();
    await ownerPage.waitForFunction(
      () => document.querySelectorAll('[data-testid="session-row"]').length === 1,
    );
    await ownerPage.getByTestId('user-menu').click();
    await ownerPage.getByRole('menuitem', { name: 'Sign out' }).click();
    await ownerPage.getByRole('heading', { name: 'Sign in' }).waitFor();
    const status = await ownerPage.evaluate(async () => (await fetch('/api/v1/me')).status);
    assert.equal(status, 401);
    const names = (await ownerPage.context().cookies()).map((c) => c.name);
    assert.ok(!names.includes('sessionid'), 'the session cookie is gone after sign-out');
  });

  step('set no cookie but sessionid and csrftoken, and contacted no host but the server', async () => {
    for (const context of contexts) {
      await traffic.collectJarCookies(context);
    }
    const own = new URL(server.url).host;
    assert.deepEqual([...traffic.hosts], [own], `hosts contacted: ${[...traffic.hosts].join(', ')}`);
    assert.deepEqual(
      [...traffic.setCookieNames].sort(),
      ['csrftoken', 'sessionid'],
      `cookies set: ${[...traffic.setCookieNames].join(', ')}`,
    );
    assert.ok(traffic.urls.length > 50, 'the recorder saw the whole journey');
    assert.deepEqual(traffic.cspViolations, [], 'the strict CSP never had to block anything');
    assert.deepEqual(a11y, [], 'axe-core finds no serious or critical accessibility problem');
  });
});
