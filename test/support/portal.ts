import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensurePortalBuilt } from '../../scripts/build-web.ts';
import { compose, type Services } from '../../src/compose.ts';
import { loadConfig } from '../../src/config/load.ts';
import { buildApp } from '../../src/http/app.ts';
import { testHasher } from './build-app.ts';
import { createTestDatabase } from './dialects.ts';

/** Debian's chromium; the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'screenshots');

/**
 * Why the browser tests cannot run here, or undefined when they can. In CI a missing browser is a
 * failure (.ci/run installs it), elsewhere a skip with the command that fixes it.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) {
    return undefined;
  }
  if (process.env.CI) {
    throw new Error(
      `${CHROMIUM} is missing: CI must install Debian's chromium (apt-get install -y chromium).`,
    );
  }
  return `browser tests skipped: ${CHROMIUM} not found (install it with: apt-get install -y chromium)`;
}

export interface PortalServer {
  url: string;
  services: Services;
  close(): Promise<void>;
}

/**
 * A real Custodia server on a free port (SQLite, temp data dir) serving the built portal. The
 * public URL is set to the port it got, so share and invitation links point back at it.
 */
export async function startPortalServer(): Promise<PortalServer> {
  ensurePortalBuilt({ quiet: true });
  const database = await createTestDatabase('sqlite');
  const config = loadConfig({
    CUSTODIA_DATA_DIR: database.dataDir,
    CUSTODIA_DATABASE_URL: database.url,
    CUSTODIA_KEYSTORE_URL: `sqlite:${join(database.dataDir, 'keys', 'keystore.db')}`,
    CUSTODIA_PUBLIC_URL: 'http://127.0.0.1:8080',
    CUSTODIA_LOG_LEVEL: 'silent',
  });
  const services = await compose(config, { hasher: testHasher });
  const app = await buildApp(services);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  (services.config as { publicUrl: string }).publicUrl = url;
  return {
    url,
    services,
    close: async () => {
      await app.close();
      await services.close();
      await database.cleanup();
    },
  };
}

/**
 * First-run setup (if still pending), then an organisation with an owner who has a password and an
 * owner API token: what a browser test needs before it signs in. Made through the real services.
 */
export async function createOrganisation(
  server: PortalServer,
  options: { name: string; slug: string; owner: { email: string; name: string; password: string } },
): Promise<{ tenantId: string; ownerId: string; token: string }> {
  const s = server.services;
  if (await s.members.isSetupPending()) {
    await s.members.completeSetup({
      isLocalConsole: true,
      email: `operator@${options.slug}.example`,
      displayName: 'Operator',
      password: 'operator password 1',
      origin: { channel: 'cli' },
    });
  }
  const [operator] = await s.store.repos.users.listOperators();
  if (!operator) {
    throw new Error('no operator admin');
  }
  const actor = { kind: 'operator' as const, userId: operator.id, channel: 'cli' as const };
  const tenant = await s.tenants.createTenant(actor, { name: options.name, slug: options.slug });
  const invite = await s.members.inviteMember(actor, {
    tenantId: tenant.id,
    email: options.owner.email,
    role: 'owner',
  });
  const owner = await s.members.acceptInvitation({
    token: invite.token,
    displayName: options.owner.name,
    password: options.owner.password,
    origin: { channel: 'web' },
  });
  const { token } = await s.members.createToken(
    { kind: 'member', tenantId: tenant.id, userId: owner.id, role: 'owner', channel: 'cli' },
    { name: 'browser test' },
  );
  return { tenantId: tenant.id, ownerId: owner.id, token };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Everything a browser context did that the privacy promise covers: cookies set, hosts contacted. */
export class TrafficRecorder {
  readonly hosts = new Set<string>();
  readonly setCookieNames = new Set<string>();
  readonly urls: string[] = [];
  /** Content-Security-Policy violations the browser reported (inline script, foreign host, …). */
  readonly cspViolations: string[] = [];

  watch(context: BrowserContext): void {
    context.on('console', (message) => {
      if (/Content Security Policy|Refused to (load|execute|apply|frame|connect)/i.test(message.text())) {
        this.cspViolations.push(message.text());
      }
    });
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'ws:') {
        this.hosts.add(url.host);
        this.urls.push(`${request.method()} ${url.pathname}`);
      }
    });
    context.on('response', (response) => {
      void response
        .headersArray()
        .then((headers) => {
          for (const h of headers) {
            if (h.name.toLowerCase() === 'set-cookie') {
              for (const line of h.value.split('\n')) {
                const name = line.split('=')[0]?.trim();
                if (name) {
                  this.setCookieNames.add(name);
                }
              }
            }
          }
        })
        .catch(() => undefined);
    });
  }

  /** Also counts cookies written by page script (document.cookie), which no header shows. */
  async collectJarCookies(context: BrowserContext): Promise<void> {
    for (const cookie of await context.cookies()) {
      this.setCookieNames.add(cookie.name);
    }
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => undefined);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const lastStep = new Map<string, number>();

/**
 * A TOTP code for a base32 secret that has not been used before: servers refuse a code whose time
 * step was already accepted (RFC 6238 §5.2). Takes the next unused step within the ±1-step window,
 * waiting for the clock when every step in it is spent.
 */
export async function freshTotp(secret: string): Promise<string> {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  const current = () => Math.floor(Date.now() / 30_000);
  const step = Math.max(current(), (lastStep.get(secret) ?? -Infinity) + 1);
  while (step > current() + 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  lastStep.set(secret, step);
  return totp.generate({ timestamp: step * 30_000 + 1000 });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.1 A/AA rules) on the page as it is now and returns the serious and
 * critical findings as readable lines. Injected through the debugging protocol, so the page's own
 * strict CSP stays in force.
 */
export async function accessibilityProblems(page: Page, label: string): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<unknown> } })
      .axe;
    const result = (await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    })) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}): ${v.help} at ${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join(', ')}`,
      );
  });
  return violations.map((v) => `${label}: ${v}`);
}
