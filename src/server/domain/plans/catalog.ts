import fs from 'node:fs';
import { PlanCatalogFile, type Plan } from '../../../shared/billing.ts';
import { ConfigError } from '../../config.ts';

/**
 * The plans an operator offers: built in, or read once at start from a JSON file
 * (TESSERA_PLANS_FILE, same shape as BUILT_IN_CATALOG). Every account holds a plan id; an id
 * that is no longer in the catalog counts as the default plan rather than failing requests.
 */
export class PlanCatalog {
  readonly plans: readonly Plan[];
  readonly defaultId: string;
  readonly #byId: ReadonlyMap<string, Plan>;

  constructor(file: PlanCatalogFile) {
    const parsed = PlanCatalogFile.parse(file);
    this.plans = parsed.plans;
    this.defaultId = parsed.defaultPlan;
    this.#byId = new Map(parsed.plans.map((plan) => [plan.id, plan]));
  }

  of(planId: string): Plan {
    return this.#byId.get(planId) ?? this.#byId.get(this.defaultId)!;
  }

  has(planId: string): boolean {
    return this.#byId.has(planId);
  }
}

export const BUILT_IN_CATALOG: PlanCatalogFile = {
  defaultPlan: 'starter',
  plans: [
    {
      id: 'starter',
      name: 'Starter',
      description: 'For a small team getting started',
      connectionAllowance: 10,
      memberLimit: 25,
      organizationLimit: 20,
      price: { amount: 4900, currency: 'EUR', interval: 'month' },
    },
    {
      id: 'team',
      name: 'Team',
      description: 'For a growing service desk',
      connectionAllowance: 50,
      memberLimit: 100,
      organizationLimit: 100,
      price: { amount: 19900, currency: 'EUR', interval: 'month' },
    },
    {
      id: 'business',
      name: 'Business',
      description: 'For many teams and customers',
      connectionAllowance: 250,
      memberLimit: 500,
      organizationLimit: 1000,
      price: { amount: 79900, currency: 'EUR', interval: 'month' },
    },
  ],
};

/** The catalog of a config: the file's, or the built-in one. A bad file stops the start with a message naming the field. */
export function loadPlanCatalog(plansFile: string | undefined): PlanCatalog {
  if (!plansFile) return new PlanCatalog(BUILT_IN_CATALOG);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(plansFile, 'utf8'));
  } catch (error) {
    throw new ConfigError(`TESSERA_PLANS_FILE ${plansFile} could not be read as JSON: ${(error as Error).message}`);
  }
  const result = PlanCatalogFile.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new ConfigError(`TESSERA_PLANS_FILE ${plansFile} is not a plan catalog:\n${lines.join('\n')}`);
  }
  return new PlanCatalog(json as PlanCatalogFile);
}

/** The built-in catalog: what a server without TESSERA_PLANS_FILE offers (tests and benchmarks size their data by it). */
export const DEFAULT_CATALOG = new PlanCatalog(BUILT_IN_CATALOG);
export const DEFAULT_PLAN_ID = DEFAULT_CATALOG.defaultId;
export const PLANS: Readonly<Record<string, Plan>> = Object.fromEntries(DEFAULT_CATALOG.plans.map((plan) => [plan.id, plan]));
export const planOf = (planId: string): Plan => DEFAULT_CATALOG.of(planId);
