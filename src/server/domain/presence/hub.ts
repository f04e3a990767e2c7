import type { MemberPresence } from '../../../shared/presence.ts';
import type { Clock } from '../../clock.ts';
import type { Database } from '../../db/database.ts';
import { PRESENCE_CHANNEL, readPresence, type PresencePolicy, type PresenceSignal } from './presence.ts';

/** What a watcher is sent: the whole list first, then one change at a time. */
export type PresenceEvent =
  | { type: 'snapshot'; items: MemberPresence[] }
  | { type: 'presence'; member: MemberPresence }
  | { type: 'removed'; memberId: string };

type Send = (event: PresenceEvent) => void;

interface Watch {
  accountId: string;
  senders: Set<Send>;
  members: Map<string, MemberPresence>;
  /** Fires when the first online or away member would time out: the list is read again then. */
  timer: NodeJS.Timeout | null;
  /** Refreshes run one at a time per account; a request during one runs once more after it. */
  refreshing: Promise<void> | null;
  again: boolean;
}

/** Desktop sessions end, members go: the channel ClientSessionStore announces those on. */
const CLIENT_SESSIONS_CHANNEL = 'tessera_client_sessions';

/**
 * One node's watchers of presence, by account. A state change reaches every node through
 * PRESENCE_CHANNEL (NOTIFY), so a heartbeat taken by one node reaches streams served by another.
 * What has no heartbeat to announce it is derived here: a member times out when the clock passes
 * their last heartbeat plus the timeout (the account's list is read again then), and an ended
 * desktop session or a removed member (announced on the client-session channel) makes every
 * watched account's list be read again. Nodes without watchers do nothing.
 */
export class PresenceHub {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #policy: PresencePolicy;
  readonly #watches = new Map<string, Watch>();
  readonly #unlisten: Array<() => Promise<void>> = [];

  constructor(database: Database, clock: Clock, policy: PresencePolicy) {
    this.#database = database;
    this.#clock = clock;
    this.#policy = policy;
  }

  async start(): Promise<void> {
    // After a dropped listening connection is back, changes announced meanwhile were missed:
    // read every watched list again.
    const catchUp = () => this.#refreshAll();
    this.#unlisten.push(await this.#database.listen(PRESENCE_CHANNEL, (payload) => this.#onSignal(payload), catchUp));
    this.#unlisten.push(await this.#database.listen(CLIENT_SESSIONS_CHANNEL, () => this.#refreshAll(), catchUp));
  }

  async stop(): Promise<void> {
    for (const unlisten of this.#unlisten.splice(0)) await unlisten();
    for (const watch of this.#watches.values()) if (watch.timer) clearTimeout(watch.timer);
    this.#watches.clear();
  }

  /** Starts sending `accountId`'s presence to `send`: the snapshot now, then every change. Returns the way to stop. */
  async watch(accountId: string, send: Send): Promise<() => void> {
    let watch = this.#watches.get(accountId);
    if (!watch) {
      watch = { accountId, senders: new Set(), members: new Map(), timer: null, refreshing: null, again: false };
      this.#watches.set(accountId, watch);
      await this.#refresh(watch);
    } else if (watch.refreshing) {
      await watch.refreshing;
    }
    watch.senders.add(send);
    send({ type: 'snapshot', items: [...watch.members.values()] });
    const current = watch;
    return () => {
      current.senders.delete(send);
      if (current.senders.size === 0 && this.#watches.get(accountId) === current) {
        if (current.timer) clearTimeout(current.timer);
        this.#watches.delete(accountId);
      }
    };
  }

  /** How many streams this node serves (for the shutdown and the benchmarks). */
  get watchers(): number {
    let n = 0;
    for (const watch of this.#watches.values()) n += watch.senders.size;
    return n;
  }

  #onSignal(payload: string): void {
    let signal: PresenceSignal;
    try {
      signal = JSON.parse(payload) as PresenceSignal;
    } catch {
      return;
    }
    const watch = this.#watches.get(signal.a);
    if (!watch) return;
    const known = watch.members.get(signal.m);
    // a member this node has not listed yet (added since): read the list for their name
    if (!known) return void this.#refresh(watch);
    const member: MemberPresence = { ...known, state: signal.s, lastSeenAt: new Date(signal.t).toISOString() };
    watch.members.set(signal.m, member);
    this.#emit(watch, { type: 'presence', member });
    this.#schedule(watch);
  }

  #refreshAll(): void {
    for (const watch of this.#watches.values()) void this.#refresh(watch);
  }

  /** Reads the account's list and sends what differs from what the watchers were last told. */
  #refresh(watch: Watch): Promise<void> {
    if (watch.refreshing) {
      watch.again = true;
      return watch.refreshing;
    }
    watch.refreshing = (async () => {
      do {
        watch.again = false;
        let items: MemberPresence[];
        try {
          items = await readPresence(this.#database, watch.accountId, this.#clock.now(), this.#policy.timeoutMs);
        } catch {
          // the database is away (a restart, a dropped connection): try again shortly
          this.#schedule(watch, 1000);
          return;
        }
        const seen = new Set<string>();
        for (const member of items) {
          seen.add(member.memberId);
          const before = watch.members.get(member.memberId);
          watch.members.set(member.memberId, member);
          if (before && before.state !== member.state) this.#emit(watch, { type: 'presence', member });
          else if (!before && watch.senders.size > 0) this.#emit(watch, { type: 'presence', member });
        }
        for (const memberId of [...watch.members.keys()]) {
          if (seen.has(memberId)) continue;
          watch.members.delete(memberId);
          this.#emit(watch, { type: 'removed', memberId });
        }
      } while (watch.again);
      this.#schedule(watch);
    })().finally(() => {
      watch.refreshing = null;
    });
    return watch.refreshing;
  }

  /** Reads the list again when the first online or away member would time out (or after `ms`). */
  #schedule(watch: Watch, ms?: number): void {
    if (watch.timer) clearTimeout(watch.timer);
    watch.timer = null;
    let due = ms;
    if (due === undefined) {
      const now = this.#clock.now().getTime();
      for (const member of watch.members.values()) {
        if (member.state === 'offline' || !member.lastSeenAt) continue;
        const left = new Date(member.lastSeenAt).getTime() + this.#policy.timeoutMs - now;
        due = due === undefined ? left : Math.min(due, left);
      }
    }
    if (due === undefined) return;
    // a little after the moment, so the derived state has turned; never a busy loop
    watch.timer = setTimeout(() => void this.#refresh(watch), Math.max(250, due + 50));
    watch.timer.unref();
  }

  #emit(watch: Watch, event: PresenceEvent): void {
    for (const send of watch.senders) send(event);
  }
}
