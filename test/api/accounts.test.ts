import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.ts';

for (const backend of BACKENDS) {
  describe(`accounts (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('lets the owner change the profile, and records who changed what, from where', async () => {
      const { client, user, account } = await registerPerson(t, { companyName: 'Old Name', country: 'DE' });
      const updated = await client.updateAccount(account.id, { companyName: 'New Name', country: 'fr', emailNotifications: false });
      assert.deepEqual([updated.companyName, updated.country, updated.emailNotifications], ['New Name', 'FR', false]);
      assert.deepEqual(await client.getAccount(account.id), updated);
      assert.equal((await client.me()).accounts[0]?.companyName, 'New Name', 'the account list shows the change at once');
      const events = await t.db.database.inTenant(account.id, (tx) =>
        tx.selectFrom('audit_events').selectAll().where('action', '=', 'account.updated').execute(),
      );
      assert.equal(events.length, 1);
      const event = events[0]!;
      assert.equal(event.actor_type, 'user');
      assert.equal(event.actor_id, user.id);
      assert.equal(event.target_id, account.id);
      assert.equal(event.client_address, '127.0.0.1');
      assert.equal(event.user_agent, 'tessera-tests/1');
      assert.ok(event.request_id);
      assert.equal((event.before as { companyName: string }).companyName, 'Old Name');
      assert.equal((event.after as { companyName: string }).companyName, 'New Name');
    });

    it('names a bad country as a field error and changes nothing', async () => {
      const { client, account } = await registerPerson(t, { companyName: 'Keep Me', country: 'DE' });
      const problem = await problemOf(client.updateAccount(account.id, { companyName: 'Changed', country: 'XX' }));
      assert.equal(problem.status, 400);
      assert.deepEqual(problem.fieldErrors.map((e) => [e.field, e.code]), [['country', 'invalid_country']]);
      const stored = await client.getAccount(account.id);
      assert.deepEqual([stored.companyName, stored.country], ['Keep Me', 'DE']);
      const empty = await problemOf(client.updateAccount(account.id, {}));
      assert.equal(empty.status, 400);
    });

    it("answers another account's id with 404, exactly like an id that does not exist", async () => {
      const alice = await registerPerson(t);
      const bob = await registerPerson(t);
      const foreign = await problemOf(alice.client.getAccount(bob.account.id));
      const missing = await problemOf(alice.client.getAccount('01900000-0000-7000-8000-000000000000'));
      assert.equal(foreign.status, 404);
      assert.deepEqual({ ...foreign.problem, instance: '', requestId: '' }, { ...missing.problem, instance: '', requestId: '' });
      const write = await problemOf(alice.client.updateAccount(bob.account.id, { companyName: 'Mine now' }));
      assert.equal(write.status, 404);
      assert.equal((await bob.client.getAccount(bob.account.id)).companyName, bob.account.companyName);
    });

    it('creates another account owned by its creator and lists both', async () => {
      const { client, account } = await registerPerson(t, { companyName: 'First Co' });
      const second = await client.createAccount({ companyName: 'Second Co', country: 'NL' });
      const me = await client.me();
      assert.deepEqual(
        me.accounts.map((a) => [a.id, a.role]).sort(),
        [[account.id, 'owner'], [second.id, 'owner']].sort(),
      );
      const created = await t.db.database.inTenant(second.id, (tx) =>
        tx.selectFrom('audit_events').select('action').orderBy('id').execute(),
      );
      assert.deepEqual(created.map((e) => e.action), ['account.created', 'membership.created']);
    });

    it('lets a viewer read the profile but not change it', async () => {
      const owner = await registerPerson(t);
      const viewer = await registerPerson(t);
      await t.db.database.inTenant(owner.account.id, (tx) =>
        tx.insertInto('memberships').values({ account_id: owner.account.id, user_id: viewer.user.id, role: 'viewer', created_at: new Date() }).execute(),
      );
      const fresh = t.client();
      await fresh.signIn({ email: viewer.email, password: STRONG_PASSWORD });
      assert.equal((await fresh.getAccount(owner.account.id)).id, owner.account.id);
      const denied = await problemOf(fresh.updateAccount(owner.account.id, { companyName: 'Viewer was here' }));
      assert.equal(denied.status, 403);
    });

    it('commits a change and its audit event together, or neither', async () => {
      const { client, account } = await registerPerson(t, { companyName: 'Atomic Ltd' });
      await t.db.database.withSession((s) =>
        s.exec(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
                CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit();`),
      );
      try {
        const failed = await problemOf(client.updateAccount(account.id, { companyName: 'Not Saved' }));
        assert.equal(failed.status, 500);
        assert.equal(failed.problem.detail?.includes('audit refused'), false, 'no internals leak into the answer');
      } finally {
        await t.db.database.withSession((s) => s.exec('DROP TRIGGER refuse_audit ON audit_events; DROP FUNCTION refuse_audit();'));
      }
      assert.equal((await client.getAccount(account.id)).companyName, 'Atomic Ltd');
      const count = await sql<{ n: number }>`select count(*)::int as n from audit_events where account_id = ${account.id} and action = 'account.updated'`.execute(t.db.database.db);
      assert.equal(count.rows[0]!.n, 0);
    });
  });
}
