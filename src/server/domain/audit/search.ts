import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { AuditEvent, AuditEventPage, AuditFilter } from '../../../shared/audit.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { AuditEventsTable } from '../../db/schema.ts';
import { decodeCursor, encodeCursor, invalidCursor } from '../../http/cursor.ts';

/**
 * Reading an account's audit log: newest first, filtered by actor, action, target and time, a
 * page at a time by keyset on (occurred_at, id). Each filter has an index that serves it in that
 * order (migration 0008), so a page costs the same on the first page of a million events as on
 * the last.
 */

/** A stored event, with its actor's name as it is now. */
type AuditRow = Omit<Selectable<AuditEventsTable>, 'account_id'> & { actor_name: string | null };

/** A position in the log: the sort key of the last event read. */
export interface AuditPosition {
  occurredAt: Date;
  id: string;
}

function toAuditEvent(row: AuditRow): AuditEvent {
  const event: AuditEvent = {
    id: row.id,
    occurredAt: row.occurred_at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    action: row.action,
    target: { type: row.target_type, id: row.target_id },
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    requestId: row.request_id,
  };
  if (row.before !== null) event.before = row.before;
  if (row.after !== null) event.after = row.after;
  return event;
}

/** The search's conditions on `e` (audit_events), for one action of the filter at most. */
function conditions(accountId: string, filter: AuditFilter, after: AuditPosition | null, action: string | undefined): RawBuilder<boolean> {
  const parts: RawBuilder<unknown>[] = [sql`e.account_id = ${accountId}`];
  if (filter.actorType) parts.push(sql`e.actor_type = ${filter.actorType}`);
  if (filter.actorId) parts.push(sql`e.actor_id = ${filter.actorId}::uuid`);
  if (action) parts.push(sql`e.action = ${action}`);
  if (filter.targetType) parts.push(sql`e.target_type = ${filter.targetType}`);
  if (filter.targetId) parts.push(sql`e.target_id = ${filter.targetId}`);
  if (filter.from) parts.push(sql`e.occurred_at >= ${new Date(filter.from)}`);
  if (filter.to) parts.push(sql`e.occurred_at < ${new Date(filter.to)}`);
  if (after) parts.push(sql`(e.occurred_at, e.id) < (${after.occurredAt}, ${after.id}::uuid)`);
  return sql<boolean>`${sql.join(parts, sql` and `)}`;
}

/** Events with the actor's name as it is now; a person is global, a member or a key lives in the account. */
function eventsWithActors(tx: Tx) {
  return tx
    .selectFrom('audit_events as e')
    .leftJoin('users as u', (join) => join.onRef('u.id', '=', 'e.actor_id').on('e.actor_type', '=', 'user'))
    .leftJoin('team_members as m', (join) => join.onRef('m.account_id', '=', 'e.account_id').onRef('m.id', '=', 'e.actor_id').on('e.actor_type', '=', 'member'))
    .leftJoin('access_keys as k', (join) => join.onRef('k.account_id', '=', 'e.account_id').onRef('k.id', '=', 'e.actor_id').on('e.actor_type', '=', 'access_key'))
    .select([
      'e.id',
      'e.occurred_at',
      'e.actor_type',
      'e.actor_id',
      sql<string | null>`coalesce(u.name, m.name, k.name)`.as('actor_name'),
      'e.action',
      'e.target_type',
      'e.target_id',
      'e.before',
      'e.after',
      'e.client_address',
      'e.user_agent',
      'e.request_id',
    ]);
}

/**
 * Up to `limit` events of the account matching `filter`, strictly older than `after`, newest
 * first. Several actions (`member.*`) are read as one ordered range of the action index per
 * action, each cut at `limit`, then merged (LATERAL over the actions): with `action IN (…)`
 * PostgreSQL cannot read that index in order and walks the log by time instead, the slower the
 * rarer the actions. The names and details are then read for the page's events alone.
 */
export async function readAuditEvents(tx: Tx, accountId: string, filter: AuditFilter, after: AuditPosition | null, limit: number): Promise<AuditEvent[]> {
  const actions = filter.action ?? [];
  if (actions.length <= 1) {
    const rows = (await eventsWithActors(tx)
      .where(conditions(accountId, filter, after, actions[0]))
      .orderBy('e.occurred_at', 'desc')
      .orderBy('e.id', 'desc')
      .limit(limit)
      .execute()) as AuditRow[];
    return rows.map(toAuditEvent);
  }
  const { rows: keys } = await sql<{ id: string }>`
    select k.id from unnest(${actions}::text[]) as a(action)
    cross join lateral (
      select e.id, e.occurred_at from audit_events e
      where ${conditions(accountId, { ...filter, action: undefined }, after, undefined)} and e.action = a.action
      order by e.occurred_at desc, e.id desc limit ${limit}
    ) k
    order by k.occurred_at desc, k.id desc limit ${limit}`.execute(tx);
  if (keys.length === 0) return [];
  const rows = (await eventsWithActors(tx)
    .where('e.account_id', '=', accountId)
    .where('e.id', 'in', keys.map((k) => k.id))
    .orderBy('e.occurred_at', 'desc')
    .orderBy('e.id', 'desc')
    .execute()) as AuditRow[];
  return rows.map(toAuditEvent);
}

export function positionOf(event: AuditEvent): AuditPosition {
  return { occurredAt: new Date(event.occurredAt), id: event.id };
}

function decodePosition(cursor: string | undefined): AuditPosition | null {
  const key = decodeCursor(cursor, 2);
  if (!key) return null;
  const occurredAt = new Date(key[0]!);
  if (Number.isNaN(occurredAt.getTime()) || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key[1]!)) throw invalidCursor();
  return { occurredAt, id: key[1]! };
}

/** One page of the search: `limit` events and the cursor of the next page, if there is one. */
export async function searchAuditEvents(database: Database, accountId: string, filter: AuditFilter, page: { limit: number; cursor?: string | undefined }): Promise<AuditEventPage> {
  const after = decodePosition(page.cursor);
  const rows = await database.inTenant(accountId, (tx) => readAuditEvents(tx, accountId, filter, after, page.limit + 1));
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > page.limit && last ? encodeCursor([last.occurredAt, last.id]) : null };
}
