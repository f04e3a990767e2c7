import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SIGN_IN_RULES } from '../../src/server/auth/throttle.ts';
import { PASSKEY_CEREMONY_SECONDS, PASSKEY_LIMIT } from '../../src/shared/passkeys.ts';
import { RECOVERY_CODE_COUNT } from '../../src/shared/two-factor.ts';
import { startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { assertBlocked, assertFieldError, assertStatus, Browser } from '../support/browser.ts';
import { BACKENDS } from '../support/databases.ts';
import { PASSKEY_TEST_ORIGIN, SoftwareAuthenticator } from '../support/passkey-authenticator.ts';

/**
 * Passkeys (docs/passkeys.md): adding them, a passkey as the second step after the password, and
 * the passwordless sign-in. A software authenticator (test/support/passkey-authenticator.ts) signs
 * like a browser's would; the server verifies with @simplewebauthn/server as it does in
 * production. The portal's test (test/e2e/passkeys.test.ts) uses Chromium's virtual authenticator.
 */

const ORIGIN = PASSKEY_TEST_ORIGIN;
const RP_ID = new URL(ORIGIN).hostname;

for (const backend of BACKENDS) {
  describe(`passkeys (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    const db = () => t.db.database.db;

    async function person(): Promise<{ email: string; userId: string; browser: Browser; authenticator: SoftwareAuthenticator }> {
      const email = uniqueEmail('passkeys');
      const browser = new Browser(t);
      const registered = await browser.send('POST', '/auth/register', { name: 'Grace Hopper', email, password: STRONG_PASSWORD, companyName: 'Compilers Inc', country: 'US' });
      assertStatus(registered, 201, 'registration');
      return { email, userId: registered.json().user.id, browser, authenticator: new SoftwareAuthenticator({ origin: ORIGIN }) };
    }

    async function addPasskey(p: { browser: Browser; authenticator: SoftwareAuthenticator }, name?: string) {
      const options = await p.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD });
      assertStatus(options, 200, 'registration options');
      const added = await p.browser.send('POST', '/me/passkeys', { ...(name ? { name } : {}), credential: p.authenticator.create(options.json()) });
      assertStatus(added, 201, 'passkey added');
      return added.json();
    }

    async function withPasskey() {
      const p = await person();
      const added = await addPasskey(p, 'Laptop');
      return { ...p, passkey: added.passkey, recoveryCodes: added.recoveryCodes as string[] };
    }

    async function signedIn(email: string): Promise<Browser> {
      const browser = new Browser(t);
      const answer = await browser.send('POST', '/auth/sign-in', { email, password: STRONG_PASSWORD });
      assertStatus(answer, 200, 'sign-in');
      return browser;
    }

    async function lastUserEvent(userId: string) {
      return db().selectFrom('user_audit_events').select(['action', 'before', 'after']).where('user_id', '=', userId).orderBy('id', 'desc').executeTakeFirstOrThrow();
    }

    /** The passwordless ceremony's options, from a browser of its own. */
    async function passwordlessOptions(browser = new Browser(t)) {
      const options = await browser.send('POST', '/auth/passkey/options');
      assertStatus(options, 200, 'passwordless options');
      return { browser, options: options.json() };
    }

    it('adds a passkey after the password: a discoverable credential for this site, recovery codes with the first, other sessions ended', async () => {
      const p = await person();
      const elsewhere = await signedIn(p.email);
      assertFieldError(await p.browser.send('POST', '/me/passkeys/options', { password: 'not my password 1' }), 400, 'password', 'incorrect_password', 'a wrong password');
      const options = (await p.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD })).json();
      assert.equal(options.rp.id, RP_ID, 'bound to the host of the public URL');
      assert.equal(options.rp.name, 'Tessera');
      assert.equal(options.user.name, p.email);
      assert.equal(Buffer.from(options.user.id, 'base64url').toString('hex'), p.userId.replaceAll('-', ''), 'the user handle is the id, no email');
      assert.equal(options.authenticatorSelection.residentKey, 'required', 'discoverable, for the passwordless sign-in');
      assert.equal(options.attestation, 'none');
      assert.deepEqual(options.excludeCredentials, []);
      assert.ok(Buffer.from(options.challenge, 'base64url').length >= 32, 'a challenge of at least 256 bits');
      assert.equal(options.timeout, PASSKEY_CEREMONY_SECONDS * 1000);

      const added = await p.browser.send('POST', '/me/passkeys', { name: 'Laptop', credential: p.authenticator.create(options) });
      assertStatus(added, 201, 'added');
      const { passkey, recoveryCodes } = added.json();
      assert.equal(passkey.name, 'Laptop');
      assert.equal(passkey.lastUsedAt, null);
      assert.equal(passkey.synced, false);
      assert.equal(recoveryCodes.length, RECOVERY_CODE_COUNT, 'the first second factor comes with recovery codes');
      assert.deepEqual((await p.browser.send('GET', '/me/passkeys')).json().items, [passkey]);
      const stored = await db().selectFrom('passkeys').selectAll().where('user_id', '=', p.userId).executeTakeFirstOrThrow();
      assert.equal(stored.credential_id, p.authenticator.credentials[0]!.id);
      assert.equal(Number(stored.sign_count), 0);
      assert.deepEqual(stored.transports, ['internal', 'hybrid']);
      const status = (await p.browser.send('GET', '/me/two-factor')).json();
      assert.deepEqual([status.enabled, status.app, status.passkeys, status.recoveryCodesLeft], [true, false, 1, RECOVERY_CODE_COUNT]);
      assert.equal((await p.browser.send('GET', '/me')).json().twoFactor.enabled, true);
      assertStatus(await elsewhere.send('GET', '/me'), 401, 'the other session ended');
      const event = await lastUserEvent(p.userId);
      assert.equal(event.action, 'user.passkey_added');
      assert.deepEqual(event.after, { ...passkey, firstSecondFactor: true });

      // a second one: no new codes, and the browser is told not to make another for the same authenticator
      const again = (await p.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD })).json();
      assert.deepEqual(again.excludeCredentials.map((c: { id: string }) => c.id), [stored.credential_id]);
      const second = await p.browser.send('POST', '/me/passkeys', { credential: new SoftwareAuthenticator({ origin: ORIGIN, synced: true }).create(again) });
      assertStatus(second, 201, 'a second passkey');
      assert.equal(second.json().recoveryCodes, null);
      assert.equal(second.json().passkey.name, 'Passkey 2', 'a default name');
      assert.equal(second.json().passkey.synced, true, 'a synced passkey says so');
      assert.equal((await p.browser.send('GET', '/me/two-factor')).json().recoveryCodesLeft, RECOVERY_CODE_COUNT, 'the codes stay as they were');
    });

    it('refuses a registration answer for another site, another person, a spent or expired ceremony, and writes nothing', async () => {
      const p = await person();
      const other = await person();
      const refused = async (credential: object, what: string) => {
        assertFieldError(await p.browser.send('POST', '/me/passkeys', { credential }), 400, 'credential', 'invalid_passkey', what);
      };
      const options = () => p.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD }).then((r) => r.json());

      await refused(p.authenticator.create(await options(), { origin: 'https://portal.test.evil.example' }), 'made on another origin');
      await refused(p.authenticator.create(await options(), { rpId: 'evil.example' }), 'made for another relying party');
      const othersOptions = (await other.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD })).json();
      await refused(p.authenticator.create(othersOptions), "an answer to another person's ceremony");
      const late = await options();
      t.clock.advance(PASSKEY_CEREMONY_SECONDS * 1000 + 1000);
      await refused(p.authenticator.create(late), 'after the ceremony expired');
      const once = p.authenticator.create(await options());
      assertStatus(await p.browser.send('POST', '/me/passkeys', { credential: once }), 201, 'the answer, once');
      await refused(once, 'the same answer again (the challenge is spent)');
      assert.equal((await db().selectFrom('passkeys').select('id').where('user_id', 'in', [p.userId, other.userId]).execute()).length, 1, 'only the accepted one');
      const refusedEvents = await db().selectFrom('user_audit_events').select('action').where('user_id', '=', p.userId).where('action', '=', 'user.passkey_added').execute();
      assert.equal(refusedEvents.length, 1);
      assertStatus(await new Browser(t).send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD }), 401, 'signed out');
    });

    it('asks for the passkey after the password and signs in with it; its answer works once and for that person only', async () => {
      const p = await withPasskey();
      const browser = new Browser(t);
      const password = await browser.send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD });
      assert.equal(password.json().twoFactorRequired, true, 'a passkey is a second factor');
      assertStatus(await browser.send('GET', '/me'), 401, 'no session yet');
      const methods = await browser.send('POST', '/auth/sign-in/two-factor/options');
      assertStatus(methods, 200, 'methods');
      assert.deepEqual(methods.json().methods, ['passkey', 'recovery_code']);
      const request = methods.json().passkey;
      assert.equal(request.rpId, RP_ID);
      assert.deepEqual(request.allowCredentials.map((c: { id: string }) => c.id), [p.authenticator.credentials[0]!.id], "the person's passkeys");

      // a stranger's passkey for this site does not finish this person's sign-in
      const stranger = await withPasskey();
      assertFieldError(await browser.send('POST', '/auth/sign-in/two-factor', { passkey: stranger.authenticator.get(request, { credential: stranger.authenticator.credentials[0]! }) }), 400, 'passkey', 'invalid_passkey', "another person's passkey");
      const retry = (await browser.send('POST', '/auth/sign-in/two-factor/options')).json().passkey;
      const answer = p.authenticator.get(retry);
      const done = await browser.send('POST', '/auth/sign-in/two-factor', { passkey: answer });
      assertStatus(done, 200, 'signed in with the passkey');
      assert.equal(done.json().user.email, p.email);
      assertStatus(await browser.send('GET', '/me'), 200, 'a session');
      const event = await lastUserEvent(p.userId);
      assert.equal(event.action, 'user.signed_in');
      assert.deepEqual(event.after, { secondFactor: 'passkey', passkeyId: p.passkey.id });
      const stored = await db().selectFrom('passkeys').select(['sign_count', 'last_used_at']).where('id', '=', p.passkey.id).executeTakeFirstOrThrow();
      assert.equal(Number(stored.sign_count), 1, 'the counter is kept');
      assert.ok(stored.last_used_at, 'and when it was used');

      const replay = await passwordStepAgain(p.email);
      assertFieldError(await replay.send('POST', '/auth/sign-in/two-factor', { passkey: answer }), 400, 'passkey', 'invalid_passkey', 'the same answer again');
      assertStatus(await replay.send('GET', '/me'), 401, 'no session from a replay');
    });

    async function passwordStepAgain(email: string): Promise<Browser> {
      const browser = new Browser(t);
      assert.equal((await browser.send('POST', '/auth/sign-in', { email, password: STRONG_PASSWORD })).json().twoFactorRequired, true);
      return browser;
    }

    it('signs in with a passkey alone: user verification required, the counter must move forward, any tampering refused', async () => {
      const p = await withPasskey();
      const { browser, options } = await passwordlessOptions();
      assert.equal(options.rpId, RP_ID);
      assert.equal(options.userVerification, 'required', 'the PIN or biometrics stand in for the password');
      assert.equal(options.allowCredentials, undefined, "no names: the browser offers the site's passkeys it holds");
      const signedIn = await browser.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(options) });
      assertStatus(signedIn, 200, 'signed in');
      assert.equal(signedIn.json().user.email, p.email);
      assert.equal(browser.cookies.has('tessera_session'), true);
      assertStatus(await browser.send('GET', `/accounts/${(await browser.send('GET', '/me')).json().accounts[0].id}`), 200, 'a full session, no second step');
      assert.deepEqual((await lastUserEvent(p.userId)).after, { method: 'passkey', passkeyId: p.passkey.id });

      const refused = async (credential: object, what: string) => {
        const b = new Browser(t);
        assertFieldError(await b.send('POST', '/auth/passkey/sign-in', { credential }), 400, 'credential', 'invalid_passkey', what);
        assert.equal(b.cookies.has('tessera_session'), false, `${what}: no session`);
      };
      const unverified = new SoftwareAuthenticator({ origin: ORIGIN, userVerified: false });
      unverified.credentials.push(p.authenticator.credentials[0]!);
      await refused(unverified.get((await passwordlessOptions()).options), 'without user verification');
      await refused(p.authenticator.get((await passwordlessOptions()).options, { signCount: 1 }), 'a counter that went back (a cloned authenticator)');
      await refused(p.authenticator.get((await passwordlessOptions()).options, { origin: 'https://evil.example' }), 'signed for another origin');
      const tampered = p.authenticator.get((await passwordlessOptions()).options);
      tampered.response.signature = Buffer.from(tampered.response.signature, 'base64url').reverse().toString('base64url');
      await refused(tampered, 'a broken signature');
      const unknown = new SoftwareAuthenticator({ origin: ORIGIN });
      const ownOptions = (await p.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD })).json();
      unknown.create(ownOptions); // made, never registered
      await refused(unknown.get((await passwordlessOptions()).options), 'a passkey the server does not know');
      const stolenHandle = p.authenticator.get((await passwordlessOptions()).options);
      stolenHandle.response.userHandle = Buffer.from('another person id').toString('base64url');
      await refused(stolenHandle, 'a user handle that is not the passkey owner');
      // a second step's challenge is not a passwordless sign-in's
      const pending = await passwordStepAgain(p.email);
      const secondStep = (await pending.send('POST', '/auth/sign-in/two-factor/options')).json().passkey;
      await refused(p.authenticator.get(secondStep), "an answer to a second step's ceremony");
      const lateOptions = (await passwordlessOptions()).options;
      t.clock.advance(PASSKEY_CEREMONY_SECONDS * 1000 + 1000);
      await refused(p.authenticator.get(lateOptions), 'after the ceremony expired');
    });

    it('throttles refused passwordless sign-ins per address like passwords; starting a ceremony writes nothing', async () => {
      const p = await withPasskey();
      const spentRows = async () => Number((await db().selectFrom('spent_webauthn_challenges').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const before = await spentRows();
      for (let i = 0; i < 5; i++) await passwordlessOptions();
      assert.equal(await spentRows(), before, 'options alone write nothing: a script cannot fill a table with them');

      const browser = new Browser(t);
      for (let i = 0; i < SIGN_IN_RULES.address.limit; i++) {
        const { options } = await passwordlessOptions(browser);
        const answer = await browser.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(options, { origin: 'https://evil.example' }) });
        assertStatus(answer, 400, `refusal ${i + 1}`);
        t.clock.advance(1000);
      }
      const { options } = await passwordlessOptions(browser);
      assertBlocked(await browser.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(options) }), 'past the limit even the right passkey waits');
      const other = new Browser(t);
      const { options: fresh } = await passwordlessOptions(other);
      assertStatus(await other.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(fresh) }), 200, 'another address is not affected');

      // a forged challenge (an answered one with its random part changed: the MAC no longer fits) is refused before anything is written
      const altered = Buffer.from(fresh.challenge, 'base64url');
      altered[0]! ^= 0xff;
      const forged = p.authenticator.get({ ...fresh, challenge: altered.toString('base64url') });
      const rowsBefore = await spentRows();
      assertFieldError(await new Browser(t).send('POST', '/auth/passkey/sign-in', { credential: forged }), 400, 'credential', 'invalid_passkey', 'a challenge the server never made');
      assert.equal(await spentRows(), rowsBefore, 'nothing written for it');
      t.clock.advance(PASSKEY_CEREMONY_SECONDS * 1000 + 1000);
      const { browser: late, options: next } = await passwordlessOptions();
      assertStatus(await late.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(next) }), 200, 'a sign-in later');
      const expired = await db().selectFrom('spent_webauthn_challenges').select('expires_at').where('expires_at', '<=', t.clock.now()).execute();
      assert.equal(expired.length, 0, 'spent challenges past their expiry are deleted as new ones are spent');
    });

    it('renames and removes passkeys of the person only; the last second factor takes the recovery codes with it', async () => {
      const p = await withPasskey();
      const other = await withPasskey();
      const renamed = await p.browser.send('PATCH', `/me/passkeys/${p.passkey.id}`, { name: '  Work laptop ' });
      assertStatus(renamed, 200, 'renamed');
      assert.equal(renamed.json().name, 'Work laptop');
      assert.deepEqual(await lastUserEvent(p.userId), { action: 'user.passkey_renamed', before: { name: 'Laptop' }, after: { id: p.passkey.id, name: 'Work laptop' } });
      assertFieldError(await p.browser.send('PATCH', `/me/passkeys/${p.passkey.id}`, { name: ' ' }), 400, 'name', 'too_small', 'an empty name');
      assertStatus(await p.browser.send('PATCH', `/me/passkeys/${other.passkey.id}`, { name: 'Mine now' }), 404, "another person's passkey");
      assertStatus(await p.browser.send('DELETE', `/me/passkeys/${other.passkey.id}`, { password: STRONG_PASSWORD }), 404, "another person's passkey");
      assert.equal((await other.browser.send('GET', '/me/passkeys')).json().items[0].name, 'Laptop', 'untouched');

      const elsewhere = new Browser(t);
      const { options } = await passwordlessOptions(elsewhere);
      assertStatus(await elsewhere.send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(options) }), 200, 'another session');
      assertFieldError(await p.browser.send('DELETE', `/me/passkeys/${p.passkey.id}`, { password: 'not my password 1' }), 400, 'password', 'incorrect_password', 'a wrong password');
      assertStatus(await p.browser.send('DELETE', `/me/passkeys/${p.passkey.id}`, { password: STRONG_PASSWORD }), 204, 'removed');
      assertStatus(await elsewhere.send('GET', '/me'), 401, 'the other session ended');
      assert.deepEqual((await p.browser.send('GET', '/me/passkeys')).json().items, []);
      const status = (await p.browser.send('GET', '/me/two-factor')).json();
      assert.deepEqual([status.enabled, status.passkeys, status.recoveryCodesLeft], [false, 0, 0], 'no second factor, no recovery codes');
      assert.equal((await lastUserEvent(p.userId)).action, 'user.passkey_removed');
      const password = await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD });
      assert.ok(password.json().user, 'the password alone signs in again');
      const { options: after } = await passwordlessOptions();
      assertFieldError(await new Browser(t).send('POST', '/auth/passkey/sign-in', { credential: p.authenticator.get(after) }), 400, 'credential', 'invalid_passkey', 'a removed passkey');
    });

    it('meets an account requirement for a second factor, and is limited per person', async () => {
      const owner = await withPasskey();
      const accountId = (await owner.browser.send('GET', '/me')).json().accounts[0].id;
      assertStatus(await owner.browser.send('PATCH', `/accounts/${accountId}`, { requireTwoFactor: true }), 200, 'an owner with only a passkey may require a second factor');
      const memberEmail = uniqueEmail('member');
      assertStatus(await owner.browser.send('POST', `/accounts/${accountId}/users`, { name: 'Mary Member', email: memberEmail, password: STRONG_PASSWORD, role: 'viewer' }), 201, 'a member');
      const member = { browser: await signedIn(memberEmail), authenticator: new SoftwareAuthenticator({ origin: ORIGIN }) };
      assertStatus(await member.browser.send('GET', `/accounts/${accountId}`), 403, 'held back until a second factor');
      await addPasskey(member);
      assert.deepEqual((await member.browser.send('GET', '/me')).json().twoFactor, { enabled: true, required: true, enrolmentPending: false });
      assertStatus(await member.browser.send('GET', `/accounts/${accountId}`), 200, 'a passkey meets the requirement');

      for (let i = 1; i < PASSKEY_LIMIT; i++) await addPasskey(owner);
      const options = (await owner.browser.send('POST', '/me/passkeys/options', { password: STRONG_PASSWORD })).json();
      const over = await owner.browser.send('POST', '/me/passkeys', { credential: owner.authenticator.create(options) });
      assertStatus(over, 409, `more than ${PASSKEY_LIMIT}`);
      assert.equal((await owner.browser.send('GET', '/me/passkeys')).json().items.length, PASSKEY_LIMIT);
    });
  });
}
