import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.ts';
import { PLANS } from '../../src/server/domain/plans/catalog.ts';

for (const backend of BACKENDS) {
  describe(`team members and login tokens (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('adds a member with its first login token, lists, renames and changes its limit', async () => {
      const { client, account } = await registerPerson(t);
      const added = await client.addTeamMember(account.id, { name: 'Desk 1', connectionLimit: 2 });
      assert.equal(added.member.name, 'Desk 1');
      assert.equal(added.member.connectionLimit, 2);
      assert.match(added.firstToken.secret, /^tsr_mt_[A-Za-z0-9_-]{43}_[A-Za-z0-9_-]{6}$/);
      assert.equal(added.firstToken.token.state, 'active');
      assert.equal(added.firstToken.token.prefix, added.firstToken.secret.slice(0, 11));
      const team = await client.getTeam(account.id);
      assert.equal(team.plan.id, 'starter');
      assert.deepEqual(team.members.map((m) => [m.name, m.activeTokens]), [['Desk 1', 1]]);
      const renamed = await client.updateTeamMember(account.id, added.member.id, { name: 'Front desk', connectionLimit: null });
      assert.deepEqual([renamed.name, renamed.connectionLimit], ['Front desk', null]);
    });

    it('refuses a fixed limit above the plan allowance as a field error, writing nothing', async () => {
      const { client, account } = await registerPerson(t);
      const allowance = PLANS.starter!.connectionAllowance;
      const problem = await problemOf(client.addTeamMember(account.id, { name: 'Too big', connectionLimit: allowance + 1 }));
      assert.equal(problem.status, 400);
      assert.deepEqual(problem.fieldErrors.map((e) => [e.field, e.code]), [['connectionLimit', 'above_allowance']]);
      assert.equal((await client.getTeam(account.id)).members.length, 0);
      const zero = await problemOf(client.addTeamMember(account.id, { name: 'Zero', connectionLimit: 0 }));
      assert.deepEqual(zero.fieldErrors.map((e) => e.field), ['connectionLimit']);
      const added = await client.addTeamMember(account.id, { name: 'Fits', connectionLimit: allowance });
      const raise = await problemOf(client.updateTeamMember(account.id, added.member.id, { connectionLimit: allowance + 5 }));
      assert.deepEqual(raise.fieldErrors.map((e) => e.code), ['above_allowance']);
    });

    it('holds the member limit of the plan, also under concurrent additions', async () => {
      const { client, account } = await registerPerson(t);
      const limit = PLANS.starter!.memberLimit;
      const results = await Promise.allSettled(Array.from({ length: limit + 5 }, (_, i) => client.addTeamMember(account.id, { name: `Member ${i}` })));
      const added = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(added, limit);
      const refused = await problemOf(client.addTeamMember(account.id, { name: 'One too many' }));
      assert.equal(refused.status, 409);
      assert.match(refused.problem.detail ?? '', /team members/);
      assert.equal((await client.getTeam(account.id)).members.length, limit);
    });

    it('manages login tokens: add with expiry, copy again, revoke, and see the state of each', async () => {
      const { client, account } = await registerPerson(t);
      const { member, firstToken } = await client.addTeamMember(account.id, { name: 'Laptop' });
      const expiresAt = new Date(t.clock.now().getTime() + 3600_000).toISOString();
      const second = await client.createLoginToken(account.id, member.id, { label: 'Home', expiresAt });
      assert.equal(second.token.expiresAt, expiresAt);
      assert.equal(await client.revealLoginToken(account.id, member.id, firstToken.token.id), firstToken.secret);
      await client.revokeLoginToken(account.id, member.id, firstToken.token.id);
      await client.revokeLoginToken(account.id, member.id, firstToken.token.id); // twice changes nothing
      const gone = await problemOf(client.revealLoginToken(account.id, member.id, firstToken.token.id));
      assert.equal(gone.status, 409, 'a revoked token is never shown again');
      const sealed = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('login_tokens').select('token_sealed').where('id', '=', firstToken.token.id).executeTakeFirstOrThrow());
      assert.equal(Buffer.from(sealed.token_sealed).length, 0, 'and its sealed copy is wiped');
      t.clock.advance(3600_001);
      const tokens = await client.listLoginTokens(account.id, member.id);
      assert.deepEqual(tokens.map((x) => [x.label, x.state]), [['First token', 'revoked'], ['Home', 'expired']]);
      const past = await problemOf(client.createLoginToken(account.id, member.id, { label: 'Old', expiresAt: '2001-01-01T00:00:00Z' }));
      assert.deepEqual(past.fieldErrors.map((e) => [e.field, e.code]), [['expiresAt', 'in_past']]);
      const actions = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('audit_events').select('action').where('target_type', '=', 'login_token').orderBy('id').execute());
      assert.deepEqual(actions.map((a) => a.action), ['login_token.created', 'login_token.created', 'login_token.revealed', 'login_token.revoked']);
    });

    it('stores login tokens as SHA-256 and sealed with AES-256-GCM, never in the clear', async () => {
      const { client, account } = await registerPerson(t);
      const { firstToken } = await client.addTeamMember(account.id, { name: 'Sealed' });
      const row = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('login_tokens').selectAll().where('id', '=', firstToken.token.id).executeTakeFirstOrThrow());
      assert.equal(Buffer.from(row.token_hash).length, 32);
      const sealed = Buffer.from(row.token_sealed);
      assert.equal(sealed.length, 12 + 16 + firstToken.secret.length, 'iv, tag and ciphertext');
      assert.equal(sealed.includes(Buffer.from(firstToken.secret)), false);
      const text = await sql<{ dump: string }>`select row_to_json(l)::text as dump from login_tokens l where id = ${firstToken.token.id}`.execute(t.db.database.db);
      assert.equal(text.rows[0]!.dump.includes(firstToken.secret.slice(7)), false);
      const audit = await sql<{ dump: string }>`select coalesce(string_agg(after::text, ' '), '') as dump from audit_events where account_id = ${account.id}`.execute(t.db.database.db);
      assert.equal(audit.rows[0]!.dump.includes(firstToken.secret.slice(7)), false, 'the audit log never holds the secret');
    });

    it('sets member credentials under the portal password rules, unique across accounts', async () => {
      const a = await registerPerson(t);
      const b = await registerPerson(t);
      const { member } = await a.client.addTeamMember(a.account.id, { name: 'With password' });
      const weak = await problemOf(a.client.setMemberCredentials(a.account.id, member.id, { email: 'desk@example.test', password: 'password1' }));
      assert.deepEqual(weak.fieldErrors.map((e) => [e.field, e.code]), [['password', 'common_password']]);
      const set = await a.client.setMemberCredentials(a.account.id, member.id, { email: `desk.${backend}@example.test`, password: STRONG_PASSWORD });
      assert.equal(set.credentialsEmail, `desk.${backend}@example.test`);
      const other = await b.client.addTeamMember(b.account.id, { name: 'Other' });
      const taken = await problemOf(b.client.setMemberCredentials(b.account.id, other.member.id, { email: `DESK.${backend}@example.test`, password: STRONG_PASSWORD }));
      assert.equal(taken.status, 409);
      assert.deepEqual(taken.fieldErrors.map((e) => [e.field, e.code]), [['email', 'already_used']]);
      const cleared = await a.client.removeMemberCredentials(a.account.id, member.id);
      assert.equal(cleared.credentialsEmail, null);
    });

    it("answers another account's members and tokens with 404, and lets only owners change them", async () => {
      const a = await registerPerson(t);
      const b = await registerPerson(t);
      const { member, firstToken } = await a.client.addTeamMember(a.account.id, { name: 'Private' });
      assert.equal((await problemOf(b.client.getTeam(a.account.id))).status, 404);
      assert.equal((await problemOf(b.client.removeTeamMember(b.account.id, member.id))).status, 404, "a's member under b's account");
      assert.equal((await problemOf(b.client.revealLoginToken(b.account.id, member.id, firstToken.token.id))).status, 404);
      assert.equal((await problemOf(b.client.listLoginTokens(b.account.id, member.id))).status, 404);
      const viewer = await registerPerson(t);
      await t.db.database.inTenant(a.account.id, (tx) => tx.insertInto('memberships').values({ account_id: a.account.id, user_id: viewer.user.id, role: 'viewer', created_at: new Date() }).execute());
      const fresh = t.client();
      await fresh.signIn({ email: viewer.email, password: STRONG_PASSWORD });
      assert.equal((await fresh.getTeam(a.account.id)).members.length, 1, 'viewers read the team');
      assert.equal((await problemOf(fresh.revealLoginToken(a.account.id, member.id, firstToken.token.id))).status, 403, 'but never see a token');
      assert.equal((await problemOf(fresh.addTeamMember(a.account.id, { name: 'x' }))).status, 403);
      assert.equal((await problemOf(fresh.removeTeamMember(a.account.id, member.id))).status, 403);
    });
  });
}
