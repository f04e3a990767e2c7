import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Page } from 'playwright-core';
import { TesseraClient } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountIdOf, accountUrl, addPerson, assertRedBoxUnder, eventually, PASSWORD, register, signIn, uniqueEmail, usePortal, VIEWPORT, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Organizations, groups and devices as an owner uses them, in Debian's Chromium, against a real
 * server on each backend: "Set Organization" (kept by the server, so a second browser sees it),
 * groups, the devices of the selected organization, and deleting an organization that holds some.
 */

const ORGANIZATIONS_URL = accountUrl('organizations');
const DEVICES_URL = accountUrl('devices');
/** Devices per page in the portal. */
const DEVICE_PAGE = 50;

/** A yellow colour: strong red and green, clearly less blue. */
function isYellow(colour: string): boolean {
  const [r, g, b] = (colour.match(/\d+/g) ?? []).map(Number);
  return r! > 230 && g! > 200 && b! < g! - 20;
}

for (const backend of BACKENDS) {
  describe(`organizations and devices in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'org' });
    const { step, shot } = portal;
    let accountId = '';
    const email = uniqueEmail('orgs', backend);

    const nav = () => portal.page.getByRole('navigation', { name: 'Sections' });
    const row = (name: string, on: Page = portal.page) => on.getByTestId('organization-row').and(on.locator(`[data-name="${name}"]`));
    const deviceRow = (name: string) => portal.page.getByTestId('device-row').filter({ has: portal.page.getByTestId('device-name').getByText(name, { exact: true }) });
    const deviceCount = async (): Promise<number> => {
      const found = await portal.server.database.inSystem((tx) =>
        tx.selectFrom('devices').select((eb) => eb.fn.countAll<string>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow(),
      );
      return Number(found.n);
    };
    step('an owner registers and opens Organizations from the header', async ({ page }) => {
      await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });

      await nav().getByRole('link', { name: 'Organizations' }).click();
      await page.waitForURL(ORGANIZATIONS_URL);
      accountId = accountIdOf(page, ORGANIZATIONS_URL);
      await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
      assert.equal(await nav().getByRole('link', { name: 'Organizations' }).getAttribute('class'), 'app-nav-link active');
      await page.getByTestId('empty-organizations').waitFor();
      assert.equal(await page.getByTestId('header-organization').count(), 0, 'no organization is selected yet');
      await shot('empty');
    });

    step('creates Acme and Globex', async ({ page }) => {
      for (const [name, description] of [
        ['Acme', 'Road runner traps, wholesale'],
        ['Globex', 'Hank Scorpio’s headquarters'],
      ] as const) {
        await page.getByRole('button', { name: 'New organization' }).first().click();
        const dialog = page.getByRole('dialog', { name: 'New organization' });
        await dialog.waitFor();
        await dialog.getByLabel('Name').fill(name);
        await dialog.getByLabel('Description').fill(description);
        await dialog.getByRole('button', { name: 'Create organization' }).click();
        await dialog.waitFor({ state: 'hidden' });
        await row(name).waitFor();
      }
      assert.equal(await page.getByTestId('organization-row').count(), 2);
      assert.deepEqual(await page.getByTestId('organization-name').allTextContents(), ['Acme', 'Globex'], 'sorted by name');
      assert.equal(await row('Acme').getByTestId('organization-description').textContent(), 'Road runner traps, wholesale');
      assert.equal(await row('Acme').getByTestId('organization-devices').textContent(), '0');
      assert.equal(await page.locator('[data-testid="organization-row"][data-selected="true"]').count(), 0);
    });

    step('a duplicate name is refused next to the name field', async ({ page }) => {
      await page.getByRole('button', { name: 'New organization' }).click();
      const dialog = page.getByRole('dialog', { name: 'New organization' });
      await dialog.getByLabel('Name').fill('acme');
      await dialog.getByRole('button', { name: 'Create organization' }).click();
      const error = dialog.getByTestId('field-error-name');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', /Another organization has this name/);
      await assertRedBoxUnder(error, dialog.getByLabel('Name'));
      assert.equal(await dialog.getByLabel('Name').getAttribute('aria-invalid'), 'true');
      assert.equal(await dialog.getByTestId('form-alert').count(), 0, 'a field problem needs no alert');
      await shot('duplicate-name');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await page.getByTestId('organization-row').count(), 2);
    });

    step('selecting Globex and "Set Organization" marks it in yellow and shows it in the header', async ({ page, server }) => {
      const setButton = page.getByRole('button', { name: 'Set Organization' });
      assert.equal(await setButton.isDisabled(), true, 'nothing to set before a row is clicked');
      await row('Globex').click();
      await eventually(async () => (await row('Globex').getAttribute('data-picked')) === 'true', 'the clicked row');
      assert.equal(await row('Globex').getAttribute('data-selected'), 'false', 'clicking alone does not set it');
      await setButton.click();

      await eventually(async () => (await row('Globex').getAttribute('data-selected')) === 'true', 'Globex selected');
      assert.equal(await row('Acme').getAttribute('data-selected'), 'false');
      assert.equal(await row('Globex').getByTestId('selected-badge').textContent(), 'Selected');
      assert.equal(await row('Acme').getByTestId('selected-badge').count(), 0);
      const background = await row('Globex').locator('td').first().evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.ok(isYellow(background), `the selected row is yellow (${background})`);
      const plain = await row('Acme').locator('td').first().evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.ok(!isYellow(plain), `the other row is not (${plain})`);

      const pill = page.getByTestId('header-organization');
      await pill.waitFor();
      assert.match((await pill.textContent()) ?? '', /^Organization:\s*Globex$/);
      assert.equal(await pill.getAttribute('aria-label'), 'Organization: Globex');
      const pillColour = await pill.evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.ok(isYellow(pillColour), `the header pill is yellow (${pillColour})`);
      assert.equal(await setButton.isDisabled(), true, 'the selected organization needs no setting');
      await shot('selected');

      const stored = await server.database.inSystem((tx) =>
        tx.selectFrom('selected_organizations').select('organization_id').where('account_id', '=', accountId).executeTakeFirstOrThrow(),
      );
      const globex = await server.database.inSystem((tx) =>
        tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('name', '=', 'Globex').executeTakeFirstOrThrow(),
      );
      assert.equal(stored.organization_id, globex.id, 'the server keeps the selection');
    });

    step('another browser signed in as the same person sees Globex selected', async () => {
      const other = await portal.newContext();
      try {
        const second = await other.newPage();
        await signIn(second, email);
        const pill = second.getByTestId('header-organization');
        await pill.waitFor();
        assert.equal(await pill.getAttribute('aria-label'), 'Organization: Globex', 'the header shows it on every page');
        await second.goto(`/accounts/${accountId}/organizations`);
        await row('Globex', second).waitFor();
        await eventually(async () => (await row('Globex', second).getAttribute('data-selected')) === 'true', 'Globex selected in the second browser');
        assert.equal(await row('Acme', second).getAttribute('data-selected'), 'false');
        await shot('second-browser', second);
      } finally {
        await other.close();
      }
    });

    step('creates a group with both organizations, then takes one out and puts it back', async ({ page }) => {
      await page.getByRole('tab', { name: 'Groups' }).click();
      await page.getByTestId('empty-groups').waitFor();
      await page.getByRole('button', { name: 'New group' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'New group' });
      await dialog.waitFor();
      await dialog.getByLabel('Name').fill('EMEA customers');
      await dialog.getByLabel('Description').fill('Europe, Middle East and Africa');
      await dialog.getByLabel('Organizations', { exact: true }).click();
      await page.getByRole('option', { name: 'Acme', exact: true }).click();
      await page.getByRole('option', { name: 'Globex', exact: true }).click();
      await dialog.getByRole('heading', { name: 'New group' }).click(); // closes the dropdown
      await dialog.getByRole('button', { name: 'Create group' }).click();
      await dialog.waitFor({ state: 'hidden' });

      const card = page.getByRole('article', { name: 'EMEA customers' });
      await card.waitFor();
      await eventually(async () => (await card.getByTestId('group-organization').count()) === 2, 'both organizations in the group');
      assert.deepEqual(await card.getByTestId('group-organization').allTextContents(), ['Acme', 'Globex']);
      assert.equal(await card.getByTestId('group-description').textContent(), 'Europe, Middle East and Africa');
      await shot('groups');

      await card.getByRole('button', { name: 'Remove Acme from EMEA customers' }).click();
      await eventually(async () => (await card.getByTestId('group-organization').count()) === 1, 'Acme taken out');
      const add = card.getByRole('combobox', { name: 'Add an organization to EMEA customers' });
      await add.click();
      await page.getByRole('option', { name: 'Acme', exact: true }).click();
      await eventually(async () => (await card.getByTestId('group-organization').count()) === 2, 'Acme back in the group');

      await page.getByRole('tab', { name: 'Organizations' }).click();
      await row('Acme').getByTestId('organization-groups').waitFor();
      assert.equal(await row('Acme').getByTestId('organization-groups').textContent(), 'EMEA customers');
      assert.equal(await row('Globex').getByTestId('organization-groups').textContent(), 'EMEA customers');
      await shot('list');
    });

    step('Devices shows the devices of Globex; adds two, and a duplicate identifier is refused next to its field', async ({ page }) => {
      await nav().getByRole('link', { name: 'Devices' }).click();
      await page.waitForURL(DEVICES_URL);
      await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
      assert.equal(await page.getByTestId('devices-organization').textContent(), 'Globex');
      await page.getByTestId('empty-devices').waitFor();

      for (const device of [
        { name: 'Edge router', kind: 'Router', identifier: 'SN-1001', notes: 'Rack 2, top' },
        { name: 'Core switch', kind: 'Switch', identifier: 'SN-2002', notes: '' },
      ]) {
        await page.getByRole('button', { name: 'Add device' }).first().click();
        const dialog = page.getByRole('dialog', { name: 'Add device' });
        await dialog.waitFor();
        await dialog.getByLabel('Name').fill(device.name);
        await dialog.getByLabel('Kind', { exact: true }).fill(device.kind);
        await dialog.getByLabel('Identifier').fill(device.identifier);
        if (device.notes) await dialog.getByLabel('Notes').fill(device.notes);
        await dialog.getByRole('heading', { name: 'Add device' }).click(); // closes the suggestions
        await dialog.getByRole('button', { name: 'Add device' }).click();
        // should the dialog stay open, say what it shows (a refusal, a field error) rather than only time out
        await dialog.waitFor({ state: 'hidden' }).catch(async (error: unknown) => {
          const alerts = await dialog.getByRole('alert').allTextContents().catch(() => []);
          throw new Error(`the Add device dialog for ${device.name} stayed open${alerts.length > 0 ? `: ${alerts.join(' | ')}` : ', with no alert'}`, { cause: error });
        });
        await deviceRow(device.name).waitFor();
      }
      assert.deepEqual(await page.getByTestId('device-name').allTextContents(), ['Core switch', 'Edge router'], 'sorted by name');
      assert.equal(await deviceRow('Edge router').getByTestId('device-kind').textContent(), 'Router');
      assert.equal(await deviceRow('Edge router').getByTestId('device-identifier').textContent(), 'SN-1001');
      assert.equal(await deviceRow('Edge router').getByTestId('device-notes').textContent(), 'Rack 2, top');

      await page.getByRole('button', { name: 'Add device' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add device' });
      await dialog.getByLabel('Name').fill('Spare router');
      await dialog.getByLabel('Kind', { exact: true }).fill('Router');
      await dialog.getByLabel('Identifier').fill('sn-1001');
      await dialog.getByRole('heading', { name: 'Add device' }).click();
      await dialog.getByRole('button', { name: 'Add device' }).click();
      const error = dialog.getByTestId('field-error-identifier');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', /Another device of this account has this identifier/);
      await assertRedBoxUnder(error, dialog.getByLabel('Identifier'));
      assert.equal(await dialog.getByTestId('form-alert').count(), 0);
      await shot('duplicate-identifier');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await deviceCount(), 2);
    });

    step('the search box finds a device by its identifier', async ({ page }) => {
      const search = page.getByRole('searchbox', { name: 'Search devices' });
      await search.fill('2002');
      await eventually(async () => (await page.getByTestId('device-row').count()) === 1, 'one device found');
      assert.equal(await page.getByTestId('device-name').textContent(), 'Core switch');
      await shot('devices-search');
      await search.fill('no such thing');
      await page.getByTestId('no-match').waitFor();
      await search.fill('');
      await eventually(async () => (await page.getByTestId('device-row').count()) === 2, 'both devices again');
      await shot('devices');
    });

    step('edits a device and moves it to Acme', async ({ page, server }) => {
      await deviceRow('Edge router').getByRole('button', { name: 'Edit Edge router' }).click();
      const dialog = page.getByRole('dialog', { name: 'Edit Edge router' });
      await dialog.waitFor();
      await dialog.getByLabel('Name').fill('Edge router 1');
      await dialog.getByLabel('Notes').fill('Rack 2, top; moved with the contract');
      const organization = dialog.getByRole('combobox', { name: 'Organization' });
      assert.equal(await organization.inputValue(), 'Globex');
      await organization.click();
      await page.getByRole('option', { name: 'Acme', exact: true }).click();
      await eventually(async () => (await organization.inputValue()) === 'Acme', 'Acme chosen');
      await shot('device-edit');
      await dialog.getByRole('button', { name: 'Save changes' }).click();
      await dialog.waitFor({ state: 'hidden' });

      await eventually(async () => (await page.getByTestId('device-row').count()) === 1, 'the moved device leaves the list');
      assert.equal(await page.getByTestId('device-name').textContent(), 'Core switch');
      assert.equal(await page.getByTestId('device-notice').textContent(), 'Edge router 1 was moved to Acme.');
      const moved = await server.database.inSystem((tx) =>
        tx
          .selectFrom('devices as d')
          .innerJoin('organizations as o', (join) => join.onRef('o.account_id', '=', 'd.account_id').onRef('o.id', '=', 'd.organization_id'))
          .select(['d.name', 'd.notes', 'o.name as organization'])
          .where('d.account_id', '=', accountId)
          .where('d.identifier', '=', 'SN-1001')
          .executeTakeFirstOrThrow(),
      );
      assert.deepEqual(moved, { name: 'Edge router 1', notes: 'Rack 2, top; moved with the contract', organization: 'Acme' });
    });

    step('a manager of the account manages organizations but not groups, sets an organization of their own and pages through its devices', async ({ server }) => {
      const owner = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await owner.signIn({ email, password: PASSWORD });
      const initech = await owner.createOrganization(accountId, { name: 'Initech' });
      for (let i = 1; i <= DEVICE_PAGE + 1; i += 1) {
        await owner.createDevice(accountId, initech.id, { name: `Sensor ${String(i).padStart(3, '0')}`, kind: 'Sensor', identifier: `TPS-${1000 + i}` });
      }
      const { email: managerEmail } = await addPerson(server, accountId, {
        name: 'Peter Gibbons',
        email: uniqueEmail('manager', backend),
        companyName: 'Gibbons Consulting',
        country: 'US',
        role: 'manager',
      });

      const other = await portal.newContext();
      try {
        const manager = await other.newPage();
        await signIn(manager, managerEmail);
        await manager.goto(`/accounts/${accountId}/organizations`);
        await row('Initech', manager).waitFor();
        assert.equal(await manager.getByTestId('read-only-notice').count(), 0);
        assert.equal(await manager.getByRole('button', { name: 'New organization' }).count(), 1, 'managers of the account create organizations');
        assert.equal(await manager.getByRole('button', { name: 'Edit Initech' }).count(), 1, 'rename them');
        assert.equal(await manager.getByRole('button', { name: 'Delete Initech' }).count(), 1, 'and delete them');
        await manager.getByRole('tab', { name: 'Groups' }).click();
        await manager.getByRole('tabpanel', { name: 'Groups' }).waitFor();
        assert.equal(await manager.getByRole('button', { name: 'New group' }).count(), 0, 'groups are for owners');
        await manager.getByRole('tab', { name: 'Organizations' }).click();
        await row('Initech', manager).waitFor();
        assert.equal(await manager.locator('[data-testid="organization-row"][data-selected="true"]').count(), 0, "the owner's choice is theirs alone");
        assert.equal(await manager.getByTestId('header-organization').count(), 0);

        await row('Initech', manager).click();
        await manager.getByRole('button', { name: 'Set Organization' }).click();
        await eventually(async () => (await row('Initech', manager).getAttribute('data-selected')) === 'true', 'Initech selected by the manager');
        assert.equal(await manager.getByTestId('header-organization').getAttribute('aria-label'), 'Organization: Initech');
        await shot('manager', manager);

        await manager.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Devices' }).click();
        await manager.waitForURL(DEVICES_URL);
        assert.equal(await manager.getByTestId('devices-organization').textContent(), 'Initech');
        await eventually(async () => (await manager.getByTestId('device-row').count()) === DEVICE_PAGE, 'the first page of devices');
        assert.equal(await manager.getByTestId('shown-count').textContent(), `${DEVICE_PAGE} devices shown`);
        await manager.getByRole('button', { name: 'Load more' }).click();
        await eventually(async () => (await manager.getByTestId('device-row').count()) === DEVICE_PAGE + 1, 'the next page of devices');
        assert.equal(await manager.getByTestId('shown-count').textContent(), `${DEVICE_PAGE + 1} devices`);
        assert.equal(await manager.getByRole('button', { name: 'Load more' }).count(), 0, 'no more pages');
        assert.equal(await manager.getByTestId('device-name').last().textContent(), `Sensor ${String(DEVICE_PAGE + 1).padStart(3, '0')}`);
        assert.equal(await manager.getByRole('button', { name: 'Add device' }).count(), 1, 'managers add devices');
        await shot('manager-devices', manager);
      } finally {
        await other.close();
      }
      const selections = await server.database.inSystem((tx) =>
        tx
          .selectFrom('selected_organizations as s')
          .innerJoin('organizations as o', (join) => join.onRef('o.account_id', '=', 's.account_id').onRef('o.id', '=', 's.organization_id'))
          .select(['s.user_id', 'o.name'])
          .where('s.account_id', '=', accountId)
          .execute(),
      );
      assert.deepEqual(selections.map((s) => s.name).sort(), ['Globex', 'Initech'], 'each person keeps their own');
    });

    step('the header stays tidy on a tablet and a phone', async ({ page }) => {
      for (const [label, viewport] of [
        ['tablet', { width: 820, height: 1000 }],
        ['phone', { width: 390, height: 800 }],
      ] as const) {
        await page.setViewportSize(viewport);
        const header = page.locator('.app-header');
        await eventually(async () => (await nav().isVisible()) === false, `the row of sections folds on a ${label}`);
        const overflow = await header.evaluate((el) => {
          const inner = el.querySelector('.mantine-Container-root') ?? el;
          return inner.scrollWidth - inner.clientWidth;
        });
        assert.ok(overflow <= 0, `the header fits on a ${label} (${overflow}px over)`);
        const pageOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(pageOverflow <= 0, `the page does not scroll sideways on a ${label} (${pageOverflow}px over)`);
        const pill = page.getByTestId('header-organization');
        await pill.waitFor();
        const box = await pill.boundingBox();
        assert.ok(box && box.x + box.width <= viewport.width, `the organization stays in view on a ${label}`);
        await shot(`${label}`);
      }
      await page.getByRole('button', { name: 'Sections menu' }).click();
      await page.getByRole('menuitem', { name: 'Organizations' }).click();
      await page.waitForURL(ORGANIZATIONS_URL);
      await row('Globex').waitFor();
      await shot('phone-organizations');
      await page.setViewportSize(VIEWPORT);
      await nav().waitFor();
    });

    step('deleting Globex while it holds a device is refused, then done with its devices', async ({ page }) => {
      await eventually(async () => (await row('Globex').getByTestId('organization-devices').textContent()) === '1', 'Globex holds one device');
      assert.equal(await row('Acme').getByTestId('organization-devices').textContent(), '1');
      await row('Globex').getByRole('button', { name: 'Delete Globex' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete Globex?' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Delete organization' }).click();
      const blocked = dialog.getByTestId('delete-blocked');
      await blocked.waitFor();
      assert.match((await blocked.textContent()) ?? '', /Globex still holds 1 device/);
      const cascade = dialog.getByRole('button', { name: /^Delete with its/ });
      assert.equal(await cascade.textContent(), 'Delete with its device');
      assert.equal(await dialog.getByRole('button', { name: 'Delete organization' }).count(), 0);
      await page.waitForFunction(() => !document.querySelector('button[data-loading]'));
      await shot('delete-blocked');
      assert.equal(await deviceCount(), 2 + DEVICE_PAGE + 1, 'nothing was deleted');

      await cascade.click();
      await dialog.waitFor({ state: 'hidden' });
      await eventually(async () => (await row('Globex').count()) === 0, 'Globex gone from the list');
      assert.deepEqual(await page.getByTestId('organization-name').allTextContents(), ['Acme', 'Initech']);
      await eventually(async () => (await page.getByTestId('header-organization').count()) === 0, 'no organization in the header');
      assert.equal(await deviceCount(), 1 + DEVICE_PAGE + 1, 'its device went with it; the moved one stayed');
      await shot('deleted');

      await nav().getByRole('link', { name: 'Devices' }).click();
      await page.getByTestId('no-organization').waitFor();
      await shot('devices-none');
      await page.getByRole('link', { name: 'Go to Organizations' }).click();
      await page.waitForURL(ORGANIZATIONS_URL);
      await row('Acme').waitFor();
    });
  });
}
