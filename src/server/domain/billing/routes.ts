import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { BillingDetails, BillingDetailsBody, BillingOverview, ChangePlanBody, InvoiceList, UsageHistory, UsageQuery } from '../../../shared/billing.ts';
import { AccountParams } from '../../../shared/contracts.ts';
import type { AccessRule } from '../../auth/access.ts';
import { actorName, changeContext } from '../../http/context.ts';
import { billingOverview, changePlan, listInvoices, saveBillingDetails } from './billing.ts';
import { usageHistory } from './usage.ts';

const tags = ['Billing'];
/** Billing belongs to the account's owners, in person: an access key never touches it. */
const billingOwners: AccessRule = { scope: 'account', role: 'owner', people: true };

export const billingRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, plans, paymentProvider, clientSessions, notifier } = app.services;

  app.get('/accounts/:accountId/billing', {
    config: { access: billingOwners },
    schema: { tags, operationId: 'getBilling', summary: 'The plan, the catalog, what the account uses now, and its billing details', params: AccountParams, response: { 200: BillingOverview } },
  }, async (request) => billingOverview(database, plans, paymentProvider, request.params.accountId, clock.now()));

  app.put('/accounts/:accountId/billing/plan', {
    config: { access: billingOwners },
    schema: {
      tags,
      operationId: 'changePlan',
      summary: 'Change the plan at once and invoice its first period; a downgrade below what the account uses is refused with 409 naming what to remove',
      params: AccountParams,
      body: ChangePlanBody,
      response: { 200: BillingOverview },
    },
  }, async (request) => {
    const { accountId } = request.params;
    const change = await changePlan(database, plans, paymentProvider, changeContext(request, clock), accountId, request.body.planId);
    // desktop sessions carry the plan (its allowance) in every node's cache
    if (change.previous.id !== change.plan.id) {
      await clientSessions.forgetEverywhere({ account: accountId });
      void notifier.notify(accountId, { kind: 'plan_changed', from: change.previous, to: change.plan, by: actorName(request) });
    }
    return billingOverview(database, plans, paymentProvider, accountId, clock.now());
  });

  app.put('/accounts/:accountId/billing/details', {
    config: { access: billingOwners },
    schema: { tags, operationId: 'setBillingDetails', summary: 'Set the legal name, address, tax id and billing email printed on invoices', params: AccountParams, body: BillingDetailsBody, response: { 200: BillingDetails } },
  }, async (request) => saveBillingDetails(database, changeContext(request, clock), request.params.accountId, request.body));

  app.get('/accounts/:accountId/invoices', {
    config: { access: billingOwners },
    schema: { tags, operationId: 'listInvoices', summary: 'Invoices of the account, newest first', params: AccountParams, response: { 200: InvoiceList } },
  }, async (request) => ({ items: await listInvoices(database, request.params.accountId) }));

  app.get('/accounts/:accountId/usage', {
    config: { access: billingOwners },
    schema: {
      tags,
      operationId: 'getUsage',
      summary: 'Usage per day (UTC): peak connections, connection-minutes, members, organizations; the last 30 days by default',
      params: AccountParams,
      querystring: UsageQuery,
      response: { 200: UsageHistory },
    },
  }, async (request) => usageHistory(database, request.params.accountId, request.query, clock.now()));

  app.get('/accounts/:accountId/usage/export', {
    config: { access: billingOwners },
    schema: {
      tags,
      operationId: 'exportUsage',
      summary: 'The same days as CSV, one row per day',
      params: AccountParams,
      querystring: UsageQuery,
      response: { 200: { description: 'One row per day with a roll-up', content: { 'text/csv': { schema: z.string() } } } },
    },
  }, async (request, reply) => {
    const history = await usageHistory(database, request.params.accountId, request.query, clock.now());
    const csv = stringify(
      history.days.map((d) => [d.day, d.peakConnections, d.connectionMinutes, d.members, d.organizations]),
      { header: true, columns: ['day', 'peak_connections', 'connection_minutes', 'members', 'organizations'] },
    );
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="usage-${request.params.accountId}-${history.from}-${history.to}.csv"`)
      .header('cache-control', 'no-store')
      .send(csv);
  });
};
