import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { PlanCatalogFile } from '../../src/shared/billing.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';

/**
 * Mails to owners, through a real SMTP listener: with the account's "Email notifications" on,
 * every owner hears of team members and users added and removed, a plan change, and the
 * connection allowance reached (once a day); with it off, nothing is sent.
 */

const CATALOG: PlanCatalogFile = {
  defaultPlan: 'one',
  plans: [
    { id: 'one', name: 'One', connectionAllowance: 1, memberLimit: 5, organizationLimit: 5, price: { amount: 500, currency: 'EUR', interval: 'month' } },
    { id: 'many', name: 'Many', connectionAllowance: 20, memberLimit: 50, organizationLimit: 50, price: { amount: 5000, currency: 'EUR', interval: 'month' } },
  ],
};
const plansDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-notices-'));
const plansFile = path.join(plansDir, 'plans.json');
fs.writeFileSync(plansFile, JSON.stringify(CATALOG));
after(() => fs.rmSync(plansDir, { recursive: true, force: true }));

let addresses = 0;
const nextIp = () => `198.18.0.${++addresses}`;

for (const backend of BACKENDS) {
  describe(`owner notifications (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, { plansFile });
    });
    after(() => t.close());

    /** An account with two owners, a device pair and a team member signed in on a desktop. */
    async function account() {
      const owner = await registerPerson(t, { name: 'Ada Lovelace', companyName: 'Noticed Ltd', ip: nextIp() });
      const accountId = owner.account.id;
      const second = { email: uniqueEmail('second-owner'), name: 'Grace Hopper' };
      await owner.client.addAccountUser(accountId, { ...second, password: STRONG_PASSWORD, role: 'owner' });
      const organization = await owner.client.createOrganization(accountId, { name: 'North' });
      const devices = await Promise.all(['1', '2'].map((n) => owner.client.createDevice(accountId, organization.id, { name: `Device ${n}`, kind: 'router', identifier: `SN-${n}` })));
      return { owner, accountId, second, devices };
    }
    const mailsTo = (email: string) => t.inbox.messages.filter((m) => m.to.includes(email));

    it('mails every owner about members and users added and removed, and a plan change', async () => {
      const { owner, accountId, second } = await account();
      await t.inbox.waitFor(owner.email, /Grace Hopper can now use the portal/);

      const member = await owner.client.addTeamMember(accountId, { name: 'Front desk' });
      for (const email of [owner.email, second.email]) {
        const mail = await t.inbox.waitFor(email, /^Noticed Ltd: team member Front desk added$/);
        assert.match(mail.text, /Ada Lovelace added the team member Front desk to Noticed Ltd\./);
        assert.match(mail.text, /Email notifications/);
      }
      await owner.client.removeTeamMember(accountId, member.member.id);
      await t.inbox.waitFor(second.email, /team member Front desk removed/);

      await owner.client.changePlan(accountId, 'many');
      const plan = await t.inbox.waitFor(second.email, /^Noticed Ltd is now on the Many plan$/);
      assert.match(plan.text, /Ada Lovelace changed the plan of Noticed Ltd from One to Many: 20 connections at once/);

      const users = await owner.client.listAccountUsers(accountId);
      await owner.client.removeAccountUser(accountId, users.find((u) => u.user.email === second.email)!.user.id);
      await t.inbox.waitFor(owner.email, /Grace Hopper no longer has access/);
    });

    it('mails the owners when a desktop is refused for want of connections, once a day', async () => {
      const { owner, accountId, devices } = await account();
      const member = await owner.client.addTeamMember(accountId, { name: 'Desk' });
      const desk = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextIp()) });
      await desk.signInWithLoginToken(member.firstToken.secret);
      await desk.connect(devices[0]!.id);
      const refusal = /has used all 1 connections of its plan/;
      assert.equal((await problemOf(desk.connect(devices[1]!.id))).status, 409);
      const mail = await t.inbox.waitFor(owner.email, refusal);
      assert.match(mail.text, /could not connect: all 1 connections of the plan were in use/);

      // refused again the same day: no second mail (a later change's mail shows the queue has moved on)
      assert.equal((await problemOf(desk.connect(devices[1]!.id))).status, 409);
      await owner.client.addTeamMember(accountId, { name: 'Marker' });
      await t.inbox.waitFor(owner.email, /team member Marker added/);
      assert.equal(mailsTo(owner.email).filter((m) => refusal.test(m.subject)).length, 1);

      // a day later (the first connection has long expired: take the one slot again)
      t.clock.advance(24 * 3600_000 + 1000);
      await desk.connect(devices[0]!.id);
      assert.equal((await problemOf(desk.connect(devices[1]!.id))).status, 409);
      await t.inbox.waitFor(owner.email, refusal);
      await eventuallyCount(() => mailsTo(owner.email).filter((m) => refusal.test(m.subject)).length, 2);
    });

    it('sends nothing while the account has notifications off', async () => {
      const { owner, accountId, second, devices } = await account();
      await t.inbox.waitFor(owner.email, /Grace Hopper can now use the portal/);
      await owner.client.updateAccount(accountId, { emailNotifications: false });
      const before = t.inbox.messages.length;

      const member = await owner.client.addTeamMember(accountId, { name: 'Quiet desk' });
      const desk = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextIp()) });
      await desk.signInWithLoginToken(member.firstToken.secret);
      await desk.connect(devices[0]!.id);
      assert.equal((await problemOf(desk.connect(devices[1]!.id))).status, 409);
      await owner.client.changePlan(accountId, 'many');
      await owner.client.removeTeamMember(accountId, member.member.id);

      // turned on again, the next change is mailed, and it is the only mail since
      await owner.client.updateAccount(accountId, { emailNotifications: true });
      await owner.client.addTeamMember(accountId, { name: 'Loud desk' });
      await t.inbox.waitFor(second.email, /team member Loud desk added/);
      await t.inbox.waitFor(owner.email, /team member Loud desk added/);
      const since = t.inbox.messages.slice(before).filter((m) => m.to.includes(owner.email) || m.to.includes(second.email));
      assert.deepEqual(since.map((m) => m.subject), ['Noticed Ltd: team member Loud desk added', 'Noticed Ltd: team member Loud desk added']);
    });
  });
}

async function eventuallyCount(count: () => number, expected: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (count() !== expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(count(), expected);
}
