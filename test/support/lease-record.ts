/**
 * The record of connection leases (`connection_leases`) and its replay, shared by the suites that
 * load the lease functions with real clients on real server processes (test/process/leases.test.ts,
 * test/process/many-nodes.test.ts).
 *
 * Each lease held [opened_at, least(closed_at, expires_at)). Sweeping those endpoints in time
 * order shows the most any account, member, device or slot row held at once, and every moment one
 * held more than its limit. The same sweep runs over what the clients themselves know they held,
 * since the servers run on this machine's clock and the two timelines are one.
 */

/** mulberry32: small, fast, good enough to pick devices, pauses and kill moments; seeded, so a run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const between = (rng: () => number, low: number, high: number) => low + rng() * (high - low);

/**
 * How a desktop client holds a lease in the load suites: mostly short holds (20–150 ms, not
 * renewed), some longer (0.25–1 s, renewed once or twice along the way), the rest at the edge of
 * expiry (renewed only 0–250 ms before the lease would expire, the answer perhaps after it, then
 * held a moment more). `expiresAt` is the lease's expiry; nothing is held past `deadline`.
 */
export const HOLD_SHARES = { short: 0.885, medium: 0.1 };
export function holdPlan(rng: () => number, now: number, expiresAt: number, deadline: number): { holdUntil: number; renewAt: number[]; edge: boolean } {
  const kind = rng();
  let holdUntil: number;
  let renewAt: number[];
  if (kind < HOLD_SHARES.short) {
    holdUntil = now + between(rng, 20, 150);
    renewAt = [];
  } else if (kind < HOLD_SHARES.short + HOLD_SHARES.medium) {
    holdUntil = now + between(rng, 250, 1000);
    renewAt = Array.from({ length: 1 + Math.floor(rng() * 2) }, () => between(rng, now, holdUntil)).sort((a, b) => a - b);
  } else {
    const at = expiresAt - between(rng, 0, 250);
    holdUntil = at + between(rng, 20, 150);
    renewAt = [at];
  }
  return { holdUntil: Math.min(holdUntil, deadline), renewAt, edge: kind >= HOLD_SHARES.short + HOLD_SHARES.medium };
}

/** A row of `connection_leases` as LEASE_QUERY reads it. */
export interface LeaseRow {
  id: string;
  member_id: string;
  device_id: string;
  account_slot: number;
  member_slot: number | null;
  opened_at: Date;
  expires_at: Date;
  closed_at: Date | null;
  close_reason: string | null;
}

/** Every lease of one account (`$1`). */
export const LEASE_QUERY = `select id, member_id, device_id, account_slot, member_slot, opened_at, expires_at, closed_at, close_reason
                       from connection_leases where account_id = $1`;

/** Something held over [start, end) (epoch ms), counting against each of its keys. */
export interface Interval {
  id: string;
  start: number;
  end: number;
  keys: string[];
}

export interface SweepResult {
  peaks: Map<string, number>;
  violations: Array<{ key: string; at: number; count: number; limit: number; holders: string[] }>;
}

/**
 * Replays half-open intervals in time order (at one instant, ends before starts) and reports
 * the most each key held at once, and every moment a key held more than its limit.
 */
export function sweep(intervals: Interval[], limitOf: (key: string) => number): SweepResult {
  const events: Array<{ at: number; delta: 1 | -1; interval: Interval }> = [];
  for (const interval of intervals) {
    if (interval.end <= interval.start) continue; // never held (e.g. closed in the instant it opened)
    events.push({ at: interval.start, delta: 1, interval }, { at: interval.end, delta: -1, interval });
  }
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const holding = new Map<string, Set<string>>();
  const peaks = new Map<string, number>();
  const violations: SweepResult['violations'] = [];
  for (const { at, delta, interval } of events) {
    for (const key of interval.keys) {
      let set = holding.get(key);
      if (!set) holding.set(key, (set = new Set()));
      if (delta === 1) set.add(interval.id);
      else set.delete(interval.id);
      peaks.set(key, Math.max(peaks.get(key) ?? 0, set.size));
      const limit = limitOf(key);
      if (delta === 1 && set.size > limit && violations.length < 50) violations.push({ key, at, count: set.size, limit, holders: [...set] });
    }
  }
  return { peaks, violations };
}

/**
 * What a lease holds: a share of the account, of its member, its device, and (as the record
 * says) one account slot row and maybe one member slot row, each of which only one lease may hold.
 * Keys: `account`, `member:<member>`, `device:<id>`, `account-slot:<n>`, `member-slot:<member>:<n>`;
 * `limitOf` gives `account` the allowance, a member its fixed limit, the rest 1.
 */
export function leaseKeys(member: number | string, deviceId: string, row: LeaseRow | undefined): string[] {
  const keys = ['account', `member:${member}`, `device:${deviceId}`];
  if (row) keys.push(`account-slot:${row.account_slot}`);
  if (row?.member_slot != null) keys.push(`member-slot:${member}:${row.member_slot}`);
  return keys;
}

/** When the record says a lease stopped holding its rows: closed, or expired, whichever came first. */
export function recordEnd(row: LeaseRow): number {
  return Math.min(row.closed_at?.getTime() ?? Infinity, row.expires_at.getTime());
}

/** The record as intervals: [opened_at, least(closed_at, expires_at)), the member named by `memberKey`. */
export function recordIntervals(rows: LeaseRow[], memberKey: (memberId: string) => number | string): Interval[] {
  return rows.map((r) => ({ id: r.id, start: r.opened_at.getTime(), end: recordEnd(r), keys: leaseKeys(memberKey(r.member_id), r.device_id, r) }));
}

/** The highest peak among the keys `matches` picks (0 when none). */
export function highestPeak(result: SweepResult, matches: (key: string) => boolean): number {
  return Math.max(0, ...[...result.peaks].filter(([key]) => matches(key)).map(([, n]) => n));
}
