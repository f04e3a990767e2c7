import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PlanCatalogFile } from '../../src/shared/billing.ts';
import { buildApp } from '../../src/server/app.ts';
import { parseConfig } from '../../src/server/config.ts';
import type { PaymentProvider } from '../../src/server/domain/billing/provider.ts';
import { AppError } from '../../src/server/http/errors.ts';
import { problemOf, registerPerson, startTestApp, type TestApp } from '../support/app.ts';
import { BACKENDS, openTestDatabase } from '../support/databases.ts';

/**
 * Billing as an owner uses it: the plan of a configured catalog and what the account uses against
 * it, changing plans (a downgrade below what is used is refused, naming what to remove), an
 * invoice per change through the payment provider adapter, and billing details validated field
 * by field.
 */

/** Small limits, so a test reaches them with a handful of rows. */
const CATALOG: PlanCatalogFile = {
  defaultPlan: 'small',
  plans: [
    { id: 'small', name: 'Small', connectionAllowance: 3, memberLimit: 2, organizationLimit: 2, price: { amount: 1000, currency: 'EUR', interval: 'month' } },
    { id: 'large', name: 'Large', connectionAllowance: 10, memberLimit: 5, organizationLimit: 5, price: { amount: 12000, currency: 'EUR', interval: 'year' } },
  ],
};

const DETAILS = {
  legalName: 'Analytical Engines GmbH',
  addressLine1: 'Friedrichstraße 42',
  postalCode: '10117',
  city: 'Berlin',
  country: 'DE',
  taxId: 'de 123.456.789',
  billingEmail: 'billing@engines.example',
};

let addresses = 0;
const nextIp = () => `192.0.2.${++addresses}`;

const plansDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-plans-'));
const plansFile = path.join(plansDir, 'plans.json');
fs.writeFileSync(plansFile, JSON.stringify(CATALOG));
after(() => fs.rmSync(plansDir, { recursive: true, force: true }));

/** A provider that declines while `declining` is set, and records what it was asked otherwise. */
const asked: string[] = [];
let declining = false;
const provider: PaymentProvider = {
  name: 'test-card',
  async invoice(draft) {
    if (declining) throw new AppError('conflict', 'The card was declined.');
    asked.push(`${draft.number} ${draft.planId} ${draft.total.amount} ${draft.total.currency}`);
    return { status: 'paid', reference: `ch_${draft.invoiceId}` };
  },
};

