import { z } from 'zod';
import { Country, Email, Id } from './contracts.ts';

/** Plans and billing: contracts of /api/v1 and the shape of a plan catalog file. */

export const Money = z
  .object({
    /** In the currency's minor unit (cents): 4900 is 49.00. */
    amount: z.number().int().min(0),
    currency: z.string().regex(/^[A-Z]{3}$/, { message: 'A currency is three capital letters (ISO 4217), e.g. EUR' }),
  })
  .meta({ id: 'Money' });
export type Money = z.infer<typeof Money>;

export const Plan = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'A plan id is lower-case letters, digits, - and _' }),
    name: z.string().min(1).max(80),
    description: z.string().max(500).default(''),
    connectionAllowance: z.number().int().min(1).describe('Open connections the whole account may hold at once'),
    memberLimit: z.number().int().min(1).describe('Team members the account may have'),
    organizationLimit: z.number().int().min(1).describe('Organizations the account may have'),
    price: Money.extend({ interval: z.enum(['month', 'year']) }).describe('What the plan costs per interval'),
  })
  .meta({ id: 'Plan' });
export type Plan = z.infer<typeof Plan>;

/** A catalog file (TESSERA_PLANS_FILE): the plans offered and the one new accounts start on. */
export const PlanCatalogFile = z
  .strictObject({
    defaultPlan: z.string(),
    plans: z.array(Plan).min(1),
  })
  .superRefine((file, ctx) => {
    const ids = file.plans.map((p) => p.id);
    ids.forEach((id, index) => {
      if (ids.indexOf(id) !== index) ctx.addIssue({ code: 'custom', path: ['plans', index, 'id'], message: `The plan id "${id}" is used twice` });
    });
    if (!ids.includes(file.defaultPlan)) ctx.addIssue({ code: 'custom', path: ['defaultPlan'], message: `"${file.defaultPlan}" is not one of the plans` });
  });
export type PlanCatalogFile = z.input<typeof PlanCatalogFile>;

const Text = (what: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, { message: `Enter ${what}` })
    .max(max, { message: `At most ${max} characters` });
const OptionalText = (max: number) => z.string().trim().max(max, { message: `At most ${max} characters` }).optional();

/**
 * VAT identification numbers of the EU member states (and the UK), by the country prefix: the
 * shapes the VIES service accepts. Other countries' tax ids are free text.
 */
const VAT_FORMATS: Record<string, RegExp> = {
  AT: /^ATU\d{8}$/,
  BE: /^BE[01]\d{9}$/,
  BG: /^BG\d{9,10}$/,
  CY: /^CY\d{8}[A-Z]$/,
  CZ: /^CZ\d{8,10}$/,
  DE: /^DE\d{9}$/,
  DK: /^DK\d{8}$/,
  EE: /^EE\d{9}$/,
  EL: /^EL\d{9}$/,
  ES: /^ES[A-Z0-9]\d{7}[A-Z0-9]$/,
  FI: /^FI\d{8}$/,
  FR: /^FR[A-HJ-NP-Z0-9]{2}\d{9}$/,
  HR: /^HR\d{11}$/,
  HU: /^HU\d{8}$/,
  IE: /^IE\d[A-Z0-9+*]\d{5}[A-Z]{1,2}$/,
  IT: /^IT\d{11}$/,
  LT: /^LT(\d{9}|\d{12})$/,
  LU: /^LU\d{8}$/,
  LV: /^LV\d{11}$/,
  MT: /^MT\d{8}$/,
  NL: /^NL\d{9}B\d{2}$/,
  PL: /^PL\d{10}$/,
  PT: /^PT\d{9}$/,
  RO: /^RO\d{2,10}$/,
  SE: /^SE\d{12}$/,
  SI: /^SI\d{8}$/,
  SK: /^SK\d{10}$/,
  GB: /^GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})$/,
};
/** Greece's VAT prefix is EL, not its ISO code GR. */
const VAT_PREFIX: Record<string, string> = { GR: 'EL' };

/** A tax id as it is written on invoices: upper case, without spaces, dots or dashes. */
export function normalizeTaxId(taxId: string): string {
  return taxId.toUpperCase().replace(/[\s.-]/g, '');
}

