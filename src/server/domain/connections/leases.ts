import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { ClientDevicePage, Lease, OpenConnection } from '../../../shared/connections.ts';
import type { PageQuery } from '../../../shared/organizations.ts';
import type { ClientPrincipal } from '../../client-api/sessions.ts';
import type { Database, Tx } from '../../db/database.ts';
import { AppError, notFound } from '../../http/errors.ts';
import { afterNameCursor, containsPattern, namePage } from '../../http/cursor.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';

/**
 * Connection leases. The limits are enforced by the database functions of migration 0004 in the
 * statement that opens the lease (see docs/connections.md); this module maps their answers.
 */

const limitHit = (limit: 'account' | 'member' | 'device', detail: string) => new AppError('conflict', detail, { extensions: { limit } });

const REFUSALS: Record<string, () => AppError> = {
  TSL01: () => limitHit('account', "The account's connection allowance is in use. Close a connection first."),
  TSL02: () => limitHit('member', "This member's fixed number of connections is in use. Close a connection first."),
  TSL03: () => limitHit('device', 'The device is in use by another connection.'),
  TSL04: () => notFound('The device'),
  TSL05: () => notFound('The team member'),
  TSL06: () => notFound('The connection (it was closed or has expired)'),
};

function refusal(error: unknown): never {
  const code = (error as { code?: string }).code;
  const make = code ? REFUSALS[code] : undefined;
  if (make) throw make();
  throw error;
}

/** Opens a lease within the member's limit and the account's `allowance` (its plan's). */
export async function openLease(database: Database, principal: ClientPrincipal, allowance: number, deviceId: string, now: Date, ttlMs: number): Promise<Lease> {
  const leaseId = uuidv7();
  const expiresAt = new Date(now.getTime() + ttlMs);
  // one statement in its own transaction; the function scopes itself to the account
  await sql`select tessera_open_lease(${principal.accountId}::uuid, ${principal.memberId}::uuid, ${deviceId}::uuid, ${principal.sessionId}::uuid,
                                      ${leaseId}::uuid, ${now}::timestamptz, ${expiresAt}::timestamptz, ${allowance}::integer)`
    .execute(database.db)
    .catch(refusal);
  return { leaseId, deviceId, expiresAt: expiresAt.toISOString(), ttlSeconds: Math.round(ttlMs / 1000) };
}

export async function renewLease(database: Database, principal: ClientPrincipal, leaseId: string, now: Date, ttlMs: number): Promise<Lease> {
  const expiresAt = new Date(now.getTime() + ttlMs);
  const renewed = await sql<{ device_id: string }>`select tessera_renew_lease(${principal.accountId}::uuid, ${principal.memberId}::uuid, ${leaseId}::uuid,
                                                                           ${now}::timestamptz, ${expiresAt}::timestamptz) as device_id`
    .execute(database.db)
    .catch(refusal);
  const deviceId = renewed.rows[0]!.device_id;
  return { leaseId, deviceId, expiresAt: expiresAt.toISOString(), ttlSeconds: Math.round(ttlMs / 1000) };
}

/** Closes leases inside the caller's transaction and frees what they held. */
export async function closeLeases(tx: Tx, accountId: string, leaseIds: string[], now: Date, reason: string): Promise<number> {
  if (leaseIds.length === 0) return 0;
  const result = await sql<{ closed: number }>`select tessera_close_leases(${accountId}::uuid, ${leaseIds}::uuid[], ${now}::timestamptz, ${reason}) as closed`.execute(tx);
  return result.rows[0]?.closed ?? 0;
}

/** Closes every open lease matching the filter (a member, some desktop sessions, a device, an organization's devices). */
export async function closeLeasesOf(
  tx: Tx,
  accountId: string,
  filter: { memberId?: string; sessionIds?: string[]; deviceIds?: string[] },
  now: Date,
  reason: string,
): Promise<number> {
  let query = tx.selectFrom('connection_leases').select('id').where('account_id', '=', accountId).where('closed_at', 'is', null);
  if (filter.memberId) query = query.where('member_id', '=', filter.memberId);
  if (filter.sessionIds) {
    if (filter.sessionIds.length === 0) return 0;
    query = query.where('client_session_id', 'in', filter.sessionIds);
  }
  if (filter.deviceIds) {
    if (filter.deviceIds.length === 0) return 0;
    query = query.where('device_id', 'in', filter.deviceIds);
  }
  const rows = await query.execute();
  return closeLeases(tx, accountId, rows.map((r) => r.id), now, reason);
}

export async function closeOwnLease(database: Database, principal: ClientPrincipal, leaseId: string, now: Date): Promise<void> {
  await sql`select tessera_close_own_lease(${principal.accountId}::uuid, ${principal.memberId}::uuid, ${leaseId}::uuid, ${now}::timestamptz)`
    .execute(database.db)
    .catch(refusal);
}

