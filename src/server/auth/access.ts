import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountMembership, Role, RoleGrant } from '../../shared/contracts.ts';
import type { Database } from '../db/database.ts';
import type { ScopedRole } from '../db/schema.ts';
import { fieldError, forbidden, notFound, unauthenticated } from '../http/errors.ts';
import type { KeyPrincipal } from './access-keys.ts';
import type { PortalPrincipal } from './sessions.ts';

/**
 * Authorization, decided here and nowhere else. Every /api/v1 route declares an access rule in
 * its config; the app refuses to start with a route that lacks one, and one preHandler enforces
 * it before the handler runs. docs/permissions.md is the matrix these rules produce.
 *
 * A person holds a role on the whole account (memberships.role) and any number of roles on groups
 * of organizations and on single organizations (role_grants); the strongest that covers a
 * resource wins. What the caller cannot reach answers 404, like what does not exist; what it
 * reaches with too weak a role answers 403.
 */

export type AccessRule =
  /** No principal needed (sign-in, health, invitation links). */
  | { scope: 'public' }
  /**
   * Any signed-in person. `duringEnrolment`: also answers a person whose account requires a
   * second factor they have not set up yet (every other route refuses them until they do).
   */
  | { scope: 'signedIn'; duringEnrolment?: true }
  /**
   * A role on the whole account of :accountId; 'anyRole' admits anyone holding a role anywhere in
   * it. `people` refuses access keys: what a key may never do (manage keys, transfer ownership)
   * or what belongs to a person (the organization they work in).
   */
  | { scope: 'account'; role: Role | 'anyRole'; people?: true }
  /**
   * A role covering one organization: the :organizationId of the path, the organization of the
   * :deviceId, or that of the device of the :leaseId.
   */
  | { scope: 'organization'; role: Role; of: 'organization' | 'device' | 'connection' };

/** What one person may reach in one account. */
export interface AccountAccess {
  accountId: string;
  /** The role on the whole account, or null. */
  accountRole: Role | null;
  /** The strongest scoped role on each organization, groups expanded to their organizations. */
  organizations: ReadonlyMap<string, ScopedRole>;
  /** The scoped role on each group. */
  groups: ReadonlyMap<string, ScopedRole>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessRule;
  }
  interface FastifyRequest {
    /** The caller's reach in the account of the path, set by the authorization hook. */
    access: AccountAccess | null;
    /** The access key the request authenticated with (Authorization: Bearer tsr_ak_…), if any. */
    accessKey: KeyPrincipal | null;
  }
}

const RANK: Record<Role, number> = { viewer: 1, manager: 2, owner: 3 };

export function atLeast(role: Role | null | undefined, minimum: Role): boolean {
  return role != null && RANK[role] >= RANK[minimum];
}

