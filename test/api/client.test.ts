import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import { LOGIN_TOKEN_GRANT } from '../../src/shared/client-api.ts';
import { BACKENDS } from '../support/databases.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { CLIENT_TOKEN_RULE } from '../../src/server/client-api/routes.ts';
import { SIGN_IN_RULES } from '../../src/server/auth/throttle.ts';

async function oauthErrorOf(promise: Promise<unknown>): Promise<TesseraOAuthError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TesseraOAuthError) return error;
    throw error;
  }
  assert.fail('expected an OAuth error');
}

for (const backend of BACKENDS) {
  describe(`desktop client sign-in (${backend})`, () => {
    let t: TestApp;
    const desktop = (ip = '127.0.0.1') => new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, ip), userAgent: 'tessera-desktop-tests/1' });
    /** GET /client/v1/me with a bearer token, without the client's refresh-and-retry. */
    const meStatus = async (accessToken: string) =>
      (await t.app.inject({ method: 'GET', url: '/client/v1/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode;
    const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/client/v1/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(form).toString(),
      });

    /** The password grant from one client address, answered raw (status, OAuth error and Retry-After). */
    const passwordGrant = async (ip: string, username: string, password: string) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/client/v1/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
        remoteAddress: ip,
      });
      return { status: response.statusCode, error: (response.json() as { error?: string }).error, retryAfter: response.headers['retry-after'] };
    };

    /** A member who signs in with an email and password of its own. */
    async function memberWithCredentials() {
      const owner = await registerPerson(t);
      const added = await owner.client.addTeamMember(owner.account.id, { name: 'Counter' });
      const email = uniqueEmail('member');
      await owner.client.setMemberCredentials(owner.account.id, added.member.id, { email, password: 'member pass 9 word' });
      return { ...owner, member: added.member, memberEmail: email, memberPassword: 'member pass 9 word' };
    }

    async function memberWithToken() {
      const owner = await registerPerson(t);
      const added = await owner.client.addTeamMember(owner.account.id, { name: 'Desk', connectionLimit: 2 });
      return { ...owner, member: added.member, firstToken: added.firstToken };
    }

    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('exchanges a login token for a token pair in RFC 6749 form, and reads who it is', async () => {
      const { account, member, firstToken } = await memberWithToken();
      const response = await token({ grant_type: LOGIN_TOKEN_GRANT, login_token: firstToken.secret });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      const pair = response.json() as { access_token: string; refresh_token: string; token_type: string; expires_in: number };
      assert.equal(pair.token_type, 'Bearer');
      assert.equal(pair.expires_in, 900);
      assert.match(pair.access_token, /^tsr_at_/);
      assert.match(pair.refresh_token, /^tsr_rt_/);
      const client = desktop();
      await client.signInWithLoginToken(firstToken.secret);
      const me = await client.me();
      assert.deepEqual([me.member.id, me.account.id, me.connections.memberLimit, me.session.grant], [member.id, account.id, 2, 'login_token']);
      assert.equal(me.connections.accountAllowance, 10);
      const tokens = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('login_tokens').select('last_used_at').execute());
      assert.ok(tokens[0]?.last_used_at, 'the token list shows when it was last used');
    });

    it('answers OAuth errors for bad requests: unsupported grant, missing parameter, JSON, repeats', async () => {
      const unsupported = await token({ grant_type: 'client_credentials' });
      assert.equal(unsupported.statusCode, 400);
      assert.deepEqual(Object.keys(unsupported.json()), ['error', 'error_description']);
      assert.equal(unsupported.json().error, 'unsupported_grant_type');
      assert.equal((await token({ grant_type: LOGIN_TOKEN_GRANT })).json().error, 'invalid_request');
      const json = await t.app.inject({ method: 'POST', url: '/client/v1/token', headers: { 'content-type': 'application/json' }, payload: '{"grant_type":"password"}' });
      assert.equal(json.statusCode, 400);
      assert.equal(json.json().error, 'invalid_request');
      const repeated = await t.app.inject({ method: 'POST', url: '/client/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=refresh_token&refresh_token=a&refresh_token=b' });
      assert.equal(repeated.json().error, 'invalid_request');
      const garbage = await oauthErrorOf(desktop().signInWithLoginToken('tsr_mt_not-a-token'));
      assert.equal(garbage.error, 'invalid_grant');
      // the right length in characters, not in bytes: once a RangeError in the checksum comparison (a 500)
      const multibyte = await token({ grant_type: LOGIN_TOKEN_GRANT, login_token: `tsr_mt_${'x'.repeat(43)}_éééééé` });
      assert.deepEqual([multibyte.statusCode, multibyte.json().error], [400, 'invalid_grant']);
    });

    it('keeps the walls: a login token never opens the portal, a portal password never a member session', async () => {
      const { email, firstToken, account, client: owner, member } = await memberWithToken();
      const cookieLogin = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: `tessera_session=${firstToken.secret}` } });
      assert.equal(cookieLogin.statusCode, 401);
      const client = desktop();
      const pair = await client.signInWithLoginToken(firstToken.secret);
      const bearerPortal = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${pair.access_token}` } });
      assert.equal(bearerPortal.statusCode, 401, 'a desktop access token does not open the management API');
      const bearerAccount = await t.app.inject({ method: 'GET', url: `/api/v1/accounts/${account.id}/members`, headers: { authorization: `Bearer ${firstToken.secret}` } });
      assert.equal(bearerAccount.statusCode, 401, 'nor does a login token');
      assert.equal(await meStatus(firstToken.secret), 401, 'a login token is not an access token');
      assert.equal((await oauthErrorOf(desktop().signInWithPassword(email, STRONG_PASSWORD))).error, 'invalid_grant', 'the portal password opens no member session');
      const memberEmail = `member.${backend}.${Date.now()}@example.test`;
      await owner.setMemberCredentials(account.id, member.id, { email: memberEmail, password: 'member pass 9 word' });
      const viaPassword = desktop();
      await viaPassword.signInWithPassword(memberEmail, 'member pass 9 word');
      assert.equal((await viaPassword.me()).session.grant, 'password');
      assert.equal((await problemOf(t.client().signIn({ email: memberEmail, password: 'member pass 9 word' }))).status, 401, 'member credentials never open the portal');
    });

    it('ends the sessions of a revoked token at once, and leaves the other tokens working', async () => {
      const { account, member, firstToken, client: owner } = await memberWithToken();
      const second = await owner.createLoginToken(account.id, member.id, { label: 'Second' });
      const one = desktop();
      const pairOne = await one.signInWithLoginToken(firstToken.secret);
      const two = desktop();
      const pairTwo = await two.signInWithLoginToken(second.secret);
      assert.equal(await meStatus(pairOne.access_token), 200);
      await owner.revokeLoginToken(account.id, member.id, firstToken.token.id);
      assert.equal(await meStatus(pairOne.access_token), 401);
      assert.equal((await oauthErrorOf(one.refresh())).error, 'invalid_grant');
      assert.equal((await oauthErrorOf(desktop().signInWithLoginToken(firstToken.secret))).error, 'invalid_grant');
      assert.equal(await meStatus(pairTwo.access_token), 200);
    });

    it('ends every session and token of a removed member at once', async () => {
      const { account, member, firstToken, client: owner } = await memberWithToken();
      const client = desktop();
      const pair = await client.signInWithLoginToken(firstToken.secret);
      assert.equal(await meStatus(pair.access_token), 200);
      await owner.removeTeamMember(account.id, member.id);
      assert.equal(await meStatus(pair.access_token), 401);
      assert.equal((await problemOf(client.me())).status, 401, 'the client surfaces the ended session as 401');
      assert.equal((await oauthErrorOf(desktop().signInWithLoginToken(firstToken.secret))).error, 'invalid_grant');
    });

    it('rotates refresh tokens; a lost answer is forgiven briefly, a later reuse revokes the family', async () => {
      const { firstToken } = await memberWithToken();
      const client = desktop();
      const first = await client.signInWithLoginToken(firstToken.secret);
      const second = await client.refresh();
      assert.notEqual(second.refresh_token, first.refresh_token);
      // the answer to the first refresh was "lost": the client retries with the same token
      client.useRefreshToken(first.refresh_token);
      const retried = await client.refresh();
      const lostPair = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app) });
      lostPair.useRefreshToken(second.refresh_token);
      assert.equal((await oauthErrorOf(lostPair.refresh())).error, 'invalid_grant', 'the pair the client lost no longer refreshes');
      assert.equal(await meStatus(retried.access_token), 200);
      t.clock.advance(11_000);
      client.useRefreshToken(first.refresh_token);
      assert.equal((await oauthErrorOf(client.refresh())).error, 'invalid_grant', 'reuse after the grace');
      assert.equal(await meStatus(retried.access_token), 401, 'the whole family is revoked');
    });

    it('expires access tokens and lets the refresh token renew them', async () => {
      const { firstToken } = await memberWithToken();
      const client = desktop();
      const pair = await client.signInWithLoginToken(firstToken.secret);
      t.clock.advance(901_000);
      assert.equal(await meStatus(pair.access_token), 401);
      const unauthorized = await t.app.inject({ method: 'GET', url: '/client/v1/me', headers: { authorization: `Bearer ${pair.access_token}` } });
      assert.match(String(unauthorized.headers['www-authenticate']), /^Bearer .*invalid_token/);
      assert.equal((await client.me()).member.name, 'Desk', 'the client refreshed by itself');
    });

    it("shows a renamed member, a changed limit and a renamed account at once, though sessions are cached", async () => {
      const { account, member, firstToken, client: owner } = await memberWithToken();
      const client = desktop();
      await client.signInWithLoginToken(firstToken.secret);
      assert.equal((await client.me()).member.name, 'Desk');
      await owner.updateTeamMember(account.id, member.id, { name: 'Reception', connectionLimit: 1 });
      await owner.updateAccount(account.id, { companyName: 'Renamed GmbH' });
      const me = await client.me();
      assert.deepEqual([me.member.name, me.connections.memberLimit, me.account.companyName], ['Reception', 1, 'Renamed GmbH']);
    });

    it('signs a desktop session out through RFC 7009 revocation', async () => {
      const { firstToken } = await memberWithToken();
      const client = desktop();
      const pair = await client.signInWithLoginToken(firstToken.secret);
      await client.signOut();
      assert.equal(await meStatus(pair.access_token), 401);
      const unknown = await t.app.inject({ method: 'POST', url: '/client/v1/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=tsr_rt_unknown' });
      assert.equal(unknown.statusCode, 200, 'an unknown token is not an error (RFC 7009 §2.2)');
    });

    it('stores member credentials as an argon2id hash with 19 MiB, 2 iterations and 1 lane', async () => {
      const { account, member } = await memberWithCredentials();
      const row = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('team_members').select('credentials_password').where('id', '=', member.id).executeTakeFirstOrThrow());
      assert.match(row.credentials_password ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    });

    it(`throttles wrong member passwords per email: after ${SIGN_IN_RULES.email.limit}, even the right one gets 429 with Retry-After, from any address`, async () => {
      const { memberEmail, memberPassword } = await memberWithCredentials();
      for (let i = 0; i < SIGN_IN_RULES.email.limit; i += 1) {
        // a new address for each guess, so only the email's count can block
        assert.deepEqual(await passwordGrant(`192.0.2.${100 + i}`, memberEmail, `wrong guess ${i} abc`), { status: 400, error: 'invalid_grant', retryAfter: undefined });
      }
      const blocked = await passwordGrant('192.0.2.120', memberEmail.toUpperCase(), memberPassword);
      assert.deepEqual(blocked, { status: 429, error: 'too_many_requests', retryAfter: String(SIGN_IN_RULES.email.blockMs / 1000) });
      t.clock.advance(SIGN_IN_RULES.email.blockMs + 1000);
      assert.equal((await passwordGrant('192.0.2.120', memberEmail, memberPassword)).status, 200, 'the block ends');
    });

    it(`throttles wrong member passwords per client address: after ${CLIENT_TOKEN_RULE.limit}, any email gets 429 with Retry-After`, async () => {
      const { memberEmail, memberPassword } = await memberWithCredentials();
      for (let i = 0; i < CLIENT_TOKEN_RULE.limit; i += 1) {
        assert.equal((await passwordGrant('192.0.2.130', uniqueEmail('nobody'), 'wrong guess 1 abc')).error, 'invalid_grant');
      }
      const blocked = await passwordGrant('192.0.2.130', memberEmail, memberPassword);
      assert.deepEqual(blocked, { status: 429, error: 'too_many_requests', retryAfter: String(CLIENT_TOKEN_RULE.blockMs / 1000) });
      assert.equal((await passwordGrant('192.0.2.131', memberEmail, memberPassword)).status, 200, 'another address is not blocked');
    });

    it('throttles guessing of tokens per client address', async () => {
      const { firstToken } = await memberWithToken();
      const guesser = desktop('192.0.2.50');
      for (let i = 0; i < 30; i++) {
        assert.equal((await oauthErrorOf(guesser.signInWithLoginToken(`tsr_mt_${'x'.repeat(43)}_abcdef`))).error, 'invalid_grant');
      }
      const blocked = await oauthErrorOf(guesser.signInWithLoginToken(firstToken.secret));
      assert.equal(blocked.status, 429);
      assert.equal(blocked.error, 'too_many_requests');
      await desktop('192.0.2.51').signInWithLoginToken(firstToken.secret);
    });
  });
}
