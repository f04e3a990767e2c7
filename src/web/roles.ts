import type { AccountMembership, Role, RoleGrant } from '../shared/contracts.ts';
import type { OrganizationGroup } from '../shared/organizations.ts';

/**
 * What a person's roles in one account mean for the portal: how to describe them, which sections
 * they see, and what they may change. The server decides (src/server/auth/access.ts); this only
 * keeps the portal from offering what it would refuse.
 */

export const ROLE_LABELS: Record<Role, string> = { owner: 'Owner', manager: 'Manager', viewer: 'Viewer' };

const RANK: Record<Role, number> = { viewer: 1, manager: 2, owner: 3 };

/** Roles as the portal holds them: a role on the whole account (or null) and roles on groups and organizations. */
export type Roles = Pick<AccountMembership, 'role' | 'grants'>;

export function atLeast(role: Role | null | undefined, minimum: Role): boolean {
  return role != null && RANK[role] >= RANK[minimum];
}

function stronger(a: Role | null, b: Role | null): Role | null {
  if (a === null) return b;
  if (b === null) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "Acme" for an organization, "the group EMEA customers" for a group. */
export function scopeName(grant: Pick<RoleGrant, 'scope' | 'scopeName'>): string {
  if (grant.scope === 'account') return 'the whole account';
  const name = grant.scopeName ?? `an unnamed ${grant.scope}`;
  return grant.scope === 'group' ? `the group ${name}` : name;
}

/** "Manager of Acme", "Viewer of the group EMEA customers", "Owner" (the whole account). */
export function grantLabel(grant: Pick<RoleGrant, 'role' | 'scope' | 'scopeName'>): string {
  if (grant.scope === 'account') return ROLE_LABELS[grant.role];
  return `${ROLE_LABELS[grant.role]} of ${scopeName(grant)}`;
}

/** The same in a sentence: "manager of Acme", "owner of the whole account". */
export function grantPhrase(grant: Pick<RoleGrant, 'role' | 'scope' | 'scopeName'>): string {
  return `${grant.role} of ${scopeName(grant)}`;
}

/** Scoped grants that say more than the account-wide role (a viewer of an organization adds nothing to an account manager). */
function addedGrants(roles: Roles): RoleGrant[] {
  return roles.grants.filter((g) => g.scope !== 'account' && !atLeast(roles.role, g.role));
}

/** One role's scoped grants in a few words: "Manager of Acme", "Viewer of 2 organizations", "Manager of 1 group and 2 organizations". */
function summarize(role: Role, grants: RoleGrant[]): string {
  if (grants.length === 1) return grantLabel(grants[0]!);
  const groups = grants.filter((g) => g.scope === 'group').length;
  const organizations = grants.length - groups;
  const parts = [groups > 0 ? plural(groups, 'group') : '', organizations > 0 ? plural(organizations, 'organization') : ''].filter(Boolean);
  return `${ROLE_LABELS[role]} of ${parts.join(' and ')}`;
}

/**
 * A membership for display: "Owner", "Manager", "Manager of Acme", "Viewer of 2 organizations",
 * "Viewer · Manager of Acme" (an account-wide viewer who manages one organization).
 */
export function describeRoles(roles: Roles): string {
  const parts: string[] = roles.role ? [ROLE_LABELS[roles.role]] : [];
  const extra = addedGrants(roles);
  for (const role of ['owner', 'manager', 'viewer'] as const) {
    const mine = extra.filter((g) => g.role === role);
    if (mine.length > 0) parts.push(summarize(role, mine));
  }
  return parts.length > 0 ? parts.join(' · ') : 'No role';
}

/** The same in a sentence: "an owner of this account", "a manager of Acme", "a viewer of this account and a manager of Acme". */
export function rolesPhrase(roles: Roles): string {
  const article = (word: string) => (/^[aeiou]/i.test(word) ? 'an' : 'a');
  const parts: string[] = roles.role ? [`${article(roles.role)} ${roles.role} of this account`] : [];
  const extra = addedGrants(roles);
  for (const role of ['owner', 'manager', 'viewer'] as const) {
    const mine = extra.filter((g) => g.role === role);
    if (mine.length > 0) {
      const text = summarize(role, mine);
      parts.push(`${article(role)} ${text.charAt(0).toLowerCase()}${text.slice(1)}`);
    }
  }
  return parts.length > 0 ? parts.join(' and ') : 'a user of this account without a role';
}

/** True when every role the person holds is on groups or organizations. */
export function isScopedOnly(roles: Roles): boolean {
  return roles.role === null;
}

/** Every section of an account, in navigation order; the portal's routes are made from this list. */
export const SECTION_PATHS = ['profile', 'team', 'users', 'organizations', 'devices', 'connections', 'access-keys', 'billing', 'audit-log'] as const;
export type SectionPath = (typeof SECTION_PATHS)[number];

/**
 * The sections a person sees in the navigation. Everyone sees the profile (read-only unless an
 * owner), organizations, devices and connections (the server lists only what they reach); team
 * accounts need a role on the whole account; users, invitations, access keys, billing and the
 * audit log are for owners.
 */
export function visibleSections(roles: Roles): SectionPath[] {
  const sections: SectionPath[] = ['profile'];
  if (roles.role !== null) sections.push('team');
  if (roles.role === 'owner') sections.push('users');
  sections.push('organizations', 'devices', 'connections');
  if (roles.role === 'owner') sections.push('access-keys', 'billing', 'audit-log');
  return sections;
}

/** What the person may change; each matches a rule of the server. */
export const can = {
  editProfile: (roles: Roles) => roles.role === 'owner',
  manageUsers: (roles: Roles) => roles.role === 'owner',
  manageAccessKeys: (roles: Roles) => roles.role === 'owner',
  readAuditLog: (roles: Roles) => roles.role === 'owner',
  manageBilling: (roles: Roles) => roles.role === 'owner',
  seeTeam: (roles: Roles) => roles.role !== null,
  manageTeam: (roles: Roles) => atLeast(roles.role, 'manager'),
  /** Creating and deleting organizations needs a manager of the whole account. */
  createOrganizations: (roles: Roles) => atLeast(roles.role, 'manager'),
  editGroups: (roles: Roles) => roles.role === 'owner',
};

/**
 * The person's role on one organization: the account-wide role, a role on the organization, or a
 * role on a group that holds it, whichever is strongest. `groups` are the groups the person sees
 * (the server lists those they hold a role on), for what each holds.
 */
export function roleOnOrganization(roles: Roles, organizationId: string, groups: readonly OrganizationGroup[] | undefined): Role | null {
  let role: Role | null = roles.role;
  for (const grant of roles.grants) {
    if (grant.scope === 'organization' && grant.scopeId === organizationId) role = stronger(role, grant.role);
    if (grant.scope === 'group') {
      const group = groups?.find((g) => g.id === grant.scopeId);
      if (group?.organizationIds.includes(organizationId)) role = stronger(role, grant.role);
    }
  }
  return role;
}
