import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.ts';
import { PLANS } from '../../src/server/domain/plans/catalog.ts';

for (const backend of BACKENDS) {
  describe(`organizations, groups and devices (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it('creates, renames, describes and lists organizations by name, a page at a time', async () => {
      const { client, account } = await registerPerson(t);
      for (const name of ['Delta', 'alpha', 'Charlie', 'bravo', 'Echo']) await client.createOrganization(account.id, { name });
      const first = await client.listOrganizations(account.id, { limit: 2 });
      assert.deepEqual(first.items.map((o) => o.name), ['alpha', 'bravo']);
      const second = await client.listOrganizations(account.id, { limit: 2, cursor: first.nextCursor! });
      assert.deepEqual(second.items.map((o) => o.name), ['Charlie', 'Delta']);
      const third = await client.listOrganizations(account.id, { limit: 2, cursor: second.nextCursor! });
      assert.deepEqual([third.items.map((o) => o.name), third.nextCursor], [['Echo'], null]);
      const filtered = await client.listOrganizations(account.id, { q: 'HAR' });
      assert.deepEqual(filtered.items.map((o) => o.name), ['Charlie']);
      const renamed = await client.updateOrganization(account.id, first.items[0]!.id, { name: 'Alpha Corp', description: 'Our first customer' });
      assert.deepEqual([renamed.name, renamed.description], ['Alpha Corp', 'Our first customer']);
      const taken = await problemOf(client.createOrganization(account.id, { name: 'BRAVO' }));
      assert.deepEqual([taken.status, taken.fieldErrors.map((e) => [e.field, e.code])], [409, [['name', 'already_used']]]);
      const badCursor = await problemOf(client.listOrganizations(account.id, { cursor: 'not-ours' }));
      assert.deepEqual(badCursor.fieldErrors.map((e) => [e.field, e.code]), [['query.cursor', 'invalid_cursor']]);
    });

    it('holds the organization limit of the plan', async () => {
      const { client, account } = await registerPerson(t);
      const limit = PLANS.starter!.organizationLimit;
      await Promise.allSettled(Array.from({ length: limit + 3 }, (_, i) => client.createOrganization(account.id, { name: `Customer ${i}` })));
      const all = await client.listOrganizations(account.id, { limit: 200 });
      assert.equal(all.items.length, limit);
      assert.equal((await problemOf(client.createOrganization(account.id, { name: 'One more' }))).status, 409);
    });

    it('keeps the selected organization per person and account, server-side', async () => {
      const { client, account, email } = await registerPerson(t);
      const a = await client.createOrganization(account.id, { name: 'A' });
      const b = await client.createOrganization(account.id, { name: 'B' });
      assert.equal(await client.getSelectedOrganization(account.id), null);
      await client.setSelectedOrganization(account.id, b.id);
      const elsewhere = t.client();
      await elsewhere.signIn({ email, password: STRONG_PASSWORD });
      assert.equal(await elsewhere.getSelectedOrganization(account.id), b.id, 'it follows the person to another browser');
      await elsewhere.setSelectedOrganization(account.id, a.id);
      assert.equal(await client.getSelectedOrganization(account.id), a.id);
      const other = await registerPerson(t);
      const foreign = await other.client.createOrganization(other.account.id, { name: 'Theirs' });
      assert.equal((await problemOf(client.setSelectedOrganization(account.id, foreign.id))).status, 404);
    });

    it('groups organizations; one organization may be in several groups', async () => {
      const { client, account } = await registerPerson(t);
      const a = await client.createOrganization(account.id, { name: 'A' });
      const b = await client.createOrganization(account.id, { name: 'B' });
      const east = await client.createGroup(account.id, { name: 'East', organizationIds: [a.id] });
      const big = await client.createGroup(account.id, { name: 'Big customers' });
      await client.addOrganizationToGroup(account.id, big.id, a.id);
      const both = await client.addOrganizationToGroup(account.id, big.id, b.id);
      assert.deepEqual(new Set(both.organizationIds), new Set([a.id, b.id]));
      assert.deepEqual((await client.getOrganization(account.id, a.id)).groupIds.sort(), [east.id, big.id].sort());
      const smaller = await client.removeOrganizationFromGroup(account.id, big.id, b.id);
      assert.deepEqual(smaller.organizationIds, [a.id]);
      assert.equal((await client.updateGroup(account.id, east.id, { name: 'East coast' })).name, 'East coast');
      await client.deleteGroup(account.id, east.id);
      assert.deepEqual((await client.listGroups(account.id)).map((g) => g.name), ['Big customers']);
      const unknown = await problemOf(client.createGroup(account.id, { name: 'Bad', organizationIds: ['01900000-0000-7000-8000-000000000000'] }));
      assert.deepEqual(unknown.fieldErrors.map((e) => e.field), ['organizationIds.0']);
    });

    it('manages devices with an identifier unique in the account, and pages them by name', async () => {
      const { client, account } = await registerPerson(t);
      const org = await client.createOrganization(account.id, { name: 'Lab' });
      const other = await client.createOrganization(account.id, { name: 'Office' });
      for (let i = 0; i < 7; i++) await client.createDevice(account.id, org.id, { name: `Dongle ${i}`, kind: 'usb', identifier: `SN-${i}` });
      const dup = await problemOf(client.createDevice(account.id, other.id, { name: 'Copy', kind: 'usb', identifier: 'sn-3' }));
      assert.deepEqual([dup.status, dup.fieldErrors.map((e) => [e.field, e.code])], [409, [['identifier', 'already_used']]]);
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listDevices(account.id, org.id, { limit: 3, ...(cursor ? { cursor } : {}) });
        names.push(...page.items.map((d) => d.name));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(names, Array.from({ length: 7 }, (_, i) => `Dongle ${i}`));
      assert.deepEqual((await client.listDevices(account.id, org.id, { q: 'sn-5' })).items.map((d) => d.name), ['Dongle 5']);
      const first = (await client.listDevices(account.id, org.id, { limit: 1 })).items[0]!;
      const moved = await client.updateDevice(account.id, first.id, { organizationId: other.id, notes: 'moved' });
      assert.deepEqual([moved.organizationId, moved.notes], [other.id, 'moved']);
      const badMove = await problemOf(client.updateDevice(account.id, first.id, { organizationId: '01900000-0000-7000-8000-000000000000' }));
      assert.deepEqual(badMove.fieldErrors.map((e) => e.field), ['organizationId']);
      await client.deleteDevice(account.id, first.id);
      assert.equal((await problemOf(client.getDevice(account.id, first.id))).status, 404);
    });

    it('refuses to delete an organization that holds devices unless asked to cascade', async () => {
      const { client, account } = await registerPerson(t);
      const org = await client.createOrganization(account.id, { name: 'Closing' });
      await client.createDevice(account.id, org.id, { name: 'Last one', kind: 'serial', identifier: 'LAST-1' });
      const refused = await problemOf(client.deleteOrganization(account.id, org.id));
      assert.equal(refused.status, 409);
      assert.match(refused.problem.detail ?? '', /1 device/);
      assert.equal(refused.problem.deviceCount, 1);
      assert.equal((await client.getOrganization(account.id, org.id)).deviceCount, 1);
      await client.deleteOrganization(account.id, org.id, { cascade: true });
      assert.equal((await problemOf(client.getOrganization(account.id, org.id))).status, 404);
      const empty = await client.createOrganization(account.id, { name: 'Empty' });
      await client.deleteOrganization(account.id, empty.id);
    });

    it("answers another account's organizations, groups and devices with 404, and holds roles", async () => {
      const a = await registerPerson(t);
      const b = await registerPerson(t);
      const org = await a.client.createOrganization(a.account.id, { name: 'Secret' });
      const device = await a.client.createDevice(a.account.id, org.id, { name: 'Box', kind: 'usb', identifier: 'BOX-1' });
      const group = await a.client.createGroup(a.account.id, { name: 'G' });
      assert.equal((await problemOf(b.client.getOrganization(b.account.id, org.id))).status, 404);
      assert.equal((await problemOf(b.client.getDevice(b.account.id, device.id))).status, 404);
      assert.equal((await problemOf(b.client.listDevices(b.account.id, org.id))).status, 404);
      assert.equal((await problemOf(b.client.deleteGroup(b.account.id, group.id))).status, 404);
      assert.equal((await problemOf(b.client.createDevice(b.account.id, org.id, { name: 'x', kind: 'x', identifier: 'x' }))).status, 404);
      const viewer = await registerPerson(t);
      const manager = await registerPerson(t);
      await t.db.database.inTenant(a.account.id, (tx) =>
        tx.insertInto('memberships').values([
          { account_id: a.account.id, user_id: viewer.user.id, role: 'viewer', created_at: new Date() },
          { account_id: a.account.id, user_id: manager.user.id, role: 'manager', created_at: new Date() },
        ]).execute(),
      );
      const v = t.client();
      await v.signIn({ email: viewer.email, password: STRONG_PASSWORD });
      const m = t.client();
      await m.signIn({ email: manager.email, password: STRONG_PASSWORD });
      assert.equal((await v.listDevices(a.account.id, org.id)).items.length, 1);
      assert.equal((await problemOf(v.createDevice(a.account.id, org.id, { name: 'v', kind: 'usb', identifier: 'V-1' }))).status, 403);
      await m.createDevice(a.account.id, org.id, { name: 'm', kind: 'usb', identifier: 'M-1' });
      // an account-wide manager creates organizations; a viewer may not
      await m.createOrganization(a.account.id, { name: 'By manager' });
      assert.equal((await problemOf(v.createOrganization(a.account.id, { name: 'By viewer' }))).status, 403);
      await v.setSelectedOrganization(a.account.id, org.id);
    });
  });
}
