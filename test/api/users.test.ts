import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import type { AccountUser } from '../../src/client/sdk.ts';

/** Users of an account in a comparable shape: email, account role, scoped roles. */
const shape = (users: AccountUser[]) =>
  users.map((u) => ({ email: u.user.email, role: u.role, grants: u.grants.map((g) => [g.role, g.scope, g.scopeName]) })).sort((a, b) => a.email.localeCompare(b.email));

for (const backend of BACKENDS) {
  describe(`account users and roles (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    /** A signed-in client for a person added with STRONG_PASSWORD. */
    async function signedIn(email: string) {
      const client = t.client();
      await client.signIn({ email, password: STRONG_PASSWORD });
      return client;
    }

    /** The audit events of an account, oldest first (optionally one action only). */
    const auditOf = (accountId: string, action?: string) =>
      t.db.database.inTenant(accountId, (tx) => {
        let query = tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id', 'target_type', 'target_id', 'before', 'after']).where('account_id', '=', accountId);
        if (action) query = query.where('action', '=', action);
        return query.orderBy('id').execute();
      });

    it('adds a user who can sign in at once with that password, and audits it', async () => {
      const owner = await registerPerson(t);
      const email = uniqueEmail('added');
      const added = await owner.client.addAccountUser(owner.account.id, { name: 'Grace Hopper', email, password: STRONG_PASSWORD, role: 'manager' });
      assert.deepEqual([added.user.email, added.role, added.grants], [email, 'manager', []]);
      const client = await signedIn(email);
      const me = await client.me();
      assert.equal(me.user.email, email);
      assert.deepEqual(me.accounts.map((a) => [a.id, a.role]), [[owner.account.id, 'manager']]);
      await client.createOrganization(owner.account.id, { name: 'Made by the new manager' });
      const [event] = await auditOf(owner.account.id, 'user.added');
      assert.ok(event);
      assert.deepEqual([event.actor_type, event.actor_id, event.target_type, event.target_id], ['user', owner.user.id, 'user', added.user.id]);
      assert.deepEqual((event.after as { grant: unknown }).grant, { role: 'manager', scope: 'account', scopeId: null, scopeName: null });
      assert.equal(JSON.stringify(event.after).includes(STRONG_PASSWORD), false, 'the password is not in the audit log');
    });

    it('refuses a weak password naming the field and writes nothing', async () => {
      const owner = await registerPerson(t);
      const email = uniqueEmail('weak');
      const common = await problemOf(owner.client.addAccountUser(owner.account.id, { name: 'Weak', email, password: 'password1', role: 'viewer' }));
      assert.equal(common.status, 400);
      assert.deepEqual(common.fieldErrors.map((e) => [e.field, e.code]), [['password', 'common_password']]);
      const short = await problemOf(owner.client.addAccountUser(owner.account.id, { name: 'Weak', email, password: 'abc1', role: 'viewer' }));
      assert.equal(short.status, 400);
      assert.ok(short.fieldErrors.length > 0 && short.fieldErrors.every((e) => e.field === 'password'));
      const users = await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).execute();
      assert.equal(users.length, 0);
      assert.deepEqual((await owner.client.listAccountUsers(owner.account.id)).map((u) => u.user.email), [owner.email]);
      assert.equal((await auditOf(owner.account.id, 'user.added')).length, 0);
    });

    it('answers an email that already signs in with 409 on the email field', async () => {
      const owner = await registerPerson(t);
      const other = await registerPerson(t);
      const clash = await problemOf(owner.client.addAccountUser(owner.account.id, { name: 'Copy', email: other.email.toUpperCase(), password: STRONG_PASSWORD, role: 'viewer' }));
      assert.equal(clash.status, 409);
      assert.deepEqual(clash.fieldErrors.map((e) => [e.field, e.code]), [['email', 'already_registered']]);
      assert.equal((await owner.client.listAccountUsers(owner.account.id)).length, 1);
      assert.equal((await other.client.me()).accounts.length, 1, 'the other person was not added');
    });

    it('refuses a scope outside the account and an owner below the whole account', async () => {
      const owner = await registerPerson(t);
      const foreign = await registerPerson(t);
      const theirs = await foreign.client.createOrganization(foreign.account.id, { name: 'Theirs' });
      const unknownOrg = await problemOf(
        owner.client.addAccountUser(owner.account.id, { name: 'X', email: uniqueEmail(), password: STRONG_PASSWORD, role: 'viewer', organizationId: theirs.id }),
      );
      assert.equal(unknownOrg.status, 400);
      assert.deepEqual(unknownOrg.fieldErrors.map((e) => [e.field, e.code]), [['organizationId', 'not_found']]);
      const unknownGroup = await problemOf(
        owner.client.addAccountUser(owner.account.id, { name: 'X', email: uniqueEmail(), password: STRONG_PASSWORD, role: 'viewer', groupId: '01900000-0000-7000-8000-000000000000' }),
      );
      assert.deepEqual(unknownGroup.fieldErrors.map((e) => [e.field, e.code]), [['groupId', 'not_found']]);
      const group = await owner.client.createGroup(owner.account.id, { name: 'G' });
      const ownerOfGroup = await problemOf(
        owner.client.addAccountUser(owner.account.id, { name: 'X', email: uniqueEmail(), password: STRONG_PASSWORD, role: 'owner', groupId: group.id }),
      );
      assert.equal(ownerOfGroup.status, 400);
      assert.deepEqual(ownerOfGroup.fieldErrors.map((e) => [e.field, e.code]), [['role', 'owner_scope']]);
      const both = await problemOf(owner.client.setAccountUserRoles(owner.account.id, owner.user.id, { role: 'owner', grants: [{ role: 'viewer' }] }));
      assert.equal(both.status, 400, 'a scoped grant without a scope');
      assert.deepEqual((await owner.client.listAccountUsers(owner.account.id)).map((u) => u.user.email), [owner.email], 'nothing was added');
    });

    it('lists users with their account role and scoped roles, with scope names', async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const lab = await owner.client.createOrganization(a, { name: 'Lab' });
      const east = await owner.client.createGroup(a, { name: 'East', organizationIds: [lab.id] });
      const groupManager = uniqueEmail('gm');
      const orgViewer = uniqueEmail('ov');
      const added = await owner.client.addAccountUser(a, { name: 'Group Manager', email: groupManager, password: STRONG_PASSWORD, role: 'manager', groupId: east.id });
      assert.equal(added.role, null, 'a scoped role only: no role on the whole account');
      assert.deepEqual(added.grants, [{ role: 'manager', scope: 'group', scopeId: east.id, scopeName: 'East' }]);
      await owner.client.addAccountUser(a, { name: 'Org Viewer', email: orgViewer, password: STRONG_PASSWORD, role: 'viewer', organizationId: lab.id });
      const users = await owner.client.listAccountUsers(a);
      assert.equal(users.length, 3);
      assert.deepEqual(shape(users), shape([
        { user: { id: '', name: '', email: owner.email }, role: 'owner', grants: [], joinedAt: '' },
        { user: { id: '', name: '', email: groupManager }, role: null, grants: [{ role: 'manager', scope: 'group', scopeId: east.id, scopeName: 'East' }], joinedAt: '' },
        { user: { id: '', name: '', email: orgViewer }, role: null, grants: [{ role: 'viewer', scope: 'organization', scopeId: lab.id, scopeName: 'Lab' }], joinedAt: '' },
      ]));
      for (const u of users) assert.ok(!Number.isNaN(Date.parse(u.joinedAt)));
      // the scoped person sees their grants with names in their own account list
      const me = await (await signedIn(groupManager)).me();
      assert.deepEqual(me.accounts.map((x) => [x.id, x.role, x.grants.map((g) => [g.role, g.scope, g.scopeName])]), [[a, null, [['manager', 'group', 'East']]]]);
      // only owners see the list
      const scoped = await signedIn(orgViewer);
      assert.equal((await problemOf(scoped.listAccountUsers(a))).status, 403);
    });

    it('replaces roles: the stronger of a scope given twice wins; an account role of null keeps only grants', async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const lab = await owner.client.createOrganization(a, { name: 'Lab' });
      const office = await owner.client.createOrganization(a, { name: 'Office' });
      const west = await owner.client.createGroup(a, { name: 'West', organizationIds: [office.id] });
      const email = uniqueEmail('roles');
      const user = await owner.client.addAccountUser(a, { name: 'Changing', email, password: STRONG_PASSWORD, role: 'viewer' });
      const changed = await owner.client.setAccountUserRoles(a, user.user.id, {
        role: null,
        grants: [
          { role: 'viewer', organizationId: lab.id },
          { role: 'manager', organizationId: lab.id },
          { role: 'viewer', organizationId: lab.id },
          { role: 'viewer', groupId: west.id },
        ],
      });
      assert.equal(changed.role, null);
      assert.deepEqual(changed.grants.map((g) => [g.role, g.scope, g.scopeId, g.scopeName]), [
        ['viewer', 'group', west.id, 'West'],
        ['manager', 'organization', lab.id, 'Lab'],
      ]);
      const rows = await t.db.database.inTenant(a, (tx) => tx.selectFrom('role_grants').select(['role', 'organization_id', 'group_id']).where('user_id', '=', user.user.id).execute());
      assert.equal(rows.length, 2, 'one row per scope');
      const membership = await t.db.database.inTenant(a, (tx) => tx.selectFrom('memberships').select('role').where('account_id', '=', a).where('user_id', '=', user.user.id).executeTakeFirstOrThrow());
      assert.equal(membership.role, null);
      // replacing again drops what is not given
      const back = await owner.client.setAccountUserRoles(a, user.user.id, { role: 'manager', grants: [] });
      assert.deepEqual([back.role, back.grants], ['manager', []]);
      const unknown = await problemOf(owner.client.setAccountUserRoles(a, user.user.id, { role: null, grants: [{ role: 'viewer', organizationId: '01900000-0000-7000-8000-000000000000' }] }));
      assert.deepEqual(unknown.fieldErrors.map((e) => [e.field, e.code]), [['grants.0.organizationId', 'not_found']]);
      assert.equal((await owner.client.listAccountUsers(a)).find((u) => u.user.id === user.user.id)?.role, 'manager', 'a refused change changes nothing');
      const events = await auditOf(a, 'user.roles_changed');
      assert.equal(events.length, 2);
      assert.equal((events[0]!.before as AccountUser).role, 'viewer');
      assert.equal((events[0]!.after as AccountUser).grants.length, 2);
      assert.deepEqual([events[0]!.actor_id, events[0]!.target_id], [owner.user.id, user.user.id]);
    });

    it("applies a changed or removed role on the person's very next request", async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const lab = await owner.client.createOrganization(a, { name: 'Lab' });
      const email = uniqueEmail('next');
      const user = await owner.client.addAccountUser(a, { name: 'Soon viewer', email, password: STRONG_PASSWORD, role: 'manager' });
      const client = await signedIn(email);
      await client.createDevice(a, lab.id, { name: 'Before', kind: 'usb', identifier: 'NEXT-1' }); // resolves and caches the session
      assert.equal((await client.me()).accounts[0]!.role, 'manager');

      await owner.client.setAccountUserRoles(a, user.user.id, { role: 'viewer', grants: [] });
      assert.equal((await problemOf(client.createDevice(a, lab.id, { name: 'After', kind: 'usb', identifier: 'NEXT-2' }))).status, 403, 'demoted at once');
      assert.equal((await client.listDevices(a, lab.id)).items.length, 1, 'still reads as a viewer');

      await owner.client.setAccountUserRoles(a, user.user.id, { role: null, grants: [{ role: 'manager', organizationId: lab.id }] });
      await client.createDevice(a, lab.id, { name: 'Scoped', kind: 'usb', identifier: 'NEXT-3' });
      assert.equal((await problemOf(client.createOrganization(a, { name: 'Not allowed' }))).status, 403, 'managing one organization is not the account');

      await owner.client.removeAccountUser(a, user.user.id);
      assert.equal((await problemOf(client.listDevices(a, lab.id))).status, 404, 'removed at once: the account is out of reach');
      assert.equal((await problemOf(client.getAccount(a))).status, 404);
      const me = await client.me();
      assert.deepEqual(me.accounts, [], 'the person still signs in, with no account');
      assert.equal((await owner.client.listAccountUsers(a)).some((u) => u.user.id === user.user.id), false);
      const removed = await auditOf(a, 'user.removed');
      assert.equal(removed.length, 1);
      assert.deepEqual([removed[0]!.target_id, (removed[0]!.before as AccountUser).grants.map((g) => g.scopeName)], [user.user.id, ['Lab']]);
      const grants = await t.db.database.inTenant(a, (tx) => tx.selectFrom('role_grants').select('id').where('user_id', '=', user.user.id).execute());
      assert.equal(grants.length, 0, 'their grants went with the membership');
    });

    it('removes a user from one account only; they keep their other accounts', async () => {
      const owner = await registerPerson(t);
      const other = await registerPerson(t);
      // a person with an account of their own is also a viewer of this one (as after an invitation)
      const joined = other.user;
      await t.db.database.inTenant(owner.account.id, (tx) => tx.insertInto('memberships').values({ account_id: owner.account.id, user_id: joined.id, role: 'viewer', created_at: t.clock.now() }).execute());
      const fresh = await signedIn(other.email);
      assert.equal((await fresh.me()).accounts.length, 2);
      await owner.client.removeAccountUser(owner.account.id, joined.id);
      assert.deepEqual((await fresh.me()).accounts.map((x) => x.id), [other.account.id]);
      const me = await other.client.me();
      assert.deepEqual(me.accounts.map((x) => [x.id, x.role]), [[other.account.id, 'owner']]);
      assert.equal((await problemOf(owner.client.removeAccountUser(owner.account.id, joined.id))).status, 404, 'not a user any more');
    });

    it('never removes nor demotes the last owner, and leaves the account as it was', async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const manager = await owner.client.addAccountUser(a, { name: 'M', email: uniqueEmail('m'), password: STRONG_PASSWORD, role: 'manager' });
      const before = await owner.client.listAccountUsers(a);
      const demote = await problemOf(owner.client.setAccountUserRoles(a, owner.user.id, { role: 'manager', grants: [] }));
      assert.equal(demote.status, 409);
      assert.match(demote.problem.detail ?? '', /at least one owner/);
      const demoteToScoped = await problemOf(owner.client.setAccountUserRoles(a, owner.user.id, { role: null, grants: [] }));
      assert.equal(demoteToScoped.status, 409);
      const remove = await problemOf(owner.client.removeAccountUser(a, owner.user.id));
      assert.equal(remove.status, 409);
      assert.deepEqual(await owner.client.listAccountUsers(a), before, 'the account is unchanged');
      assert.equal((await owner.client.me()).accounts[0]!.role, 'owner');
      assert.equal((await auditOf(a, 'user.roles_changed')).length + (await auditOf(a, 'user.removed')).length, 0, 'refusals write no change');
      // with a second owner, the first may step down
      await owner.client.setAccountUserRoles(a, manager.user.id, { role: 'owner', grants: [] });
      const stepped = await owner.client.setAccountUserRoles(a, owner.user.id, { role: 'viewer', grants: [] });
      assert.equal(stepped.role, 'viewer');
    });

    it('lets only one of two owners demoting each other at the same moment succeed', async () => {
      for (let round = 0; round < 5; round++) {
        const first = await registerPerson(t);
        const a = first.account.id;
        const secondEmail = uniqueEmail('second-owner');
        const second = await first.client.addAccountUser(a, { name: 'Second owner', email: secondEmail, password: STRONG_PASSWORD, role: 'owner' });
        const secondClient = await signedIn(secondEmail);
        const results = await Promise.allSettled([
          first.client.setAccountUserRoles(a, second.user.id, { role: 'manager', grants: [] }),
          secondClient.setAccountUserRoles(a, first.user.id, { role: 'manager', grants: [] }),
        ]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
        assert.equal(fulfilled, 1, `exactly one demotion wins (round ${round})`);
        // the loser is refused either way: 409 when its check saw two owners and then waited on the
        // winner's lock (it would leave none), 403 when the winner had committed before its request
        // was authorized (it is no owner any more)
        const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok([403, 409].includes((refused.reason as { status: number }).status), `refused with 403 or 409, not ${(refused.reason as { status: number }).status}`);
        const owners = await t.db.database.inTenant(a, (tx) => tx.selectFrom('memberships').select('user_id').where('account_id', '=', a).where('role', '=', 'owner').execute());
        assert.equal(owners.length, 1, 'one owner remains');
      }
    });

    it('transfers ownership: the target becomes owner, the caller a manager of the whole account', async () => {
      const owner = await registerPerson(t);
      const a = owner.account.id;
      const lab = await owner.client.createOrganization(a, { name: 'Lab' });
      const email = uniqueEmail('heir');
      const heir = await owner.client.addAccountUser(a, { name: 'Heir', email, password: STRONG_PASSWORD, role: 'viewer', organizationId: lab.id });
      const heirClient = await signedIn(email);
      assert.equal((await problemOf(heirClient.listAccountUsers(a))).status, 403);
      const self = await problemOf(owner.client.transferOwnership(a, owner.user.id));
      assert.deepEqual(self.fieldErrors.map((e) => [e.field, e.code]), [['userId', 'same_user']]);
      const outsider = await registerPerson(t);
      const notHere = await problemOf(owner.client.transferOwnership(a, outsider.user.id));
      assert.deepEqual(notHere.fieldErrors.map((e) => [e.field, e.code]), [['userId', 'not_found']]);

      const result = await owner.client.transferOwnership(a, heir.user.id);
      assert.deepEqual([result.user.id, result.role], [heir.user.id, 'owner']);
      const users = await heirClient.listAccountUsers(a); // the new owner's next request already has the role
      assert.equal(users.find((u) => u.user.id === owner.user.id)?.role, 'manager');
      assert.equal(users.find((u) => u.user.id === heir.user.id)?.role, 'owner');
      assert.equal((await problemOf(owner.client.listAccountUsers(a))).status, 403, 'the former owner is a manager now');
      await owner.client.createOrganization(a, { name: 'Managed still' });
      const [event] = await auditOf(a, 'account.ownership_transferred');
      assert.ok(event);
      assert.deepEqual([event.actor_id, event.target_id, event.before, event.after], [
        owner.user.id,
        heir.user.id,
        { owner: owner.user.id, role: null },
        { owner: heir.user.id, previousOwnerRole: 'manager' },
      ]);
    });
  });
}
