import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { normalizeTaxId, type BillingDetails, type BillingDetailsBody, type BillingOverview, type CurrentUsage, type Invoice, type Plan } from '../../../shared/billing.ts';
import type { FieldError } from '../../../shared/problems.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { BillingDetailsTable, InvoicesTable } from '../../db/schema.ts';
import { conflict, fieldError, notFound } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { connectionsInUse } from '../connections/leases.ts';
import type { PlanCatalog } from '../plans/catalog.ts';
import type { PaymentProvider } from './provider.ts';
import { accountCounts } from './usage.ts';

/**
 * Billing of an account: its plan, what it uses against the plan's limits, its billing details
 * and the invoices of its plan periods. Owners only, in person (src/server/domain/billing/routes.ts).
 */

function toDetails(row: Selectable<BillingDetailsTable>): BillingDetails {
  return {
    legalName: row.legal_name,
    addressLine1: row.address_line1,
    addressLine2: row.address_line2,
    postalCode: row.postal_code,
    city: row.city,
    region: row.region,
    country: row.country,
    taxId: row.tax_id,
    billingEmail: row.billing_email,
    updatedAt: row.updated_at.toISOString(),
  };
}

function toInvoice(row: Selectable<InvoicesTable>): Invoice {
  return {
    id: row.id,
    number: invoiceNumber(row.issued_at, row.sequence),
    planId: row.plan_id,
    planName: row.plan_name,
    periodStart: row.period_start.toISOString(),
    periodEnd: row.period_end.toISOString(),
    total: { amount: row.amount, currency: row.currency },
    status: row.status,
    provider: row.provider,
    issuedAt: row.issued_at.toISOString(),
  };
}

/** "2026-0007": the year of issue and the account's running number. */
function invoiceNumber(issuedAt: Date, sequence: number): string {
  return `${issuedAt.getUTCFullYear()}-${String(sequence).padStart(4, '0')}`;
}

async function currentUsage(tx: Tx, accountId: string, now: Date): Promise<CurrentUsage> {
  const connections = await connectionsInUse(tx, accountId, null, now);
  return { connectionsInUse: connections.account, ...(await accountCounts(tx, accountId)) };
}

async function detailsOf(tx: Tx, accountId: string): Promise<BillingDetails | null> {
  const row = await tx.selectFrom('billing_details').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  return row ? toDetails(row) : null;
}

export async function billingOverview(database: Database, plans: PlanCatalog, provider: PaymentProvider, accountId: string, now: Date): Promise<BillingOverview> {
  return database.inTenant(accountId, async (tx) => {
    const account = await tx.selectFrom('accounts').select(['plan_id', 'plan_since']).where('account_id', '=', accountId).executeTakeFirst();
    if (!account) throw notFound('The account');
    return {
      plan: plans.of(account.plan_id),
      planSince: account.plan_since.toISOString(),
      plans: [...plans.plans],
      usage: await currentUsage(tx, accountId, now),
      details: await detailsOf(tx, accountId),
      provider: provider.name,
    };
  });
}

/** What must go before the account fits `plan`: one field error per limit it is over, or none. */
async function overLimits(tx: Tx, accountId: string, plan: Plan, usage: CurrentUsage): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const over = (code: string, message: string) => errors.push({ field: 'planId', code, message });
  if (usage.members > plan.memberLimit) {
    const n = usage.members - plan.memberLimit;
    over('over_member_limit', `Remove ${n} team member${n === 1 ? '' : 's'} first: the account has ${usage.members}, ${plan.name} allows ${plan.memberLimit}.`);
  }
  if (usage.organizations > plan.organizationLimit) {
    const n = usage.organizations - plan.organizationLimit;
    over('over_organization_limit', `Delete ${n} organization${n === 1 ? '' : 's'} first: the account has ${usage.organizations}, ${plan.name} allows ${plan.organizationLimit}.`);
  }
  const fixed = await tx
    .selectFrom('team_members')
    .select('name')
    .where('account_id', '=', accountId)
    .where('connection_limit', '>', plan.connectionAllowance)
    .orderBy('name')
    .execute();
  if (fixed.length > 0) {
    const names = fixed.slice(0, 3).map((m) => m.name).join(', ') + (fixed.length > 3 ? ` and ${fixed.length - 3} more` : '');
    over('member_limit_above_allowance', `Lower the fixed connection limit of ${names} to at most ${plan.connectionAllowance} first: ${plan.name} allows ${plan.connectionAllowance} connections in all.`);
  }
  if (usage.connectionsInUse > plan.connectionAllowance) {
    const n = usage.connectionsInUse - plan.connectionAllowance;
    over('connections_in_use', `Close ${n} connection${n === 1 ? '' : 's'} first: ${usage.connectionsInUse} are open, ${plan.name} allows ${plan.connectionAllowance}.`);
  }
  return errors;
}

function periodEnd(start: Date, interval: 'month' | 'year'): Date {
  const end = new Date(start);
  if (interval === 'month') end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  return end;
}

