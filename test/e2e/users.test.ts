import assert from 'node:assert/strict';
import { before, after, describe } from 'node:test';
import { TesseraClient } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { accountIdOf, accountUrl, assertRedBoxUnder, eventually, PASSWORD, PROFILE_URL, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Manage users in Debian's Chromium against a real server on each backend, its mail read from a
 * real SMTP listener: an owner invites a manager of one organization, who accepts from the mailed
 * link, signs up and sees that organization alone; the owner adds a user with a weak password,
 * sees each error in a red box under its field, fixes them, and the new user signs in.
 */

const USERS_URL = accountUrl('users');
const ORGANIZATIONS_URL = accountUrl('organizations');

for (const backend of BACKENDS) {
  describe(`users and invitations in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const inbox = new SmtpInbox();
    // registered before the portal's hooks, so the server starts with the listener's address
    before(() => inbox.start());
    after(() => inbox.stop());
    const portal = usePortal(backend, { shots: 'users', config: () => ({ smtpUrl: inbox.url }) });
    const { step, shot } = portal;
    const ownerEmail = uniqueEmail('owner', backend);
    const inviteeEmail = uniqueEmail('invitee', backend);
    const addedEmail = uniqueEmail('added', backend);
    let accountId = '';

    const nav = () => portal.page.getByRole('navigation', { name: 'Sections' });
    const dialog = (name: string) => portal.page.getByRole('dialog', { name });
    const userCount = async () => {
      const row = await portal.server.database.inSystem((tx) =>
        tx.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      );
      return Number(row.n);
    };

    step('an owner registers, creates two organizations and opens Users from the header', async ({ page, server }) => {
      accountId = await register(page, { name: 'Ada Lovelace', email: ownerEmail, companyName: 'Analytical Engines Ltd' });
      const sdk = new TesseraClient({ baseUrl: server.url, cookieJar: true });
      await sdk.signIn({ email: ownerEmail, password: PASSWORD });
      const north = (await sdk.createOrganization(accountId, { name: 'North Clinic' })).id;
      const south = (await sdk.createOrganization(accountId, { name: 'South Clinic' })).id;
      await sdk.createDevice(accountId, north, { name: 'North router', kind: 'Router', identifier: 'SN-N1' });
      await sdk.createDevice(accountId, south, { name: 'South router', kind: 'Router', identifier: 'SN-S1' });

      await nav().getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(USERS_URL);
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
      const me = page.getByTestId('user-row');
      // the heading shows before the list has loaded
      await me.first().waitFor();
      assert.equal(await me.count(), 1);
      assert.match(await me.getByTestId('user-email').innerText(), new RegExp(ownerEmail.replace(/[.]/g, '\\.')));
      assert.equal(await me.getByTestId('user-roles').innerText(), 'Owner');
      await page.getByTestId('no-invitations').waitFor();
    });

    step('the owner invites a manager of North Clinic; the invitation is listed and mailed', async ({ page }) => {
      await page.getByRole('button', { name: 'Invite user' }).click();
      const form = dialog('Invite user');
      await form.getByLabel('Email').fill(inviteeEmail);
      await form.getByRole('combobox', { name: 'Role' }).click();
      await page.getByRole('option', { name: 'Manager', exact: true }).click();
      const scope = form.getByRole('combobox', { name: 'Scope' });
      await scope.click();
      await scope.fill('North');
      await page.getByRole('option', { name: 'North Clinic', exact: true }).click();
      await form.getByRole('button', { name: 'Send invitation' }).click();
      await page.getByTestId('users-notice').filter({ hasText: `An invitation was sent to ${inviteeEmail}` }).waitFor();
      const row = page.getByTestId('invitation-row');
      await row.waitFor();
      assert.match(await row.innerText(), /Manager of North Clinic/);
      const mail = await inbox.waitFor(inviteeEmail, /invites you to Analytical Engines Ltd/);
      assert.match(mail.text, /as manager of organization North Clinic/);
      await shot('invited');
    });

    step('the invitee opens the mailed link, sees the offer with the email filled in, and signs up', async () => {
      const mail = await inbox.waitFor(inviteeEmail, /invites you to/);
      const context = await portal.newContext();
      const page = await context.newPage();
      await page.goto(`/invitations/accept?token=${encodeURIComponent(SmtpInbox.linkToken(mail))}`);
      await page.getByRole('heading', { name: 'Join Analytical Engines Ltd' }).waitFor();
      assert.match(await page.getByTestId('invitation-offer').innerText(), /Ada Lovelace invites you to join Analytical Engines Ltd on Tessera as a manager of North Clinic/);
      assert.equal(await page.getByTestId('invited-email').inputValue(), inviteeEmail);
      assert.equal(await page.getByTestId('invited-email').getAttribute('readonly'), '');
      await page.getByLabel('Your name').fill('Grace Hopper');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign up and join Analytical Engines Ltd' }).click();
      await page.waitForURL(ORGANIZATIONS_URL);
      assert.equal(accountIdOf(page, ORGANIZATIONS_URL), accountId);

      // only the organization the role is on, and no sections for the whole account
      await page.getByTestId('organization-row').first().waitFor();
      assert.deepEqual(await page.getByTestId('organization-name').allInnerTexts(), ['North Clinic']);
      const sections = await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').allInnerTexts();
      assert.deepEqual(sections, ['Profile', 'Organizations', 'Devices', 'Connections']);
      assert.match(await page.getByTestId('current-role').innerText(), /Manager of North Clinic/);
      await portal.shot('invitee-organizations', page);

      // the link worked once
      await page.goto(`/invitations/accept?token=${encodeURIComponent(SmtpInbox.linkToken(mail))}`);
      await page.getByRole('alert').filter({ hasText: 'This invitation cannot be used' }).waitFor();
      await context.close();
    });

    step("the owner sees the new manager with the organization's role, and no pending invitation", async ({ page }) => {
      await page.reload();
      await eventually(async () => (await page.getByTestId('user-row').count()) === 2, 'two users');
      const grace = page.getByTestId('user-row').filter({ hasText: 'Grace Hopper' });
      assert.equal(await grace.getByTestId('user-roles').innerText(), 'Manager of North Clinic');
      await page.getByTestId('no-invitations').waitFor();
    });

    step('Add user with a weak password and no name: a red box under each field, nothing saved', async ({ page }) => {
      const before = await userCount();
      await page.getByRole('button', { name: 'Add user' }).click();
      const form = dialog('Add user');
      await form.getByLabel('Email').fill(addedEmail);
      await form.getByLabel('Password', { exact: true }).fill('abcdefgh');
      await form.getByRole('button', { name: 'Add user' }).click();
      const nameError = form.getByTestId('field-error-name');
      const passwordError = form.getByTestId('field-error-password');
      await passwordError.waitFor();
      assert.equal(await nameError.innerText(), 'Enter a name');
      assert.match(await passwordError.innerText(), /Mix letters and digits/);
      await assertRedBoxUnder(nameError, form.getByLabel('Name', { exact: true }));
      await assertRedBoxUnder(passwordError, form.getByLabel('Password', { exact: true }));
      await shot('add-user-errors');

      // a name, and a password with digits that everybody uses
      await form.getByLabel('Name', { exact: true }).fill('Katherine Johnson');
      await form.getByLabel('Password', { exact: true }).fill('password1');
      await form.getByRole('button', { name: 'Add user' }).click();
      await eventually(async () => /too common/.test((await passwordError.count()) > 0 ? await passwordError.innerText() : ''), 'the common-password error');
      assert.equal(await nameError.count(), 0, 'the fixed field has no error any more');
      assert.equal(await userCount(), before, 'nothing was saved');
    });

    step('fixed, the user is added as a viewer and listed', async ({ page }) => {
      const form = dialog('Add user');
      await form.getByLabel('Password', { exact: true }).fill('amber tiles 73 north');
      await form.getByRole('button', { name: 'Add user' }).click();
      await page.getByTestId('users-notice').filter({ hasText: `Katherine Johnson was added and can sign in now as ${addedEmail}` }).waitFor();
      const katherine = page.getByTestId('user-row').filter({ hasText: 'Katherine Johnson' });
      assert.equal(await katherine.getByTestId('user-roles').innerText(), 'Viewer');
    });

    step('the added user signs in at once with that password', async () => {
      const context = await portal.newContext();
      const page = await context.newPage();
      await page.goto('/sign-in');
      await page.getByLabel('Email').fill(addedEmail);
      await page.getByLabel('Password', { exact: true }).fill('amber tiles 73 north');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(PROFILE_URL);
      assert.equal(accountIdOf(page), accountId);
      assert.equal(await page.getByTestId('current-role').innerText(), 'Viewer');
      await context.close();
    });
  });
}
