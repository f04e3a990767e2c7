import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as OTPAuth from 'otpauth';
import { startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';
import { Browser as CookieBrowser } from '../support/browser.ts';
import { oidcConfigOf, signInAtProvider, startTestProvider, TEST_APP_REDIRECT_URI, type TestProvider } from '../support/oidc-provider.ts';
import { PENDING_SIGN_IN_MS } from '../../src/server/auth/cookies.ts';

/**
 * Sign-in with an OpenID Connect provider (docs/oidc.md) against a real provider: `oidc-provider`
 * listening on a local port is the issuer; the app exchanges codes with it, fetches its keys and
 * checks its ID tokens. The browser is played over HTTP: the app in-process, the provider's pages
 * over the network.
 */
class Browser extends CookieBrowser {
  /** Starts a sign-in and signs in at the provider as `login`: the callback URL the provider sent the browser to. */
  async throughProvider(login: string, start = '/api/v1/auth/oidc/start'): Promise<URL> {
    const started = await this.send('GET', start);
    assert.equal(started.statusCode, 302, started.body);
    return signInAtProvider(String(started.headers.location), login);
  }

  /** Answers the provider's redirect in this browser; returns where the app sent it. */
  async callback(url: URL): Promise<string> {
    const answer = await this.send('GET', url.pathname + url.search);
    assert.equal(answer.statusCode, 302, answer.body);
    return String(answer.headers.location);
  }
}

async function userEvents(t: TestApp, userId: string): Promise<Array<{ action: string; after: unknown; before: unknown }>> {
  const rows = await t.db.database.db.selectFrom('user_audit_events').select(['action', 'after', 'before']).where('user_id', '=', userId).orderBy('id').execute();
  return rows.map((row) => ({ action: row.action, after: row.after === null ? null : typeof row.after === 'string' ? JSON.parse(row.after) : row.after, before: row.before === null ? null : typeof row.before === 'string' ? JSON.parse(row.before) : row.before }));
}

for (const backend of BACKENDS) {
  describe(`sign-in with an OpenID Connect provider (${backend})`, () => {
    let t: TestApp;
    let provider: TestProvider;
    let counter = 0;

    /** A person at the provider; returns their login there. */
    function personAtProvider(options: { email?: string; emailVerified?: boolean; name?: string } = {}): { login: string; email: string } {
      counter += 1;
      const login = `person-${counter}`;
      const email = options.email ?? uniqueEmail('oidc');
      provider.addPerson(login, { email, emailVerified: options.emailVerified ?? true, name: options.name ?? 'Grace Hopper' });
      return { login, email };
    }

    before(async () => {
      provider = await startTestProvider(TEST_APP_REDIRECT_URI);
      t = await startTestApp(backend, oidcConfigOf(provider));
    });
    after(async () => {
      await t.close();
      await provider.close();
    });

    it('tells the portal the provider is configured, and starts with PKCE S256, state and nonce in a signed Lax cookie', async () => {
      const browser = new Browser(t);
      const info = await browser.send('GET', '/api/v1/auth/oidc');
      assert.deepEqual(info.json(), { enabled: true, name: 'Google' });
      const started = await browser.send('GET', '/api/v1/auth/oidc/start');
      assert.equal(started.statusCode, 302);
      const location = new URL(String(started.headers.location));
      assert.equal(location.origin, provider.issuer);
      assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(location.searchParams.get('redirect_uri'), 'http://portal.test/api/v1/auth/oidc/callback');
      assert.ok(location.searchParams.get('state') && location.searchParams.get('nonce') && location.searchParams.get('code_challenge'));
      const flow = started.cookies.find((c) => c.name === 'tessera_oidc_flow');
      assert.ok(flow, 'the flow cookie');
      assert.equal(flow.httpOnly, true);
      assert.equal(flow.sameSite, 'Lax');
      assert.equal(flow.path, '/api/v1/auth/oidc');
    });

    it('registers a new person with their first account and signs them in', async () => {
      const { login, email } = personAtProvider({ name: 'Grace Hopper' });
      const browser = new Browser(t);
      const landed = await browser.callback(await browser.throughProvider(login));
      assert.equal(landed, '/');
      const me = (await browser.send('GET', '/api/v1/me')).json();
      assert.equal(me.user.email, email);
      assert.equal(me.user.name, 'Grace Hopper');
      assert.equal(me.user.emailVerified, true, 'the provider verified the email');
      assert.equal(me.accounts.length, 1);
      assert.equal(me.accounts[0].companyName, "Grace Hopper's company");
      assert.equal(me.accounts[0].role, 'owner');
      const identities = (await browser.send('GET', '/api/v1/me/identities')).json();
      assert.equal(identities.hasPassword, false);
      assert.deepEqual(identities.items.map((i: { issuer: string; email: string }) => [i.issuer, i.email]), [[provider.issuer, email]]);
      const actions = (await userEvents(t, me.user.id)).map((e) => e.action);
      assert.deepEqual(actions, ['user.registered', 'user.identity_linked', 'user.signed_in']);
    });

    it('signs a linked identity in again, audited with the method', async () => {
      const { login } = personAtProvider();
      const first = new Browser(t);
      await first.callback(await first.throughProvider(login));
      const userId = (await first.send('GET', '/api/v1/me')).json().user.id;
      const again = new Browser(t);
      assert.equal(await again.callback(await again.throughProvider(login)), '/');
      assert.equal((await again.send('GET', '/api/v1/me')).json().user.id, userId);
      const signIns = (await userEvents(t, userId)).filter((e) => e.action === 'user.signed_in');
      assert.equal(signIns.length, 2);
      assert.deepEqual(signIns[1]!.after, { method: 'oidc', issuer: provider.issuer });
    });

    it('does not link a verified email of a password user until the password is given', async () => {
      const owner = new Browser(t);
      const email = uniqueEmail('has-password');
      const registered = await owner.send('POST', '/api/v1/auth/register', { name: 'Ada Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines', country: 'GB' });
      assert.equal(registered.statusCode, 201);
      const userId = registered.json().user.id;
      const { login } = personAtProvider({ email });

      const browser = new Browser(t);
      assert.equal(await browser.callback(await browser.throughProvider(login)), '/sign-in?error=link_password_required');
      assert.equal((await browser.send('GET', '/api/v1/me')).statusCode, 401, 'no session from the provider alone');
      assert.equal((await t.db.database.db.selectFrom('linked_identities').selectAll().where('user_id', '=', userId).execute()).length, 0);

      // another browser of the same person signing in with the password links nothing: the link waits in the first browser
      const other = new Browser(t);
      assert.equal((await other.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD })).statusCode, 200);
      assert.equal((await other.send('GET', '/api/v1/me/identities')).json().items.length, 0);

      const signedIn = await browser.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD });
      assert.equal(signedIn.statusCode, 200, signedIn.body);
      assert.equal((await browser.send('GET', '/api/v1/me/identities')).json().items.length, 1, 'linked by the password sign-in');
      assert.ok((await userEvents(t, userId)).some((e) => e.action === 'user.identity_linked'));

      const later = new Browser(t);
      assert.equal(await later.callback(await later.throughProvider(login)), '/', 'from now on the provider signs them in');
      assert.equal((await later.send('GET', '/api/v1/me')).json().user.id, userId);
    });

    it('forgets a link waiting for the password after five minutes', async () => {
      const email = uniqueEmail('slow');
      assert.equal((await new Browser(t).send('POST', '/api/v1/auth/register', { name: 'Ada Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines', country: 'GB' })).statusCode, 201);
      const { login } = personAtProvider({ email });
      const browser = new Browser(t);
      assert.equal(await browser.callback(await browser.throughProvider(login)), '/sign-in?error=link_password_required');
      t.clock.advance(PENDING_SIGN_IN_MS + 1000);
      assert.equal((await browser.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD })).statusCode, 200);
      assert.equal((await browser.send('GET', '/api/v1/me/identities')).json().items.length, 0);
    });

    it('asks a person with a second factor for it, as after a password', async () => {
      const browser = new Browser(t);
      const email = uniqueEmail('two-factor');
      await browser.send('POST', '/api/v1/auth/register', { name: 'Ada Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines', country: 'GB' });
      const { login } = personAtProvider({ email });
      assert.equal(await browser.callback(await browser.throughProvider(login, '/api/v1/auth/oidc/start?link=1')), '/security?linked=1');
      const { secret } = (await browser.send('POST', '/api/v1/me/two-factor', { password: STRONG_PASSWORD })).json();
      const totp = new OTPAuth.TOTP({ secret });
      assert.equal((await browser.send('POST', '/api/v1/me/two-factor/confirm', { code: totp.generate({ timestamp: t.clock.now().getTime() }) })).statusCode, 200);

      const later = new Browser(t);
      assert.equal(await later.callback(await later.throughProvider(login)), '/sign-in?step=two-factor');
      assert.equal((await later.send('GET', '/api/v1/me')).statusCode, 401, 'no session before the second factor');
      const completed = await later.send('POST', '/api/v1/auth/sign-in/two-factor', { code: totp.generate({ timestamp: t.clock.now().getTime() + 30_000 }) });
      assert.equal(completed.statusCode, 200, completed.body);
      assert.equal((await later.send('GET', '/api/v1/me')).json().user.email, email);
    });

    it('refuses a tampered state, and a callback without the flow cookie', async () => {
      const { login } = personAtProvider();
      const browser = new Browser(t);
      const callback = await browser.throughProvider(login);
      const tampered = new URL(callback);
      tampered.searchParams.set('state', `${callback.searchParams.get('state')}x`);
      assert.equal(await browser.clone().callback(tampered), '/sign-in?error=state_mismatch');
      const stranger = new Browser(t);
      assert.equal(await stranger.callback(callback), '/sign-in?error=state_mismatch', 'a code sent to another browser');
      const forged = browser.clone();
      forged.cookies.set('tessera_oidc_flow', `${browser.cookies.get('tessera_oidc_flow')!.slice(0, -2)}AA`);
      assert.equal(await forged.callback(callback), '/sign-in?error=state_mismatch', 'a cookie with a broken signature');
      assert.equal((await stranger.send('GET', '/api/v1/me')).statusCode, 401);
    });

    it('refuses a replayed code: the provider does not exchange it twice', async () => {
      const { login } = personAtProvider();
      const browser = new Browser(t);
      const callback = await browser.throughProvider(login);
      const replay = browser.clone(); // the same flow cookie, as an attacker who copied it would hold
      assert.equal(await browser.callback(callback), '/');
      assert.equal(await replay.callback(callback), '/sign-in?error=code_rejected');
      assert.equal((await replay.send('GET', '/api/v1/me')).statusCode, 401);
    });

    it('refuses an ID token whose nonce is not the one of this sign-in', async () => {
      const { login } = personAtProvider();
      const browser = new Browser(t);
      const callback = await browser.throughProvider(login);
      // a validly signed flow cookie whose nonce differs from the one the provider put in the token
      const unsigned = t.app.unsignCookie(browser.cookies.get('tessera_oidc_flow')!);
      assert.ok(unsigned.valid);
      const flow = JSON.parse(Buffer.from(unsigned.value!, 'base64url').toString());
      flow.nonce = `${flow.nonce}-other`;
      browser.cookies.set('tessera_oidc_flow', t.app.signCookie(Buffer.from(JSON.stringify(flow)).toString('base64url')));
      assert.equal(await browser.callback(callback), '/sign-in?error=nonce_mismatch');
      assert.equal((await browser.send('GET', '/api/v1/me')).statusCode, 401);
    });

    it('refuses an unverified email, and registers nobody', async () => {
      const { login, email } = personAtProvider({ emailVerified: false });
      const browser = new Browser(t);
      assert.equal(await browser.callback(await browser.throughProvider(login)), '/sign-in?error=email_unverified');
      assert.equal((await browser.send('GET', '/api/v1/me')).statusCode, 401);
      assert.equal(await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst(), undefined);
    });

    it('reports a sign-in cancelled at the provider', async () => {
      const browser = new Browser(t);
      const started = await browser.send('GET', '/api/v1/auth/oidc/start');
      const state = new URL(String(started.headers.location)).searchParams.get('state')!;
      assert.equal(await browser.callback(new URL(`http://portal.test/api/v1/auth/oidc/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(provider.issuer)}`)), '/sign-in?error=provider_denied');
    });

    it('links from the profile while signed in, and unlinks while another way to sign in remains', async () => {
      const browser = new Browser(t);
      const email = uniqueEmail('linker');
      const registered = await browser.send('POST', '/api/v1/auth/register', { name: 'Ada Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines', country: 'GB' });
      const userId = registered.json().user.id;
      const { login } = personAtProvider({ email: uniqueEmail('other-address') });
      assert.equal((await browser.send('GET', '/api/v1/auth/oidc/start?link=1')).statusCode, 302);
      assert.equal(await browser.callback(await browser.throughProvider(login, '/api/v1/auth/oidc/start?link=1')), '/security?linked=1');
      const [identity] = (await browser.send('GET', '/api/v1/me/identities')).json().items;
      assert.ok(identity);
      const signedOut = await new Browser(t).send('GET', '/api/v1/auth/oidc/start?link=1');
      assert.equal(signedOut.headers.location, '/sign-in?next=%2Fsecurity', 'linking needs a session: sign in first');

      const unlinked = await browser.send('DELETE', `/api/v1/me/identities/${identity.id}`);
      assert.equal(unlinked.statusCode, 204, unlinked.body);
      assert.equal((await browser.send('GET', '/api/v1/me/identities')).json().items.length, 0);
      const events = await userEvents(t, userId);
      assert.deepEqual(events.find((e) => e.action === 'user.identity_unlinked')?.before, { issuer: provider.issuer, email: identity.email });
      assert.equal((await browser.send('DELETE', `/api/v1/me/identities/${identity.id}`)).statusCode, 404);
    });

    it('refuses to unlink the only way to sign in of a person without a password', async () => {
      const { login } = personAtProvider();
      const browser = new Browser(t);
      await browser.callback(await browser.throughProvider(login));
      const [identity] = (await browser.send('GET', '/api/v1/me/identities')).json().items;
      const refused = await browser.send('DELETE', `/api/v1/me/identities/${identity.id}`);
      assert.equal(refused.statusCode, 409);
      assert.equal(refused.headers['content-type'], 'application/problem+json');
      assert.match(refused.json().detail, /only way to sign in/);
      assert.equal((await browser.send('GET', '/api/v1/me/identities')).json().items.length, 1);
    });

    it("answers 404 for another person's identity", async () => {
      const { login } = personAtProvider();
      const owner = new Browser(t);
      await owner.callback(await owner.throughProvider(login));
      const [identity] = (await owner.send('GET', '/api/v1/me/identities')).json().items;
      const other = new Browser(t);
      await other.send('POST', '/api/v1/auth/register', { name: 'Ada Lovelace', email: uniqueEmail('other'), password: STRONG_PASSWORD, companyName: 'Engines', country: 'GB' });
      assert.equal((await other.send('DELETE', `/api/v1/me/identities/${identity.id}`)).statusCode, 404);
    });
  });
}

describe('sign-in with an OpenID Connect provider, not configured', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite');
  });
  after(() => t.close());

  it('tells the portal there is none, and the flow answers 404', async () => {
    const browser = new Browser(t);
    assert.deepEqual((await browser.send('GET', '/api/v1/auth/oidc')).json(), { enabled: false, name: null });
    const start = await browser.send('GET', '/api/v1/auth/oidc/start');
    assert.equal(start.statusCode, 404);
    assert.equal(start.headers['content-type'], 'application/problem+json');
    assert.equal((await browser.send('GET', '/api/v1/auth/oidc/callback?code=x&state=y')).statusCode, 404);
  });
});
