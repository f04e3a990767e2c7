import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { accountIdOf, assertRedBoxUnder, assertValue, chooseCountry, PASSWORD, PROFILE_URL, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/** The portal as a person uses it, in Debian's Chromium, against a real server on each backend. */

for (const backend of BACKENDS) {
  describe(`portal in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: '' });
    const { step, shot } = portal;
    let firstAccountId = '';
    let secondAccountId = '';
    const email = uniqueEmail('ada', backend);

    const menuButton = () => portal.page.getByTestId('account-menu');

    step('registers a new person and opens their first account', async ({ page }) => {
      firstAccountId = await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' }, { beforeSubmit: () => shot('register') });
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      assert.equal(await page.getByTestId('current-account').textContent(), 'Analytical Engines Ltd');
      assert.equal(await page.getByTestId('current-role').textContent(), 'Owner');
      await page.getByTestId('verify-banner').waitFor();
    });

    step('signs out and signs in again, with a wrong password refused in an alert', async ({ page }) => {
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

    step('shows the profile with the stored values', async ({ page }) => {
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines Ltd');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'United Kingdom');
      assert.equal(await page.getByRole('switch', { name: 'Email notifications' }).isChecked(), true);
      await shot('profile');
    });

    step('refuses an empty company name and no country next to the fields, and stores nothing', async ({ page }) => {
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
      await assertRedBoxUnder(companyError, page.getByLabel('Company name'), 24);
      assert.equal(await page.getByLabel('Company name').getAttribute('aria-invalid'), 'true');
      await shot('field-error');

      await page.reload();
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
      await assertValue(page.getByLabel('Company name'), 'Analytical Engines Ltd');
      await assertValue(page.getByRole('combobox', { name: 'Country' }), 'United Kingdom');
    });

    step('saves a valid profile', async ({ page, server }) => {
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

    step('creates a second account from the account menu and switches to it', async ({ page }) => {
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

    step('switches back to the first account, and remembers the choice', async ({ page }) => {
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
