import assert from 'node:assert/strict';
import { describe } from 'node:test';
import * as OTPAuth from 'otpauth';
import { BACKENDS } from '../support/databases.ts';
import { PASSWORD, PROFILE_URL, register, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Two-factor sign-in in Debian's Chromium against a real server on each backend: a person sets it
 * up on the Security page (the test "scans" the QR code by computing codes from the manual key it
 * shows), saves the recovery codes, signs out, signs in with a code of the app, signs out again
 * and signs in with a recovery code.
 */

for (const backend of BACKENDS) {
  describe(`two-factor sign-in in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const portal = usePortal(backend, { shots: 'two-factor' });
    const { step, shot } = portal;
    const email = uniqueEmail('two-factor', backend);
    let secret = '';
    let recoveryCodes: string[] = [];

    /**
     * The app's code for the next 30-second step: enrolling spent the current one, and the server
     * takes one step of drift either way, so this code is new and accepted.
     */
    const nextCode = () => new OTPAuth.TOTP({ secret }).generate({ timestamp: Date.now() + 30_000 });

    const signOut = async () => {
      const { page } = portal;
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in$/);
    };

    const passwordStep = async () => {
      const { page } = portal;
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
    };

    step('a person registers and opens Security from the account menu', async ({ page }) => {
      await register(page, { name: 'Ada Lovelace', email, companyName: 'Analytical Engines Ltd' });
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Security' }).click();
      await page.waitForURL(/\/security$/);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
    });

    step('sets up two-factor sign-in: password, QR code and key, a wrong code refused under its field, then the right one', async ({ page }) => {
      const section = page.getByRole('region', { name: 'Two-factor sign-in' });
      await section.getByLabel('Your password').fill(PASSWORD);
      await section.getByRole('button', { name: 'Set up' }).click();
      await section.getByTestId('qr-code').waitFor();
      secret = (await section.getByTestId('manual-key').innerText()).replace(/\s+/g, '');
      assert.match(secret, /^[A-Z2-7]{32}$/);
      await shot('1-qr-code');
      const code = new OTPAuth.TOTP({ secret }).generate();
      await section.getByLabel('Code from the app').fill(code === '000000' ? '111111' : '000000');
      await section.getByRole('button', { name: 'Turn on' }).click();
      await section.getByTestId('field-error-code').waitFor();
      await section.getByLabel('Code from the app').fill(code);
      await section.getByRole('button', { name: 'Turn on' }).click();
      const codes = section.getByTestId('recovery-codes');
      await codes.waitFor();
      recoveryCodes = (await codes.locator('.recovery-code').allInnerTexts()).map((c) => c.trim());
      assert.equal(recoveryCodes.length, 10);
      await shot('2-recovery-codes');
      await section.getByRole('button', { name: 'I saved them' }).click();
      await section.getByTestId('two-factor-on').waitFor();
      assert.match(await section.getByTestId('two-factor-on').innerText(), /10 recovery codes left/);
    });

    step('signs out, and signs in with the password and then a code of the app', async ({ page }) => {
      await signOut();
      await passwordStep();
      await shot('3-code-step');
      await page.getByLabel('Code', { exact: true }).fill(nextCode());
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(PROFILE_URL);
      await page.getByRole('heading', { name: 'Profile' }).waitFor();
    });

    step('signs out, and signs in with a recovery code, which then works no more', async ({ page }) => {
      await signOut();
      await passwordStep();
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(PROFILE_URL);
      await signOut();
      await passwordStep();
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByTestId('field-error-recoveryCode').waitFor();
      await shot('4-recovery-code-spent');
    });
  });
}
