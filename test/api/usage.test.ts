import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { rollUpUsage } from '../../src/server/domain/billing/usage.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';
import { Caller } from '../support/caller.ts';

/**
 * Usage over time: the hourly roll-up sums each account's day (UTC) from its leases — the most
 * connections open at once and their minutes, a lease across midnight split between its days —
 * with the member and organization counts; the history and its CSV read those rows only.
 */

const HOUR = 3600_000;

for (const backend of BACKENDS) {
  describe(`usage over time (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, { leaseTtlSeconds: 3600 });
      // 22:00 UTC tomorrow: the test's days start from a known hour
      const now = t.clock.now();
      const target = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 22);
      t.clock.advance(target - now.getTime());
    });
    after(() => t.close());

    const day = (offsetDays: number) => new Date(t.clock.now().getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);

    async function accountWithDesks() {
      const owner = await registerPerson(t);
      const accountId = owner.account.id;
      const organization = await owner.client.createOrganization(accountId, { name: 'North' });
      const devices = await Promise.all(['1', '2', '3'].map((n) => owner.client.createDevice(accountId, organization.id, { name: `Device ${n}`, kind: 'router', identifier: `SN-${n}` })));
      const member = await owner.client.addTeamMember(accountId, { name: 'Desk' });
      const desk = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app) });
      await desk.signInWithLoginToken(member.firstToken.secret);
      return { owner, accountId, devices, desk };
    }

    it('sums each day from its leases: the peak at one moment and the minutes, a lease across midnight split between its days', async () => {
      const { owner, accountId, devices, desk } = await accountWithDesks();
      const [first, second, third] = devices;
      const yesterday = day(0);
      // leases last an hour unless renewed (the app's TTL here)
      const a = await desk.connect(first!.id); // 22:00
      t.clock.advance(20 * 60_000);
      const b = await desk.connect(second!.id); // 22:20
      t.clock.advance(20 * 60_000);
      await desk.disconnect(a.leaseId); // 22:40
      t.clock.advance(30 * 60_000);
      await desk.renew(b.leaseId); // 23:10: B now lasts to 00:10
      t.clock.advance(20 * 60_000);
      await desk.connect(third!.id); // 23:30: C, never closed, expires at 00:30
      t.clock.advance(35 * 60_000);
      const today = day(0); // 00:05
      assert.notEqual(today, yesterday);
      await owner.client.closeConnection(accountId, b.leaseId);
      t.clock.advance(65 * 60_000); // 01:10

      await rollUpUsage(t.db.database, t.clock.now());
      const history = await owner.client.getUsage(accountId, { from: yesterday, to: today });
      assert.deepEqual(history.days, [
        // A 40 min, B 100 min (22:20–24:00), C 30 min; A and B at once, then B and C
        { day: yesterday, peakConnections: 2, connectionMinutes: 170, members: 1, organizations: 1 },
        // B 5 min, C 30 min, both open at midnight
        { day: today, peakConnections: 2, connectionMinutes: 35, members: 1, organizations: 1 },
      ]);
    });

    it('keeps a finished day’s counts, updates today’s, and answers from the roll-up, not the leases', async () => {
      const { owner, accountId, devices, desk } = await accountWithDesks();
      const lease = await desk.connect(devices[0]!.id);
      t.clock.advance(30 * 60_000);
      await desk.disconnect(lease.leaseId);
      await rollUpUsage(t.db.database, t.clock.now());
      const first = day(0);
      t.clock.advance(24 * HOUR);
      await owner.client.createOrganization(accountId, { name: 'South' });
      await owner.client.addTeamMember(accountId, { name: 'Second desk' });
      await rollUpUsage(t.db.database, t.clock.now());
      // the leases are gone; what the page shows was summed when they were there
      await t.db.database.db.deleteFrom('connection_leases').where('account_id', '=', accountId).execute();
      const history = await owner.client.getUsage(accountId, { from: first, to: day(0) });
      assert.deepEqual(history.days, [
        { day: first, peakConnections: 1, connectionMinutes: 30, members: 1, organizations: 1 },
        { day: day(0), peakConnections: 0, connectionMinutes: 0, members: 2, organizations: 2 },
      ]);
      const caller = await new Caller(t).signIn(owner.email);
      const csv = await caller.call('GET', `/api/v1/accounts/${accountId}/usage/export?from=${first}&to=${day(0)}`);
      assert.equal(csv.status, 200);
      assert.equal(csv.contentType, 'text/csv; charset=utf-8');
      assert.deepEqual(parse(csv.body as string, { columns: true }), [
        { day: first, peak_connections: '1', connection_minutes: '30', members: '1', organizations: '1' },
        { day: day(0), peak_connections: '0', connection_minutes: '0', members: '2', organizations: '2' },
      ]);
    });

    it('reads the last 30 days by default and refuses a reversed or over-long range on its field', async () => {
      const { owner, accountId } = await accountWithDesks();
      await rollUpUsage(t.db.database, t.clock.now());
      const history = await owner.client.getUsage(accountId);
      assert.equal(history.to, day(0));
      assert.equal(history.from, day(-29));
      assert.deepEqual(history.days.map((d) => d.day), [day(0)]);
      const reversed = await problemOf(owner.client.getUsage(accountId, { from: day(0), to: day(-1) }));
      assert.deepEqual(reversed.fieldErrors.map((e) => [e.field, e.code]), [['query.to', 'range_reversed']]);
      const long = await problemOf(owner.client.getUsage(accountId, { from: day(-366), to: day(0) }));
      assert.deepEqual(long.fieldErrors.map((e) => [e.field, e.code]), [['query.to', 'range_too_long']]);
      const bad = await problemOf(owner.client.getUsage(accountId, { from: 'yesterday' }));
      assert.deepEqual(bad.fieldErrors.map((e) => e.field), ['query.from']);
    });
  });
}
