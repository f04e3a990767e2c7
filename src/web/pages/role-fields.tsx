import { Group, Select, type SelectProps } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import type { Organization, OrganizationGroup } from '../../client/sdk.ts';
import type { Role, RoleGrant } from '../../shared/contracts.ts';
import type { FormErrors } from '../forms.tsx';
import { api, groupsKey } from '../api.ts';
import { ROLE_LABELS } from '../roles.ts';
import { useAllOrganizations } from './organization-parts.tsx';

/**
 * The inputs that give a role at a scope, shared by Add user, Invite user and Change roles. A
 * scope is one value: `account`, `group:<id>` or `organization:<id>`.
 */

export type ScopeValue = 'account' | `group:${string}` | `organization:${string}`;

const ROLE_HINTS: Record<Role, string> = {
  owner: 'Everything, including users, billing and access keys',
  manager: 'Manages the organizations of the scope and what is in them',
  viewer: 'Reads the organizations of the scope',
};

export function scopeOf(grant: Pick<RoleGrant, 'scope' | 'scopeId'>): ScopeValue {
  if (grant.scope === 'account' || !grant.scopeId) return 'account';
  return `${grant.scope}:${grant.scopeId}`;
}

/** The body fields of a scope: nothing for the whole account, else `groupId` or `organizationId`. */
export function scopeFields(scope: ScopeValue): { groupId?: string; organizationId?: string } {
  if (scope.startsWith('group:')) return { groupId: scope.slice('group:'.length) };
  if (scope.startsWith('organization:')) return { organizationId: scope.slice('organization:'.length) };
  return {};
}

export function RoleSelect({ value, onChange, roles = ['owner', 'manager', 'viewer'], ...props }: { value: Role; onChange: (role: Role) => void; roles?: readonly Role[] } & Omit<SelectProps, 'data' | 'value' | 'onChange'>) {
  return (
    <Select
      label="Role"
      allowDeselect={false}
      comboboxProps={{ withinPortal: true }}
      {...props}
      description={props.description ?? ROLE_HINTS[value]}
      data={roles.map((r) => ({ value: r, label: ROLE_LABELS[r] }))}
      value={value}
      onChange={(v) => v && onChange(v as Role)}
    />
  );
}

/** Where the role applies: the whole account, a group, or one organization (searchable). */
export function ScopeSelect({
  value,
  onChange,
  groups,
  organizations,
  withAccount = true,
  ...props
}: {
  value: ScopeValue | null;
  onChange: (scope: ScopeValue) => void;
  groups: readonly OrganizationGroup[];
  organizations: readonly Organization[];
  /** False where only groups and organizations may be chosen. */
  withAccount?: boolean;
} & Omit<SelectProps, 'data' | 'value' | 'onChange'>) {
  const data = useMemo(
    () =>
      [
        withAccount ? { group: 'Account', items: [{ value: 'account', label: 'The whole account' }] } : null,
        groups.length > 0 ? { group: 'Groups of organizations', items: groups.map((g) => ({ value: `group:${g.id}`, label: `${g.name} (group)` })) } : null,
        organizations.length > 0 ? { group: 'Organizations', items: organizations.map((o) => ({ value: `organization:${o.id}`, label: o.name })) } : null,
      ].filter((g) => g !== null),
    [groups, organizations, withAccount],
  );
  return (
    <Select
      label="Scope"
      searchable
      allowDeselect={false}
      nothingFoundMessage="No group or organization matches"
      maxDropdownHeight={280}
      comboboxProps={{ withinPortal: true }}
      {...props}
      data={data}
      value={value}
      onChange={(v) => v && onChange(v as ScopeValue)}
    />
  );
}

type ScopeField = 'role' | 'groupId' | 'organizationId';

/** A role at one scope, as forms hold it. */
export interface Assignment {
  role: Role;
  scope: ScopeValue;
}

/** The body fields of an assignment: `role`, and `groupId` or `organizationId` unless the whole account. */
export function assignmentFields(assignment: Assignment): { role: Role; groupId?: string; organizationId?: string } {
  return { role: assignment.role, ...scopeFields(assignment.scope) };
}

/** Groups and organizations for the scope pickers; only asked for while a form needs them. */
export function useScopes(accountId: string) {
  const groups = useQuery({ queryKey: groupsKey(accountId), queryFn: () => api.listGroups(accountId) });
  const organizations = useAllOrganizations(accountId);
  return { groups: groups.data ?? [], organizations: organizations.data ?? [] };
}

/**
 * A role and where it applies, side by side, as Add user, Invite user and New access key ask for
 * them: choosing owner sets the whole account (owners hold nothing less), and the API's errors on
 * `groupId` or `organizationId` show under the scope.
 */
export function RoleAndScope<F extends string>({
  accountId,
  value,
  onChange,
  errors,
}: {
  accountId: string;
  value: Assignment;
  onChange: (value: Assignment) => void;
  errors: FormErrors<F | ScopeField>;
}) {
  const { groups, organizations } = useScopes(accountId);
  const { role, scope } = value;
  const scopeError = errors.field('organizationId').error ? errors.field('organizationId') : errors.field('groupId');
  return (
    <Group grow align="flex-start">
      <RoleSelect
        value={role}
        onChange={(next) => {
          onChange({ role: next, scope: next === 'owner' ? 'account' : scope });
          errors.clearField('role');
        }}
        {...errors.field('role')}
      />
      <ScopeSelect
        value={scope}
        disabled={role === 'owner'}
        description={role === 'owner' ? 'Owners hold the whole account' : 'The whole account, a group, or one organization'}
        groups={groups}
        organizations={organizations}
        onChange={(next) => {
          onChange({ role, scope: next });
          errors.clearField('groupId');
          errors.clearField('organizationId');
        }}
        {...scopeError}
      />
    </Group>
  );
}
