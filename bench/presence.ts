import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'autocannon';
import pg from 'pg';
import { readEventStream } from '../src/client/event-stream.ts';
import { parseConfig } from '../src/server/config.ts';
import { presencePolicy } from '../src/server/domain/presence/presence.ts';
import type { MemberPresence, PresenceList, PresenceState } from '../src/shared/presence.ts';
import { summarize, type Summary } from './client-api.ts';
import { cpuSnapshot, cpuUse } from './cpu.ts';
import type { TeamMemberIdentity } from './data.ts';
import { Samples, type LatencySummary } from './load.ts';
import { readMemory } from './server.ts';

/**
 * Presence under load: desktop clients' heartbeats (POST /client/v1/presence) for thousands of
 * team members, what they cost the database, and how soon a state change taken by one node
 * reaches a presence stream (Server-Sent Events) served by another.
 */

/**
 * What the benchmark's servers run with (the defaults: no TESSERA_* variable reaches them):
 * how long a node caches a resolved access token, how long it answers a repeated heartbeat from
 * its memo after writing, and how often clients are told to heartbeat.
 */
export const SERVER_PRESENCE = (() => {
  const config = parseConfig({});
  const policy = presencePolicy(config);
  return { tokenCacheSeconds: config.clientTokenCacheSeconds, writeEverySeconds: policy.writeEveryMs / 1000, heartbeatSeconds: policy.heartbeatSeconds };
})();

/** A member says "away" one heartbeat round in this many (rounds staggered by member), else "online". */
export const AWAY_EVERY = 100;

/** The state member `member` sends in its `round`-th heartbeat. */
function stateOf(member: number, round: number): PresenceState {
  return (member + round) % AWAY_EVERY === AWAY_EVERY - 1 ? 'away' : 'online';
}

const BODIES: Record<PresenceState, string> = {
  online: JSON.stringify({ state: 'online' }),
  away: JSON.stringify({ state: 'away' }),
  offline: JSON.stringify({ state: 'offline' }),
};

