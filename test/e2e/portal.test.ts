import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { parseConfig } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/main.ts';
import { BACKENDS, createServerDatabase } from '../support/databases.ts';

/**
 * The portal as a person uses it, in Debian's Chromium, against a real server on each backend.
 * Needs the built portal in dist/web: `npm test` builds it first; alone, run `npm run build`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB_DIR = path.join(ROOT, 'dist/web');
const SHOTS = path.join(ROOT, 'test-artifacts/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'quiet lake 42 morning';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const PROFILE_URL = new RegExp(`/accounts/(${UUID})/profile$`);

function accountIdOf(page: Page): string {
  const match = PROFILE_URL.exec(new URL(page.url()).pathname);
  assert.ok(match, `expected a profile address, got ${page.url()}`);
  return match[1]!;
}

/** Picks a country in the searchable select within `scope` (the page, or a dialog). */
async function chooseCountry(page: Page, search: string, name: string, scope: Page | Locator = page): Promise<void> {
  const input = scope.getByRole('combobox', { name: 'Country' });
  await input.click();
  await input.fill(search);
  await page.getByRole('option', { name, exact: true }).click();
  await assertValue(input, name);
}

/** Waits (briefly) for an input to show a value, then asserts it, for a clear message. */
async function assertValue(locator: Locator, expected: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await locator.inputValue()) !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await locator.inputValue(), expected);
}