/** Connections in use now: the member's, and the whole account's. */
export async function connectionsInUse(tx: Tx, accountId: string, memberId: string | null, now: Date): Promise<{ account: number; member: number }> {
  const row = await tx
    .selectFrom('connection_leases')
    .select([
      sql<number>`count(*)::int`.as('account'),
      sql<number>`(count(*) filter (where member_id = ${memberId}))::int`.as('member'),
    ])
    .where('account_id', '=', accountId)
    .where('closed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return { account: Number(row.account), member: Number(row.member) };
}

/** Per member, the connections in use now. */
export async function connectionsByMember(tx: Tx, accountId: string, now: Date): Promise<Map<string, number>> {
  const rows = await tx
    .selectFrom('connection_leases')
    .select(['member_id', sql<number>`count(*)::int`.as('n')])
    .where('account_id', '=', accountId)
    .where('closed_at', 'is', null)
    .where('expires_at', '>', now)
    .groupBy('member_id')
    .execute();
  return new Map(rows.map((r) => [r.member_id, Number(r.n)]));
}

/** Devices a member's client may connect to (every device of the account), a keyset page at a time. */
export async function clientDevices(database: Database, principal: ClientPrincipal, query: PageQuery, now: Date): Promise<ClientDevicePage> {
  const after = afterNameCursor(query.cursor);
  return database.inTenant(principal.accountId, async (tx) => {
    let select = tx
      .selectFrom('devices')
      .select(['id', 'organization_id', 'name', 'name_key', 'kind', 'identifier', 'lease_id', 'lease_expires_at'])
      .where('account_id', '=', principal.accountId);
    if (query.q) {
      const pattern = containsPattern(query.q);
      select = select.where(sql<boolean>`(name ilike ${pattern} or identifier ilike ${pattern})`);
    }
    if (after) select = select.where(after);
    const page = namePage(await select.orderBy('name_key').orderBy('id').limit(query.limit + 1).execute(), query.limit);
    return {
      items: page.rows.map((d) => ({
        id: d.id,
        organizationId: d.organization_id,
        name: d.name,
        kind: d.kind,
        identifier: d.identifier,
        available: d.lease_id === null || (d.lease_expires_at !== null && d.lease_expires_at <= now),
      })),
      nextCursor: page.nextCursor,
    };
  });
}

/** Open connections of the account, newest first, for owners and managers. */
/** `reach` limits the list to devices of the organizations the caller holds a role on. */
export async function listOpenConnections(database: Database, accountId: string, now: Date, reach: 'all' | string[]): Promise<OpenConnection[]> {
  if (reach !== 'all' && reach.length === 0) return [];
  return database.inTenant(accountId, async (tx) => {
    let select = tx
      .selectFrom('connection_leases as l')
      .innerJoin('team_members as m', (join) => join.onRef('m.account_id', '=', 'l.account_id').onRef('m.id', '=', 'l.member_id'))
      .innerJoin('devices as d', (join) => join.onRef('d.account_id', '=', 'l.account_id').onRef('d.id', '=', 'l.device_id'))
      .select(['l.id', 'l.opened_at', 'l.expires_at', 'm.id as member_id', 'm.name as member_name', 'd.id as device_id', 'd.name as device_name', 'd.organization_id'])
      .where('l.account_id', '=', accountId)
      .where('l.closed_at', 'is', null)
      .where('l.expires_at', '>', now);
    if (reach !== 'all') select = select.where('d.organization_id', 'in', reach);
    const rows = await select.orderBy('l.opened_at', 'desc').limit(1000).execute();
    return rows.map((r) => ({
      leaseId: r.id,
      member: { id: r.member_id, name: r.member_name },
      device: { id: r.device_id, name: r.device_name, organizationId: r.organization_id },
      openedAt: r.opened_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
    }));
  });
}

export async function closeConnectionAsOwner(database: Database, context: ChangeContext, accountId: string, leaseId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const lease = await tx
      .selectFrom('connection_leases')
      .select(['id', 'member_id', 'device_id'])
      .where('account_id', '=', accountId)
      .where('id', '=', leaseId)
      .where('closed_at', 'is', null)
      .where('expires_at', '>', context.now)
      .executeTakeFirst();
    if (!lease) throw notFound('The connection');
    await closeLeases(tx, accountId, [leaseId], context.now, 'closed_in_portal');
    await recordAccountChange(tx, context, {
      accountId,
      action: 'connection.closed',
      target: { type: 'connection', id: leaseId },
      before: { memberId: lease.member_id, deviceId: lease.device_id },
    });
  });
}