export interface PlanChange {
  previous: Plan;
  plan: Plan;
  invoice: Invoice | null;
}

/**
 * Moves the account to `planId` at once and invoices the new plan's first period through the
 * payment provider, in one transaction: a downgrade below what the account uses now is refused
 * with 409 naming what to remove first; the same plan again changes nothing.
 */
export async function changePlan(database: Database, plans: PlanCatalog, provider: PaymentProvider, context: ChangeContext, accountId: string, planId: string): Promise<PlanChange> {
  if (!plans.has(planId)) throw fieldError('planId', 'unknown_plan', `There is no plan "${planId}"; choose one of ${plans.plans.map((p) => p.id).join(', ')}`);
  const plan = plans.of(planId);
  return database.inTenant(accountId, async (tx) => {
    // the account row lock: additions of members and organizations wait, so the counts stay true
    const account = await tx.selectFrom('accounts').select(['plan_id', 'plan_since']).where('account_id', '=', accountId).forUpdate().executeTakeFirst();
    if (!account) throw notFound('The account');
    const previous = plans.of(account.plan_id);
    if (account.plan_id === planId) return { previous, plan, invoice: null };
    const errors = await overLimits(tx, accountId, plan, await currentUsage(tx, accountId, context.now));
    if (errors.length > 0) throw conflict(`The account uses more than ${plan.name} allows; make room first.`, errors);

    await tx.updateTable('accounts').set({ plan_id: planId, plan_since: context.now, updated_at: context.now }).where('account_id', '=', accountId).execute();
    await recordAccountChange(tx, context, {
      accountId,
      action: 'account.plan_changed',
      target: { type: 'account', id: accountId },
      before: { planId: previous.id, planName: previous.name },
      after: { planId: plan.id, planName: plan.name },
    });
    const invoice = await issueInvoice(tx, provider, context, accountId, plan);
    return { previous, plan, invoice };
  });
}

async function issueInvoice(tx: Tx, provider: PaymentProvider, context: ChangeContext, accountId: string, plan: Plan): Promise<Invoice> {
  const last = await tx.selectFrom('invoices').select(sql<number>`coalesce(max(sequence), 0)::int`.as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
  const sequence = Number(last.n) + 1;
  const details = await detailsOf(tx, accountId);
  const id = uuidv7();
  const periodStart = context.now;
  const draft = {
    accountId,
    invoiceId: id,
    number: invoiceNumber(context.now, sequence),
    planId: plan.id,
    planName: plan.name,
    periodStart,
    periodEnd: periodEnd(periodStart, plan.price.interval),
    total: { amount: plan.price.amount, currency: plan.price.currency },
    billingEmail: details?.billingEmail ?? null,
  };
  const charged = await provider.invoice(draft);
  const row = await tx
    .insertInto('invoices')
    .values({
      account_id: accountId,
      id,
      sequence,
      plan_id: plan.id,
      plan_name: plan.name,
      period_start: draft.periodStart,
      period_end: draft.periodEnd,
      amount: draft.total.amount,
      currency: draft.total.currency,
      status: charged.status,
      provider: provider.name,
      provider_reference: charged.reference,
      issued_at: context.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const invoice = toInvoice(row);
  await recordAccountChange(tx, context, {
    accountId,
    action: 'invoice.issued',
    target: { type: 'invoice', id },
    after: { number: invoice.number, planId: plan.id, total: invoice.total, status: invoice.status, provider: provider.name },
  });
  return invoice;
}

export async function saveBillingDetails(database: Database, context: ChangeContext, accountId: string, body: BillingDetailsBody): Promise<BillingDetails> {
  return database.inTenant(accountId, async (tx) => {
    const before = await detailsOf(tx, accountId);
    const values = {
      legal_name: body.legalName,
      address_line1: body.addressLine1,
      address_line2: body.addressLine2 || null,
      postal_code: body.postalCode,
      city: body.city,
      region: body.region || null,
      country: body.country,
      tax_id: body.taxId ? normalizeTaxId(body.taxId) : null,
      billing_email: body.billingEmail,
      updated_at: context.now,
    };
    const row = await tx
      .insertInto('billing_details')
      .values({ account_id: accountId, ...values })
      .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = toDetails(row);
    const { updatedAt: _before, ...was } = before ?? { updatedAt: null };
    const { updatedAt: _after, ...is } = after;
    await recordAccountChange(tx, context, {
      accountId,
      action: 'billing.details_updated',
      target: { type: 'account', id: accountId },
      ...(before ? { before: was } : {}),
      after: is,
    });
    return after;
  });
}

export async function listInvoices(database: Database, accountId: string): Promise<Invoice[]> {
  return database.inTenant(accountId, async (tx) => {
    const rows = await tx.selectFrom('invoices').selectAll().where('account_id', '=', accountId).orderBy('sequence', 'desc').execute();
    return rows.map(toInvoice);
  });
}
