import { uuidv7 } from 'uuidv7';
import type { Role, RoleGrant } from '../../../shared/contracts.ts';
import type { Tx } from '../../db/database.ts';
import type { ScopedRole } from '../../db/schema.ts';
import { strongest } from '../../auth/access.ts';
import { conflict, fieldError } from '../../http/errors.ts';

/** A role at one scope, as bodies give it: no group and no organization means the whole account. */
export interface ScopeInput {
  role: Role;
  groupId?: string | undefined;
  organizationId?: string | undefined;
}

/** Checks that the group or organization of a role exists in the account; an unknown one is a field error. */
export async function assertScopeExists(tx: Tx, accountId: string, input: ScopeInput, path = ''): Promise<void> {
  if (input.groupId) {
    const found = await tx.selectFrom('organization_groups').select('id').where('account_id', '=', accountId).where('id', '=', input.groupId).executeTakeFirst();
    if (!found) throw fieldError(`${path}groupId`, 'not_found', 'No such group in this account');
  }
  if (input.organizationId) {
    const found = await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', '=', input.organizationId).executeTakeFirst();
    if (!found) throw fieldError(`${path}organizationId`, 'not_found', 'No such organization in this account');
  }
}

/** The grant as the API shows it, with the group's or organization's name. */
export async function describeScope(tx: Tx, accountId: string, input: ScopeInput): Promise<RoleGrant> {
  if (input.groupId) {
    const row = await tx.selectFrom('organization_groups').select('name').where('account_id', '=', accountId).where('id', '=', input.groupId).executeTakeFirst();
    return { role: input.role, scope: 'group', scopeId: input.groupId, scopeName: row?.name ?? null };
  }
  if (input.organizationId) {
    const row = await tx.selectFrom('organizations').select('name').where('account_id', '=', accountId).where('id', '=', input.organizationId).executeTakeFirst();
    return { role: input.role, scope: 'organization', scopeId: input.organizationId, scopeName: row?.name ?? null };
  }
  return { role: input.role, scope: 'account', scopeId: null, scopeName: null };
}

/**
 * Gives a person a role at one scope, keeping whatever stronger role they already hold there.
 * Makes them a user of the account first when they are not one yet.
 */
export async function grantRole(tx: Tx, accountId: string, userId: string, input: ScopeInput, now: Date): Promise<void> {
  const accountRole = input.groupId || input.organizationId ? null : input.role;
  const membership = await tx
    .selectFrom('memberships')
    .select('role')
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!membership) {
    await tx.insertInto('memberships').values({ account_id: accountId, user_id: userId, role: accountRole, created_at: now }).execute();
  } else if (accountRole && strongest(membership.role, accountRole) !== membership.role) {
    await tx.updateTable('memberships').set({ role: accountRole }).where('account_id', '=', accountId).where('user_id', '=', userId).execute();
  }
  if (accountRole) return;
  const role = input.role as ScopedRole;
  const column = input.groupId ? 'group_id' : 'organization_id';
  const scopeId = (input.groupId ?? input.organizationId)!;
  const existing = await tx
    .selectFrom('role_grants')
    .select(['id', 'role'])
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where(column, '=', scopeId)
    .executeTakeFirst();
  if (!existing) {
    await tx
      .insertInto('role_grants')
      .values({ account_id: accountId, id: uuidv7(), user_id: userId, role, group_id: input.groupId ?? null, organization_id: input.organizationId ?? null, created_at: now })
      .execute();
  } else if (strongest(existing.role, role) !== existing.role) {
    await tx.updateTable('role_grants').set({ role }).where('account_id', '=', accountId).where('id', '=', existing.id).execute();
  }
}

/**
 * Refuses a change that would leave the account without an owner. Locks the owners' rows, so two
 * owners demoting each other at the same moment cannot both succeed.
 */
export async function assertOwnerRemains(tx: Tx, accountId: string, losingOwner: string): Promise<void> {
  const owners = await tx
    .selectFrom('memberships')
    .select('user_id')
    .where('account_id', '=', accountId)
    .where('role', '=', 'owner')
    .forUpdate()
    .execute();
  if (owners.length === 1 && owners[0]!.user_id === losingOwner) {
    throw conflict('An account keeps at least one owner: make someone else an owner first, or transfer ownership.');
  }
}
