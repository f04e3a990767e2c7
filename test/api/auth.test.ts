import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { EMAIL_LINK_RULE } from '../../src/server/auth/routes.ts';
import { generateSecret } from '../../src/server/auth/secrets.ts';

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