export function strongest<R extends Role>(a: R | null | undefined, b: R | null | undefined): R | null {
  if (a == null) return b ?? null;
  if (b == null) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

/** The caller's role on an organization: the account role or a group/organization grant, whichever is stronger. */
export function roleOn(access: AccountAccess, organizationId: string): Role | null {
  return strongest<Role>(access.accountRole, access.organizations.get(organizationId));
}

/** The organizations the caller reaches with at least `minimum`, or 'all' for an account-wide role. */
export function reachableOrganizations(access: AccountAccess, minimum: Role = 'viewer'): 'all' | string[] {
  if (atLeast(access.accountRole, minimum)) return 'all';
  return [...access.organizations].filter(([, role]) => atLeast(role, minimum)).map(([id]) => id);
}

/** The groups the caller sees: all with an account-wide role, else those it holds a role on. */
export function visibleGroups(access: AccountAccess): 'all' | string[] {
  return access.accountRole ? 'all' : [...access.groups.keys()];
}

export function requireUser(request: FastifyRequest): PortalPrincipal {
  if (!request.principal) throw unauthenticated();
  return request.principal;
}

/** The access the hook resolved for this request; only routes with an account or organization rule have one. */
export function accessOf(request: FastifyRequest): AccountAccess {
  if (!request.access) throw new Error(`route ${request.routeOptions.url} has no account access rule`);
  return request.access;
}

function accountAccess(principal: PortalPrincipal | KeyPrincipal, accountId: string): AccountAccess {
  const access = principal.access.get(accountId);
  if (!access) throw notFound('The account');
  return access;
}

/**
 * Enforces `minimum` on one organization for this caller: 404 when it is out of reach (or, for an
 * organization named in a body `field`, the same field error as an unknown id), 403 when the role
 * is too weak.
 */
export function requireOrganizationRole(access: AccountAccess, organizationId: string, minimum: Role, field?: string): void {
  if (atLeast(access.accountRole, minimum)) return;
  const role = roleOn(access, organizationId);
  if (!role) throw field ? fieldError(field, 'not_found', 'No such organization in this account') : notFound('The organization');
  if (!atLeast(role, minimum)) throw forbidden(`This needs the ${minimum} role on the organization; you are ${role}.`);
}

function requireAccountRole(access: AccountAccess, minimum: Role | 'anyRole'): void {
  if (minimum === 'anyRole' || atLeast(access.accountRole, minimum)) return;
  const held = access.accountRole ? `you are ${access.accountRole}` : 'your roles are on groups or organizations only';
  throw forbidden(`This needs the ${minimum} role on the whole account; ${held}.`);
}

/** The organization a request acts on, read from its path or from the device or connection it names. */
async function organizationOf(database: Database, request: FastifyRequest, of: 'organization' | 'device' | 'connection'): Promise<string> {
  const params = request.params as { accountId: string; organizationId?: string; deviceId?: string; leaseId?: string };
  if (of === 'organization') return params.organizationId!;
  const found = await database.inTenant(params.accountId, (tx) => {
    if (of === 'device') {
      return tx.selectFrom('devices').select('organization_id').where('account_id', '=', params.accountId).where('id', '=', params.deviceId!).executeTakeFirst();
    }
    return tx
      .selectFrom('connection_leases as l')
      .innerJoin('devices as d', (join) => join.onRef('d.account_id', '=', 'l.account_id').onRef('d.id', '=', 'l.device_id'))
      .select('d.organization_id')
      .where('l.account_id', '=', params.accountId)
      .where('l.id', '=', params.leaseId!)
      .executeTakeFirst();
  });
  if (!found) throw notFound(of === 'device' ? 'The device' : 'The connection');
  return found.organization_id;
}

const KEYS_REFUSED = 'Access keys cannot do this: it needs a person signed in to the portal.';
const ENROLMENT_FIRST = 'An account you belong to requires two-factor sign-in. Set it up first (Profile, Security).';

/** Checks a request against its route's rule; sets request.access for account and organization rules. */
async function authorize(database: Database, request: FastifyRequest, rule: AccessRule): Promise<void> {
  if (rule.scope === 'public') return;
  const key = request.accessKey;
  if (key && (rule.scope === 'signedIn' || (rule.scope === 'account' && rule.people))) throw forbidden(KEYS_REFUSED);
  const principal = key ?? requireUser(request);
  // enforced here, for every route, so no page or client can skip the enrolment the account requires
  if (!key && request.principal?.twoFactor.enrolmentPending && !(rule.scope === 'signedIn' && rule.duringEnrolment)) throw forbidden(ENROLMENT_FIRST);
  if (rule.scope === 'signedIn') return;
  const access = accountAccess(principal, (request.params as { accountId: string }).accountId);
  request.access = access;
  if (rule.scope === 'account') return requireAccountRole(access, rule.role);
  // an account-wide role covers every organization: no lookup needed
  if (atLeast(access.accountRole, rule.role)) return;
  requireOrganizationRole(access, await organizationOf(database, request, rule.of), rule.role);
}

/** Every /api/v1 route must declare its rule; the preHandler enforces it. */
export function registerAuthorization(app: FastifyInstance, database: Database, prefix: string): void {
  app.decorateRequest('access', null);
  app.decorateRequest('accessKey', null);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(prefix)) return;
    if (!route.config?.access) throw new Error(`${route.method} ${route.url} declares no access rule (config.access)`);
  });
  app.addHook('preHandler', async (request) => {
    const rule = request.routeOptions.config.access;
    if (rule) await authorize(database, request, rule);
  });
}

