import { sql, type Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { CreateGroupBody, OrganizationGroup, UpdateGroupBody } from '../../../shared/organizations.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { OrganizationGroupsTable } from '../../db/schema.ts';
import { fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';

/**
 * Groups of organizations. An organization may be in several groups; a group is also the scope
 * a role can be granted on (users and roles).
 */
type GroupRow = Selectable<OrganizationGroupsTable> & { organization_ids: string[] | null };

function toGroup(row: GroupRow): OrganizationGroup {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    organizationIds: row.organization_ids ?? [],
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function groupsQuery(tx: Tx, accountId: string) {
  return tx
    .selectFrom('organization_groups as g')
    .selectAll('g')
    .select((eb) =>
      eb
        .selectFrom('organization_group_members as m')
        .select(sql<string[]>`array_agg(m.organization_id order by m.organization_id)`.as('ids'))
        .whereRef('m.account_id', '=', 'g.account_id')
        .whereRef('m.group_id', '=', 'g.id')
        .as('organization_ids'),
    )
    .where('g.account_id', '=', accountId);
}

async function findGroup(tx: Tx, accountId: string, groupId: string): Promise<OrganizationGroup> {
  const row = await groupsQuery(tx, accountId).where('g.id', '=', groupId).executeTakeFirst();
  if (!row) throw notFound('The group');
  return toGroup(row as GroupRow);
}

const nameTaken = uniqueClash('name', 'already_used', 'Another group has this name', 'Another group of this account has this name.');

async function assertOrganizationsExist(tx: Tx, accountId: string, ids: string[], field: string): Promise<void> {
  if (ids.length === 0) return;
  const found = await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', 'in', ids).execute();
  const known = new Set(found.map((r) => r.id));
  const missing = ids.findIndex((id) => !known.has(id));
  if (missing >= 0) throw fieldError(`${field}.${missing}`, 'not_found', 'No such organization in this account');
}

/** `visible` limits the list to the groups the caller holds a role on ('all' with an account-wide role). */
export async function listGroups(database: Database, accountId: string, visible: 'all' | string[]): Promise<OrganizationGroup[]> {
  if (visible !== 'all' && visible.length === 0) return [];
  return database.inTenant(accountId, async (tx) => {
    let select = groupsQuery(tx, accountId);
    if (visible !== 'all') select = select.where('g.id', 'in', visible);
    const rows = await select.orderBy('g.name_key').orderBy('g.id').execute();
    return (rows as GroupRow[]).map(toGroup);
  });
}

export async function createGroup(database: Database, context: ChangeContext, accountId: string, body: CreateGroupBody): Promise<OrganizationGroup> {
  return database
    .inTenant(accountId, async (tx) => {
      const organizationIds = [...new Set(body.organizationIds ?? [])];
      await assertOrganizationsExist(tx, accountId, organizationIds, 'organizationIds');
      const id = uuidv7();
      await tx
        .insertInto('organization_groups')
        .values({ account_id: accountId, id, name: body.name, description: body.description ?? '', created_at: context.now, updated_at: context.now })
        .execute();
      if (organizationIds.length > 0) {
        await tx
          .insertInto('organization_group_members')
          .values(organizationIds.map((organizationId) => ({ account_id: accountId, group_id: id, organization_id: organizationId, added_at: context.now })))
          .execute();
      }
      const group = await findGroup(tx, accountId, id);
      await recordAccountChange(tx, context, { accountId, action: 'group.created', target: { type: 'group', id }, after: group });
      return group;
    })
    .catch(nameTaken);
}

export async function updateGroup(database: Database, context: ChangeContext, accountId: string, groupId: string, patch: UpdateGroupBody): Promise<OrganizationGroup> {
  return database
    .inTenant(accountId, async (tx) => {
      const before = await findGroup(tx, accountId, groupId);
      await tx.updateTable('organization_groups').set({ ...patch, updated_at: context.now }).where('account_id', '=', accountId).where('id', '=', groupId).execute();
      const after = await findGroup(tx, accountId, groupId);
      await recordAccountChange(tx, context, { accountId, action: 'group.updated', target: { type: 'group', id: groupId }, before, after });
      return after;
    })
    .catch(nameTaken);
}

export async function deleteGroup(database: Database, context: ChangeContext, accountId: string, groupId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const before = await findGroup(tx, accountId, groupId);
    await tx.deleteFrom('organization_groups').where('account_id', '=', accountId).where('id', '=', groupId).execute();
    await recordAccountChange(tx, context, { accountId, action: 'group.deleted', target: { type: 'group', id: groupId }, before });
  });
}

/** Puts an organization in a group (no change if it is already there). */
export async function addToGroup(database: Database, context: ChangeContext, accountId: string, groupId: string, organizationId: string): Promise<OrganizationGroup> {
  return database.inTenant(accountId, async (tx) => {
    await findGroup(tx, accountId, groupId);
    await assertOrganizationsExist(tx, accountId, [organizationId], 'organizationId').catch(() => {
      throw notFound('The organization');
    });
    const added = await tx
      .insertInto('organization_group_members')
      .values({ account_id: accountId, group_id: groupId, organization_id: organizationId, added_at: context.now })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0) {
      await recordAccountChange(tx, context, { accountId, action: 'group.organization_added', target: { type: 'group', id: groupId }, after: { organizationId } });
    }
    return findGroup(tx, accountId, groupId);
  });
}

export async function removeFromGroup(database: Database, context: ChangeContext, accountId: string, groupId: string, organizationId: string): Promise<OrganizationGroup> {
  return database.inTenant(accountId, async (tx) => {
    await findGroup(tx, accountId, groupId);
    const removed = await tx
      .deleteFrom('organization_group_members')
      .where('account_id', '=', accountId)
      .where('group_id', '=', groupId)
      .where('organization_id', '=', organizationId)
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) throw notFound('The organization in this group');
    await recordAccountChange(tx, context, { accountId, action: 'group.organization_removed', target: { type: 'group', id: groupId }, before: { organizationId } });
    return findGroup(tx, accountId, groupId);
  });
}
