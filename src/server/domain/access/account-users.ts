import type { AccountUser, AddUserBody, SetUserRolesBody } from '../../../shared/users.ts';
import type { Database, Tx } from '../../db/database.ts';
import { byScopeName, toRoleGrant } from '../../auth/access.ts';
import { hashPassword, passwordPolicyErrors } from '../../auth/passwords.ts';
import { AppError, fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { insertUser } from '../users/users.ts';
import { assertOwnerRemains, assertScopeExists, describeScope, grantRole } from './grants.ts';

/**
 * Every portal user of the account with their roles, in one statement: each user's grants come
 * aggregated with them (grouped once over the account's grants, not looked up per user).
 */
export async function listAccountUsers(tx: Tx, accountId: string, userId?: string): Promise<AccountUser[]> {
  let grants = tx
    .selectFrom('role_grants as g')
    .leftJoin('organization_groups as gr', (join) => join.onRef('gr.account_id', '=', 'g.account_id').onRef('gr.id', '=', 'g.group_id'))
    .leftJoin('organizations as o', (join) => join.onRef('o.account_id', '=', 'g.account_id').onRef('o.id', '=', 'g.organization_id'))
    .select(['g.user_id', 'g.role', 'g.group_id', 'g.organization_id', 'gr.name as group_name', 'o.name as organization_name'])
    .where('g.account_id', '=', accountId);
  if (userId) grants = grants.where('g.user_id', '=', userId);
  let users = tx
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin(
      (eb) => eb.selectFrom(grants.as('grant_row')).select((eb) => ['grant_row.user_id', eb.fn.jsonAgg('grant_row').as('grants')]).groupBy('grant_row.user_id').as('ug'),
      (join) => join.onRef('ug.user_id', '=', 'm.user_id'),
    )
    .select(['u.id', 'u.name', 'u.email', 'm.role', 'm.created_at', 'ug.grants'])
    .where('m.account_id', '=', accountId);
  if (userId) users = users.where('m.user_id', '=', userId);
  const rows = await users.orderBy('u.name').orderBy('u.id').execute();
  return rows.map((u) => ({
    user: { id: u.id, name: u.name, email: u.email },
    role: u.role,
    grants: (u.grants ?? []).map(toRoleGrant).sort(byScopeName),
    joinedAt: u.created_at.toISOString(),
  }));
}

async function findAccountUser(tx: Tx, accountId: string, userId: string): Promise<AccountUser> {
  const [found] = await listAccountUsers(tx, accountId, userId);
  if (!found) throw notFound('The user');
  return found;
}

/** "Add user": a new person with a password, who can sign in at once, holding one role. */
export async function addAccountUser(database: Database, context: ChangeContext, accountId: string, body: AddUserBody): Promise<AccountUser> {
  const errors = passwordPolicyErrors(body.password, body);
  if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
  const passwordHash = await hashPassword(body.password);
  return database
    .inTenant(accountId, async (tx) => {
      await assertScopeExists(tx, accountId, body);
      const user = await insertUser(tx, { name: body.name, email: body.email, passwordHash }, context.now);
      await grantRole(tx, accountId, user.id, body, context.now);
      const added = await findAccountUser(tx, accountId, user.id);
      await recordAccountChange(tx, context, {
        accountId,
        action: 'user.added',
        target: { type: 'user', id: user.id },
        after: { ...added, grant: await describeScope(tx, accountId, body) },
      });
      return added;
    })
    .catch(uniqueClash('email', 'already_registered', 'This email already signs in to Tessera; invite them instead', 'This email already signs in to Tessera: invite them, and they join when they accept.'));
}

/** Replaces a user's roles in the account. Refused (409) when it would leave no owner. */
export async function setAccountUserRoles(database: Database, context: ChangeContext, accountId: string, userId: string, body: SetUserRolesBody): Promise<AccountUser> {
  return database.inTenant(accountId, async (tx) => {
    const before = await findAccountUser(tx, accountId, userId);
    const grants = body.grants ?? [];
    for (const [i, grant] of grants.entries()) await assertScopeExists(tx, accountId, grant, `grants.${i}.`);
    if (before.role === 'owner' && body.role !== 'owner') await assertOwnerRemains(tx, accountId, userId);
    await tx.updateTable('memberships').set({ role: body.role }).where('account_id', '=', accountId).where('user_id', '=', userId).execute();
    await tx.deleteFrom('role_grants').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
    // the same scope twice keeps the stronger role
    for (const grant of grants) await grantRole(tx, accountId, userId, grant, context.now);
    const after = await findAccountUser(tx, accountId, userId);
    await recordAccountChange(tx, context, { accountId, action: 'user.roles_changed', target: { type: 'user', id: userId }, before, after });
    return after;
  });
}

/** Takes a person out of the account (never its last owner). Their own sign-in stays. */
/** Takes a user out of the account; answers the user as they were. */
export async function removeAccountUser(database: Database, context: ChangeContext, accountId: string, userId: string): Promise<AccountUser> {
  return database.inTenant(accountId, async (tx) => {
    const before = await findAccountUser(tx, accountId, userId);
    if (before.role === 'owner') await assertOwnerRemains(tx, accountId, userId);
    await tx.deleteFrom('selected_organizations').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
    // role grants go with the membership (foreign key cascade)
    await tx.deleteFrom('memberships').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
    await recordAccountChange(tx, context, { accountId, action: 'user.removed', target: { type: 'user', id: userId }, before });
    return before;
  });
}

/** The caller hands ownership to another user of the account and stays as an account-wide manager. */
export async function transferOwnership(database: Database, context: ChangeContext, accountId: string, fromUserId: string, toUserId: string): Promise<AccountUser> {
  if (fromUserId === toUserId) throw fieldError('userId', 'same_user', 'Choose another user of the account');
  return database.inTenant(accountId, async (tx) => {
    const target = await listAccountUsers(tx, accountId, toUserId);
    if (target.length === 0) throw fieldError('userId', 'not_found', 'No such user in this account');
    await tx.updateTable('memberships').set({ role: 'owner' }).where('account_id', '=', accountId).where('user_id', '=', toUserId).execute();
    await tx.updateTable('memberships').set({ role: 'manager' }).where('account_id', '=', accountId).where('user_id', '=', fromUserId).execute();
    const after = await findAccountUser(tx, accountId, toUserId);
    await recordAccountChange(tx, context, {
      accountId,
      action: 'account.ownership_transferred',
      target: { type: 'user', id: toUserId },
      before: { owner: fromUserId, role: target[0]!.role },
      after: { owner: toUserId, previousOwnerRole: 'manager' },
    });
    return after;
  });
}
