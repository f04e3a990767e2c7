import { sql } from 'kysely';
import type { UsageDay, UsageHistory } from '../../../shared/billing.ts';
import type { Database, Tx } from '../../db/database.ts';

/**
 * Usage over time, as compact daily aggregates: every hour each account's row for today (and
 * yesterday's, to finish it after midnight) is summed from its leases and written to
 * usage_daily; the billing page reads those rows, never the leases. Days are UTC.
 */

const DAY_MS = 86_400_000;

export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function startOfDay(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

/**
 * One account's day from its leases: the most connections open at one moment (a sweep over the
 * leases' starts and ends; a close and an open at the same instant do not overlap) and their
 * summed time, bounded by `now` for today. A lease ends when it is closed or, never closed,
 * when it expires.
 */
async function leaseTotals(tx: Tx, accountId: string, day: string, now: Date): Promise<{ peak: number; minutes: number }> {
  const from = startOfDay(day);
  const to = new Date(from.getTime() + DAY_MS);
  const { rows } = await sql<{ peak: number; seconds: number }>`
    with spans as (
      select greatest(opened_at, ${from}::timestamptz) as s,
             least(coalesce(closed_at, expires_at), expires_at, ${to}::timestamptz, ${now}::timestamptz) as e
      from connection_leases
      where account_id = ${accountId} and opened_at < ${to}::timestamptz and expires_at > ${from}::timestamptz
        and (closed_at is null or closed_at > ${from}::timestamptz)
    ), kept as (select s, e from spans where e > s),
    edges as (select s as t, 1 as d from kept union all select e as t, -1 as d from kept)
    select coalesce((select max(open) from (select sum(d) over (order by t, d rows between unbounded preceding and current row) as open from edges) x), 0)::int as peak,
           coalesce((select sum(extract(epoch from (e - s))) from kept), 0)::float8 as seconds`.execute(tx);
  return { peak: Number(rows[0]!.peak), minutes: Math.round(Number(rows[0]!.seconds) / 60) };
}

/** The account's team members and organizations now. */
export async function accountCounts(tx: Tx, accountId: string): Promise<{ members: number; organizations: number }> {
  const row = await tx
    .selectNoFrom([
      sql<number>`(select count(*)::int from team_members where account_id = ${accountId})`.as('members'),
      sql<number>`(select count(*)::int from organizations where account_id = ${accountId})`.as('organizations'),
    ])
    .executeTakeFirstOrThrow();
  return { members: Number(row.members), organizations: Number(row.organizations) };
}

/**
 * Writes one account's row for `day`. Today's takes the member and organization counts of now;
 * a finished day keeps the counts of its own last roll-up (now would be tomorrow's), unless it
 * has none yet.
 */
async function rollUpDay(tx: Tx, accountId: string, day: string, now: Date): Promise<void> {
  const totals = await leaseTotals(tx, accountId, day, now);
  const current = await accountCounts(tx, accountId);
  const finished = day < dayOf(now);
  await tx
    .insertInto('usage_daily')
    .values({ account_id: accountId, day, peak_connections: totals.peak, connection_minutes: totals.minutes, ...current, computed_at: now })
    .onConflict((oc) =>
      oc.columns(['account_id', 'day']).doUpdateSet({
        peak_connections: totals.peak,
        connection_minutes: totals.minutes,
        computed_at: now,
        ...(finished ? {} : current),
      }),
    )
    .execute();
}

/** Nodes sharing a database roll up one at a time: each account's transaction takes this lock first. */
export const ROLL_UP_LOCK_KEY = 0x05a6e;

/**
 * Rolls up today and yesterday for every account, each account in its own short transaction;
 * answers how many accounts it did. Stops early when another node is rolling up at that moment
 * (the rows are the same whoever writes them) or when `signal` aborts.
 */
export async function rollUpUsage(database: Database, now: Date, signal?: AbortSignal): Promise<number> {
  const today = dayOf(now);
  const yesterday = dayOf(new Date(now.getTime() - DAY_MS));
  const accounts = await database.db.selectFrom('accounts').select(['account_id', 'created_at']).orderBy('account_id').execute();
  let done = 0;
  for (const { account_id: accountId, created_at: createdAt } of accounts) {
    if (signal?.aborted) break;
    const locked = await database.inTenant(accountId, async (tx) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${ROLL_UP_LOCK_KEY}) as locked`.execute(tx);
      if (!rows[0]!.locked) return false;
      // no row for a day before the account existed
      if (dayOf(createdAt) <= yesterday) await rollUpDay(tx, accountId, yesterday, now);
      await rollUpDay(tx, accountId, today, now);
      return true;
    });
    if (!locked) break;
    done += 1;
  }
  return done;
}

/** The days from..to (UTC, both included; the last 30 days by default) that have a roll-up. */
export async function usageHistory(database: Database, accountId: string, range: { from?: string | undefined; to?: string | undefined }, now: Date): Promise<UsageHistory> {
  const to = range.to ?? dayOf(now);
  const from = range.from ?? dayOf(new Date(startOfDay(to).getTime() - 29 * DAY_MS));
  const rows = await database.inTenant(accountId, (tx) =>
    tx
      .selectFrom('usage_daily')
      // as text: both drivers would make a date a Date at local midnight
      .select([sql<string>`day::text`.as('day'), 'peak_connections', 'connection_minutes', 'members', 'organizations'])
      .where('account_id', '=', accountId)
      .where('day', '>=', from)
      .where('day', '<=', to)
      .orderBy('day')
      .execute(),
  );
  const days: UsageDay[] = rows.map((row) => ({
    day: row.day,
    peakConnections: row.peak_connections,
    connectionMinutes: row.connection_minutes,
    members: row.members,
    organizations: row.organizations,
  }));
  return { from, to, days };
}