interface GrantRow {
  account_id: string;
  role: ScopedRole;
  group_id: string | null;
  organization_id: string | null;
  group_name: string | null;
  organization_name: string | null;
}

/**
 * A person's accounts (for the account switcher) and what they reach in each, and whether any of
 * those accounts requires a second factor.
 */
export async function loadAccess(
  db: Database['db'],
  userId: string,
): Promise<{ accounts: AccountMembership[]; access: Map<string, AccountAccess>; twoFactorRequired: boolean }> {
  const memberships = await db
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.account_id', 'm.account_id')
    .select(['a.account_id', 'a.company_name', 'a.country', 'a.require_two_factor', 'm.role'])
    .where('m.user_id', '=', userId)
    .orderBy('a.company_name')
    .orderBy('a.account_id')
    .execute();
  const grants: GrantRow[] = await db
    .selectFrom('role_grants as g')
    .leftJoin('organization_groups as gr', (join) => join.onRef('gr.account_id', '=', 'g.account_id').onRef('gr.id', '=', 'g.group_id'))
    .leftJoin('organizations as o', (join) => join.onRef('o.account_id', '=', 'g.account_id').onRef('o.id', '=', 'g.organization_id'))
    .select(['g.account_id', 'g.role', 'g.group_id', 'g.organization_id', 'gr.name as group_name', 'o.name as organization_name'])
    .where('g.user_id', '=', userId)
    .execute();
  const groupIds = grants.flatMap((g) => (g.group_id ? [g.group_id] : []));
  const groupOrganizations = groupIds.length === 0
    ? []
    : await db
        .selectFrom('organization_group_members')
        .select(['account_id', 'group_id', 'organization_id'])
        .where('group_id', 'in', groupIds)
        .where('account_id', 'in', [...new Set(grants.map((g) => g.account_id))])
        .execute();

  const access = new Map<string, AccountAccess>();
  const accounts = memberships.map((m): AccountMembership => {
    const own = grants.filter((g) => g.account_id === m.account_id);
    const organizations = new Map<string, ScopedRole>();
    const groups = new Map<string, ScopedRole>();
    const raise = (map: Map<string, ScopedRole>, id: string, role: ScopedRole) => map.set(id, strongest(map.get(id), role)!);
    for (const grant of own) {
      if (grant.organization_id) raise(organizations, grant.organization_id, grant.role);
      if (grant.group_id) {
        raise(groups, grant.group_id, grant.role);
        for (const member of groupOrganizations) {
          if (member.account_id === m.account_id && member.group_id === grant.group_id) raise(organizations, member.organization_id, grant.role);
        }
      }
    }
    access.set(m.account_id, { accountId: m.account_id, accountRole: m.role, organizations, groups });
    return { id: m.account_id, companyName: m.company_name, country: m.country, role: m.role, grants: own.map(toRoleGrant).sort(byScopeName) };
  });
  return { accounts, access, twoFactorRequired: memberships.some((m) => m.require_two_factor) };
}

export function toRoleGrant(row: Omit<GrantRow, 'account_id'>): RoleGrant {
  return row.group_id
    ? { role: row.role, scope: 'group', scopeId: row.group_id, scopeName: row.group_name }
    : { role: row.role, scope: 'organization', scopeId: row.organization_id, scopeName: row.organization_name };
}

export function byScopeName(a: RoleGrant, b: RoleGrant): number {
  return a.scope.localeCompare(b.scope) || (a.scopeName ?? '').localeCompare(b.scopeName ?? '');
}