function heartbeatHeaders(member: TeamMemberIdentity): Record<string, string> {
  return { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${member.accessToken}` };
}

/**
 * Heartbeats in rounds over every member, as their clients send them: request k is member
 * k mod n's heartbeat, in its round ⌊k / n⌋; a state change (to away and back) now and then, the
 * rest repeats. Counts what was sent and which members had a heartbeat answered 200.
 */
export class HeartbeatRounds {
  readonly members: TeamMemberIdentity[];
  readonly #headers: Array<Record<string, string>>;
  readonly #answered: Uint8Array;
  /** Heartbeats handed to the load generator so far (warm-up included). */
  sent = 0;
  /** Of those, how many said "away". */
  away = 0;

  constructor(members: TeamMemberIdentity[]) {
    if (members.length === 0) throw new Error('heartbeats need members');
    this.members = members;
    this.#headers = members.map(heartbeatHeaders);
    this.#answered = new Uint8Array(members.length);
  }

  /** The next heartbeat: which member, its headers and its body. */
  next(): { member: number; headers: Record<string, string>; body: string } {
    const k = this.sent++;
    const member = k % this.members.length;
    const state = stateOf(member, Math.floor(k / this.members.length));
    if (state === 'away') this.away += 1;
    return { member, headers: this.#headers[member]!, body: BODIES[state] };
  }

  answered(member: number): void {
    this.#answered[member] = 1;
  }

  /** Members with at least one heartbeat answered 200. */
  get membersAnswered(): number {
    let n = 0;
    for (const a of this.#answered) n += a;
    return n;
  }

  /** For autocannon: each request the next heartbeat of the rounds. */
  requests(): Request[] {
    return [
      {
        setupRequest: (request, context) => {
          const next = this.next();
          context.member = next.member;
          return { ...request, headers: { ...request.headers, ...next.headers }, body: next.body };
        },
        onResponse: (status, _body, context) => {
          if (status === 200 && typeof context.member === 'number') this.answered(context.member);
        },
      },
    ];
  }
}

/**
 * One round of the heartbeats, every member's first (which inserts its row), `concurrency`
 * requests in flight: so the measured runs start with every row in place, as a running team's
 * would be. Answers how long the round took.
 */
export async function firstRound(baseUrl: string, rounds: HeartbeatRounds, concurrency: number): Promise<{ ms: number; heartbeats: number }> {
  if (rounds.sent !== 0) throw new Error('the first round must come first');
  const from = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, rounds.members.length) }, async () => {
      while (rounds.sent < rounds.members.length) {
        const next = rounds.next();
        const response = await fetch(`${baseUrl}/client/v1/presence`, { method: 'POST', headers: next.headers, body: next.body });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`POST /client/v1/presence answered ${response.status}: ${text.slice(0, 300)}`);
        rounds.answered(next.member);
      }
    }),
  );
  return { ms: performance.now() - from, heartbeats: rounds.members.length };
}

/** What GET /client/v1/presence lists for the members' accounts: members with a stored heartbeat. */
export interface ListedPresence {
  accounts: number;
  /** Team members listed (each account's whole team). */
  listed: number;
  /** Of those, with a last heartbeat (a member_presence row). */
  seen: number;
  /** Member ids listed more than once. */
  duplicates: number;
}

/**
 * Reads every account's presence list once (with its first member's token, `concurrency`
 * requests in flight): which members have a heartbeat stored. Each request is a database
 * transaction on whichever pool connection is free, which also gets PostgreSQL's backends to
 * report the statistics they still hold (see presenceWrites).
 */
export async function listPresence(baseUrl: string, members: TeamMemberIdentity[], concurrency = 20): Promise<ListedPresence> {
  const firsts = new Map<string, TeamMemberIdentity>();
  for (const m of members) if (!firsts.has(m.accountId)) firsts.set(m.accountId, m);
  const accounts = [...firsts.values()];
  const ids = new Set<string>();
  const result: ListedPresence = { accounts: accounts.length, listed: 0, seen: 0, duplicates: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, accounts.length) }, async () => {
      while (next < accounts.length) {
        const member = accounts[next++]!;
        const response = await fetch(`${baseUrl}/client/v1/presence`, { headers: { accept: 'application/json', authorization: `Bearer ${member.accessToken}` } });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`GET /client/v1/presence answered ${response.status}: ${text.slice(0, 300)}`);
        for (const item of (JSON.parse(text) as PresenceList).items) {
          result.listed += 1;
          if (ids.has(item.memberId)) result.duplicates += 1;
          ids.add(item.memberId);
          if (item.lastSeenAt !== null) result.seen += 1;
        }
      }
    }),
  );
  return result;
}

/** Rows written to member_presence, from PostgreSQL's statistics, and the rows it holds. */
export interface PresenceTableStats {
  inserted: number;
  updated: number;
  rows: number;
}

/**
 * member_presence's cumulative inserts and updates (pg_stat_user_tables) and its row count. A
 * backend reports its statistics when a transaction ends at least a second after its last report
 * (else ten seconds later, when idle), so read this a second after the load, right after a few
 * transactions on every pool connection (listPresence).
 */
export async function presenceTableStats(databaseUrl: string): Promise<PresenceTableStats> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const stats = await client.query<{ inserted: string; updated: string }>(
      `select n_tup_ins as inserted, n_tup_upd as updated from pg_stat_user_tables where relname = 'member_presence'`,
    );
    const rows = await client.query<{ rows: string }>('select count(*) as rows from member_presence');
    return { inserted: Number(stats.rows[0]?.inserted ?? NaN), updated: Number(stats.rows[0]?.updated ?? NaN), rows: Number(rows.rows[0]!.rows) };
  } finally {
    await client.end();
  }
}

/**
 * Heartbeats at a steady rate (not as fast as the server answers): every few milliseconds the
 * requests due so far are sent over a pool of keep-alive connections, each member's in turn
 * (HeartbeatRounds). A request finds a free connection or waits for one; the achieved rate says
 * whether the server kept up.
 */
export class PacedHeartbeats {
  readonly #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;
  readonly #rounds: HeartbeatRounds;
  readonly #rate: number;
  #timer: NodeJS.Timeout | null = null;
  #startedAt = 0;
  #issued = 0;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  #latencies: Samples | null = null;
  ok = 0;
  non2xx = 0;
  errors = 0;
  readonly problems: string[] = [];

  constructor(baseUrl: string, rounds: HeartbeatRounds, rate: number, sockets = 16) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#rounds = rounds;
    this.#rate = rate;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#timer = setInterval(() => this.#tick(), 4);
  }

  /** Whether every heartbeat due by now has been sent (within 10 ms' worth) and at most `waiting` are unanswered. */
  caughtUp(waiting = 16): boolean {
    const due = ((performance.now() - this.#startedAt) / 1000) * this.#rate;
    return this.#issued >= due - this.#rate / 100 - 1 && this.#inFlight <= waiting;
  }

  /** Latencies of the 200 answers from now on (replacing the ones kept so far). */
  record(): Samples {
    this.#latencies = new Samples();
    return this.#latencies;
  }

  /** Stops sending; resolves once every request in flight is answered. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#idle = null;
    this.#agent.destroy();
  }

  #tick(): void {
    const due = Math.floor(((performance.now() - this.#startedAt) / 1000) * this.#rate);
    // never more than a second's worth queued: a server that falls behind shows in the rate
    while (this.#issued < due && this.#inFlight < this.#rate) this.#send();
    if (this.#issued < due - this.#rate) this.#issued = due - this.#rate;
  }

  #send(): void {
    this.#issued += 1;
    this.#inFlight += 1;
    const next = this.#rounds.next();
    const sent = performance.now();
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      this.#inFlight -= 1;
      if (this.#inFlight === 0 && this.#idle) this.#idle();
    };
    const request = http.request(
      {
        host: this.#host,
        port: this.#port,
        method: 'POST',
        path: '/client/v1/presence',
        agent: this.#agent,
        headers: { ...next.headers, 'content-length': Buffer.byteLength(next.body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          if (response.statusCode === 200) {
            this.ok += 1;
            this.#latencies?.push(performance.now() - sent);
            this.#rounds.answered(next.member);
          } else {
            this.non2xx += 1;
            if (this.problems.length < 5) this.problems.push(`a background heartbeat answered ${response.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`);
          }
          done();
        });
        response.on('error', () => {
          if (!finished) this.errors += 1;
          done();
        });
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
    request.on('error', (error) => {
      if (finished) return;
      this.errors += 1;
      if (this.problems.length < 5) this.problems.push(`a background heartbeat failed: ${error.message}`);
      done();
    });
    request.end(next.body);
  }
}

/**
 * A presence stream (GET /client/v1/presence/stream) read as a desktop client of the account:
 * every event with the moment it was read, and a way to wait for one member's next state.
 */
class PresenceWatch {
  readonly #abort = new AbortController();
  #waiter: { memberId: string; state: PresenceState; resolve: (at: number) => void } | null = null;
  snapshot: MemberPresence[] | null = null;
  #snapshotSeen: (() => void) | null = null;
  events = 0;
  /** Why the stream ended early, if it did. */
  error: Error | null = null;
  #ended: Promise<void> = Promise.resolve();

  async open(baseUrl: string, accessToken: string, timeoutMs: number): Promise<void> {
    const response = await fetch(`${baseUrl}/client/v1/presence/stream`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${accessToken}` },
      signal: this.#abort.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`GET /client/v1/presence/stream answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    const snapshot = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the presence stream sent no snapshot within ${timeoutMs} ms`)), timeoutMs);
      this.#snapshotSeen = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#ended = readEventStream(response.body, (event, data) => this.#onEvent(event, data)).then(
      () => {
        if (!this.#abort.signal.aborted) this.error = new Error('node B ended the presence stream');
      },
      (error: unknown) => {
        if (!this.#abort.signal.aborted) this.error = error instanceof Error ? error : new Error(String(error));
      },
    );
    await snapshot;
  }

  #onEvent(event: string, data: string): void {
    const at = performance.now();
    if (event === 'snapshot') {
      this.snapshot = (JSON.parse(data) as PresenceList).items;
      this.#snapshotSeen?.();
      return;
    }
    if (event !== 'presence') return;
    this.events += 1;
    const member = JSON.parse(data) as MemberPresence;
    const waiter = this.#waiter;
    if (waiter && member.memberId === waiter.memberId && member.state === waiter.state) {
      this.#waiter = null;
      waiter.resolve(at);
    }
  }

  /** Resolves with the moment the stream shows `memberId` in `state` (NaN after timeoutMs). */
  next(memberId: string, state: PresenceState, timeoutMs: number): Promise<number> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.#waiter?.resolve === settle) this.#waiter = null;
        resolve(NaN);
      }, timeoutMs);
      const settle = (at: number) => {
        clearTimeout(timer);
        resolve(at);
      };
      this.#waiter = { memberId, state, resolve: settle };
    });
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#ended;
  }
}

