import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { SmtpInbox } from '../support/smtp.ts';
import type { LightMyRequestResponse } from 'fastify';
import { EMAIL_LINK_RULE, REGISTRATION_RULE, RESET_RULES } from '../../src/server/auth/routes.ts';
import { generateSecret } from '../../src/server/auth/secrets.ts';
import { SIGN_IN_RULES } from '../../src/server/auth/throttle.ts';

/**
 * A browser speaking raw HTTP from one address: a cookie jar and the CSRF token of its session.
 * For what the SDK does not show: answer headers such as Retry-After, and a cookie replayed.
 */
class Browser {
  readonly cookies = new Map<string, string>();
  #csrf: string | null = null;
  readonly #t: TestApp;
  readonly #ip: string;

  constructor(t: TestApp, ip: string) {
    this.#t = t;
    this.#ip = ip;
  }

  async send(method: 'GET' | 'POST', url: string, payload?: object): Promise<LightMyRequestResponse> {
    if (method !== 'GET' && this.#csrf === null) this.#csrf = (await this.send('GET', '/api/v1/auth/csrf')).json().csrfToken;
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await this.#t.app.inject({
      method,
      url,
      payload,
      remoteAddress: this.#ip,
      headers: { ...(cookie ? { cookie } : {}), ...(method !== 'GET' ? { 'x-csrf-token': this.#csrf! } : {}) },
    });
    for (const c of response.cookies) {
      if (c.value === '') this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    // signing in and registering answer with a token bound to the new session
    const body = response.statusCode < 300 && response.body ? (response.json() as { csrfToken?: string } | null) : null;
    if (body?.csrfToken) this.#csrf = body.csrfToken;
    return response;
  }
}

/** A 429 problem whose Retry-After gives the seconds of the block. */
function assertBlocked(response: LightMyRequestResponse, seconds: number, what: string): void {
  assert.equal(response.statusCode, 429, `${what}: ${response.body}`);
  assert.equal(response.json().type, '/api/v1/problems/rate_limited', what);
  assert.equal(response.headers['retry-after'], String(seconds), `${what}: Retry-After`);
}

for (const backend of BACKENDS) {
  describe(`sign-up and sign-in (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('registers a person with their first account, owned by them, and signs them in', async () => {
      const { client, email, account } = await registerPerson(t, { companyName: 'Acme GmbH', country: 'de' });
      assert.equal(account.country, 'DE');
      const me = await client.me();
      assert.equal(me.user.email, email);
      assert.equal(me.user.emailVerified, false);
      assert.deepEqual(me.accounts, [{ id: account.id, companyName: 'Acme GmbH', country: 'DE', role: 'owner', grants: [] }]);
    });

    it('stores the password as an argon2id hash with 19 MiB, 2 iterations and 1 lane', async () => {
      const { email } = await registerPerson(t);
      const user = await t.db.database.db.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow();
      assert.match(user.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    });

    it('names every broken rule as a field error and writes nothing', async () => {
      const client = t.client();
      const email = uniqueEmail();
      const problem = await problemOf(
        client.register({ name: '', email: 'not-an-email', password: 'short', companyName: 'X', country: 'ZZ' }),
      );
      assert.equal(problem.status, 400);
      assert.equal(problem.code, 'validation_failed');
      const fields = problem.fieldErrors.map((e) => e.field).sort();
      assert.deepEqual(fields, ['country', 'email', 'name', 'password', 'password']);
      const common = await problemOf(client.register({ name: 'A', email, password: 'password1', companyName: 'X', country: 'DE' }));
      assert.deepEqual(common.fieldErrors.map((e) => [e.field, e.code]), [['password', 'common_password']]);
      const lettersOnly = await problemOf(client.register({ name: 'A', email, password: 'onlyletters', companyName: 'X', country: 'DE' }));
      assert.equal(lettersOnly.fieldErrors[0]?.field, 'password');
      const users = await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).execute();
      assert.equal(users.length, 0);
    });

    it('refuses a second registration of the same email on the email field', async () => {
      const { email } = await registerPerson(t);
      const problem = await problemOf(registerPerson(t, { email: email.toUpperCase() }));
      assert.equal(problem.status, 409);
      assert.deepEqual(problem.fieldErrors.map((e) => [e.field, e.code]), [['email', 'already_registered']]);
    });

    it(`answers a taken email with 409, but after ${REGISTRATION_RULE.limit} of them the address waits (429 with Retry-After)`, async () => {
      const { email } = await registerPerson(t);
      const sweeper = new Browser(t, '198.51.100.120');
      const attempt = (to: string) =>
        sweeper.send('POST', '/api/v1/auth/register', { name: 'Sweeper', email: to, password: STRONG_PASSWORD, companyName: 'Sweep Ltd', country: 'GB' });
      for (let i = 0; i < REGISTRATION_RULE.limit; i += 1) assert.equal((await attempt(email)).statusCode, 409);
      const fresh = uniqueEmail('after-sweep');
      assertBlocked(await attempt(fresh), REGISTRATION_RULE.blockMs / 1000, 'even a new email, from that address');
      const users = await t.db.database.db.selectFrom('users').select('id').where('email', '=', fresh).execute();
      assert.equal(users.length, 0, 'the refused registration created nobody');
      await registerPerson(t, { email: fresh, ip: '198.51.100.121' });
    });

    it('signs out, then signs in again with a new session id', async () => {
      const { client, email } = await registerPerson(t);
      await client.signOut();
      assert.equal((await problemOf(client.me())).status, 401);
      const first = t.client();
      await first.signIn({ email, password: STRONG_PASSWORD });
      const sessions = await t.db.database.db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id').select('s.id_hash').where('u.email', '=', email).execute();
      assert.equal(sessions.length, 1, 'the signed-out session is gone and one new session exists');
      await first.signIn({ email, password: STRONG_PASSWORD });
      const after = await t.db.database.db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id').select('s.id_hash').where('u.email', '=', email).execute();
      assert.equal(after.length, 1, 'signing in again replaces the session it came with');
      assert.notDeepEqual(after[0]!.id_hash, sessions[0]!.id_hash);
      assert.equal((await first.me()).user.email, email);
    });

    it('refuses the cookie from before a sign-in right after it, though this node had cached it', async () => {
      const { email } = await registerPerson(t);
      const browser = new Browser(t, '192.0.2.140');
      assert.equal((await browser.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD })).statusCode, 200);
      const before = browser.cookies.get('tessera_session')!;
      // read once, so this node holds the session in its cache (the clock stands still: it stays fresh)
      assert.equal((await browser.send('GET', '/api/v1/me')).statusCode, 200);
      assert.equal((await browser.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD })).statusCode, 200);
      const renewed = browser.cookies.get('tessera_session')!;
      assert.notEqual(renewed, before, 'a new session id');
      assert.equal((await browser.send('GET', '/api/v1/me')).statusCode, 200, 'the new cookie works');
      browser.cookies.set('tessera_session', before);
      const replayed = await browser.send('GET', '/api/v1/me');
      assert.equal(replayed.statusCode, 401, `the cookie from before the sign-in: ${replayed.body}`);
    });

    it('answers an unknown email exactly like a wrong password', async () => {
      const { email } = await registerPerson(t);
      const wrong = await problemOf(t.client().signIn({ email, password: 'wrong password 1' }));
      const unknown = await problemOf(t.client().signIn({ email: uniqueEmail('nobody'), password: 'wrong password 1' }));
      assert.equal(wrong.status, 401);
      assert.deepEqual({ ...wrong.problem, instance: '', requestId: '' }, { ...unknown.problem, instance: '', requestId: '' });
    });

    it('throttles guessing per email with 429 and Retry-After, and lets the right password in after the block', async () => {
      const { email } = await registerPerson(t);
      const guesser = t.client({ ip: '203.0.113.7' });
      for (let i = 0; i < 5; i++) {
        assert.equal((await problemOf(guesser.signIn({ email, password: `guess ${i} abc` }))).status, 401);
      }
      const blocked = await problemOf(guesser.signIn({ email, password: STRONG_PASSWORD }));
      assert.equal(blocked.status, 429, 'even the right password is refused while blocked');
      const elsewhere = await new Browser(t, '203.0.113.8').send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD });
      assertBlocked(elsewhere, SIGN_IN_RULES.email.blockMs / 1000, 'the email is blocked from every address');
      const raw = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password: STRONG_PASSWORD } });
      assert.equal(raw.statusCode, 403, 'without a CSRF token the request is refused before the throttle');
      t.clock.advance(31_000);
      await guesser.signIn({ email, password: STRONG_PASSWORD });
    });

    it('throttles guessing per client address across many emails', async () => {
      const guesser = t.client({ ip: '198.51.100.9' });
      for (let i = 0; i < 50; i++) {
        await problemOf(guesser.signIn({ email: uniqueEmail('spray'), password: 'guess 123 abc' }));
      }
      const blocked = await problemOf(guesser.signIn({ email: uniqueEmail('spray'), password: 'guess 123 abc' }));
      assert.equal(blocked.status, 429);
      const other = await problemOf(t.client({ ip: '198.51.100.10' }).signIn({ email: uniqueEmail('spray'), password: 'guess 123 abc' }));
      assert.equal(other.status, 401, 'another address is not blocked');
    });

    it('verifies the email address through a single-use link sent by SMTP', async () => {
      const { client, email } = await registerPerson(t);
      const mail = await t.inbox.waitFor(email, /Confirm your email/);
      const token = SmtpInbox.linkToken(mail);
      assert.match(mail.text, /http:\/\/portal\.test\/verify-email\?token=tsr_ev_/);
      await client.verifyEmail(token);
      assert.equal((await client.me()).user.emailVerified, true);
      const reused = await problemOf(client.verifyEmail(token));
      assert.deepEqual(reused.fieldErrors.map((e) => e.code), ['invalid_token']);
    });

    it(`throttles guessing of emailed links per address: after ${EMAIL_LINK_RULE.limit} bad links even a good one waits`, async () => {
      const { email } = await registerPerson(t);
      const token = SmtpInbox.linkToken(await t.inbox.waitFor(email, /Confirm your email/));
      const guesser = t.client({ ip: '198.51.100.77' });
      for (let i = 0; i < EMAIL_LINK_RULE.limit; i += 1) {
        // well-formed secrets of nobody: each costs a lookup, so each is counted
        const guess = i % 2 === 0
          ? guesser.verifyEmail(generateSecret('tsr_ev_'))
          : guesser.confirmPasswordReset({ token: generateSecret('tsr_pr_'), password: 'another horse 43 battery' });
        assert.deepEqual((await problemOf(guess)).fieldErrors.map((e) => e.code), ['invalid_token']);
      }
      const blocked = await problemOf(guesser.verifyEmail(token));
      assert.equal(blocked.status, 429, 'the right link waits too, from that address');
      await t.client({ ip: '198.51.100.78' }).verifyEmail(token);
      const user = await t.db.database.db.selectFrom('users').select('email_verified_at').where('email', '=', email).executeTakeFirstOrThrow();
      assert.ok(user.email_verified_at, 'from another address it works');
    });

    it('resets a forgotten password by emailed link, ending every session', async () => {
      const { client, email } = await registerPerson(t);
      const anonymous = t.client();
      await anonymous.requestPasswordReset(email);
      await anonymous.requestPasswordReset(uniqueEmail('unknown')); // same answer, no mail
      const token = SmtpInbox.linkToken(await t.inbox.waitFor(email, /Reset your Tessera password/));
      const weak = await problemOf(anonymous.confirmPasswordReset({ token, password: 'password1' }));
      assert.deepEqual(weak.fieldErrors.map((e) => e.code), ['common_password']);
      await anonymous.confirmPasswordReset({ token, password: 'a brand new pass 7' });
      assert.equal((await problemOf(client.me())).status, 401, 'the old session ended');
      assert.equal((await problemOf(anonymous.confirmPasswordReset({ token, password: 'another new pass 8' }))).status, 400);
      await t.client().signIn({ email, password: 'a brand new pass 7' });
      assert.equal((await problemOf(t.client().signIn({ email, password: STRONG_PASSWORD }))).status, 401);
    });

    it('answers a reset request for a registered email and an unknown one identically, and mails only the registered one', async () => {
      const { email } = await registerPerson(t);
      const unknown = uniqueEmail('unknown');
      const request = async (to: string) => {
        const answer = await new Browser(t, '192.0.2.150').send('POST', '/api/v1/auth/password-reset', { email: to });
        return { status: answer.statusCode, contentType: answer.headers['content-type'], body: answer.body };
      };
      const forUnknown = await request(unknown);
      const forRegistered = await request(email);
      assert.equal(forRegistered.status, 202);
      assert.deepEqual(forUnknown, forRegistered);
      // the mail is sent before the answer, so it is already in the inbox
      await t.inbox.waitFor(email, /Reset your Tessera password/);
      assert.deepEqual(t.inbox.messages.filter((m) => m.to.includes(unknown)), [], 'nothing is sent to an unknown email');
    });

    it(`limits reset requests to ${RESET_RULES.email.limit} per email and ${RESET_RULES.address.limit} per address, then 429 with Retry-After`, async () => {
      const { email } = await registerPerson(t);
      const request = (ip: string, to: string) => new Browser(t, ip).send('POST', '/api/v1/auth/password-reset', { email: to });
      // from a new address each time, so only the email's count grows
      for (let i = 0; i < RESET_RULES.email.limit; i += 1) assert.equal((await request(`192.0.2.${160 + i}`, email)).statusCode, 202);
      assertBlocked(await request('192.0.2.170', email), RESET_RULES.email.blockMs / 1000, 'past the per-email limit');
      const mails = t.inbox.messages.filter((m) => m.to.includes(email) && /Reset your Tessera password/.test(m.subject));
      assert.equal(mails.length, RESET_RULES.email.limit, 'no mail for the refused request');

      const other = (await registerPerson(t)).email;
      for (let i = 0; i < RESET_RULES.address.limit; i += 1) assert.equal((await request('192.0.2.171', uniqueEmail('spray'))).statusCode, 202);
      assertBlocked(await request('192.0.2.171', other), RESET_RULES.address.blockMs / 1000, 'past the per-address limit');
      assert.equal(t.inbox.messages.filter((m) => m.to.includes(other)).filter((m) => /Reset/.test(m.subject)).length, 0);
      assert.equal((await request('192.0.2.172', other)).statusCode, 202, 'another address is not blocked');
    });

    it(`limits verification resends to ${RESET_RULES.email.limit} per person, then 429 with Retry-After`, async () => {
      const { email } = await registerPerson(t);
      const browser = new Browser(t, '192.0.2.180');
      assert.equal((await browser.send('POST', '/api/v1/auth/sign-in', { email, password: STRONG_PASSWORD })).statusCode, 200);
      for (let i = 0; i < RESET_RULES.email.limit; i += 1) assert.equal((await browser.send('POST', '/api/v1/auth/verify-email/resend')).statusCode, 202);
      assertBlocked(await browser.send('POST', '/api/v1/auth/verify-email/resend'), RESET_RULES.email.blockMs / 1000, 'past the limit');
      const mails = t.inbox.messages.filter((m) => m.to.includes(email) && /Confirm your email/.test(m.subject));
      assert.equal(mails.length, 1 + RESET_RULES.email.limit, 'the registration mail and one per accepted resend');
    });

    it('expires a reset link after an hour', async () => {
      const { email } = await registerPerson(t);
      await t.client().requestPasswordReset(email);
      const token = SmtpInbox.linkToken(await t.inbox.waitFor(email, /Reset your Tessera password/));
      t.clock.advance(3600_000 + 1);
      const expired = await problemOf(t.client().confirmPasswordReset({ token, password: 'a brand new pass 7' }));
      assert.deepEqual(expired.fieldErrors.map((e) => e.code), ['invalid_token']);
    });

    it('sets the session cookie HttpOnly and SameSite=Lax, and Secure behind https', async () => {
      const csrf = await t.app.inject({ method: 'GET', url: '/api/v1/auth/csrf' });
      const cookie = csrf.headers['set-cookie'];
      const { csrfToken } = csrf.json() as { csrfToken: string };
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'x-csrf-token': csrfToken, cookie: String(cookie).split(';')[0]! },
        payload: { name: 'B', email: uniqueEmail(), password: STRONG_PASSWORD, companyName: 'B Co', country: 'FR' },
      });
      assert.equal(response.statusCode, 201);
      const session = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_session='));
      assert.ok(session);
      assert.match(session, /HttpOnly/);
      assert.match(session, /SameSite=Lax/);
      assert.doesNotMatch(session, /Secure/);
    });
  });
}
