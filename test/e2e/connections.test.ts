import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { TesseraClient, TesseraError, type Device } from '../../src/client/sdk.ts';
import type { Lease } from '../../src/shared/connections.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountIdOf, accountUrl, addPerson, desktopClient, eventually, PASSWORD, register, rejection, signIn, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Open connections as an owner watches them, in Debian's Chromium, against a real server on each
 * backend: a desktop client (the SDK, from the test) connects to devices, the Connections page
 * shows it within seconds without a reload, and closing it there frees the slot and the device.
 */

const CONNECTIONS_URL = accountUrl('connections');
const MEMBER = 'Grace Hopper';
/** The page polls every 5 s; a little more for a loaded machine. */
const LIVE_MS = 9000;

for (const backend of BACKENDS) {
  describe(`connections in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'connections' });
    const { step, shot } = portal;
    const email = uniqueEmail('connections', backend);
    let accountId = '';
    let owner: TesseraClient;
    let router: Device;
    let gateway: Device;
    let client: TesseraDesktopClient;
    let routerLease: Lease;
    let gatewayLease: Lease;

    const nav = () => portal.page.getByRole('navigation', { name: 'Sections' });
    const rows = () => portal.page.getByTestId('connection-row');
    const rowOf = (lease: Lease, page = portal.page) => page.locator(`[data-testid="connection-row"][data-lease-id="${lease.leaseId}"]`);
    const available = async () => new Map((await client.devices()).items.map((d) => [d.id, d.available]));

    step('an owner registers; Connections, in the header, is empty and says where connections come from', async ({ page }) => {
      await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      await nav().getByRole('link', { name: 'Connections' }).click();
      await page.waitForURL(CONNECTIONS_URL);
      accountId = accountIdOf(page, CONNECTIONS_URL);
      await page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
      assert.equal(await nav().getByRole('link', { name: 'Connections' }).getAttribute('class'), 'app-nav-link active');
      const empty = page.getByTestId('empty-connections');
      await empty.waitFor();
      assert.match((await empty.textContent()) ?? '', /Desktop apps open connections/);
      assert.equal(await page.getByTestId('connections-count').textContent(), '0 open connections');
      assert.match((await page.getByTestId('connections-allowance').textContent()) ?? '', /^of \d+ allowed by the plan$/);
      await shot('empty');
    });

    step('a desktop client signs in with the first token of a new member and connects to a device', async ({ server }) => {
      // the setup the other suites cover in the page: an organization, two devices, a member
      owner = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await owner.signIn({ email, password: PASSWORD });
      const globex = await owner.createOrganization(accountId, { name: 'Globex' });
      router = await owner.createDevice(accountId, globex.id, { name: 'Edge router', kind: 'Router', identifier: 'SN-1001' });
      gateway = await owner.createDevice(accountId, globex.id, { name: 'Site gateway', kind: 'Gateway', identifier: 'SN-3003' });
      const added = await owner.addTeamMember(accountId, { name: MEMBER, connectionLimit: null });

      client = desktopClient(server);
      await client.signInWithLoginToken(added.firstToken.secret);
      assert.deepEqual([...(await available()).values()], [true, true], 'both devices are free');
      routerLease = await client.connect(router.id);
      assert.equal(routerLease.deviceId, router.id);
      assert.equal((await available()).get(router.id), false, 'the router is taken');
    });

    step('the page shows the connection within seconds, without a reload: who, which device, since when, until when', async ({ page }) => {
      const row = rowOf(routerLease);
      await row.waitFor({ timeout: LIVE_MS });
      assert.equal(await page.getByTestId('empty-connections').count(), 0);
      assert.equal(await row.getByTestId('connection-member').textContent(), MEMBER);
      assert.equal(await row.getByTestId('connection-device').textContent(), 'Edge router');
      await eventually(async () => (await row.getByTestId('connection-organization').textContent()) === 'Globex', 'the organization name');
      assert.equal(await row.getByTestId('connection-opened').textContent(), 'less than a minute ago');
      assert.match((await row.getByTestId('connection-expires').textContent()) ?? '', /^in \d+ sec\.$/);
      assert.equal(await page.getByTestId('connections-count').textContent(), '1 open connection');

      // the exact time on hover
      const opened = row.getByTestId('connection-opened');
      await opened.hover();
      const tooltip = page.getByRole('tooltip');
      await tooltip.waitFor();
      assert.equal(await tooltip.textContent(), `Opened ${await opened.getAttribute('data-exact')}`);
      assert.match((await tooltip.textContent()) ?? '', /\d{1,2}:\d{2}/);
      await shot('open');
      await page.mouse.move(0, 0);
    });

    step('a second connection joins the list; Team accounts counts both and names the devices', async ({ page }) => {
      gatewayLease = await client.connect(gateway.id);
      await rowOf(gatewayLease).waitFor({ timeout: LIVE_MS });
      assert.equal(await rows().count(), 2);
      assert.deepEqual(await page.getByTestId('connection-device').allTextContents(), ['Site gateway', 'Edge router'], 'newest first');
      assert.equal(await page.getByTestId('connections-count').textContent(), '2 open connections');

      await nav().getByRole('link', { name: 'Team accounts' }).click();
      const card = page.getByRole('article', { name: MEMBER, exact: true });
      await card.waitFor();
      await eventually(async () => (await card.getByTestId('member-in-use').textContent()) === '2 in use', 'the member card counts both');
      await eventually(async () => (await card.getByTestId('member-devices').textContent()) === 'on Edge router, Site gateway', 'the devices on the card');
      assert.equal(await page.getByTestId('plan-connections-in-use').textContent(), '2 in use now');
      await shot('team');
      await page.getByTestId('plan-connections-link').click();
      await page.waitForURL(CONNECTIONS_URL);
      await rowOf(routerLease).waitFor();
    });

    step('closing the router connection in the page frees it at once: the renewal fails with 404, the device is available', async ({ page }) => {
      const row = rowOf(routerLease);
      await row.getByRole('button', { name: `Close ${MEMBER}'s connection to Edge router` }).click();
      const dialog = page.getByRole('dialog', { name: 'Close this connection?' });
      await dialog.waitFor();
      assert.match((await dialog.textContent()) ?? '', /Grace Hopper loses its connection to Edge router \(Globex\)/);
      await shot('close-confirm');
      await dialog.getByRole('button', { name: 'Close connection' }).click();
      await dialog.waitFor({ state: 'hidden' });

      // gone from the list right away, not at the next refresh
      await eventually(async () => (await row.count()) === 0, 'the closed row leaves the list', 2000);
      assert.equal(await page.getByTestId('connection-notice').textContent(), `Closed ${MEMBER}'s connection to Edge router. Its slot is free.`);
      assert.equal(await rows().count(), 1);
      assert.equal(await page.getByTestId('connections-count').textContent(), '1 open connection');

      const refused = await rejection(client.renew(routerLease.leaseId));
      assert.ok(refused instanceof TesseraError && refused.status === 404, `the renewal is refused with 404 (${String(refused)})`);
      const free = await available();
      assert.equal(free.get(router.id), true, 'the router is available again');
      assert.equal(free.get(gateway.id), false, 'the gateway stays connected');
      const renewed = await client.renew(gatewayLease.leaseId);
      assert.equal(renewed.leaseId, gatewayLease.leaseId, 'the other connection renews as before');
      await shot('closed');
    });

    step('a connection the desktop app ends leaves the list on Refresh, and the empty state returns', async ({ page }) => {
      await client.disconnect(gatewayLease.leaseId);
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByTestId('empty-connections').waitFor({ timeout: 3000 });
      assert.equal(await rows().count(), 0);
      assert.equal(await page.getByTestId('connections-count').textContent(), '0 open connections');
    });

    step('closing a connection that ended in the meantime says so', async ({ page }) => {
      routerLease = await client.connect(router.id);
      await page.getByRole('button', { name: 'Refresh' }).click();
      const row = rowOf(routerLease);
      await row.waitFor({ timeout: 3000 });
      await row.getByRole('button', { name: `Close ${MEMBER}'s connection to Edge router` }).click();
      const dialog = page.getByRole('dialog', { name: 'Close this connection?' });
      await dialog.waitFor();
      await client.disconnect(routerLease.leaseId); // the desktop app was quicker
      await dialog.getByRole('button', { name: 'Close connection' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await eventually(async () => ((await page.getByTestId('connection-notice').textContent()) ?? '').includes('already ended'), 'the notice');
      assert.equal(await page.getByTestId('connection-notice').textContent(), `${MEMBER}'s connection to Edge router had already ended.`);
      await page.getByTestId('empty-connections').waitFor();
      assert.equal((await available()).get(router.id), true);
    });

    step('the header keeps Connections on a narrow window, in the sections menu', async ({ page }) => {
      routerLease = await client.connect(router.id);
      // the widest header: an organization with a long name selected, shown next to the account menu
      const long = await owner.createOrganization(accountId, { name: 'Initrode Global Holdings Europe' });
      await owner.setSelectedOrganization(accountId, long.id);
      await page.reload();
      await page.getByTestId('header-organization').waitFor();
      await rowOf(routerLease).waitFor();
      for (const width of [1100, 1150, 1199, 1200, 1280]) {
        await page.setViewportSize({ width, height: 860 });
        // left to right, nothing overlaps: the last section, the organization, the account menu
        const boxes = await Promise.all([nav().getByRole('link').last(), page.getByTestId('header-organization'), page.getByTestId('account-menu')].map((l) => l.boundingBox()));
        for (const [i, box] of boxes.entries()) assert.ok(box, `header item ${i} is shown at ${width}px`);
        const [link, pill, menu] = boxes as { x: number; width: number }[];
        assert.ok(link!.x + link!.width <= pill!.x, `the organization does not cover Connections at ${width}px`);
        assert.ok(pill!.x + pill!.width <= menu!.x, `the organization does not cover the account menu at ${width}px`);
        assert.ok(menu!.x + menu!.width <= width, `the account menu stays in view at ${width}px`);
        if (width === 1100) await shot('header-1100');
      }
      await page.setViewportSize({ width: 390, height: 800 });
      await eventually(async () => (await nav().isVisible()) === false, 'the row of sections folds');
      const pageOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(pageOverflow <= 0, `the page does not scroll sideways (${pageOverflow}px over)`);
      const row = rowOf(routerLease);
      assert.equal(await row.getByTestId('connection-device-compact').textContent(), 'Edge router · Globex', 'the device moves under the name');
      assert.match((await row.getByTestId('connection-expires-compact').textContent()) ?? '', /^in \d+ sec\.$/, 'and so do the times');
      const close = await row.getByRole('button', { name: /^Close / }).boundingBox();
      assert.ok(close && close.x >= 0 && close.x + close.width <= 390, `Close stays in view (${JSON.stringify(close)})`);
      await shot('phone');
      await page.getByRole('button', { name: 'Sections menu' }).click();
      const item = page.getByRole('menuitem', { name: 'Connections' });
      assert.equal(await item.getAttribute('aria-current'), 'page');
      await page.keyboard.press('Escape');
      await page.setViewportSize({ width: 1280, height: 860 });
      await nav().waitFor();
    });

    step('a viewer sees who is connected where, read-only: no Close, and a notice that managers close connections', async ({ server }) => {
      const { email: viewerEmail, sdk } = await addPerson(server, accountId, {
        name: 'Charles Babbage',
        email: uniqueEmail('viewer', backend),
        companyName: 'Babbage & Co',
        role: 'viewer',
      });
      assert.deepEqual((await sdk.listOpenConnections(accountId)).map((c) => c.leaseId), [routerLease.leaseId], 'viewers read the connections');
      const refused = await rejection(sdk.closeConnection(accountId, routerLease.leaseId));
      assert.ok(refused instanceof TesseraError && refused.status === 403, 'but the API refuses them a close');

      const context = await portal.newContext();
      try {
        const viewer = await context.newPage();
        await signIn(viewer, viewerEmail);
        await viewer.goto(`/accounts/${accountId}/team`);
        const card = viewer.getByRole('article', { name: MEMBER, exact: true });
        await card.waitFor();
        assert.equal(await card.getByTestId('member-in-use').textContent(), '1 in use');
        await card.getByTestId('member-devices').waitFor();
        assert.match((await card.getByTestId('member-devices').textContent()) ?? '', /Edge router/, 'and the device in use');

        const sections = viewer.getByRole('navigation', { name: 'Sections' });
        await sections.getByRole('link', { name: 'Connections' }).click();
        await viewer.waitForURL(CONNECTIONS_URL);
        const notice = viewer.getByTestId('read-only-notice');
        await notice.waitFor();
        assert.match((await notice.textContent()) ?? '', /managers close connections/);
        await rowOf(routerLease, viewer).waitFor();
        assert.equal(await viewer.getByRole('button', { name: /^Close / }).count(), 0, 'no Close for a viewer');
        await shot('viewer', viewer);
      } finally {
        await context.close();
      }
      await client.disconnect(routerLease.leaseId);
    });
  });
}
