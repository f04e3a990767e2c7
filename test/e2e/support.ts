import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { TesseraClient } from '../../src/client/sdk.ts';
import { parseConfig, type ConfigInput } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/main.ts';
import { createServerDatabase, type Backend } from '../support/databases.ts';

/**
 * What the browser suites share: a real server on one backend, Debian's Chromium driving the
 * built portal, screenshots, steps that stop after the first failure, and the few things every
 * scenario does (register, sign in, add a person with a role, wait for a condition).
 * Needs the built portal in dist/web: `npm test` builds it first; alone, run `npm run build`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB_DIR = path.join(ROOT, 'dist/web');
const SHOTS = path.join(ROOT, 'test-artifacts/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const PASSWORD = 'quiet lake 42 morning';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const VIEWPORT = { width: 1280, height: 860 };
/** A whole browser suite's time, generous: two cores shared with the API suites running beside it. */
export const SUITE_TIMEOUT_MS = 180_000;
/** Generous: CI shares two cores with other suites. */
const ACTION_TIMEOUT_MS = 20_000;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The address of one section of an account; its first group is the account id. */
export function accountUrl(section: string): RegExp {
  return new RegExp(`/accounts/(${UUID})/${section}$`);
}

export const PROFILE_URL = accountUrl('profile');

/** The account id in the page's address (a profile address unless told otherwise). */
export function accountIdOf(page: Page, pattern: RegExp = PROFILE_URL): string {
  const match = pattern.exec(new URL(page.url()).pathname);
  assert.ok(match, `expected an address like ${pattern}, got ${page.url()}`);
  return match[1]!;
}

/** An address no other run (process, backend, moment) uses. */
export function uniqueEmail(label: string, backend: Backend): string {
  return `${label}.${process.pid}.${backend}.${Date.now()}@example.test`;
}

/** Waits (briefly) for a condition, for clear failures instead of timeouts. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits (briefly) for an input to show a value, then asserts it, for a clear message. */
export async function assertValue(locator: Locator, expected: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await locator.inputValue()) !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await locator.inputValue(), expected);
}

/** The red box under an input: it has a red border and sits right below, at most `maxGap` pixels down. */
export async function assertRedBoxUnder(error: Locator, input: Locator, maxGap = 40): Promise<void> {
  const inputBox = await input.boundingBox();
  const errorBox = await error.boundingBox();
  assert.ok(inputBox && errorBox && errorBox.y >= inputBox.y + inputBox.height && errorBox.y - (inputBox.y + inputBox.height) < maxGap, 'the error sits under its input');
  const style = await error.evaluate((el) => {
    const computed = getComputedStyle(el);
    return { border: computed.borderTopColor, width: computed.borderTopWidth };
  });
  assert.notEqual(style.width, '0px', 'the error has a border');
  const [r, g, b] = (style.border.match(/\d+/g) ?? []).map(Number);
  assert.ok(r! > 200 && g! < 160 && b! < 160, `the border is red (${style.border})`);
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
}

/** Picks a country in the searchable select within `scope` (the page, or a dialog). */
export async function chooseCountry(page: Page, search: string, name: string, scope: Page | Locator = page): Promise<void> {
  const input = scope.getByRole('combobox', { name: 'Country' });
  await input.click();
  await input.fill(search);
  await page.getByRole('option', { name, exact: true }).click();
  await assertValue(input, name);
}

export interface Person {
  name: string;
  email: string;
  companyName: string;
}

/** Registers on /register (company in the United Kingdom) and returns the new account's id. */
export async function register(page: Page, person: Person, options: { beforeSubmit?: () => Promise<unknown> } = {}): Promise<string> {
  await page.goto('/register');
  await page.getByRole('heading', { name: 'Create your Tessera account' }).waitFor();
  await page.getByLabel('Your name').fill(person.name);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Company name').fill(person.companyName);
  await chooseCountry(page, 'United King', 'United Kingdom');
  await options.beforeSubmit?.();
  await page.getByRole('button', { name: 'Register' }).click();
  await page.waitForURL(PROFILE_URL);
  return accountIdOf(page);
}

/** Signs in on /sign-in and waits for the profile page. */
export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(PROFILE_URL);
}

/**
 * Someone else with a role in the account: registered through the API (with an account of their
 * own), given the membership directly in the database, and signed in again so their session sees it.
 */
