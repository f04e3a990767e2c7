import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { TesseraError } from '../../src/client/sdk.ts';
import { LOGIN_TOKEN_GRANT } from '../../src/shared/client-api.ts';
import type { EnrollBody } from '../../src/shared/client-api.ts';
import { SIGN_IN_RULES } from '../../src/server/auth/throttle.ts';
import { PLANS } from '../../src/server/domain/plans/catalog.ts';
import { BACKENDS } from '../support/databases.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';

for (const backend of BACKENDS) {
  describe(`desktop enrollment (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    let addresses = 0;
    /** A desktop installer from an address of its own (the sign-in throttle counts per address too). */
    const desktop = (ip = `198.19.${Math.floor(++addresses / 250)}.${addresses % 250}`) =>
      new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, ip), userAgent: 'tessera-installer-tests/1' });
    const enroll = (body: EnrollBody, ip?: string) => desktop(ip).enroll(body);

    /** GET /client/v1/me with a bearer token: status and body. */
    async function clientMe(accessToken: string) {
      const response = await t.app.inject({ method: 'GET', url: '/client/v1/me', headers: { authorization: `Bearer ${accessToken}` } });
      return { status: response.statusCode, body: response.json() as { member: { id: string; name: string }; account: { id: string }; session: { grant: string } } };
    }
    const loginTokenExchange = (loginToken: string) =>
      t.app.inject({
        method: 'POST',
        url: '/client/v1/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: LOGIN_TOKEN_GRANT, login_token: loginToken }).toString(),
      });

    const membersOf = (accountId: string) =>
      t.db.database.inTenant(accountId, (tx) => tx.selectFrom('team_members').select(['id', 'name']).where('account_id', '=', accountId).execute());
    const memberEventsOf = (accountId: string) =>
      t.db.database.inTenant(accountId, (tx) =>
        tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id', 'target_type', 'target_id', 'after', 'user_agent']).where('account_id', '=', accountId).where('target_type', 'in', ['member', 'login_token']).orderBy('id').execute(),
      );

    /** The problem document without what differs per request. */
    const comparable = (problem: TesseraError) => {
      const { type, title, status, detail, errors } = problem.problem;
      return { type, title, status, detail, errors };
    };

    it('enrolls as an owner: a member, a working login token, a working token pair, audited', async () => {
      const owner = await registerPerson(t);
      const enrolled = await enroll({ email: ` ${owner.email.toUpperCase()} `, password: STRONG_PASSWORD, memberName: 'Reception PC', connectionLimit: 2 });
      assert.deepEqual([enrolled.member.name, enrolled.member.connectionLimit, enrolled.member.credentialsEmail], ['Reception PC', 2, null]);
      assert.match(enrolled.loginToken, /^tsr_mt_/);
      assert.deepEqual(enrolled.tokens.token_type, 'Bearer');
      const me = await clientMe(enrolled.tokens.access_token);
      assert.equal(me.status, 200);
      assert.deepEqual([me.body.member.id, me.body.account.id, me.body.session.grant], [enrolled.member.id, owner.account.id, 'login_token']);
      const exchanged = await loginTokenExchange(enrolled.loginToken);
      assert.equal(exchanged.statusCode, 200, 'the login token signs the PC in again');
      assert.equal((await clientMe((exchanged.json() as { access_token: string }).access_token)).body.member.id, enrolled.member.id);
      const team = await owner.client.getTeam(owner.account.id);
      assert.deepEqual(team.members.map((m) => [m.id, m.name, m.activeTokens]), [[enrolled.member.id, 'Reception PC', 1]]);

      const events = await memberEventsOf(owner.account.id);
      assert.deepEqual(events.map((e) => [e.action, e.actor_type, e.actor_id]), [
        ['member.created', 'user', owner.user.id],
        ['login_token.created', 'user', owner.user.id],
        ['member.enrolled', 'user', owner.user.id],
      ]);
      const enrolledEvent = events.at(-1)!;
      assert.equal(enrolledEvent.target_id, enrolled.member.id);
      assert.equal(enrolledEvent.user_agent, 'tessera-installer-tests/1');
      assert.ok((enrolledEvent.after as { clientSessionId?: string }).clientSessionId);
      assert.equal(JSON.stringify(events).includes(enrolled.loginToken.slice(7)), false, 'no secret in the audit log');
    });

    it('enrolls as a manager of the whole account, and with member credentials', async () => {
      const owner = await registerPerson(t);
      const managerEmail = uniqueEmail('manager');
      const manager = await owner.client.addAccountUser(owner.account.id, { name: 'Manager', email: managerEmail, password: STRONG_PASSWORD, role: 'manager' });
      const memberEmail = uniqueEmail('desk');
      const memberPassword = 'desk password 77 ok';
      const weak = await problemOf(enroll({ email: managerEmail, password: STRONG_PASSWORD, memberName: 'Weak', memberEmail, memberPassword: 'password1' }));
      assert.equal(weak.status, 400);
      assert.deepEqual(weak.fieldErrors.map((e) => [e.field, e.code]), [['memberPassword', 'common_password']]);
      assert.equal((await membersOf(owner.account.id)).length, 0);

      const enrolled = await enroll({ email: managerEmail, password: STRONG_PASSWORD, memberName: 'Workshop PC', memberEmail, memberPassword });
      assert.equal(enrolled.member.credentialsEmail, memberEmail);
      assert.equal((await clientMe(enrolled.tokens.access_token)).body.account.id, owner.account.id);
      const client = desktop();
      await client.signInWithPassword(memberEmail, memberPassword);
      const me = await client.me();
      assert.deepEqual([me.member.id, me.session.grant], [enrolled.member.id, 'password']);
      const [created] = await memberEventsOf(owner.account.id);
      assert.equal(created?.actor_id, manager.user.id, 'the enrolling manager is the actor');
      const taken = await problemOf(enroll({ email: managerEmail, password: STRONG_PASSWORD, memberName: 'Copy', memberEmail: memberEmail.toUpperCase(), memberPassword }));
      assert.deepEqual([taken.status, taken.fieldErrors.map((e) => [e.field, e.code])], [409, [['memberEmail', 'already_used']]]);
      assert.equal((await membersOf(owner.account.id)).length, 1);
    });

    it('answers a viewer, a manager of one organization, an unknown email and a wrong password alike, creating nothing', async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const lab = await owner.client.createOrganization(a, { name: 'Lab' });
      const group = await owner.client.createGroup(a, { name: 'G', organizationIds: [lab.id] });
      const viewer = uniqueEmail('viewer');
      const orgManager = uniqueEmail('org-manager');
      const groupManager = uniqueEmail('group-manager');
      await owner.client.addAccountUser(a, { name: 'Viewer', email: viewer, password: STRONG_PASSWORD, role: 'viewer' });
      await owner.client.addAccountUser(a, { name: 'Org manager', email: orgManager, password: STRONG_PASSWORD, role: 'manager', organizationId: lab.id });
      await owner.client.addAccountUser(a, { name: 'Group manager', email: groupManager, password: STRONG_PASSWORD, role: 'manager', groupId: group.id });
      const outsider = await registerPerson(t);
      const attempts: Array<[string, EnrollBody]> = [
        ['viewer', { email: viewer, password: STRONG_PASSWORD, memberName: 'PC' }],
        ['viewer naming the account', { email: viewer, password: STRONG_PASSWORD, memberName: 'PC', accountId: a }],
        ['organization manager', { email: orgManager, password: STRONG_PASSWORD, memberName: 'PC', accountId: a }],
        ['group manager', { email: groupManager, password: STRONG_PASSWORD, memberName: 'PC' }],
        ['owner of another account naming this one', { email: outsider.email, password: STRONG_PASSWORD, memberName: 'PC', accountId: a }],
        ['unknown email', { email: uniqueEmail('nobody'), password: STRONG_PASSWORD, memberName: 'PC' }],
        ['wrong password', { email: owner.email, password: 'wrong password 1', memberName: 'PC' }],
      ];
      const answers = [];
      for (const [label, body] of attempts) {
        const problem = await problemOf(enroll(body));
        assert.equal(problem.status, 401, label);
        assert.equal(problem.code, 'invalid_credentials', label);
        answers.push([label, comparable(problem)] as const);
      }
      for (const [label, answer] of answers) assert.deepEqual(answer, answers[0]![1], `${label} is answered like ${answers[0]![0]}`);
      assert.equal((await membersOf(a)).length, 0);
      assert.equal((await membersOf(outsider.account.id)).length, 0);
      assert.equal((await memberEventsOf(a)).length, 0);
      const sessions = await t.db.database.inTenant(a, (tx) => tx.selectFrom('client_sessions').select('id').where('account_id', '=', a).execute());
      assert.equal(sessions.length, 0);
    });

    it('needs accountId from a person who manages several accounts', async () => {
      const owner = await registerPerson(t);
      const second = await owner.client.createAccount({ companyName: 'Second Ltd', country: 'FR' });
      const problem = await problemOf(enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'Where?' }));
      assert.equal(problem.status, 400);
      assert.deepEqual(problem.fieldErrors.map((e) => [e.field, e.code]), [['accountId', 'choose_account']]);
      assert.equal((await membersOf(owner.account.id)).length + (await membersOf(second.id)).length, 0);
      const enrolled = await enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'Second PC', accountId: second.id });
      assert.equal((await clientMe(enrolled.tokens.access_token)).body.account.id, second.id);
      assert.deepEqual((await membersOf(second.id)).map((m) => m.name), ['Second PC']);
      assert.equal((await membersOf(owner.account.id)).length, 0);
    });

    it("holds the plan's member limit with 409, creating nothing", async () => {
      const owner = await registerPerson(t);
      const limit = PLANS.starter!.memberLimit;
      for (let i = 0; i < limit - 1; i++) await owner.client.addTeamMember(owner.account.id, { name: `Member ${i}` });
      await enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'Last one that fits' });
      const before = await memberEventsOf(owner.account.id);
      const full = await problemOf(enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'One too many', memberEmail: uniqueEmail('full'), memberPassword: 'desk password 77 ok' }));
      assert.equal(full.status, 409);
      assert.match(full.problem.detail ?? '', new RegExp(`${limit} team members`));
      assert.equal((await membersOf(owner.account.id)).length, limit);
      assert.deepEqual(await memberEventsOf(owner.account.id), before, 'no audit event either');
      const sessions = await t.db.database.inTenant(owner.account.id, (tx) => tx.selectFrom('client_sessions').select('id').execute());
      assert.equal(sessions.length, 1, 'only the enrollment that fitted opened a session');
    });

    it('shares the sign-in throttle: guesses here and on the portal count together, then even the right password gets 429', async () => {
      const owner = await registerPerson(t);
      const ip = '203.0.113.77';
      const portal = t.client({ ip });
      for (let i = 0; i < SIGN_IN_RULES.email.limit; i++) {
        if (i % 2 === 0) assert.equal((await problemOf(enroll({ email: owner.email, password: `guess ${i} abc`, memberName: 'PC' }, ip))).status, 401);
        else assert.equal((await problemOf(portal.signIn({ email: owner.email, password: `guess ${i} abc` }))).status, 401);
      }
      const blocked = await problemOf(enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'PC' }, ip));
      assert.equal(blocked.status, 429, 'blocked per email, even with the right password');
      assert.equal((await problemOf(enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'PC' }))).status, 429, 'from any address');
      assert.equal((await problemOf(t.client().signIn({ email: owner.email, password: STRONG_PASSWORD }))).status, 429, 'and on the portal');
      assert.equal((await membersOf(owner.account.id)).length, 0);
      t.clock.advance(SIGN_IN_RULES.email.blockMs + 1000);
      await enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'After the block' }, ip);
      assert.equal((await membersOf(owner.account.id)).length, 1);

      // per address: many emails from one address
      const sprayer = '203.0.113.78';
      for (let i = 0; i < SIGN_IN_RULES.address.limit; i++) {
        await problemOf(enroll({ email: uniqueEmail('spray'), password: 'guess 123 abc', memberName: 'PC' }, sprayer));
      }
      const sprayed = await problemOf(enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'PC' }, sprayer));
      assert.equal(sprayed.status, 429);
      await enroll({ email: owner.email, password: STRONG_PASSWORD, memberName: 'Other address' });
    });
  });
}