export const BillingDetailsBody = z
  .strictObject({
    legalName: Text('the legal name of the company', 200),
    addressLine1: Text('the street and number', 200),
    addressLine2: OptionalText(200),
    postalCode: z.string().trim().min(1, { message: 'Enter the postal code' }).max(20).regex(/^[A-Za-z0-9][A-Za-z0-9 -]*$/, { message: 'Letters, digits, spaces and dashes only' }),
    city: Text('the city', 100),
    region: OptionalText(100),
    country: Country,
    taxId: z.string().trim().max(30, { message: 'At most 30 characters' }).optional().describe('VAT number (EU, UK) or other tax id; stored upper case without spaces, dots or dashes'),
    billingEmail: Email.describe('Where invoices are sent'),
  })
  // (no transform here: a schema that transforms loses its examples in the OpenAPI document;
  // the service stores normalizeTaxId(taxId), the form checked here)
  .superRefine((body, ctx) => {
    if (!body.taxId) return;
    const taxId = normalizeTaxId(body.taxId);
    const prefix = VAT_PREFIX[body.country] ?? body.country;
    const format = VAT_FORMATS[prefix];
    if (format && !format.test(taxId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['taxId'],
        message: `Not a VAT number of ${body.country}: it starts with ${prefix} followed by the number, e.g. ${prefix === 'DE' ? 'DE123456789' : `${prefix}…`}`,
        params: { code: 'invalid_tax_id' },
      });
    } else if (!format && !/^[A-Z0-9/]{2,30}$/.test(taxId)) {
      ctx.addIssue({ code: 'custom', path: ['taxId'], message: 'Letters and digits only', params: { code: 'invalid_tax_id' } });
    }
  })
  .meta({
    examples: [
      { legalName: 'Analytical Engines GmbH', addressLine1: 'Friedrichstraße 42', postalCode: '10117', city: 'Berlin', country: 'DE', taxId: 'DE123456789', billingEmail: 'billing@engines.example' },
    ],
  });
export type BillingDetailsBody = z.input<typeof BillingDetailsBody>;

export const BillingDetails = z
  .object({
    legalName: z.string(),
    addressLine1: z.string(),
    addressLine2: z.string().nullable(),
    postalCode: z.string(),
    city: z.string(),
    region: z.string().nullable(),
    country: z.string(),
    taxId: z.string().nullable(),
    billingEmail: z.string(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'BillingDetails' });
export type BillingDetails = z.infer<typeof BillingDetails>;

export const Invoice = z
  .object({
    id: Id,
    number: z.string().describe('Sequential within the account'),
    planId: z.string(),
    planName: z.string(),
    periodStart: z.iso.datetime(),
    periodEnd: z.iso.datetime(),
    total: Money,
    status: z.enum(['open', 'paid', 'void']),
    provider: z.string().describe('The payment provider adapter that handles it'),
    issuedAt: z.iso.datetime(),
  })
  .meta({ id: 'Invoice' });
export type Invoice = z.infer<typeof Invoice>;

export const InvoiceList = z.object({ items: z.array(Invoice) }).meta({ id: 'InvoiceList' });

/** What the account uses now against its plan's limits. */
export const CurrentUsage = z
  .object({ connectionsInUse: z.number().int(), members: z.number().int(), organizations: z.number().int() })
  .meta({ id: 'CurrentUsage' });
export type CurrentUsage = z.infer<typeof CurrentUsage>;

export const BillingOverview = z
  .object({
    plan: Plan,
    planSince: z.iso.datetime(),
    plans: z.array(Plan).describe('The catalog: every plan the account may change to'),
    usage: CurrentUsage,
    details: BillingDetails.nullable().describe('Null until an owner enters them'),
    provider: z.string().describe('The payment provider adapter in use'),
  })
  .meta({ id: 'BillingOverview' });
export type BillingOverview = z.infer<typeof BillingOverview>;

export const ChangePlanBody = z.strictObject({ planId: z.string().trim().min(1).max(40) }).meta({ examples: [{ planId: 'team' }] });
export type ChangePlanBody = z.input<typeof ChangePlanBody>;

/** One day of an account's usage (UTC), as the hourly roll-up left it. */
export const UsageDay = z
  .object({
    day: z.iso.date(),
    peakConnections: z.number().int().describe('Most connections open at one moment of the day'),
    connectionMinutes: z.number().int().describe('Connection time of the day, summed over connections'),
    members: z.number().int().describe('Team members at the last roll-up of the day'),
    organizations: z.number().int().describe('Organizations at the last roll-up of the day'),
  })
  .meta({ id: 'UsageDay' });
export type UsageDay = z.infer<typeof UsageDay>;

export const USAGE_MAX_DAYS = 366;

/** A range of whole days (UTC), both ends included; the last 30 days when absent. */
export const UsageQuery = z
  .strictObject({
    from: z.iso.date({ message: 'Enter a day as YYYY-MM-DD' }).optional().describe('First day (UTC), included; 29 days before `to` when absent'),
    to: z.iso.date({ message: 'Enter a day as YYYY-MM-DD' }).optional().describe('Last day (UTC), included; today when absent'),
  })
  .superRefine((query, ctx) => {
    if (!query.from || !query.to) return;
    const days = (Date.parse(query.to) - Date.parse(query.from)) / 86_400_000 + 1;
    if (days < 1) ctx.addIssue({ code: 'custom', path: ['to'], message: 'The last day must not come before the first', params: { code: 'range_reversed' } });
    else if (days > USAGE_MAX_DAYS) ctx.addIssue({ code: 'custom', path: ['to'], message: `At most ${USAGE_MAX_DAYS} days at a time`, params: { code: 'range_too_long' } });
  });
export type UsageQuery = z.input<typeof UsageQuery>;

export const UsageHistory = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    /** Days with a roll-up, in order; a day missing had none (the service was not running). */
    days: z.array(UsageDay),
  })
  .meta({ id: 'UsageHistory' });
export type UsageHistory = z.infer<typeof UsageHistory>;