export async function addPerson(
  server: RunningServer,
  accountId: string,
  person: Person & { role: 'manager' | 'viewer'; country?: string },
): Promise<{ email: string; sdk: TesseraClient }> {
  const sdk = new TesseraClient({ baseUrl: server.url, cookieJar: true });
  const registered = await sdk.register({ name: person.name, email: person.email, password: PASSWORD, companyName: person.companyName, country: person.country ?? 'GB' });
  await server.database.inSystem((tx) =>
    tx.insertInto('memberships').values({ account_id: accountId, user_id: registered.user.id, role: person.role, created_at: new Date() }).execute(),
  );
  await sdk.signOut();
  await sdk.signIn({ email: person.email, password: PASSWORD });
  return { email: person.email, sdk };
}

/** The desktop program's client, against the suite's server. */
export function desktopClient(server: RunningServer): TesseraDesktopClient {
  return new TesseraDesktopClient({ baseUrl: server.url, userAgent: 'tessera-e2e-desktop/1' });
}

export interface Portal {
  readonly backend: Backend;
  readonly server: RunningServer;
  readonly browser: Browser;
  /** The main page's context (clipboard allowed). */
  readonly context: BrowserContext;
  readonly page: Page;
  /** A full-page screenshot: test-artifacts/screenshots/<backend>-<shots><name>.png. */
  shot(name: string, on?: Page): Promise<unknown>;
  /** Another browser context (another person, or the same person elsewhere); the browser closes it at the end. */
  newContext(): Promise<BrowserContext>;
  /**
   * One step of the scenario, given the portal. After a failure (screenshot `failure`) the later
   * steps are skipped: they would only time out.
   */
  step(name: string, fn: (portal: Portal) => Promise<void>): void;
}

/** A browser context on the portal at `origin`: English, no animations, the clipboard allowed. */
async function openContext(browser: Browser, origin: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: origin, locale: 'en-US', reducedMotion: 'reduce', viewport: VIEWPORT });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  return context;
}

interface Running {
  server: RunningServer;
  /** Where the browser opens the portal. */
  origin: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

/** A local port free now, for a server whose address must be known before it starts. */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A server on `backend` with the built portal, and Chromium with one page on it, for the
 * `describe` this is called in: started before its tests, stopped (database dropped) after them.
 * `atLocalhost`: the browser opens the portal at http://localhost:<port>, which is also the
 * server's public URL, since passkeys are bound to that origin and Chromium refuses them on an
 * IP address.
 */
export function usePortal(backend: Backend, options: { shots: string; config?: ConfigInput | (() => ConfigInput); atLocalhost?: boolean }): Portal {
  let running: Running | null = null;
  let failed = false;
  const cleanups: (() => unknown)[] = [];
  const need = (): Running => {
    if (!running) throw new Error('the portal has not started');
    return running;
  };
  const prefix = options.shots ? `${options.shots}-` : '';

  const portal: Portal = {
    backend,
    get server() {
      return need().server;
    },
    get browser() {
      return need().browser;
    },
    get context() {
      return need().context;
    },
    get page() {
      return need().page;
    },
    shot: (name, on) => (on ?? need().page).screenshot({ path: path.join(SHOTS, `${backend}-${prefix}${name}.png`), fullPage: true }),
    newContext: () => openContext(need().browser, need().origin),
    step: (name, fn) =>
      it(name, async (t) => {
        if (failed) return t.skip('an earlier step failed');
        try {
          await fn(portal);
        } catch (error) {
          failed = true;
          await portal.shot('failure').catch(() => undefined);
          throw error;
        }
      }),
  };

  before(async () => {
    assert.ok(fs.existsSync(path.join(WEB_DIR, 'index.html')), 'dist/web is missing: run `npm run build` first');
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    fs.mkdirSync(SHOTS, { recursive: true });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-e2e-${options.shots || 'portal'}-`));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    let databaseUrl: string | undefined;
    if (backend === 'postgres') {
      const created = await createServerDatabase();
      databaseUrl = created.url;
      cleanups.push(created.drop);
    }
    // a function is read now, after the suite's own earlier hooks (an SMTP listener's port, say)
    const config = typeof options.config === 'function' ? options.config() : options.config;
    const port = options.atLocalhost ? await freePort() : 0;
    const localhost = options.atLocalhost ? { port, publicUrl: `http://localhost:${port}` } : {};
    const server = await startServer(parseConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', webDir: WEB_DIR, dataDir, databaseUrl, ...localhost, ...config }));
    cleanups.push(() => server.stop());
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    cleanups.push(() => browser.close());
    const origin = options.atLocalhost ? `http://localhost:${port}` : server.url;
    const context = await openContext(browser, origin);
    running = { server, origin, browser, context, page: await context.newPage() };
  });

  after(async () => {
    // the browser first, then the server, then its database and files; each runs whatever failed before
    const problems: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        problems.push(error);
      }
    }
    running = null;
    if (problems.length > 0) throw problems[0];
  });

  return portal;
}