export interface PresenceFanoutResult {
  scenario: string;
  /** State changes timed (after `warmup` unmeasured ones). */
  changes: number;
  warmup: number;
  /** Members heartbeating in the background on node A (all but the one flipped), and their accounts. */
  members: number;
  accounts: number;
  /** Background heartbeats per second asked for, and reached while the changes were timed. */
  targetRate: number;
  backgroundRate: number;
  /** Node A's answers to the background heartbeats while the changes were timed. */
  background: { ok: number; non2xx: number; errors: number; latencyMs: LatencySummary };
  /** Heartbeat with the new state sent to node A → the matching event read from node B's stream. */
  fromSentMs: Summary;
  /** Node A answered that heartbeat → the event (negative: the event came first). */
  afterAnswerMs: Summary;
  /** Node A's answer time for the state-changing heartbeats. */
  heartbeatMs: Summary;
  /** Presence events node B's stream carried while the changes were timed (others' away rounds too). */
  streamEvents: number;
  /** Average cores while the changes were timed. */
  cpu: { nodeA: number; nodeB: number; postgres: number; harness: number; other: number };
  /** RSS of both nodes right after, bytes. */
  rss: { nodeA: number; nodeB: number };
  failures: string[];
}

export const FANOUT_SCENARIO = 'Presence heartbeat node A → stream on node B';