for (const backend of BACKENDS) {
  describe(`portal in the browser (${backend})`, { timeout: 90_000 }, () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let dataDir: string;
    let dropDatabase: (() => Promise<void>) | null = null;
    let firstAccountId = '';
    let secondAccountId = '';
    const email = `ada.${process.pid}.${backend}.${Date.now()}@example.test`;

    const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${backend}-${name}.png`), fullPage: true });
    const menuButton = () => page.getByTestId('account-menu');

    /** One step of the scenario: after a failure, the rest are skipped (they would only time out). */
    let failed = false;
    const step = (name: string, fn: () => Promise<void>) =>
      it(name, async (t) => {
        if (failed) return t.skip('an earlier step failed');
        try {
          await fn();
        } catch (error) {
          failed = true;
          await shot('failure').catch(() => undefined);
          throw error;
        }
      });

    before(async () => {
      assert.ok(fs.existsSync(path.join(WEB_DIR, 'index.html')), 'dist/web is missing: run `npm run build` first');
      assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
      fs.mkdirSync(SHOTS, { recursive: true });
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-'));
      let databaseUrl: string | undefined;
      if (backend === 'postgres') {
        const created = await createServerDatabase();
        databaseUrl = created.url;
        dropDatabase = created.drop;
      }
      server = await startServer(
        parseConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', webDir: WEB_DIR, dataDir, databaseUrl }),
      );
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      const context = await browser.newContext({ baseURL: server.url, locale: 'en-US', reducedMotion: 'reduce', viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(20_000); // generous: CI shares two cores with other suites
      page = await context.newPage();
    });

    after(async () => {
      await browser?.close();
      await server?.stop();
      await dropDatabase?.();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    step('registers a new person and opens their first account', async () => {
      await page.goto('/register');
      await page.getByRole('heading', { name: 'Create your Tessera account' }).waitFor();
      await page.getByLabel('Your name').fill('Ada Lovelace');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('Company name').fill('Analytical Engines Ltd');
      await chooseCountry(page, 'United King', 'United Kingdom');
      await shot('register');
      await page.getByRole('button', { name: 'Register' }).click();

      await page.waitForURL(PROFILE_URL);
      firstAccountId = accountIdOf(page);
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      assert.equal(await page.getByTestId('current-account').textContent(), 'Analytical Engines Ltd');
      assert.equal(await page.getByTestId('current-role').textContent(), 'Owner');
      await page.getByTestId('verify-banner').waitFor();
    });

    step('signs out and signs in again, with a wrong password refused in an alert', async () => {
      await menuButton().click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in$/);

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill('wrong password 1');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByTestId('form-alert');
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /Email or password is incorrect/);
      await page.waitForFunction(() => !document.querySelector('button[data-loading]'));
      await shot('sign-in');

      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(PROFILE_URL);
      assert.equal(accountIdOf(page), firstAccountId, 'the remembered account opens');
    });

    step('shows the profile with the stored values', async () => {
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines Ltd');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'United Kingdom');
      assert.equal(await page.getByRole('switch', { name: 'Email notifications' }).isChecked(), true);
      await shot('profile');
    });

    step('refuses an empty company name and no country next to the fields, and stores nothing', async () => {
      await page.getByLabel('Company name').fill('');
      await page.getByRole('button', { name: 'Clear country' }).click();
      await assertValue(page.getByRole('combobox', { name: 'Country' }), '');
      await page.getByRole('button', { name: 'Save changes' }).click();

      const companyError = page.getByTestId('field-error-companyName');
      const countryError = page.getByTestId('field-error-country');
      await companyError.waitFor();
      await countryError.waitFor();
      assert.equal(await companyError.textContent(), 'Enter a company name');
      assert.equal(await countryError.textContent(), 'Choose a country');
      // the error sits right under its own input, in a red box
      const inputBox = await page.getByLabel('Company name').boundingBox();
      const errorBox = await companyError.boundingBox();
      assert.ok(inputBox && errorBox && errorBox.y >= inputBox.y + inputBox.height && errorBox.y - (inputBox.y + inputBox.height) < 24);
      const colours = await companyError.evaluate((el) => {
        const style = getComputedStyle(el);
        return { border: style.borderTopColor, background: style.backgroundColor, width: style.borderTopWidth };
      });
      assert.notEqual(colours.width, '0px', 'the error has a border');
      const [r, g, b] = (colours.border.match(/\d+/g) ?? []).map(Number);
      assert.ok(r! > 200 && g! < 160 && b! < 160, `the border is red (${colours.border})`);
      assert.equal(await page.getByLabel('Company name').getAttribute('aria-invalid'), 'true');
      await shot('field-error');

      await page.reload();
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines Ltd');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'United Kingdom');
    });

    step('saves a valid profile', async () => {
      await page.getByLabel('Company name').fill('Analytical Engines GmbH');
      await chooseCountry(page, 'Germ', 'Germany');
      await page.getByRole('switch', { name: 'Email notifications' }).setChecked(false, { force: true });
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByTestId('saved').waitFor();
      assert.equal(await page.getByTestId('field-error-companyName').count(), 0);
      await page.getByTestId('current-account').filter({ hasText: 'Analytical Engines GmbH' }).waitFor();

      await page.reload();
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines GmbH');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'Germany');
      assert.equal(await page.getByRole('switch', { name: 'Email notifications' }).isChecked(), false);
      const stored = await server.database.inSystem((tx) =>
        tx.selectFrom('accounts').select(['company_name', 'country', 'email_notifications']).where('account_id', '=', firstAccountId).executeTakeFirstOrThrow(),
      );
      assert.deepEqual(stored, { company_name: 'Analytical Engines GmbH', country: 'DE', email_notifications: false });
    });

    step('creates a second account from the account menu and switches to it', async () => {
      await menuButton().click();
      await page.getByRole('menuitem', { name: 'Create account' }).waitFor();
      await shot('account-menu');
      await page.getByRole('menuitem', { name: 'Create account' }).click();

      const dialog = page.getByRole('dialog', { name: 'Create an account' });
      await dialog.waitFor();
      await dialog.getByLabel('Company name').fill('Difference Engines SARL');
      await chooseCountry(page, 'Fran', 'France', dialog);
      await dialog.getByRole('button', { name: 'Create account' }).click();
      await dialog.waitFor({ state: 'hidden' });

      await page.waitForURL((url) => PROFILE_URL.test(url.pathname) && !url.pathname.includes(firstAccountId));
      secondAccountId = accountIdOf(page);
      await page.getByTestId('current-account').filter({ hasText: 'Difference Engines SARL' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Difference Engines SARL');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'France');
      assert.equal(await page.evaluate(() => localStorage.getItem('tessera.selectedAccount')), secondAccountId);
      await shot('second-account');
    });

    step('switches back to the first account, and remembers the choice', async () => {
      await menuButton().click();
      const options = page.getByTestId('account-option');
      await options.first().waitFor();
      assert.equal(await options.count(), 2);
      await options.filter({ hasText: 'Analytical Engines GmbH' }).click();
      await page.waitForURL(new RegExp(`/accounts/${firstAccountId}/profile$`));
      await page.getByTestId('current-account').filter({ hasText: 'Analytical Engines GmbH' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines GmbH');

      await page.goto('/');
      await page.waitForURL(new RegExp(`/accounts/${firstAccountId}/profile$`));
      assert.equal(await page.evaluate(() => localStorage.getItem('tessera.selectedAccount')), firstAccountId);
    });
  });
}
