import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe } from 'node:test';
import { parse } from 'csv-parse/sync';
import { TesseraClient } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountUrl, eventually, PASSWORD, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * The audit log as an owner reads it, in Debian's Chromium against a real server on each backend:
 * changes made in person and by a program show with who made them; a search by action and by
 * target narrows the list; the export downloads exactly what the search shows.
 */

const AUDIT_URL = accountUrl('audit-log');

for (const backend of BACKENDS) {
  describe(`audit log in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'audit-log' });
    const { step, shot } = portal;
    const email = uniqueEmail('owner', backend);
    let accountId = '';
    let north = '';

    step('changes by the owner and by an access key show in the log, newest first, with who made them', async ({ page, server }) => {
      accountId = await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      const sdk = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await sdk.signIn({ email, password: PASSWORD });
      north = (await sdk.createOrganization(accountId, { name: 'North' })).id;
      await sdk.updateOrganization(accountId, north, { name: 'North Clinic' });
      const key = await sdk.createAccessKey(accountId, { name: 'Provisioning', role: 'manager' });
      const program = new TesseraClient({ baseUrl: server.url, accessKey: key.secret, userAgent: 'provisioning/2' });
      await program.createDevice(accountId, north, { name: 'North router', kind: 'Router', identifier: 'SN-N1' });

      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Audit log' }).click();
      await page.waitForURL(AUDIT_URL);
      const rows = page.getByTestId('audit-row');
      await eventually(async () => (await rows.count()) >= 6, 'the changes are listed');
      assert.deepEqual(await page.getByTestId('audit-action').allTextContents(), [
        'device.created',
        'access_key.created',
        'organization.updated',
        'organization.created',
        'membership.created',
        'account.created',
      ]);
      assert.deepEqual((await page.getByTestId('audit-actor').allTextContents()).slice(0, 3), ['Provisioning', 'Ada Lovelace', 'Ada Lovelace']);
      await shot('list');
    });

    step('searches for the rename and reads what changed', async ({ page }) => {
      const action = page.getByRole('combobox', { name: 'Action' });
      await action.click();
      await action.fill('Organization upd');
      await page.getByRole('option', { name: 'Organization updated', exact: true }).click();
      const rows = page.getByTestId('audit-row');
      await eventually(async () => (await rows.count()) === 1, 'only the rename is left');
      await rows.first().getByRole('button', { name: 'Details' }).click();
      const changes = page.getByTestId('audit-changes');
      await changes.waitFor();
      const text = (await changes.textContent()) ?? '';
      assert.match(text, /Before[\s\S]*"name": "North"[\s\S]*After[\s\S]*"name": "North Clinic"/);
      await shot('searched');
    });

    step('the export downloads what the search shows, as CSV', async ({ page }) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
      assert.match(download.suggestedFilename(), new RegExp(`^audit-${accountId}-\\d{8}T\\d{6}Z\\.csv$`));
      const file = await download.path();
      const records = parse(fs.readFileSync(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;
      assert.deepEqual(records.map((r) => [r.action, r.actor_name, r.target_id]), [['organization.updated', 'Ada Lovelace', north]]);
      assert.equal(JSON.parse(records[0]!.after!).name, 'North Clinic');
    });

    step("a target's id shows every change to it", async ({ page }) => {
      await page.getByRole('button', { name: 'Clear' }).click();
      const rows = page.getByTestId('audit-row');
      await eventually(async () => (await rows.count()) >= 6, 'the whole log again');
      await page.getByRole('button', { name: north }).first().click();
      await eventually(
        async () => JSON.stringify(await page.getByTestId('audit-action').allTextContents()) === JSON.stringify(['organization.updated', 'organization.created']),
        'the two changes to North',
      );
    });
  });
}
