import { sql, type Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type {
  CreateOrganizationBody,
  Organization,
  OrganizationPage,
  PageQuery,
  UpdateOrganizationBody,
} from '../../../shared/organizations.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { OrganizationsTable } from '../../db/schema.ts';
import { AppError, conflict, notFound, uniqueClash } from '../../http/errors.ts';
import { afterNameCursor, containsPattern, namePage } from '../../http/cursor.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import type { PlanCatalog } from '../plans/catalog.ts';
import { closeLeasesOf } from '../connections/leases.ts';

type OrganizationRow = Selectable<OrganizationsTable> & { device_count: number; group_ids: string[] | null };

function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    deviceCount: Number(row.device_count),
    groupIds: row.group_ids ?? [],
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function audited(o: Organization) {
  return { id: o.id, name: o.name, description: o.description };
}

const nameTaken = uniqueClash('name', 'already_used', 'Another organization has this name', 'Another organization of this account has this name.');

function organizationsQuery(tx: Tx, accountId: string) {
  return tx
    .selectFrom('organizations as o')
    .selectAll('o')
    .select((eb) => [
      eb
        .selectFrom('devices as d')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('d.account_id', '=', 'o.account_id')
        .whereRef('d.organization_id', '=', 'o.id')
        .as('device_count'),
      eb
        .selectFrom('organization_group_members as g')
        .select(sql<string[]>`array_agg(g.group_id order by g.group_id)`.as('ids'))
        .whereRef('g.account_id', '=', 'o.account_id')
        .whereRef('g.organization_id', '=', 'o.id')
        .as('group_ids'),
    ])
    .where('o.account_id', '=', accountId);
}

export async function findOrganization(tx: Tx, accountId: string, organizationId: string): Promise<Organization> {
  const row = await organizationsQuery(tx, accountId).where('o.id', '=', organizationId).executeTakeFirst();
  if (!row) throw notFound('The organization');
  return toOrganization(row as OrganizationRow);
}

/** `reach` limits the list to the organizations the caller holds a role on ('all' with an account-wide role). */
export async function listOrganizations(database: Database, accountId: string, query: PageQuery, reach: 'all' | string[]): Promise<OrganizationPage> {
  const after = afterNameCursor(query.cursor, 'o');
  if (reach !== 'all' && reach.length === 0) return { items: [], nextCursor: null };
  return database.inTenant(accountId, async (tx) => {
    let select = organizationsQuery(tx, accountId);
    if (reach !== 'all') select = select.where('o.id', 'in', reach);
    if (query.q) select = select.where(sql<boolean>`o.name ilike ${containsPattern(query.q)}`);
    if (after) select = select.where(after);
    const rows = (await select.orderBy('o.name_key').orderBy('o.id').limit(query.limit + 1).execute()) as OrganizationRow[];
    const page = namePage(rows, query.limit);
    return { items: page.rows.map(toOrganization), nextCursor: page.nextCursor };
  });
}

export async function createOrganization(database: Database, plans: PlanCatalog, context: ChangeContext, accountId: string, body: CreateOrganizationBody): Promise<Organization> {
  return database
    .inTenant(accountId, async (tx) => {
      // the account row lock serializes additions, so the organization limit holds
      const account = await tx.selectFrom('accounts').select('plan_id').where('account_id', '=', accountId).forUpdate().executeTakeFirstOrThrow();
      const plan = plans.of(account.plan_id);
      const { n } = await tx.selectFrom('organizations').select(sql<number>`count(*)::int`.as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
      if (n >= plan.organizationLimit) {
        throw conflict(`The ${plan.name} plan allows ${plan.organizationLimit} organizations; delete one before adding another.`);
      }
      const id = uuidv7();
      await tx
        .insertInto('organizations')
        .values({ account_id: accountId, id, name: body.name, description: body.description ?? '', created_at: context.now, updated_at: context.now })
        .execute();
      const organization = await findOrganization(tx, accountId, id);
      await recordAccountChange(tx, context, { accountId, action: 'organization.created', target: { type: 'organization', id }, after: audited(organization) });
      return organization;
    })
    .catch(nameTaken);
}

export async function updateOrganization(database: Database, context: ChangeContext, accountId: string, organizationId: string, patch: UpdateOrganizationBody): Promise<Organization> {
  return database
    .inTenant(accountId, async (tx) => {
      const before = await findOrganization(tx, accountId, organizationId);
      await tx
        .updateTable('organizations')
        .set({ ...patch, updated_at: context.now })
        .where('account_id', '=', accountId)
        .where('id', '=', organizationId)
        .execute();
      const after = await findOrganization(tx, accountId, organizationId);
      await recordAccountChange(tx, context, {
        accountId,
        action: 'organization.updated',
        target: { type: 'organization', id: organizationId },
        before: audited(before),
        after: audited(after),
      });
      return after;
    })
    .catch(nameTaken);
}

/** Deletes an organization; one that still holds devices needs `cascade`, which deletes them too. */
export async function deleteOrganization(database: Database, context: ChangeContext, accountId: string, organizationId: string, cascade: boolean): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', '=', organizationId).forUpdate().executeTakeFirst();
    const before = await findOrganization(tx, accountId, organizationId);
    if (before.deviceCount > 0 && !cascade) {
      const devices = `${before.deviceCount} device${before.deviceCount === 1 ? '' : 's'}`;
      throw new AppError('conflict', `${before.name} still holds ${devices}. Move or delete them first, or delete the organization together with its ${devices}.`, {
        extensions: { deviceCount: before.deviceCount },
      });
    }
    const devices = await tx.selectFrom('devices').select('id').where('account_id', '=', accountId).where('organization_id', '=', organizationId).execute();
    await closeLeasesOf(tx, accountId, { deviceIds: devices.map((d) => d.id) }, context.now, 'device_removed');
    await tx.deleteFrom('devices').where('account_id', '=', accountId).where('organization_id', '=', organizationId).execute();
    await tx.deleteFrom('organizations').where('account_id', '=', accountId).where('id', '=', organizationId).execute();
    await recordAccountChange(tx, context, {
      accountId,
      action: 'organization.deleted',
      target: { type: 'organization', id: organizationId },
      before: { ...audited(before), deviceCount: before.deviceCount },
    });
  });
}

/** The organization a person works in, in one account ("Set Organization"). */
export async function selectedOrganization(database: Database, accountId: string, userId: string): Promise<string | null> {
  return database.inTenant(accountId, async (tx) => {
    const row = await tx.selectFrom('selected_organizations').select('organization_id').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
    return row?.organization_id ?? null;
  });
}

export async function selectOrganization(database: Database, context: ChangeContext, accountId: string, userId: string, organizationId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    await findOrganization(tx, accountId, organizationId);
    await tx
      .insertInto('selected_organizations')
      .values({ account_id: accountId, user_id: userId, organization_id: organizationId, selected_at: context.now })
      .onConflict((oc) => oc.columns(['account_id', 'user_id']).doUpdateSet({ organization_id: organizationId, selected_at: context.now }))
      .execute();
    await recordAccountChange(tx, context, {
      accountId,
      action: 'organization.selected',
      target: { type: 'organization', id: organizationId },
      after: { userId },
    });
  });
}
