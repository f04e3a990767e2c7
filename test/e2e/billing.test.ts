import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe } from 'node:test';
import { parse } from 'csv-parse/sync';
import { TesseraClient } from '../../src/client/sdk.ts';
import { rollUpUsage } from '../../src/server/domain/billing/usage.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountUrl, chooseCountry, desktopClient, eventually, PASSWORD, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Billing as an owner uses it, in Debian's Chromium against a real server on each backend: what the
 * account uses of its plan and its usage over time, a plan change with its invoice, billing details
 * with a field error fixed, and the change found in the audit log and exported.
 */

const BILLING_URL = accountUrl('billing');

for (const backend of BACKENDS) {
  describe(`billing in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'billing' });
    const { step, shot } = portal;
    const email = uniqueEmail('owner', backend);
    let accountId = '';

    step('the owner sees the plan, what the account uses of it, and its usage over time', async ({ page, server }) => {
      accountId = await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      const sdk = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await sdk.signIn({ email, password: PASSWORD });
      const organization = await sdk.createOrganization(accountId, { name: 'North Clinic' });
      const device = await sdk.createDevice(accountId, organization.id, { name: 'North router', kind: 'Router', identifier: 'SN-N1' });
      const member = await sdk.addTeamMember(accountId, { name: 'Front desk' });
      const desk = desktopClient(server);
      await desk.signInWithLoginToken(member.firstToken.secret);
      await desk.connect(device.id);
      // what the hourly roll-up does, now
      await rollUpUsage(server.database, new Date());

      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Billing' }).click();
      await page.waitForURL(BILLING_URL);
      await page.getByTestId('current-plan-name').filter({ hasText: 'Starter' }).waitFor();
      assert.equal(await page.getByTestId('usage-connections-figures').textContent(), '1 of 10');
      assert.equal(await page.getByTestId('usage-members-figures').textContent(), '1 of 25');
      assert.equal(await page.getByTestId('usage-organizations-figures').textContent(), '1 of 20');
      await page.getByTestId('usage-chart').locator('.recharts-bar-rectangle').first().waitFor();
      assert.equal(await page.getByTestId('usage-peak').textContent(), '1 of 10');
      await shot('usage');

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('usage-csv').click()]);
      const rows = parse(fs.readFileSync(await download.path(), 'utf8'), { columns: true }) as Array<Record<string, string>>;
      assert.deepEqual(rows.map((r) => [r.peak_connections, r.members, r.organizations]), [['1', '1', '1']]);
    });

    step('changes to Team: the limits follow at once, and the first month is invoiced', async ({ page }) => {
      await page.getByRole('button', { name: 'Change to Team' }).click();
      const dialog = page.getByRole('dialog', { name: 'Change to Team?' });
      assert.match((await dialog.textContent()) ?? '', /50 connections at once, 100 team members and 100 organizations, for €199 a month/);
      await dialog.getByRole('button', { name: 'Change to Team' }).click();
      await page.getByTestId('current-plan-name').filter({ hasText: 'Team' }).waitFor();
      assert.equal(await page.getByTestId('usage-connections-figures').textContent(), '1 of 50');
      const invoice = page.getByTestId('invoice-row');
      await invoice.waitFor();
      assert.match((await invoice.textContent()) ?? '', new RegExp(`${new Date().getUTCFullYear()}-0001Team.*€199open`));
    });

    step('enters billing details: a VAT number of the wrong shape is named under its field, then saved', async ({ page }) => {
      const form = page.getByRole('form', { name: 'Billing details' });
      await form.getByLabel('Legal name').fill('Analytical Engines GmbH');
      await form.getByLabel('Address', { exact: true }).fill('Friedrichstraße 42');
      await form.getByLabel('Postal code').fill('10117');
      await form.getByLabel('City').fill('Berlin');
      await chooseCountry(page, 'Germ', 'Germany', form);
      await form.getByLabel('VAT number or tax id (optional)').fill('DE 123');
      await form.getByLabel('Billing email').fill('billing@engines.example');
      await form.getByRole('button', { name: 'Save billing details' }).click();
      const vat = page.getByTestId('field-error-taxId');
      await vat.waitFor();
      assert.match((await vat.textContent()) ?? '', /Not a VAT number of DE/);
      await form.getByLabel('VAT number or tax id (optional)').fill('DE 123 456 789');
      await form.getByRole('button', { name: 'Save billing details' }).click();
      await page.getByTestId('saved').waitFor();
      assert.equal(await form.getByLabel('VAT number or tax id (optional)').inputValue(), 'DE123456789');
      await shot('details');
    });

    step('finds the plan change in the audit log and exports it', async ({ page }) => {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Audit log' }).click();
      const action = page.getByRole('combobox', { name: 'Action' });
      await action.click();
      await action.fill('plan changed');
      await page.getByRole('option', { name: 'Account plan changed', exact: true }).click();
      await eventually(async () => JSON.stringify(await page.getByTestId('audit-action').allTextContents()) === JSON.stringify(['account.plan_changed']), 'only the plan change is listed');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-jsonl').click()]);
      const events = fs.readFileSync(await download.path(), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { action: string; actor: { name: string }; before: unknown; after: unknown });
      assert.deepEqual(
        events.map((e) => [e.action, e.actor.name, e.before, e.after]),
        [['account.plan_changed', 'Ada Lovelace', { planId: 'starter', planName: 'Starter' }, { planId: 'team', planName: 'Team' }]],
      );
    });
  });
}