for (const backend of BACKENDS) {
  describe(`billing (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, { plansFile }, { paymentProvider: provider });
    });
    after(() => t.close());

    async function auditActions(accountId: string): Promise<string[]> {
      return (await t.db.database.db.selectFrom('audit_events').select('action').where('account_id', '=', accountId).orderBy('occurred_at').orderBy('id').execute()).map((r) => r.action);
    }

    it('starts an account on the catalog’s default plan and shows what it uses', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      await owner.client.createOrganization(accountId, { name: 'North' });
      await owner.client.addTeamMember(accountId, { name: 'Desk 1' });
      const billing = await owner.client.getBilling(accountId);
      assert.equal(billing.plan.id, 'small');
      assert.deepEqual(billing.plans.map((p) => p.id), ['small', 'large']);
      assert.deepEqual(billing.usage, { connectionsInUse: 0, members: 1, organizations: 1 });
      assert.equal(billing.details, null);
      assert.equal(billing.provider, 'test-card');
      assert.equal(billing.planSince, t.clock.now().toISOString());
      assert.equal((await owner.client.getTeam(accountId)).plan.memberLimit, 2, 'the team page reads the same catalog');
    });

    it('upgrades at once: the new limits hold, and the first period is invoiced through the provider', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      await owner.client.createOrganization(accountId, { name: 'A' });
      await owner.client.createOrganization(accountId, { name: 'B' });
      assert.equal((await problemOf(owner.client.createOrganization(accountId, { name: 'C' }))).status, 409, 'Small allows 2');

      t.clock.advance(1000);
      const upgraded = await owner.client.changePlan(accountId, 'large');
      assert.equal(upgraded.plan.id, 'large');
      assert.equal(upgraded.planSince, t.clock.now().toISOString());
      await owner.client.createOrganization(accountId, { name: 'C' });

      const [invoice] = await owner.client.listInvoices(accountId);
      const year = t.clock.now().getUTCFullYear();
      assert.equal(invoice!.number, `${year}-0001`);
      assert.deepEqual([invoice!.planId, invoice!.planName, invoice!.total, invoice!.status, invoice!.provider], ['large', 'Large', { amount: 12000, currency: 'EUR' }, 'paid', 'test-card']);
      assert.equal(invoice!.periodStart, t.clock.now().toISOString());
      const end = new Date(t.clock.now());
      end.setUTCFullYear(end.getUTCFullYear() + 1);
      assert.equal(invoice!.periodEnd, end.toISOString(), 'a yearly plan is invoiced for a year');
      assert.ok(asked.includes(`${year}-0001 large 12000 EUR`));
      const actions = await auditActions(accountId);
      assert.deepEqual(actions.slice(-3), ['account.plan_changed', 'invoice.issued', 'organization.created']);

      // the same plan again: nothing happens, nothing is invoiced
      await owner.client.changePlan(accountId, 'large');
      assert.equal((await owner.client.listInvoices(accountId)).length, 1);
    });

    it('refuses a downgrade below what the account uses, naming each thing to remove, and changes nothing', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      await owner.client.changePlan(accountId, 'large');
      for (const name of ['A', 'B', 'C']) await owner.client.createOrganization(accountId, { name });
      await owner.client.addTeamMember(accountId, { name: 'Desk 1' });
      await owner.client.addTeamMember(accountId, { name: 'Desk 2' });
      await owner.client.addTeamMember(accountId, { name: 'Heavy user', connectionLimit: 8 });
      const before = { actions: await auditActions(accountId), invoices: await owner.client.listInvoices(accountId) };

      const refused = await problemOf(owner.client.changePlan(accountId, 'small'));
      assert.equal(refused.status, 409);
      assert.deepEqual(
        refused.fieldErrors.map((e) => [e.field, e.code]),
        [
          ['planId', 'over_member_limit'],
          ['planId', 'over_organization_limit'],
          ['planId', 'member_limit_above_allowance'],
        ],
      );
      assert.match(refused.fieldErrors[0]!.message, /Remove 1 team member first: the account has 3, Small allows 2/);
      assert.match(refused.fieldErrors[1]!.message, /Delete 1 organization first/);
      assert.match(refused.fieldErrors[2]!.message, /Heavy user/);
      assert.equal((await owner.client.getBilling(accountId)).plan.id, 'large');
      assert.deepEqual(await auditActions(accountId), before.actions);
      assert.deepEqual(await owner.client.listInvoices(accountId), before.invoices);

      const unknown = await problemOf(owner.client.changePlan(accountId, 'platinum'));
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.fieldErrors.map((e) => [e.field, e.code]), [['planId', 'unknown_plan']]);
    });

    it('downgrades once there is room, and numbers invoices in sequence', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      await owner.client.changePlan(accountId, 'large');
      const organizations = await Promise.all(['A', 'B', 'C'].map((name) => owner.client.createOrganization(accountId, { name })));
      assert.equal((await problemOf(owner.client.changePlan(accountId, 'small'))).status, 409);
      await owner.client.deleteOrganization(accountId, organizations[2]!.id);
      assert.equal((await owner.client.changePlan(accountId, 'small')).plan.id, 'small');
      const year = t.clock.now().getUTCFullYear();
      assert.deepEqual((await owner.client.listInvoices(accountId)).map((i) => [i.number, i.planId, i.total.amount]), [
        [`${year}-0002`, 'small', 1000],
        [`${year}-0001`, 'large', 12000],
      ]);
    });

    it('changes nothing when the payment provider declines', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      const before = await auditActions(accountId);
      declining = true;
      try {
        const refused = await problemOf(owner.client.changePlan(accountId, 'large'));
        assert.equal(refused.status, 409);
        assert.match(refused.message, /declined/);
      } finally {
        declining = false;
      }
      assert.equal((await owner.client.getBilling(accountId)).plan.id, 'small');
      assert.deepEqual(await owner.client.listInvoices(accountId), []);
      assert.deepEqual(await auditActions(accountId), before, 'no plan_changed event without the change');
    });

    it('keeps billing details, validated field by field, the tax id written as on an invoice', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      const saved = await owner.client.setBillingDetails(accountId, DETAILS);
      assert.equal(saved.taxId, 'DE123456789');
      assert.equal(saved.addressLine2, null);
      assert.deepEqual((await owner.client.getBilling(accountId)).details, saved);

      const invalid = await problemOf(
        owner.client.setBillingDetails(accountId, { ...DETAILS, legalName: ' ', postalCode: '10117!', country: 'XX', billingEmail: 'billing at engines' }),
      );
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.fieldErrors.map((e) => e.field).sort(), ['billingEmail', 'country', 'legalName', 'postalCode']);
      const vat = await problemOf(owner.client.setBillingDetails(accountId, { ...DETAILS, taxId: 'DE12345' }));
      assert.deepEqual(vat.fieldErrors.map((e) => [e.field, e.code]), [['taxId', 'invalid_tax_id']]);
      const greek = await owner.client.setBillingDetails(accountId, { ...DETAILS, country: 'GR', taxId: 'EL123456789' });
      assert.equal(greek.taxId, 'EL123456789', 'Greece writes EL');
      const elsewhere = await owner.client.setBillingDetails(accountId, { ...DETAILS, country: 'US', taxId: '12-3456789' });
      assert.equal(elsewhere.taxId, '123456789');
      assert.equal((await owner.client.getBilling(accountId)).details?.country, 'US', 'refused saves changed nothing; the last good one stands');

      const events = await t.db.database.db.selectFrom('audit_events').select(['action', 'before', 'after']).where('account_id', '=', accountId).where('action', '=', 'billing.details_updated').orderBy('occurred_at').orderBy('id').execute();
      assert.equal(events.length, 3);
      assert.equal(events[0]!.before, null);
      assert.equal((events[2]!.before as { country: string }).country, 'GR');
    });

    it('is for owners in person: a manager gets 403, another account 404', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const stranger = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      assert.equal((await problemOf(stranger.client.getBilling(accountId))).status, 404);
      assert.equal((await problemOf(stranger.client.changePlan(accountId, 'large'))).status, 404);
      assert.equal((await owner.client.getBilling(accountId)).plan.id, 'small');
    });
  });
}

describe('a plan catalog file', () => {
  it('is refused at start with the field named when it is not a catalog', async () => {
    const bad = path.join(plansDir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ defaultPlan: 'gold', plans: [{ ...CATALOG.plans[0], memberLimit: 0 }] }));
    const db = await openTestDatabase('pglite');
    try {
      await assert.rejects(
        buildApp({ config: parseConfig({ logLevel: 'silent', webDir: '', plansFile: bad }), database: db.database, secret: Buffer.alloc(32, 1) }),
        (error: Error) => /plans\.0\.memberLimit/.test(error.message) && /defaultPlan: "gold" is not one of the plans/.test(error.message),
      );
    } finally {
      await db.close();
    }
  });
});
