import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { oidcConfigOf, startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { freePort, PROFILE_URL, uniqueEmail, usePortal, SUITE_TIMEOUT_MS } from './support.ts';

/**
 * Sign-in with an OpenID Connect provider in Debian's Chromium: a real provider (`oidc-provider`)
 * on a local port is the issuer. The person clicks "Sign in with Google" on the sign-in page, signs
 * in on the provider's own login page, and lands back in the portal, registered and signed in; the
 * Security page shows the linked identity. A person whose email the provider did not verify comes
 * back to the sign-in page with the reason.
 */

for (const backend of BACKENDS) {
  describe(`sign-in with an OpenID Connect provider in the browser (${backend})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    let provider: TestProvider;
    let port = 0;
    before(async () => {
      // the server's address must be known before it starts: the provider registers its redirect URI
      port = await freePort();
      provider = await startTestProvider(`http://127.0.0.1:${port}/api/v1/auth/oidc/callback`);
    });
    after(() => provider?.close());
    const portal = usePortal(backend, { shots: 'oidc', config: () => ({ port, publicUrl: `http://127.0.0.1:${port}`, ...oidcConfigOf(provider) }) });
    const { step, shot } = portal;
    const email = uniqueEmail('oidc', backend);

    /** On the provider's own pages: its login form, then its consent page. */
    const signInAtProvider = async (login: string) => {
      const { page } = portal;
      await page.waitForURL((url) => url.origin === provider.issuer);
      await page.locator('input[name="login"]').fill(login);
      await page.locator('input[name="password"]').fill('any password works here');
      await shot('provider-login');
      await page.locator('button[type="submit"]').click();
      await page.getByRole('button', { name: 'Continue' }).click();
    };

    step('the sign-in page offers "Sign in with Google"; the provider signs the person in and the portal opens their new account', async ({ page }) => {
      provider.addPerson('grace', { email, emailVerified: true, name: 'Grace Hopper' });
      await page.goto('/sign-in');
      const button = page.getByRole('link', { name: 'Sign in with Google' });
      await button.waitFor();
      await shot('sign-in-with-google');
      await button.click();
      await signInAtProvider('grace');
      await page.waitForURL(PROFILE_URL);
      await page.getByText("Grace Hopper's company").first().waitFor();
      await shot('signed-in');
    });

    step('the Security page shows the linked identity, which cannot be unlinked without a password', async ({ page }) => {
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Security' }).click();
      await page.waitForURL(/\/security$/);
      const row = page.getByTestId('linked-identity');
      await row.waitFor();
      assert.match(await row.innerText(), new RegExp(email.replace(/[.]/g, '\\.')));
      assert.equal(await row.getByRole('button', { name: 'Unlink' }).isDisabled(), true);
      await shot('security-linked');
    });

    step('an email the provider did not verify is refused with a clear message', async ({ page }) => {
      await page.getByTestId('account-menu').click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in$/);
      // another person at the provider: its session of Grace would sign her in again without a page
      await page.context().clearCookies();
      provider.addPerson('unverified', { email: uniqueEmail('unverified', backend), emailVerified: false, name: 'Not Verified' });
      await page.getByRole('link', { name: 'Sign in with Google' }).click();
      await signInAtProvider('unverified');
      await page.waitForURL(/\/sign-in\?error=email_unverified$/);
      assert.match(await page.getByTestId('oidc-message').innerText(), /not verified/);
      await shot('unverified');
    });
  });
}
