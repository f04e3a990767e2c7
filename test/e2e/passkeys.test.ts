import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { CDPSession } from 'playwright-core';
import { BACKENDS } from '../support/databases.ts';
import { assertRedBoxUnder, eventually, PASSWORD, PROFILE_URL, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Passkeys in Debian's Chromium against a real server on each backend. Chromium's virtual
 * authenticator (DevTools' WebAuthn domain) stands in for the device: it holds a real credential
 * and signs real challenges, verifying the user and confirming presence without a person. The
 * portal is opened at http://localhost:<port>, its public URL, since a passkey is bound to that
 * origin. A person adds a passkey on the Security page, signs in with the password and the passkey
 * as second factor, then with the passkey alone, renames it and removes it.
 */

for (const backend of BACKENDS) {
  describe(`passkeys in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'passkeys', atLocalhost: true });
    const { step, shot } = portal;
    const email = uniqueEmail('passkeys', backend);
    let devtools: CDPSession;
    let authenticatorId = '';
    let signCountAtRegistration = 0;
    let accountId = '';

    /** The credentials the virtual authenticator holds, as the device knows them. */
    const credentials = async () => (await devtools.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

    const signOut = async () => {
      const { page } = portal;
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in$/);
    };

    const openSecurity = async () => {
      const { page } = portal;
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Security' }).click();
      await page.waitForURL(/\/security$/);
    };

    const passkeysSection = () => portal.page.getByRole('region', { name: 'Passkeys' });
    const twoFactorSection = () => portal.page.getByRole('region', { name: 'Two-factor sign-in' });

    step('the browser has a passkey-capable device (a virtual authenticator) and no passkey yet: "Use a passkey" ends calmly', async ({ context, page }) => {
      devtools = await context.newCDPSession(page);
      await devtools.send('WebAuthn.enable');
      ({ authenticatorId } = await devtools.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      }));
      await page.goto('/sign-in');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      const notice = page.getByTestId('form-notice');
      await notice.waitFor();
      assert.match(await notice.innerText(), /No passkey was used/);
      assert.equal(await page.getByTestId('form-alert').count(), 0, 'no error, only a notice');
      assert.match(page.url(), /\/sign-in$/);
      await shot('1-no-passkey-yet');
    });

    step('a person registers and opens Security: no passkeys, two-factor sign-in off', async ({ page }) => {
      accountId = await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      await openSecurity();
      await passkeysSection().getByTestId('no-passkeys').waitFor();
      await twoFactorSection().getByText('Off', { exact: true }).waitFor();
    });

    step('adds a passkey: a wrong password is refused under its field, then the browser makes it and it is named', async () => {
      const section = passkeysSection();
      await section.getByRole('button', { name: 'Add a passkey' }).click();
      const password = section.getByLabel('Your password');
      await password.fill('not my password 1');
      await section.getByRole('button', { name: 'Continue' }).click();
      const error = section.getByTestId('field-error-password');
      await error.waitFor();
      await assertRedBoxUnder(error, password);
      assert.equal((await credentials()).length, 0, 'no prompt before the password is right');
      await shot('2-wrong-password');
      await password.fill(PASSWORD);
      await section.getByRole('button', { name: 'Continue' }).click();
      await section.getByLabel('Name (optional)').fill('Work laptop');
      await section.getByRole('button', { name: 'Save passkey' }).click();
      const [credential] = await credentials();
      assert.ok(credential?.isResidentCredential, 'a discoverable credential, so it signs in without an email');
      signCountAtRegistration = credential.signCount;
    });

    step('its first second factor shows the recovery codes once; then the passkey is listed and two-factor sign-in is on', async ({ page }) => {
      const section = passkeysSection();
      const codes = section.getByTestId('recovery-codes');
      await codes.waitFor();
      assert.equal(await codes.locator('.recovery-code').count(), 10);
      await shot('3-recovery-codes');
      await section.getByRole('button', { name: 'I saved them' }).click();
      const row = section.getByTestId('passkey');
      await row.waitFor();
      assert.equal(await row.getByTestId('passkey-name').innerText(), 'Work laptop');
      assert.match(await row.getByTestId('passkey-dates').innerText(), /Last used never/);
      assert.equal(await page.getByTestId('recovery-codes').count(), 0, 'the codes are gone');
      const summary = twoFactorSection().getByTestId('two-factor-on');
      await summary.waitFor();
      assert.match(await summary.innerText(), /1 passkey; 10 recovery codes left/);
      await shot('4-passkey-listed');
      await page.reload();
      await passkeysSection().getByTestId('passkey').waitFor();
      assert.equal(await page.getByTestId('recovery-codes').count(), 0, 'shown once, not again');
    });

    step('signs out; the password then asks for the second factor, and the passkey gives it', async ({ page }) => {
      await signOut();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
      const usePasskey = page.getByRole('button', { name: 'Use your passkey' });
      await usePasskey.waitFor();
      // no authenticator app was set up: no code field, a recovery code behind its link
      assert.equal(await page.getByLabel('Code', { exact: true }).count(), 0);
      await page.getByRole('button', { name: 'Use a recovery code' }).waitFor();
      await shot('5-second-factor');
      await usePasskey.click();
      await page.waitForURL(PROFILE_URL);
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
    });

    step('signs out, and signs in with the passkey alone; the device signed each time', async ({ page }) => {
      await signOut();
      await shot('6-sign-in-page');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.waitForURL(PROFILE_URL);
      const [credential] = await credentials();
      assert.ok(credential, 'the device still holds the passkey');
      assert.ok(credential.signCount >= signCountAtRegistration + 2, `two signatures since registration (counter ${signCountAtRegistration} → ${credential.signCount})`);
    });

    step('renames the passkey; the list shows the new name and when it was last used', async () => {
      await openSecurity();
      const row = passkeysSection().getByTestId('passkey');
      assert.doesNotMatch(await row.getByTestId('passkey-dates').innerText(), /Last used never/);
      await row.getByRole('button', { name: 'Rename' }).click();
      await row.getByLabel('Name', { exact: true }).fill("Ada's laptop");
      await row.getByRole('button', { name: 'Save name' }).click();
      await eventually(async () => (await row.getByTestId('passkey-name').innerText()) === "Ada's laptop", 'the new name in the list');
      await shot('7-renamed');
    });

    step('removes it with the password: the list is empty, two-factor sign-in is off, and the passkey no longer signs in', async ({ page }) => {
      const row = passkeysSection().getByTestId('passkey');
      await row.getByRole('button', { name: 'Remove' }).click();
      await row.getByLabel('Your password').fill(PASSWORD);
      await row.getByRole('button', { name: 'Remove passkey' }).click();
      await passkeysSection().getByTestId('no-passkeys').waitFor();
      await twoFactorSection().getByText('Off', { exact: true }).waitFor();
      await shot('8-removed');
      await signOut();
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      const alert = page.getByTestId('form-alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /This passkey was not accepted/);
      assert.match(page.url(), /\/sign-in$/);
      await shot('9-removed-passkey-refused');
    });

    step('when the account requires two-factor sign-in, a passkey added on the Security page meets it and opens the rest of Tessera', async ({ server, page }) => {
      // as an owner's "Require two-factor sign-in" would, without the owner's own second factor it needs first
      await server.database.inSystem((tx) => tx.updateTable('accounts').set({ require_two_factor: true }).where('account_id', '=', accountId).execute());
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/security$/);
      await page.getByTestId('enrolment-required').waitFor();
      assert.equal(await page.getByRole('region', { name: 'Name' }).count(), 0, 'the rest stays closed');
      const section = passkeysSection();
      await section.getByRole('button', { name: 'Add a passkey' }).click();
      await section.getByLabel('Your password').fill(PASSWORD);
      await section.getByRole('button', { name: 'Continue' }).click();
      await section.getByRole('button', { name: 'Save passkey' }).click();
      await section.getByTestId('recovery-codes').waitFor();
      await shot('10-enrolment-recovery-codes');
      await section.getByRole('button', { name: 'I saved them' }).click();
      await page.getByRole('region', { name: 'Name' }).waitFor();
      assert.equal(await page.getByTestId('enrolment-required').count(), 0);
      assert.equal(await section.getByTestId('passkey').count(), 1);
    });
  });
}
