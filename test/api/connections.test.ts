import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { BACKENDS } from '../support/databases.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, type TestApp } from '../support/app.ts';
import { PLANS } from '../../src/server/domain/plans/catalog.ts';

for (const backend of BACKENDS) {
  describe(`connection leases (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    /** An owner with an organization of `devices` devices, and a way to sign members in. */
    async function setup(devices: number) {
      const owner = await registerPerson(t);
      const org = await owner.client.createOrganization(owner.account.id, { name: 'Lab' });
      const deviceIds: string[] = [];
      for (let i = 0; i < devices; i++) {
        deviceIds.push((await owner.client.createDevice(owner.account.id, org.id, { name: `Device ${String(i).padStart(2, '0')}`, kind: 'usb', identifier: `D-${i}` })).id);
      }
      const member = async (connectionLimit?: number) => {
        const added = await owner.client.addTeamMember(owner.account.id, { name: `Member ${Math.random()}`, ...(connectionLimit ? { connectionLimit } : {}) });
        const client = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app) });
        await client.signInWithLoginToken(added.firstToken.secret);
        return { client, ...added };
      };
      return { ...owner, org, deviceIds, member };
    }

    it('opens, renews and closes a connection, and counts it while open', async () => {
      const { deviceIds, member, client: owner, account } = await setup(2);
      const m = await member(2);
      const devices = await m.client.devices();
      assert.deepEqual(devices.items.map((d) => [d.name, d.available]), [['Device 00', true], ['Device 01', true]]);
      const lease = await m.client.connect(deviceIds[0]!);
      assert.equal(lease.ttlSeconds, 60);
      assert.equal(new Date(lease.expiresAt).getTime() - t.clock.now().getTime(), 60_000);
      assert.equal((await m.client.devices()).items[0]!.available, false);
      const me = await m.client.me();
      assert.deepEqual([me.connections.memberInUse, me.connections.accountInUse], [1, 1]);
      const team = await owner.getTeam(account.id);
      assert.equal(team.connectionsInUse, 1);
      t.clock.advance(30_000);
      const renewed = await m.client.renew(lease.leaseId);
      assert.equal(new Date(renewed.expiresAt).getTime() - t.clock.now().getTime(), 60_000);
      const open = await owner.listOpenConnections(account.id);
      assert.deepEqual(open.map((c) => [c.leaseId, c.device.name]), [[lease.leaseId, 'Device 00']]);
      await m.client.disconnect(lease.leaseId);
      assert.equal((await m.client.me()).connections.accountInUse, 0);
      assert.equal((await problemOf(m.client.renew(lease.leaseId))).status, 404, 'a closed connection cannot be renewed');
    });

    it("refuses with 409 naming the limit hit: the member's, the device's, the account's", async () => {
      const allowance = PLANS.starter!.connectionAllowance;
      const { deviceIds, member } = await setup(allowance + 2);
      const single = await member(1);
      await single.client.connect(deviceIds[0]!);
      const memberFull = await problemOf(single.client.connect(deviceIds[1]!));
      assert.deepEqual([memberFull.status, memberFull.problem.limit], [409, 'member']);
      const shared = await member();
      const busy = await problemOf(shared.client.connect(deviceIds[0]!));
      assert.deepEqual([busy.status, busy.problem.limit], [409, 'device']);
      for (let i = 1; i < allowance; i++) await shared.client.connect(deviceIds[i]!);
      const accountFull = await problemOf(shared.client.connect(deviceIds[allowance]!));
      assert.deepEqual([accountFull.status, accountFull.problem.limit], [409, 'account']);
      const unknown = await problemOf(shared.client.connect('01900000-0000-7000-8000-000000000000'));
      assert.equal(unknown.status, 404);
    });

    it('frees an expired lease by itself, with no background job, and refuses to renew it', async () => {
      const { deviceIds, member } = await setup(1);
      const a = await member(1);
      const b = await member(1);
      const lease = await a.client.connect(deviceIds[0]!);
      assert.equal((await problemOf(b.client.connect(deviceIds[0]!))).problem.limit, 'device');
      t.clock.advance(60_001);
      const taken = await b.client.connect(deviceIds[0]!);
      assert.ok(taken.leaseId);
      assert.equal((await problemOf(a.client.renew(lease.leaseId))).status, 404);
      const again = await a.client.connect(deviceIds[0]!).catch((error) => error);
      assert.equal(again.problem?.limit, 'device', 'the member slot freed too: only the device is busy now');
    });

    it('frees the connections of a revoked token, a removed member, and one closed in the portal', async () => {
      const { deviceIds, member, client: owner, account } = await setup(3);
      const a = await member();
      const lease0 = await a.client.connect(deviceIds[0]!);
      await owner.revokeLoginToken(account.id, a.member.id, a.firstToken.token.id);
      const b = await member();
      await b.client.connect(deviceIds[0]!);
      const c = await member();
      await c.client.connect(deviceIds[1]!);
      await owner.removeTeamMember(account.id, c.member.id);
      const d = await member();
      const leaseD = await d.client.connect(deviceIds[1]!);
      await d.client.connect(deviceIds[2]!);
      assert.equal((await owner.listOpenConnections(account.id)).length, 3);
      await owner.closeConnection(account.id, leaseD.leaseId);
      assert.equal((await owner.listOpenConnections(account.id)).length, 2);
      assert.equal((await problemOf(d.client.renew(leaseD.leaseId))).status, 404);
      assert.equal((await problemOf(owner.closeConnection(account.id, lease0.leaseId))).status, 404, 'already closed by the revocation');
      const audit = await t.db.database.inTenant(account.id, (tx) => tx.selectFrom('audit_events').select('action').where('action', '=', 'connection.closed').execute());
      assert.equal(audit.length, 1);
    });

    it('applies a lowered member limit to new connections', async () => {
      const { deviceIds, member, client: owner, account } = await setup(3);
      const m = await member(3);
      await m.client.connect(deviceIds[0]!);
      await m.client.connect(deviceIds[1]!);
      await owner.updateTeamMember(account.id, m.member.id, { connectionLimit: 1 });
      assert.equal((await problemOf(m.client.connect(deviceIds[2]!))).problem.limit, 'member');
    });

    it("keeps another account's devices and connections out of reach", async () => {
      const a = await setup(1);
      const b = await setup(1);
      const mb = await b.member();
      assert.equal((await problemOf(mb.client.connect(a.deviceIds[0]!))).status, 404);
      const ma = await a.member();
      const lease = await ma.client.connect(a.deviceIds[0]!);
      assert.equal((await problemOf(mb.client.renew(lease.leaseId))).status, 404);
      assert.equal((await problemOf(mb.client.disconnect(lease.leaseId))).status, 404);
      assert.equal((await problemOf(b.client.closeConnection(b.account.id, lease.leaseId))).status, 404);
      assert.deepEqual((await mb.client.devices()).items.map((d) => d.id), [b.deviceIds[0]]);
    });
  });
}
