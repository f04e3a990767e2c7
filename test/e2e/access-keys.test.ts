import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountUrl, eventually, PASSWORD, register, rejection, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Access keys as an owner uses them, in Debian's Chromium against a real server on each backend:
 * a key made in the page, shown once and copied, used by a program through the SDK, revoked.
 */

const KEYS_URL = accountUrl('access-keys');

for (const backend of BACKENDS) {
  describe(`access keys in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'access-keys' });
    const { step, shot } = portal;
    const email = uniqueEmail('owner', backend);
    let accountId = '';
    let north = '';
    let south = '';
    let secret = '';

    const program = () => new TesseraClient({ baseUrl: portal.server.url, accessKey: secret, userAgent: 'nightly-export/1' });

    step('an owner opens Access keys from the header: none yet', async ({ page, server }) => {
      accountId = await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      const sdk = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await sdk.signIn({ email, password: PASSWORD });
      north = (await sdk.createOrganization(accountId, { name: 'North Clinic' })).id;
      south = (await sdk.createOrganization(accountId, { name: 'South Clinic' })).id;
      await sdk.createDevice(accountId, north, { name: 'North router', kind: 'Router', identifier: 'SN-N1' });

      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Access keys' }).click();
      await page.waitForURL(KEYS_URL);
      await page.getByTestId('no-access-keys').waitFor();
    });

    step('creates a viewer key for North Clinic: shown once, copied to the clipboard', async ({ page }) => {
      await page.getByRole('button', { name: 'New access key' }).click();
      const dialog = page.getByRole('dialog', { name: 'New access key' });
      await dialog.getByLabel('Name', { exact: true }).fill('Nightly export');
      const scope = dialog.getByRole('combobox', { name: 'Scope' });
      await scope.click();
      await scope.fill('North');
      await page.getByRole('option', { name: 'North Clinic', exact: true }).click();
      await dialog.getByRole('button', { name: 'Create key' }).click();

      const ready = page.getByRole('dialog', { name: 'Access key “Nightly export” is ready' });
      secret = (await ready.getByTestId('issued-token').textContent()) ?? '';
      assert.match(secret, /^tsr_ak_[A-Za-z0-9_-]{43}_[A-Za-z0-9_-]{6}$/);
      assert.match((await ready.textContent()) ?? '', /acts as viewer of North Clinic and nothing more/);
      await ready.getByRole('button', { name: 'Copy key' }).click();
      await ready.getByRole('button', { name: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
      await shot('issued');
      await ready.getByRole('button', { name: 'Done' }).click();

      const row = page.getByTestId('access-key-row');
      await row.waitFor();
      assert.equal(await row.getByTestId('access-key-role').textContent(), 'Viewer of North Clinic');
      assert.equal(await row.getByTestId('access-key-prefix').textContent(), `${secret.slice(0, 11)}…`);
      assert.ok(!((await page.content()).includes(secret.slice(11))), 'the list never shows the secret');
    });

    step('a program reads North Clinic with the key, and nothing else', async ({ page }) => {
      const key = program();
      assert.deepEqual((await key.listDevices(accountId, north)).items.map((d) => d.name), ['North router']);
      const elsewhere = await rejection(key.listDevices(accountId, south));
      assert.ok(elsewhere instanceof TesseraError && elsewhere.status === 404);
      const write = await rejection(key.createDevice(accountId, north, { name: 'Planted', kind: 'Router', identifier: 'SN-X' }));
      assert.ok(write instanceof TesseraError && write.status === 403);

      await page.reload();
      const row = page.getByTestId('access-key-row');
      await row.waitFor();
      await eventually(async () => !/Never/.test((await row.textContent()) ?? ''), 'the key shows when it was last used');
    });

    step('revoking the key in the page stops the program at once', async ({ page }) => {
      await page.getByRole('button', { name: 'Revoke Nightly export' }).click();
      const confirm = page.getByRole('dialog', { name: 'Revoke “Nightly export”?' });
      await confirm.getByRole('button', { name: 'Revoke key' }).click();
      await confirm.waitFor({ state: 'hidden' });
      await page.getByTestId('no-access-keys').waitFor();
      const refused = await rejection(program().listDevices(accountId, north));
      assert.ok(refused instanceof TesseraError && refused.status === 401, 'the key no longer works');
      await shot('revoked');
    });
  });
}