/**
 * The fan-out: node B serves a presence stream to a desktop client of the first account; node A
 * takes a steady background of heartbeats from every other member (one round over them first,
 * unmeasured) and, `count` times after `warmup` unmeasured ones, a heartbeat that flips one
 * member of that account between away and online. Each is timed from sending it to node A to the
 * matching `presence` event read from node B's stream.
 */
export async function measureFanout(options: {
  nodeA: { url: string; pid: number };
  nodeB: { url: string; pid: number };
  database: string;
  members: TeamMemberIdentity[];
  /** Whether every member has heartbeated before (their rows in place); if not, a first round comes first. */
  rowsInPlace: boolean;
  count: number;
  warmup: number;
  rate: number;
  timeoutMs: number;
  progress: (message: string) => void;
}): Promise<PresenceFanoutResult> {
  const { members, nodeA, nodeB } = options;
  const accountId = members[0]!.accountId;
  const team = members.filter((m) => m.accountId === accountId);
  if (team.length < 2) throw new Error('the fan-out needs an account of at least two members');
  const flipped = team[0]!;
  const watcher = team[team.length - 1]!;
  const failures: string[] = [];

  const watch = new PresenceWatch();
  const rounds = new HeartbeatRounds(members.filter((m) => m !== flipped));
  const background = new PacedHeartbeats(nodeA.url, rounds, options.rate);
  const flipHeaders = heartbeatHeaders(flipped);
  const heartbeat = async (state: PresenceState) => {
    const response = await fetch(`${nodeA.url}/client/v1/presence`, { method: 'POST', headers: flipHeaders, body: BODIES[state] });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`node A answered ${response.status} to a heartbeat: ${text.slice(0, 300)}`);
  };

  const fromSent: number[] = [];
  const afterAnswer: number[] = [];
  const answerTimes: number[] = [];
  try {
    await watch.open(nodeB.url, watcher.accessToken, options.timeoutMs);
    if (!watch.snapshot?.some((m) => m.memberId === flipped.memberId)) throw new Error("node B's presence snapshot does not list the member whose state is flipped");
    if (!options.rowsInPlace) {
      const first = await firstRound(nodeA.url, rounds, 16);
      options.progress(`postgres: ${FANOUT_SCENARIO}: first heartbeat of each member (inserts its row), 16 in flight: ${(first.ms / 1000).toFixed(1)} s`);
    }
    background.start();
    const roundS = Math.max(1, Math.ceil(rounds.members.length / options.rate));
    options.progress(`postgres: ${FANOUT_SCENARIO}: node B streams account 1's presence; ${options.rate.toLocaleString('en-US')} heartbeats/s on node A, one round over ${rounds.members.length.toLocaleString('en-US')} members (${roundS} s) before timing`);
    // the flipped member starts online (a change or not); the stream has settled after a moment
    await heartbeat('online');
    await sleep(roundS * 1000);
    // a node that fell behind (first heartbeats after a while write) catches up before the timing
    const settleBy = performance.now() + 10_000;
    while (!background.caughtUp() && performance.now() < settleBy) await sleep(50);

    let latencies = background.record();
    let okBefore = background.ok;
    let eventsBefore = watch.events;
    let cpuA = cpuSnapshot(nodeA.pid, options.database);
    let cpuB = cpuSnapshot(nodeB.pid);
    let from = performance.now();
    for (let i = 0; i < options.warmup + options.count; i++) {
      if (i === options.warmup) {
        latencies = background.record();
        okBefore = background.ok;
        eventsBefore = watch.events;
        cpuA = cpuSnapshot(nodeA.pid, options.database);
        cpuB = cpuSnapshot(nodeB.pid);
        from = performance.now();
      }
      const state: PresenceState = i % 2 === 0 ? 'away' : 'online';
      const shown = watch.next(flipped.memberId, state, options.timeoutMs);
      const sent = performance.now();
      await heartbeat(state);
      const answered = performance.now();
      const at = await shown;
      if (!Number.isFinite(at)) {
        failures.push(
          `change ${i} (${state}): node B's stream had not shown it ${options.timeoutMs} ms after the heartbeat was sent` +
            (watch.error ? ` (the stream broke: ${watch.error.message})` : ''),
        );
        if (failures.length >= 5) break;
        continue;
      }
      if (i >= options.warmup) {
        fromSent.push(at - sent);
        afterAnswer.push(at - answered);
        answerTimes.push(answered - sent);
      }
      // a pause between changes, uneven so they do not keep step with anything periodic
      await sleep(10 + Math.random() * 20);
    }
    const elapsedS = (performance.now() - from) / 1000;
    const a = cpuUse(cpuA, cpuSnapshot(nodeA.pid, options.database));
    const b = cpuUse(cpuB, cpuSnapshot(nodeB.pid));
    const ok = background.ok - okBefore;
    const streamEvents = watch.events - eventsBefore;
    await background.stop();
    failures.push(...background.problems);
    return {
      scenario: FANOUT_SCENARIO,
      changes: fromSent.length,
      warmup: options.warmup,
      members: rounds.members.length,
      accounts: new Set(members.map((m) => m.accountId)).size,
      targetRate: options.rate,
      backgroundRate: ok / elapsedS,
      background: { ok: background.ok, non2xx: background.non2xx, errors: background.errors, latencyMs: latencies.summary() },
      fromSentMs: summarize(fromSent),
      afterAnswerMs: summarize(afterAnswer),
      heartbeatMs: summarize(answerTimes),
      streamEvents,
      cpu: { nodeA: a.server, nodeB: b.server, postgres: a.postgres, harness: a.generator, other: Math.max(0, a.other - b.server) },
      rss: { nodeA: readMemory(nodeA.pid)?.rss ?? NaN, nodeB: readMemory(nodeB.pid)?.rss ?? NaN },
      failures,
    };
  } finally {
    await background.stop();
    await watch.close();
  }
}
