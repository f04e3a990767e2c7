import type { Plan } from '../../../shared/team.ts';

/**
 * The plan catalog. Every account starts on the default plan; changing plans (and a configurable
 * catalog) belongs to billing.
 */
export const PLANS: Record<string, Plan> = {
  starter: { id: 'starter', name: 'Starter', connectionAllowance: 10, memberLimit: 25, organizationLimit: 20 },
};

export const DEFAULT_PLAN_ID = 'starter';

export function planOf(planId: string): Plan {
  // an id no longer in the catalog falls back to the default rather than failing every request
  return PLANS[planId] ?? PLANS[DEFAULT_PLAN_ID]!;
}
