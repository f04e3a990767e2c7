import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as OTPAuth from 'otpauth';
import { SIGN_IN_RULES } from '../../src/server/auth/throttle.ts';
import { PENDING_SIGN_IN_MS } from '../../src/server/auth/cookies.ts';
import { RECOVERY_CODE_COUNT } from '../../src/shared/two-factor.ts';
import { startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { nextAddress } from '../support/caller.ts';
import { BACKENDS } from '../support/databases.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { assertBlocked, assertFieldError, assertStatus, Browser } from '../support/browser.ts';

/**
 * Two-factor sign-in and the profile changes that ask for the password again
 * (docs/two-factor.md). Raw HTTP (test/support/browser.ts), so cookies, headers and problem
 * documents show as sent.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest();

for (const backend of BACKENDS) {
  describe(`two-factor sign-in and sensitive profile changes (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    /** The code an authenticator app shows now (or `steps` periods from now) for the secret. */
    const codeOf = (secret: string, steps = 0) => new OTPAuth.TOTP({ secret }).generate({ timestamp: t.clock.now().getTime() + steps * 30_000 });
    /** Moves the clock to the next 30-second step, so a fresh code exists. */
    const nextStep = () => t.clock.advance(30_000);

    /** A registered person signed in on a browser of their own. */
    async function person(): Promise<{ email: string; userId: string; browser: Browser }> {
      const email = uniqueEmail('two-factor');
      const browser = new Browser(t);
      const registered = await browser.send('POST', '/auth/register', { name: 'Ada Lovelace', email, password: STRONG_PASSWORD, companyName: 'Engines Ltd', country: 'GB' });
      assertStatus(registered, 201, 'registration');
      return { email, userId: registered.json().user.id, browser };
    }

    async function signedIn(email: string): Promise<Browser> {
      const browser = new Browser(t);
      assertStatus(await browser.send('POST', '/auth/sign-in', { email, password: STRONG_PASSWORD }), 200, 'sign-in');
      return browser;
    }

    /** A person with a confirmed second factor: its secret and recovery codes. */
    async function enrolled(): Promise<{ email: string; userId: string; browser: Browser; secret: string; recoveryCodes: string[] }> {
      const p = await person();
      const started = await p.browser.send('POST', '/me/two-factor', { password: STRONG_PASSWORD });
      assertStatus(started, 201, 'start');
      const { secret } = started.json();
      const confirmed = await p.browser.send('POST', '/me/two-factor/confirm', { code: codeOf(secret) });
      assertStatus(confirmed, 200, 'confirm');
      nextStep();
      return { ...p, secret, recoveryCodes: confirmed.json().recoveryCodes };
    }

    /** The first step: the right password gives no session, only a pending sign-in. */
    async function passwordStep(email: string, browser = new Browser(t)): Promise<Browser> {
      const answer = await browser.send('POST', '/auth/sign-in', { email, password: STRONG_PASSWORD });
      assertStatus(answer, 200, 'password step');
      assert.equal(answer.json().twoFactorRequired, true, 'the answer asks for the second factor');
      assert.equal(answer.json().user, undefined, 'and names nobody yet');
      await browser.refreshCsrf();
      return browser;
    }

    it('enrols with the password, a QR code and a first code; the secret is sealed and the recovery codes hashed', async () => {
      const p = await person();
      assertFieldError(await p.browser.send('POST', '/me/two-factor', { password: 'not my password 1' }), 400, 'password', 'incorrect_password', 'a wrong password');
      const started = await p.browser.send('POST', '/me/two-factor', { password: STRONG_PASSWORD });
      assertStatus(started, 201, 'start');
      const enrolment = started.json();
      assert.match(enrolment.secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
      const uri = new URL(enrolment.otpauthUri);
      assert.equal(uri.protocol, 'otpauth:');
      assert.equal(uri.searchParams.get('secret'), enrolment.secret);
      assert.equal(uri.searchParams.get('issuer'), 'Tessera');
      assert.equal(uri.searchParams.get('digits'), '6');
      assert.equal(uri.searchParams.get('period'), '30');
      assert.match(enrolment.qrSvg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      // nothing is on until a code confirms it: sign-in still needs the password only
      assert.equal((await p.browser.send('GET', '/me/two-factor')).json().enabled, false);
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD }), 200, 'sign-in before confirmation');
      const row = await t.db.database.db.selectFrom('two_factor_credentials').selectAll().where('user_id', '=', p.userId).executeTakeFirstOrThrow();
      assert.equal(Buffer.from(row.secret_sealed).includes(Buffer.from(enrolment.secret)), false, 'the secret is not stored in the clear');
      assert.equal(row.confirmed_at, null);

      assertFieldError(await p.browser.send('POST', '/me/two-factor/confirm', { code: '000000' === codeOf(enrolment.secret) ? '111111' : '000000' }), 400, 'code', 'invalid_code', 'a wrong code');
      assertFieldError(await p.browser.send('POST', '/me/two-factor/confirm', { code: '12ab56' }), 400, 'code', 'invalid_code', 'not six digits');
      const confirmed = await p.browser.send('POST', '/me/two-factor/confirm', { code: codeOf(enrolment.secret) });
      assertStatus(confirmed, 200, 'confirm');
      const { recoveryCodes } = confirmed.json();
      assert.equal(recoveryCodes.length, RECOVERY_CODE_COUNT);
      assert.equal(new Set(recoveryCodes).size, RECOVERY_CODE_COUNT);
      for (const code of recoveryCodes) assert.match(code, /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/, '80 bits in four groups');
      const stored = await t.db.database.db.selectFrom('recovery_codes').select('code_hash').where('user_id', '=', p.userId).execute();
      assert.deepEqual(
        stored.map((r) => Buffer.from(r.code_hash).toString('hex')).sort(),
        recoveryCodes.map((c: string) => sha256(c.replaceAll('-', '')).toString('hex')).sort(),
        'only the SHA-256 of each code is kept',
      );
      const status = (await p.browser.send('GET', '/me/two-factor')).json();
      assert.equal(status.enabled, true);
      assert.equal(status.recoveryCodesLeft, RECOVERY_CODE_COUNT);
      assertStatus(await p.browser.send('POST', '/me/two-factor', { password: STRONG_PASSWORD }), 409, 'a second enrolment while one is on');
      const events = await t.db.database.db.selectFrom('user_audit_events').select('action').where('user_id', '=', p.userId).execute();
      assert.ok(events.some((e) => e.action === 'user.two_factor_enabled'), 'audited');
    });

    it('signs in with the password and then a code: no session before the code, a new one after it', async () => {
      const p = await enrolled();
      const browser = await passwordStep(p.email);
      assert.equal(browser.cookies.has('tessera_session'), false, 'no session cookie after the password');
      assertStatus(await browser.send('GET', '/me'), 401, 'the pending sign-in is no session');
      assertStatus(await browser.send('GET', `/me/two-factor`), 401, 'nor for enrolment routes');
      const done = await browser.send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) });
      assertStatus(done, 200, 'the code');
      assert.equal(done.json().user.email, p.email);
      assert.ok(browser.cookies.has('tessera_session'), 'a session now');
      assert.equal(browser.cookies.has('tessera_pending_sign_in'), false, 'the pending sign-in is cleared');
      assertStatus(await browser.send('GET', '/me'), 200, 'signed in');
      const event = await t.db.database.db.selectFrom('user_audit_events').select(['action', 'after']).where('user_id', '=', p.userId).orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(event.action, 'user.signed_in');
      assert.deepEqual(event.after, { secondFactor: 'totp' });
    });

    it('refuses a code replayed within its step, and the code of an earlier step', async () => {
      const p = await enrolled();
      const code = codeOf(p.secret);
      assertStatus(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code }), 200, 'first use');
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code }), 400, 'code', 'invalid_code', 'the same code again, same step');
      // the previous step's code is inside the ±1 window, but older than the step already used
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret, -1) }), 400, 'code', 'invalid_code', 'an earlier step');
      nextStep();
      assertStatus(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 200, 'the next step works');
    });

    it('accepts the code of the step before and after (clock drift), not two steps away', async () => {
      const p = await enrolled();
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret, 2) }), 400, 'code', 'invalid_code', 'two steps ahead');
      assertStatus(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret, 1) }), 200, 'one step ahead');
    });

    it(`throttles wrong codes per person: after ${SIGN_IN_RULES.email.limit}, even the right code gets 429 with Retry-After, from any address`, async () => {
      const p = await enrolled();
      const wrong = codeOf(p.secret) === '123456' ? '654321' : '123456';
      for (let i = 0; i < SIGN_IN_RULES.email.limit; i++) {
        // each guess from a new address: the count is the person's, not the address's
        assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: wrong }), 400, 'code', 'invalid_code', `guess ${i + 1}`);
      }
      const blocked = await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) });
      assertBlocked(blocked, 'the right code past the limit');
      assert.equal(blocked.headers['retry-after'], String(SIGN_IN_RULES.email.blockMs / 1000));
      t.clock.advance(SIGN_IN_RULES.email.blockMs);
      assertStatus(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 200, 'after the block');
    });

    it('lets a recovery code sign in once, in any case and without dashes', async () => {
      const p = await enrolled();
      const [first, second] = p.recoveryCodes as [string, string];
      const done = await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { recoveryCode: first.toUpperCase().replaceAll('-', ' ') });
      assertStatus(done, 200, 'a recovery code');
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { recoveryCode: first }), 400, 'recoveryCode', 'invalid_code', 'the same code again');
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret), recoveryCode: second }), 400, 'code', 'one_factor', 'both at once');
      const again = await signedInWithRecovery(p.email, second);
      assert.equal((await again.send('GET', '/me/two-factor')).json().recoveryCodesLeft, RECOVERY_CODE_COUNT - 2, 'each use spends one');
    });

    async function signedInWithRecovery(email: string, recoveryCode: string): Promise<Browser> {
      const browser = await passwordStep(email);
      assertStatus(await browser.send('POST', '/auth/sign-in/two-factor', { recoveryCode }), 200, 'recovery code');
      await browser.refreshCsrf();
      return browser;
    }

    it('keeps a pending sign-in 5 minutes, bound to the person and the password, and refuses a forged one', async () => {
      const p = await enrolled();
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 401, 'no pending sign-in');
      const late = await passwordStep(p.email);
      t.clock.advance(PENDING_SIGN_IN_MS);
      assertStatus(await late.send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 401, 'after 5 minutes');
      // a cookie naming the person without the server's signature
      const forged = new Browser(t);
      forged.cookies.set('tessera_pending_sign_in', `${p.userId}.${t.clock.now().getTime() + 60_000}.x`);
      await forged.refreshCsrf();
      assertStatus(await forged.send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 401, 'a forged pending sign-in');
      // a password change in between voids a pending sign-in made with the old password
      const pending = await passwordStep(p.email);
      nextStep();
      assertStatus(await p.browser.send('PUT', '/me/password', { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' }), 204, 'password change');
      assertFieldError(await pending.send('POST', '/auth/sign-in/two-factor', { code: codeOf(p.secret) }), 400, 'code', 'invalid_code', 'a pending sign-in of the old password');
    });

    it('turns the second factor off only with the password and a code, and ends the other sessions', async () => {
      const p = await enrolled();
      const other = await signedInWithRecovery(p.email, p.recoveryCodes[0]!);
      assertFieldError(await p.browser.send('DELETE', '/me/two-factor', { password: 'wrong password 9', code: codeOf(p.secret) }), 400, 'password', 'incorrect_password', 'a wrong password');
      assertFieldError(await p.browser.send('DELETE', '/me/two-factor', { password: STRONG_PASSWORD }), 400, 'code', 'one_factor', 'no code');
      assertFieldError(await p.browser.send('DELETE', '/me/two-factor', { password: STRONG_PASSWORD, code: codeOf(p.secret) === '000000' ? '111111' : '000000' }), 400, 'code', 'invalid_code', 'a wrong code');
      assertStatus(await other.send('GET', '/me'), 200, 'refusals end nothing');
      assertStatus(await p.browser.send('DELETE', '/me/two-factor', { password: STRONG_PASSWORD, code: codeOf(p.secret) }), 204, 'off');
      assertStatus(await other.send('GET', '/me'), 401, 'the other session ended');
      assertStatus(await p.browser.send('GET', '/me'), 200, 'this one stays');
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD }), 200, 'the password alone signs in again');
      const left = await t.db.database.db.selectFrom('recovery_codes').select('user_id').where('user_id', '=', p.userId).execute();
      assert.equal(left.length, 0, 'the recovery codes are gone');
    });

    it('makes new recovery codes with the password: the old ones stop working, other sessions end', async () => {
      const p = await enrolled();
      const other = await signedInWithRecovery(p.email, p.recoveryCodes[0]!);
      assertFieldError(await p.browser.send('POST', '/me/two-factor/recovery-codes', { password: 'wrong password 9' }), 400, 'password', 'incorrect_password', 'a wrong password');
      const renewed = await p.browser.send('POST', '/me/two-factor/recovery-codes', { password: STRONG_PASSWORD });
      assertStatus(renewed, 200, 'new codes');
      assert.equal(renewed.json().recoveryCodes.length, RECOVERY_CODE_COUNT);
      assertStatus(await other.send('GET', '/me'), 401, 'the other session ended');
      assertFieldError(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { recoveryCode: p.recoveryCodes[1] }), 400, 'recoveryCode', 'invalid_code', 'an old code');
      assertStatus(await (await passwordStep(p.email)).send('POST', '/auth/sign-in/two-factor', { recoveryCode: renewed.json().recoveryCodes[0] }), 200, 'a new code');
    });

    it('ends the other sessions when the second factor is turned on, and keeps this one', async () => {
      const p = await person();
      const other = await signedIn(p.email);
      const { secret } = (await p.browser.send('POST', '/me/two-factor', { password: STRONG_PASSWORD })).json();
      assertStatus(await other.send('GET', '/me'), 200, 'starting ends nothing');
      assertStatus(await p.browser.send('POST', '/me/two-factor/confirm', { code: codeOf(secret) }), 200, 'confirm');
      assertStatus(await other.send('GET', '/me'), 401, 'the other session ended');
      assertStatus(await p.browser.send('GET', '/me'), 200, 'this one stays');
    });

    it('changes the password only with the current one and a new one the policy takes; other sessions end, this one stays', async () => {
      const p = await person();
      const other = await signedIn(p.email);
      const stolen = p.browser.clone();
      assertFieldError(await p.browser.send('PUT', '/me/password', { currentPassword: 'wrong password 9', newPassword: 'amber tiles 73 north' }), 400, 'currentPassword', 'incorrect_password', 'a wrong current password');
      assertFieldError(await p.browser.send('PUT', '/me/password', { currentPassword: STRONG_PASSWORD, newPassword: 'password1' }), 400, 'newPassword', 'common_password', 'a common password');
      assertStatus(await other.send('GET', '/me'), 200, 'refusals end nothing');
      assertStatus(await p.browser.send('PUT', '/me/password', { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' }), 204, 'changed');
      assertStatus(await other.send('GET', '/me'), 401, 'the other session ended');
      assertStatus(await p.browser.send('GET', '/me'), 200, 'this one stays');
      assertStatus(await stolen.send('GET', '/me'), 200, "a copy of this session's cookie is this session");
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD }), 401, 'the old password is refused');
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: 'amber tiles 73 north' }), 200, 'the new one signs in');
      const events = await t.db.database.db.selectFrom('user_audit_events').select('action').where('user_id', '=', p.userId).execute();
      assert.ok(events.some((e) => e.action === 'user.password_changed'), 'audited');
    });

    it(`counts wrong passwords typed again with the sign-in form's: after ${SIGN_IN_RULES.email.limit}, 429 with Retry-After`, async () => {
      const p = await person();
      for (let i = 0; i < SIGN_IN_RULES.email.limit; i++) {
        assertFieldError(await p.browser.send('PUT', '/me/password', { currentPassword: `wrong password ${i}`, newPassword: 'amber tiles 73 north' }), 400, 'currentPassword', 'incorrect_password', `guess ${i + 1}`);
      }
      assertBlocked(await p.browser.send('PUT', '/me/password', { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' }), 'even the right password');
      assertBlocked(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD }), 'and the sign-in form');
    });

    it('changes the email when the link mailed to the new address is opened; other sessions end then, this one stays', async () => {
      const p = await person();
      const other = await signedIn(p.email);
      const newEmail = uniqueEmail('moved');
      assertFieldError(await p.browser.send('PUT', '/me/email', { password: 'wrong password 9', email: newEmail }), 400, 'password', 'incorrect_password', 'a wrong password');
      assertFieldError(await p.browser.send('PUT', '/me/email', { password: STRONG_PASSWORD, email: p.email.toUpperCase() }), 400, 'email', 'same_email', 'the same address');
      const taken = (await person()).email;
      assertFieldError(await p.browser.send('PUT', '/me/email', { password: STRONG_PASSWORD, email: taken }), 409, 'email', 'already_registered', 'a taken address');
      assertStatus(await p.browser.send('PUT', '/me/email', { password: STRONG_PASSWORD, email: newEmail }), 202, 'requested');
      assert.equal((await p.browser.send('GET', '/me')).json().user.email, p.email, 'nothing changes before the link is opened');
      assertStatus(await other.send('GET', '/me'), 200, 'and no session ends yet');
      const token = SmtpInbox.linkToken(await t.inbox.waitFor(newEmail, /Confirm your new email/));
      assert.match(token, /^tsr_ec_/);
      assertStatus(await p.browser.send('POST', '/auth/email-change/confirm', { token }), 204, 'confirmed');
      const me = (await p.browser.send('GET', '/me')).json();
      assert.equal(me.user.email, newEmail);
      assert.equal(me.user.emailVerified, true, 'the link proved the new address');
      assertStatus(await other.send('GET', '/me'), 401, 'the other session ended');
      await t.inbox.waitFor(p.email, /email address was changed/);
      assertFieldError(await p.browser.send('POST', '/auth/email-change/confirm', { token }), 400, 'token', 'invalid_token', 'the link works once');
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: newEmail, password: STRONG_PASSWORD }), 200, 'the new address signs in');
      assertStatus(await new Browser(t).send('POST', '/auth/sign-in', { email: p.email, password: STRONG_PASSWORD }), 401, 'the old one does not');
    });

    it('changes the name without the password, audited', async () => {
      const p = await person();
      const answer = await p.browser.send('PATCH', '/me', { name: 'Augusta Ada King' });
      assertStatus(answer, 200, 'renamed');
      assert.equal(answer.json().name, 'Augusta Ada King');
      assert.equal((await p.browser.send('GET', '/me')).json().user.name, 'Augusta Ada King');
      assertFieldError(await p.browser.send('PATCH', '/me', { name: '  ' }), 400, 'name', 'too_small', 'an empty name');
      const event = await t.db.database.db.selectFrom('user_audit_events').select(['action', 'before', 'after']).where('user_id', '=', p.userId).orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.deepEqual(event, { action: 'user.name_changed', before: { name: 'Ada Lovelace' }, after: { name: 'Augusta Ada King' } });
    });

    it('lets owners require a second factor: until people set one up, only enrolment, the profile and sign-out answer', async () => {
      const owner = await person();
      const accountId = (await owner.browser.send('GET', '/me')).json().accounts[0].id;
      assertFieldError(await owner.browser.send('PATCH', `/accounts/${accountId}`, { requireTwoFactor: true }), 400, 'requireTwoFactor', 'own_two_factor_first', 'an owner without a second factor');
      const { secret } = (await owner.browser.send('POST', '/me/two-factor', { password: STRONG_PASSWORD })).json();
      assertStatus(await owner.browser.send('POST', '/me/two-factor/confirm', { code: codeOf(secret) }), 200, 'the owner enrols');
      const keyAnswer = await owner.browser.send('POST', `/accounts/${accountId}/access-keys`, { name: 'Script', role: 'owner' });
      assertStatus(keyAnswer, 201, 'an owner key');
      const keyed = await t.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${accountId}`, payload: { requireTwoFactor: false }, headers: { authorization: `Bearer ${keyAnswer.json().secret}` }, remoteAddress: nextAddress() });
      assertStatus(keyed, 403, 'a key cannot change the requirement');
      const viewerEmail = uniqueEmail('viewer');
      assertStatus(await owner.browser.send('POST', `/accounts/${accountId}/users`, { name: 'Vera Viewer', email: viewerEmail, password: STRONG_PASSWORD, role: 'viewer' }), 201, 'a viewer');
      const viewer = await signedIn(viewerEmail);
      assertStatus(await viewer.send('GET', `/accounts/${accountId}`), 200, 'before the requirement');
      const required = await owner.browser.send('PATCH', `/accounts/${accountId}`, { requireTwoFactor: true });
      assertStatus(required, 200, 'required');
      assert.equal(required.json().requireTwoFactor, true);

      // the viewer's session, already open, is limited at once (the cache is dropped on every node)
      const me = await viewer.send('GET', '/me');
      assertStatus(me, 200, 'the profile answers');
      assert.deepEqual(me.json().twoFactor, { enabled: false, required: true, enrolmentPending: true });
      const requests = [
        ['GET', `/accounts/${accountId}`, undefined],
        ['GET', `/accounts/${accountId}/organizations`, undefined],
        ['POST', '/accounts', { companyName: 'Side Business', country: 'DE' }],
        ['PUT', '/me/password', { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' }],
        ['PATCH', '/me', { name: 'Vera' }],
      ] as const;
      for (const [method, url, body] of requests) {
        const refused = await viewer.send(method, url, body);
        assertStatus(refused, 403, `${method} ${url} before enrolment`);
        assert.match(refused.json().detail, /requires two-factor sign-in/);
      }
      // a new sign-in is limited the same way
      const fresh = await signedIn(viewerEmail);
      assertStatus(await fresh.send('GET', `/accounts/${accountId}`), 403, 'a new session too');
      const started = await fresh.send('POST', '/me/two-factor', { password: STRONG_PASSWORD });
      assertStatus(started, 201, 'enrolment answers');
      assertStatus(await fresh.send('POST', '/me/two-factor/confirm', { code: codeOf(started.json().secret) }), 200, 'enrolled');
      assertStatus(await fresh.send('GET', `/accounts/${accountId}`), 200, 'everything answers after enrolment');
      assert.deepEqual((await fresh.send('GET', '/me')).json().twoFactor, { enabled: true, required: true, enrolmentPending: false });
      assertStatus(await viewer.send('GET', '/me'), 401, 'enrolling ended the other session');
      // turned off again, the account leaves people free
      assertStatus(await owner.browser.send('PATCH', `/accounts/${accountId}`, { requireTwoFactor: false }), 200, 'no longer required');
    });
  });
}
