import { sql } from 'kysely';
import { unauthenticated } from '../../http/errors.ts';
import type { MemberPresence, PresenceState } from '../../../shared/presence.ts';
import type { Config } from '../../config.ts';
import type { Database, Tx } from '../../db/database.ts';

/**
 * Presence from heartbeats. Whether a member is online is derived from the stored last heartbeat
 * and the clock, so a member whose heartbeats stop goes offline with no job running. A heartbeat
 * writes only when the state changes, the desktop session changes, or the stored time is older
 * than the write granularity; a state change is announced on PRESENCE_CHANNEL in the same
 * transaction, for every node's streams.
 */

export const PRESENCE_CHANNEL = 'tessera_presence';

export interface PresencePolicy {
  /** Without a heartbeat for this long, a member is offline. */
  timeoutMs: number;
  /** The same, as clients are told it. */
  timeoutSeconds: number;
  /** The stored last heartbeat is refreshed at most this often (a third of the timeout). */
  writeEveryMs: number;
  /**
   * What clients are told to keep to: a quarter of the timeout, shorter than the write interval,
   * so every other heartbeat is answered without a write, and a lost heartbeat still leaves the
   * stored time fresh enough.
   */
  heartbeatSeconds: number;
}

export function presencePolicy(config: Pick<Config, 'presenceTimeoutSeconds'>): PresencePolicy {
  const timeoutMs = config.presenceTimeoutSeconds * 1000;
  return {
    timeoutMs,
    timeoutSeconds: config.presenceTimeoutSeconds,
    writeEveryMs: Math.floor(timeoutMs / 3),
    heartbeatSeconds: Math.max(1, Math.floor(config.presenceTimeoutSeconds / 4)),
  };
}

/** What a presence row says now: its state while fresh and its session alive, else offline. */
export function effectiveState(row: { state: PresenceState; lastSeenAt: Date; sessionActive: boolean } | undefined, now: Date, timeoutMs: number): PresenceState {
  if (!row || !row.sessionActive || row.state === 'offline') return 'offline';
  return now.getTime() - row.lastSeenAt.getTime() > timeoutMs ? 'offline' : row.state;
}

/** A state change as NOTIFY carries it: account, member, state, last seen (epoch ms). */
export interface PresenceSignal {
  a: string;
  m: string;
  s: PresenceState;
  t: number;
}

/** Every member of the account with their presence, by name. */
export async function listPresence(tx: Tx, accountId: string, now: Date, timeoutMs: number): Promise<MemberPresence[]> {
  const rows = await tx
    .selectFrom('team_members as m')
    .leftJoin('member_presence as p', (join) => join.onRef('p.account_id', '=', 'm.account_id').onRef('p.member_id', '=', 'm.id'))
    .leftJoin('client_sessions as s', (join) => join.onRef('s.account_id', '=', 'p.account_id').onRef('s.id', '=', 'p.session_id'))
    .select(['m.id', 'm.name', 'p.state', 'p.last_seen_at', 's.revoked_at', 's.id as session_id'])
    .where('m.account_id', '=', accountId)
    .orderBy('m.name')
    .orderBy('m.id')
    .execute();
  return rows.map((r) => ({
    memberId: r.id,
    name: r.name,
    state: r.state && r.last_seen_at ? effectiveState({ state: r.state, lastSeenAt: r.last_seen_at, sessionActive: r.session_id !== null && r.revoked_at === null }, now, timeoutMs) : 'offline',
    lastSeenAt: r.last_seen_at?.toISOString() ?? null,
  }));
}

export function readPresence(database: Database, accountId: string, now: Date, timeoutMs: number): Promise<MemberPresence[]> {
  return database.inTenant(accountId, (tx) => listPresence(tx, accountId, now, timeoutMs));
}

interface Written {
  state: PresenceState;
  sessionId: string;
  writtenAt: number;
}

/** At most this many members' last writes are remembered per node; past it the oldest go. */
const MEMO_LIMIT = 100_000;

/**
 * Records heartbeats. A per-node memo of what this node last wrote spares the database the
 * heartbeats that change nothing; the conditional upsert keeps several nodes from writing more
 * than the granularity allows between them.
 */
export class PresenceRecorder {
  readonly #database: Database;
  readonly #policy: PresencePolicy;
  readonly #written = new Map<string, Written>();

  constructor(database: Database, policy: PresencePolicy) {
    this.#database = database;
    this.#policy = policy;
  }

  /** Records one heartbeat; true when it changed what others see (and was announced). */
  async heartbeat(who: { accountId: string; memberId: string; sessionId: string }, state: PresenceState, now: Date): Promise<boolean> {
    const memo = this.#written.get(who.memberId);
    if (memo && memo.state === state && memo.sessionId === who.sessionId && now.getTime() - memo.writtenAt < this.#policy.writeEveryMs) return false;
    const changed = await this.#database.inTenant(who.accountId, async (tx) => {
      // The node may still hold the access token of a session revoked (or a member removed) a
      // moment ago, until the notification arrives: the heartbeat must not announce it online.
      // Locks in the order a member's removal takes them (member, then its sessions), so neither
      // waits on the other in a circle; the share lock on the session holds off a revocation
      // until this heartbeat's notification has gone out, so the revocation's comes last.
      const live = await tx
        .selectFrom('team_members as m')
        .innerJoin('client_sessions as s', (join) => join.onRef('s.account_id', '=', 'm.account_id').onRef('s.member_id', '=', 'm.id'))
        .select('s.revoked_at')
        .where('m.account_id', '=', who.accountId)
        .where('m.id', '=', who.memberId)
        .where('s.id', '=', who.sessionId)
        .forKeyShare('m')
        .forShare('s')
        .executeTakeFirst();
      if (!live || live.revoked_at !== null) throw unauthenticated();
      const before = await tx
        .selectFrom('member_presence as p')
        .leftJoin('client_sessions as s', (join) => join.onRef('s.account_id', '=', 'p.account_id').onRef('s.id', '=', 'p.session_id'))
        .select(['p.state', 'p.last_seen_at', 'p.session_id', 's.revoked_at'])
        .where('p.account_id', '=', who.accountId)
        .where('p.member_id', '=', who.memberId)
        .forUpdate('p')
        .executeTakeFirst();
      const was = before ? effectiveState({ state: before.state, lastSeenAt: before.last_seen_at, sessionActive: before.revoked_at === null }, now, this.#policy.timeoutMs) : 'offline';
      const fresh = before && before.session_id === who.sessionId && before.state === state && now.getTime() - before.last_seen_at.getTime() < this.#policy.writeEveryMs;
      if (fresh) return false;
      await tx
        .insertInto('member_presence')
        .values({ account_id: who.accountId, member_id: who.memberId, session_id: who.sessionId, state, last_seen_at: now, changed_at: now })
        .onConflict((oc) =>
          oc.columns(['account_id', 'member_id']).doUpdateSet({
            session_id: who.sessionId,
            state,
            last_seen_at: now,
            changed_at: was === state ? sql`member_presence.changed_at` : now,
          }),
        )
        .execute();
      if (was === state) return false;
      const signal: PresenceSignal = { a: who.accountId, m: who.memberId, s: state, t: now.getTime() };
      await sql`select pg_notify(${PRESENCE_CHANNEL}, ${JSON.stringify(signal)})`.execute(tx);
      return true;
    });
    if (this.#written.size >= MEMO_LIMIT) this.#written.delete(this.#written.keys().next().value as string);
    this.#written.set(who.memberId, { state, sessionId: who.sessionId, writtenAt: now.getTime() });
    return changed;
  }
}
