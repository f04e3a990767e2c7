import { sql, type Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { CreateDeviceBody, Device, DevicePage, PageQuery, UpdateDeviceBody } from '../../../shared/organizations.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { DevicesTable } from '../../db/schema.ts';
import { fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { afterNameCursor, containsPattern, namePage } from '../../http/cursor.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { closeLeasesOf } from '../connections/leases.ts';

type DeviceRow = Selectable<DevicesTable>;

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    kind: row.kind,
    identifier: row.identifier,
    notes: row.notes,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const identifierTaken = uniqueClash('identifier', 'already_used', 'Another device of this account has this identifier');

async function assertOrganization(tx: Tx, accountId: string, organizationId: string, field?: string): Promise<void> {
  const found = await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
  if (found) return;
  if (field) throw fieldError(field, 'not_found', 'No such organization in this account');
  throw notFound('The organization');
}

async function findDevice(tx: Tx, accountId: string, deviceId: string): Promise<DeviceRow> {
  const row = await tx.selectFrom('devices').selectAll().where('account_id', '=', accountId).where('id', '=', deviceId).executeTakeFirst();
  if (!row) throw notFound('The device');
  return row;
}

/** Devices of an organization by name, a keyset page at a time; `q` matches name or identifier. */
export async function listDevices(database: Database, accountId: string, organizationId: string, query: PageQuery): Promise<DevicePage> {
  const after = afterNameCursor(query.cursor);
  return database.inTenant(accountId, async (tx) => {
    await assertOrganization(tx, accountId, organizationId);
    let select = tx.selectFrom('devices').selectAll().where('account_id', '=', accountId).where('organization_id', '=', organizationId);
    if (query.q) {
      const pattern = containsPattern(query.q);
      select = select.where(sql<boolean>`(name ilike ${pattern} or identifier ilike ${pattern})`);
    }
    if (after) select = select.where(after);
    const page = namePage(await select.orderBy('name_key').orderBy('id').limit(query.limit + 1).execute(), query.limit);
    return { items: page.rows.map(toDevice), nextCursor: page.nextCursor };
  });
}

export async function createDevice(database: Database, context: ChangeContext, accountId: string, organizationId: string, body: CreateDeviceBody): Promise<Device> {
  return database
    .inTenant(accountId, async (tx) => {
      await assertOrganization(tx, accountId, organizationId);
      const row = await tx
        .insertInto('devices')
        .values({
          account_id: accountId,
          id: uuidv7(),
          organization_id: organizationId,
          name: body.name,
          kind: body.kind,
          identifier: body.identifier,
          notes: body.notes ?? '',
          created_at: context.now,
          updated_at: context.now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const device = toDevice(row);
      await recordAccountChange(tx, context, { accountId, action: 'device.created', target: { type: 'device', id: row.id }, after: device });
      return device;
    })
    .catch(identifierTaken);
}

export async function getDevice(database: Database, accountId: string, deviceId: string): Promise<Device> {
  return database.inTenant(accountId, async (tx) => toDevice(await findDevice(tx, accountId, deviceId)));
}

export async function updateDevice(database: Database, context: ChangeContext, accountId: string, deviceId: string, patch: UpdateDeviceBody): Promise<Device> {
  return database
    .inTenant(accountId, async (tx) => {
      const before = await findDevice(tx, accountId, deviceId);
      if (patch.organizationId) await assertOrganization(tx, accountId, patch.organizationId, 'organizationId');
      const { organizationId, ...fields } = patch;
      const row = await tx
        .updateTable('devices')
        .set({ ...fields, ...(organizationId ? { organization_id: organizationId } : {}), updated_at: context.now })
        .where('account_id', '=', accountId)
        .where('id', '=', deviceId)
        .returningAll()
        .executeTakeFirstOrThrow();
      const after = toDevice(row);
      await recordAccountChange(tx, context, { accountId, action: 'device.updated', target: { type: 'device', id: deviceId }, before: toDevice(before), after });
      return after;
    })
    .catch(identifierTaken);
}

export async function deleteDevice(database: Database, context: ChangeContext, accountId: string, deviceId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const before = await findDevice(tx, accountId, deviceId);
    await closeLeasesOf(tx, accountId, { deviceIds: [deviceId] }, context.now, 'device_removed');
    await tx.deleteFrom('devices').where('account_id', '=', accountId).where('id', '=', deviceId).execute();
    await recordAccountChange(tx, context, { accountId, action: 'device.deleted', target: { type: 'device', id: deviceId }, before: toDevice(before) });
  });
}
