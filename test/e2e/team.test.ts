import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { accountIdOf, accountUrl, addPerson, assertRedBoxUnder, desktopClient, eventually, PASSWORD, register, rejection, signIn, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Team accounts as an owner uses them, in Debian's Chromium, against a real server on each
 * backend; the login tokens the page hands out are used by the desktop client SDK in between.
 */

const TEAM_URL = accountUrl('team');
const MEMBER = 'Grace Hopper';

/** A datetime-local value (local time, minutes) `days` from now. */
function localDateTime(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function assertInvalidGrant(promise: Promise<unknown>, what: string): Promise<void> {
  const error = await rejection(promise);
  assert.ok(error instanceof TesseraOAuthError, `${what}: expected an OAuth error, got ${String(error)}`);
  assert.equal(error.error, 'invalid_grant', what);
}

for (const backend of BACKENDS) {
  describe(`team accounts in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'team' });
    const { step, shot } = portal;
    let accountId = '';
    let allowance = 0;
    let firstSecret = '';
    let secondSecret = '';
    let firstDesktop: TesseraDesktopClient;
    let secondDesktop: TesseraDesktopClient;
    const email = uniqueEmail('owner', backend);

    const card = () => portal.page.getByRole('article', { name: MEMBER, exact: true });
    const drawer = () => portal.page.getByRole('dialog', { name: MEMBER, exact: true });
    const tokenRow = (label: string) => drawer().getByTestId('token-row').filter({ has: portal.page.getByText(label, { exact: true }) });
    const clipboard = () => portal.page.evaluate(() => navigator.clipboard.readText());
    const desktop = () => desktopClient(portal.server);
    const memberCount = async () => {
      const row = await portal.server.database.inSystem((tx) =>
        tx.selectFrom('team_members').select((eb) => eb.fn.countAll<string>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow(),
      );
      return Number(row.n);
    };

    step('an owner registers and opens Team accounts from the header', async ({ page }) => {
      await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });

      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Team accounts' }).click();
      await page.waitForURL(TEAM_URL);
      accountId = accountIdOf(page, TEAM_URL);
      await page.getByRole('heading', { name: 'Team accounts' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Team accounts' }).getAttribute('class'), 'app-nav-link active');
      await page.getByTestId('empty-team').waitFor();
      const plan = (await page.getByTestId('plan-name').textContent()) ?? '';
      assert.ok(plan.length > 0, 'the plan has a name');
      allowance = Number(/^(\d+) connections$/.exec((await page.getByTestId('plan-allowance').textContent()) ?? '')?.[1]);
      assert.ok(allowance > 0, 'the plan shows its connection allowance');
      assert.match((await page.getByTestId('plan-members').textContent()) ?? '', /^0 of \d+$/);
      await shot('empty');
    });

    step('refuses a fixed limit above the plan allowance next to the field, and adds nothing', async ({ page }) => {
      await page.getByRole('button', { name: 'Add team member' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'Add team member' });
      await dialog.waitFor();
      await dialog.getByLabel('Name').fill(MEMBER);
      assert.equal(await dialog.getByLabel('Connections', { exact: true }).count(), 0, 'the number appears only for a fixed limit');
      await dialog.getByRole('switch', { name: 'Fixed number of connections' }).setChecked(true, { force: true });
      await dialog.getByLabel('Connections', { exact: true }).fill(String(allowance + 1));
      await dialog.getByRole('button', { name: 'Add team member' }).click();

      const error = dialog.getByTestId('field-error-connectionLimit');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', new RegExp(`At most ${allowance}`));
      await assertRedBoxUnder(error, dialog.getByLabel('Connections', { exact: true }));
      assert.equal(await dialog.getByLabel('Connections', { exact: true }).getAttribute('aria-invalid'), 'true');
      assert.equal(await dialog.getByTestId('form-alert').count(), 0, 'a field problem needs no alert');
      await shot('field-error');
      assert.equal(await memberCount(), 0);
    });

    step('adds the member with a fixed limit and shows its first login token once, to copy', async ({ page }) => {
      const dialog = page.getByRole('dialog', { name: 'Add team member' });
      await dialog.getByLabel('Connections', { exact: true }).fill('3');
      assert.equal(await dialog.getByTestId('field-error-connectionLimit').count(), 0, 'editing the field clears its error');
      await dialog.getByRole('button', { name: 'Add team member' }).click();

      const added = page.getByRole('dialog', { name: `${MEMBER} was added` });
      await added.waitFor();
      firstSecret = ((await added.getByTestId('issued-token').textContent()) ?? '').trim();
      assert.ok(firstSecret.length >= 20, 'the first token is shown in full');
      await added.getByRole('button', { name: 'Copy token' }).click();
      await added.getByRole('button', { name: 'Copied' }).waitFor();
      assert.equal(await clipboard(), firstSecret, 'the copy button puts the token on the clipboard');
      await shot('first-token');
      await added.getByRole('button', { name: 'Done' }).click();
      await added.waitFor({ state: 'hidden' });

      await card().waitFor();
      assert.equal(await card().getByTestId('member-limit').textContent(), 'Fixed: 3');
      assert.equal(await card().getByTestId('member-in-use').textContent(), '0 of 3');
      assert.equal(await card().getByTestId('member-tokens').textContent(), '1 active');
      assert.match((await page.getByTestId('plan-members').textContent()) ?? '', /^1 of \d+$/);
      await shot('member');
    });

    step('the desktop client signs in with the copied token', async () => {
      firstDesktop = desktop();
      const tokens = await firstDesktop.signInWithLoginToken(firstSecret);
      assert.equal(tokens.token_type, 'Bearer');
      const me = await firstDesktop.me();
      assert.equal(me.member.name, MEMBER);
      assert.equal(me.member.connectionLimit, 3);
      assert.equal(me.account.id, accountId);
      assert.equal(me.session.grant, 'login_token');
    });

    step('Manage lists the tokens; an owner adds a second one with an expiry and copies the first again', async ({ page }) => {
      await card().getByRole('button', { name: 'Manage' }).click();
      await drawer().waitFor();
      await drawer().getByTestId('token-row').first().waitFor();
      assert.equal(await drawer().getByTestId('token-row').count(), 1);
      const first = drawer().getByTestId('token-row').first();
      assert.equal(await first.getAttribute('data-state'), 'active');
      const prefix = (await first.getAttribute('data-prefix')) ?? '';
      assert.ok(prefix.length > 0 && firstSecret.startsWith(prefix), 'the row shows the start of the token');
      const firstLabel = ((await first.locator('.token-label').textContent()) ?? '').trim();
      assert.equal(await first.getByText('Never').count(), 0, 'the desktop sign-in shows as its last use');
      assert.equal(await first.getByText('No expiry').count(), 1);

      await drawer().getByLabel('Label', { exact: true }).fill('Laptop');
      await drawer().getByLabel('Expires (optional)').fill(localDateTime(-1));
      await drawer().getByRole('button', { name: 'Add token' }).click();
      const pastError = drawer().getByTestId('field-error-expiresAt');
      await pastError.waitFor();
      await assertRedBoxUnder(pastError, drawer().getByLabel('Expires (optional)'));
      assert.equal(await drawer().getByTestId('token-row').count(), 1, 'nothing was added');

      await drawer().getByLabel('Expires (optional)').fill(localDateTime(30));
      await drawer().getByRole('button', { name: 'Add token' }).click();
      const issued = drawer().getByTestId('issued-token-panel');
      await issued.waitFor();
      secondSecret = ((await issued.getByTestId('issued-token').textContent()) ?? '').trim();
      assert.ok(secondSecret.length >= 20 && secondSecret !== firstSecret);
      await eventually(async () => (await drawer().getByTestId('token-row').count()) === 2, 'the second token row');
      const laptop = tokenRow('Laptop');
      assert.equal(await laptop.getByTestId('token-state').textContent(), 'Active');
      assert.equal(await laptop.getByText('No expiry').count(), 0, 'the new token shows its expiry');
      assert.equal(await drawer().getByLabel('Label', { exact: true }).inputValue(), '', 'the form is empty again');

      await page.evaluate(() => navigator.clipboard.writeText(''));
      const copy = tokenRow(firstLabel).getByRole('button', { name: `Copy ${firstLabel}` });
      await copy.click();
      await eventually(async () => ((await copy.textContent()) ?? '').includes('Copied'), 'the Copied confirmation');
      assert.equal(await clipboard(), firstSecret, 'Copy reveals the same token again');
      await shot('tokens');
    });

    step('revoking the first token in the page ends its desktop session at once', async ({ page, server }) => {
      const firstLabel = ((await drawer().getByTestId('token-row').first().locator('.token-label').textContent()) ?? '').trim();
      await tokenRow(firstLabel).getByRole('button', { name: `Revoke ${firstLabel}` }).click();
      const confirm = page.getByRole('dialog', { name: `Revoke “${firstLabel}”?` });
      await confirm.waitFor();
      await shot('revoke-confirm');
      await confirm.getByRole('button', { name: 'Revoke token' }).click();
      await confirm.waitFor({ state: 'hidden' });
      await eventually(async () => (await tokenRow(firstLabel).getAttribute('data-state')) === 'revoked', 'the revoked state');
      assert.equal(await tokenRow(firstLabel).getByTestId('token-state').textContent(), 'Revoked');
      assert.equal(await tokenRow(firstLabel).getByRole('button').count(), 0, 'a revoked token has no actions');

      // the access token fails right away, and so does the refresh token
      const response = await fetch(`${server.url}/client/v1/me`, { headers: { authorization: `Bearer ${firstDesktop.tokens!.access_token}` } });
      assert.equal(response.status, 401);
      await response.body?.cancel();
      await assertInvalidGrant(firstDesktop.refresh(), 'refresh after revocation');
      await assertInvalidGrant(desktop().signInWithLoginToken(firstSecret), 'the revoked token signs in');

      secondDesktop = desktop();
      await secondDesktop.signInWithLoginToken(secondSecret);
      assert.equal((await secondDesktop.me()).member.name, MEMBER, 'the second token still signs in');
      await shot('revoked');
    });

    step('sets member credentials, with a weak password refused next to its field', async ({ page }) => {
      const section = drawer().getByRole('region', { name: 'Desktop sign-in with email and password' });
      const memberEmail = `grace.${process.pid}.${backend}.${Date.now()}@example.test`;
      await section.getByLabel('Email').fill(memberEmail);
      await section.getByLabel('Password', { exact: true }).fill('short');
      await section.getByRole('button', { name: 'Save credentials' }).click();
      const error = section.getByTestId('field-error-password');
      await error.waitFor();
      await assertRedBoxUnder(error, section.getByLabel('Password', { exact: true }));
      await shot('credentials-error');

      await section.getByLabel('Password', { exact: true }).fill('harbour lights 7 evening');
      await section.getByRole('button', { name: 'Save credentials' }).click();
      await section.getByTestId('credentials-saved').waitFor();
      assert.match((await section.getByTestId('credentials-status').textContent()) ?? '', new RegExp(memberEmail.replace(/\./g, '\\.')));
      const byPassword = desktop();
      await byPassword.signInWithPassword(memberEmail, 'harbour lights 7 evening');
      assert.equal((await byPassword.me()).session.grant, 'password');

      await page.keyboard.press('Escape');
      await drawer().waitFor({ state: 'hidden' });
      assert.equal(await card().getByTestId('member-credentials').textContent(), memberEmail);
      assert.equal(await card().getByTestId('member-tokens').textContent(), '1 active');
    });

    step('edits the member: the limit is checked against the allowance, then saved', async ({ page }) => {
      await card().getByRole('button', { name: `Edit ${MEMBER}` }).click();
      const dialog = page.getByRole('dialog', { name: `Edit ${MEMBER}` });
      await dialog.waitFor();
      await dialog.getByLabel('Connections', { exact: true }).fill(String(allowance + 5));
      await dialog.getByRole('button', { name: 'Save changes' }).click();
      await dialog.getByTestId('field-error-connectionLimit').waitFor();
      await shot('edit');
      await dialog.getByLabel('Connections', { exact: true }).fill(String(allowance));
      await dialog.getByRole('button', { name: 'Save changes' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await eventually(async () => (await card().getByTestId('member-limit').textContent()) === `Fixed: ${allowance}`, 'the new limit on the card');
      assert.equal((await secondDesktop.me()).member.connectionLimit, allowance);
    });

    step('a viewer sees the team read-only and cannot reveal tokens', async ({ server }) => {
      const { email: viewerEmail, sdk } = await addPerson(server, accountId, {
        name: 'Charles Babbage',
        email: uniqueEmail('viewer', backend),
        companyName: 'Babbage & Co',
        role: 'viewer',
      });
      const team = await sdk.getTeam(accountId);
      const member = team.members[0]!;
      const [token] = await sdk.listLoginTokens(accountId, member.id);
      const refused = await rejection(sdk.revealLoginToken(accountId, member.id, token!.id));
      assert.ok(refused instanceof TesseraError && refused.status === 403, 'a viewer cannot reveal a token');

      const context = await portal.newContext();
      const other = await context.newPage();
      try {
        await signIn(other, viewerEmail);
        await other.goto(`/accounts/${accountId}/team`);
        await other.getByTestId('read-only-notice').waitFor();
        const memberCard = other.getByRole('article', { name: MEMBER, exact: true });
        await memberCard.waitFor();
        assert.equal(await other.getByRole('button', { name: 'Add team member' }).count(), 0);
        assert.equal(await memberCard.getByRole('button', { name: `Remove ${MEMBER}` }).count(), 0);
        assert.equal(await memberCard.getByRole('button', { name: `Edit ${MEMBER}` }).count(), 0);
        await shot('read-only', other);
        await memberCard.getByRole('button', { name: 'View tokens' }).click();
        const tokens = other.getByRole('dialog', { name: MEMBER, exact: true });
        await tokens.getByTestId('token-row').first().waitFor();
        assert.equal(await tokens.getByTestId('token-row').count(), 2);
        assert.equal(await tokens.getByRole('button', { name: /^(Copy|Revoke)/ }).count(), 0, 'no copy or revoke');
        assert.equal(await tokens.getByRole('button', { name: 'Add token' }).count(), 0);
        assert.equal(await tokens.getByRole('textbox').count(), 0, 'no forms');
        await shot('read-only-tokens', other);
      } finally {
        await context.close();
      }
    });

    step('removing the member in the page invalidates its remaining token and ends its sessions', async ({ page }) => {
      await page.getByRole('button', { name: `Remove ${MEMBER}` }).click();
      const confirm = page.getByRole('dialog', { name: `Remove ${MEMBER}?` });
      await confirm.waitFor();
      assert.match((await confirm.textContent()) ?? '', /login tokens stop working/);
      await shot('remove-confirm');
      await confirm.getByRole('button', { name: 'Remove member' }).click();
      await confirm.waitFor({ state: 'hidden' });
      await page.getByTestId('empty-team').waitFor();
      assert.equal(await card().count(), 0);
      assert.equal(await memberCount(), 0);

      await assertInvalidGrant(desktop().signInWithLoginToken(secondSecret), 'the second token after removal');
      const error = await rejection(secondDesktop.me());
      assert.ok(error instanceof TesseraOAuthError || (error instanceof TesseraError && error.status === 401), `the session ended (${String(error)})`);
      await shot('removed');
    });

    step('past the plan member limit, adding is refused in an alert', async ({ page, server }) => {
      const owner = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await owner.signIn({ email, password: PASSWORD });
      const { plan } = await owner.getTeam(accountId);
      for (let i = 1; i <= plan.memberLimit; i += 1) await owner.addTeamMember(accountId, { name: `Operator ${String(i).padStart(2, '0')}` });
      await page.reload();
      await page.getByRole('article', { name: 'Operator 01', exact: true }).waitFor();
      assert.equal(await page.getByTestId('member-card').count(), plan.memberLimit);
      assert.equal(await page.getByTestId('plan-members').textContent(), `${plan.memberLimit} of ${plan.memberLimit}`);

      await page.getByRole('button', { name: 'Add team member' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add team member' });
      await dialog.getByLabel('Name').fill('One too many');
      await dialog.getByRole('button', { name: 'Add team member' }).click();
      const alert = dialog.getByTestId('form-alert');
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', new RegExp(`allows ${plan.memberLimit} team members`));
      assert.equal(await dialog.getByTestId('field-error-name').count(), 0);
      await shot('member-limit');
      assert.equal(await memberCount(), plan.memberLimit);
    });
  });
}
