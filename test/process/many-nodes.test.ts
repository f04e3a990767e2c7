import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import { TesseraError } from '../../src/client/sdk.ts';
import { PLANS } from '../../src/server/domain/plans/catalog.ts';
import type { Lease } from '../../src/shared/connections.ts';
import type { PresenceState, PresenceStreamEvent } from '../../src/shared/presence.ts';
import { createServerDatabase, query } from '../support/databases.ts';
import { between, highestPeak, holdPlan, type Interval, LEASE_QUERY, leaseKeys, type LeaseRow, recordEnd, recordIntervals, seededRandom, sweep, type SweepResult } from '../support/lease-record.ts';
import { assertMigratedOnce, fetchFrom, signInPortal, startNodesTogether, type PortalSession } from '../support/nodes.ts';
import { killAllServers, mapLimit, type ServerProcess } from '../support/server-process.ts';

/**
 * Many nodes at once: N server processes on one PostgreSQL database, run together with the rules
 * that must hold across them, while one of them is killed.
 *
 * 1. The N processes are spawned at the same moment on an empty database: all become ready and
 *    each migration is applied once.
 * 2. C desktop clients (TesseraDesktopClient over HTTP), each signed in on one node, spread over
 *    a few accounts, open, renew, close and sometimes abandon connection leases against the
 *    account allowance, members' fixed limits and one connection per device, and send presence
 *    heartbeats, for D seconds.
 * 3. Meanwhile, on one node, an owner revokes a login token, removes a member and revokes an
 *    access key of each account: every other node must refuse the credential in answer to a
 *    request sent within REVOCATION_BOUND_MS of the revocation's answer (the nodes cache
 *    credentials for a minute, so only the NOTIFY can explain that), and the owner's presence
 *    stream (the portal's, one per node) must show the member offline or removed. Each member's
 *    presence is turned between online and away by one of its clients: every stream on another
 *    node must show each turn within PRESENCE_BOUND_MS of the node taking the heartbeat.
 * 4. At a random moment in the middle third (once every account has a lease held through it) one
 *    node is SIGKILLed. Its clients move to the next node with their refresh token and carry on;
 *    the leases they held through it are given up, as a program whose server vanished
 *    mid-request would (it cannot know whether its last request landed): they must end by their
 *    TTL and their slots be taken again.
 * 5. Afterwards the record (`connection_leases`) is replayed per account: no account, member,
 *    device or slot row ever held more than its limit, neither in the record nor in what the
 *    clients were told (test/support/lease-record.ts); every lease in the record is accounted
 *    for; no client saw a 5xx; and the run meant something (hundreds of opens, refusals of every
 *    kind, failovers, leases orphaned by the kill).
 *
 * TESSERA_NODES (≥ 3: a revocation after the kill still needs a node to make it and one to check),
 * TESSERA_CLIENTS and TESSERA_DURATION_SECONDS scale it (docs/many-nodes.md); the random choices
 * come from a seeded PRNG whose seed is printed (TESSERA_MANY_NODES_SEED=<n> replays them; the
 * interleaving is the machine's).
 */

function setting(name: string, fallback: number, least: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  assert.ok(Number.isInteger(value) && value >= least, `${name} must be a whole number ≥ ${least} (got ${raw})`);
  return value;
}

/** Members of each account that carry the load: their fixed connection limits (null: the allowance only). */
const LOAD_MEMBER_LIMITS = [1, 2, 3, null, 1, null];
/** Besides them, each account has a member whose login token is revoked and one who is removed, one client each. */
const MEMBERS_PER_ACCOUNT = LOAD_MEMBER_LIMITS.length + 2;

const NODES = setting('TESSERA_NODES', 3, 3);
const DURATION_S = setting('TESSERA_DURATION_SECONDS', 20, 15);
/** About 50 clients an account: the allowance of 10 is then always contested. */
const CLIENTS = setting('TESSERA_CLIENTS', 80, 2 * MEMBERS_PER_ACCOUNT);
const ACCOUNTS = Math.max(2, Math.min(Math.ceil(CLIENTS / 50), Math.floor(CLIENTS / MEMBERS_PER_ACCOUNT)));
const SEED = process.env.TESSERA_MANY_NODES_SEED ? Number(process.env.TESSERA_MANY_NODES_SEED) >>> 0 : randomInt(2 ** 31);

const PASSWORD = 'correct horse 42 battery';
const SECRET = randomBytes(32).toString('hex');
const DEVICES_PER_ACCOUNT = 12;
const ALLOWANCE = PLANS.starter!.connectionAllowance;
/** The shortest lease the server allows: a lease given up by a client ends this soon. */
const TTL_SECONDS = 5;
const TTL_MS = TTL_SECONDS * 1000;
/** Heartbeats every 3 s (a quarter), so every member's clients keep it online all run long. */
const PRESENCE_TIMEOUT_SECONDS = 12;
const HEARTBEAT_MS = (PRESENCE_TIMEOUT_SECONDS / 4) * 1000;
/** Credentials stay cached on a node this long: a refusal within the bound below is the NOTIFY's doing. */
const CACHE_SECONDS = 60;
/** Every other node refuses a revoked credential within this long after the revocation was answered. */
const REVOCATION_BOUND_MS = 1000;
/** Every stream shows a presence change within this long after the heartbeat (or the revocation) was sent. */
const PRESENCE_BOUND_MS = 2000;
/** The kill waits at most this long for leases to orphan. */
const KILL_WAIT_MS = 2000;
/** The client that turns a member's presence does so this often (ms). */
const TURN_EVERY_MS = { least: 700, most: 1500 };

/** Lease behaviour, as in test/process/leases.test.ts (holdPlan): mostly short holds, some renewed, a few at the edge of expiry. */
const ABANDON_EVERY = 40;
const REFUSED_PAUSE_MS = { first: 200, most: 3000, device: 50 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

type Role = 'load' | 'token-revoked' | 'removed';

interface MemberRun {
  id: string;
  name: string;
  limit: number | null;
  role: Role;
  firstTokenId: string;
  firstToken: string;
  /** What its clients say in heartbeats; the member's first client turns it between online and away. */
  state: PresenceState;
  /**
   * The member's heartbeats go one at a time: then each turn is exactly one change in the
   * database, and the first event of that state on a stream after the turn was sent is its own.
   */
  turn: Promise<void>;
  /**
   * Set the moment the revocation is sent: from then on a 401 (or 404 on its lease) is this
   * member's due. Completed with when it was answered and when every live node had refused it.
   */
  revoked: { sentAt: number; answeredAt: number; refusedEverywhereAt: number } | null;
}

interface StreamWatch {
  node: number;
  events: Array<{ at: number; event: PresenceStreamEvent }>;
  state: Map<string, PresenceState | 'removed'>;
  snapshotAt: number | null;
  endedAt: number | null;
  error: unknown;
  done: Promise<void>;
}

interface AccountRun {
  index: number;
  id: string;
  /** The owner signed in on each node. */
  owners: PortalSession[];
  deviceIds: string[];
  members: MemberRun[];
  key: { id: string; secret: string };
  streams: StreamWatch[];
  held: HeldLease[];
  opens: number;
  /** Opens whose answer the kill swallowed: each may or may not be in the record. */
  interruptedOpens: number;
}

interface SimClient {
  index: number;
  account: AccountRun;
  member: MemberRun;
  /** Turns its member's presence (the member's first client). */
  turner: boolean;
  startNode: number;
  node: number;
  desktop: TesseraDesktopClient;
  fetch: typeof fetch;
  /** Its lease choices and its heartbeat timing, each from a sequence of its own, so a seed replays both. */
  rng: () => number;
  beatRng: () => number;
  heartbeatMs: number;
  failingOver: Promise<void> | null;
  failedOverAt: number | null;
  /** Successful calls after its failover. */
  answeredAfterFailover: number;
  stopped: boolean;
}

type Outcome = 'open' | 'closed' | 'abandoned' | 'lost' | 'orphaned' | 'revoked';

/** A lease as its client knows it: held for certain from the 201 until `until`. */
interface HeldLease {
  leaseId: string;
  member: MemberRun;
  deviceId: string;
  node: number;
  from: number;
  until: number;
  closeSentAt: number | null;
  outcome: Outcome;
}

type RevocationKind = 'login token' | 'member' | 'access key';

interface Revocation {
  account: AccountRun;
  kind: RevocationKind;
  at: number;
  node: number;
  sentAt: number;
  answeredAt: number;
  /**
   * Per other node, its first 401: when that request was sent and when it was answered, in ms
   * after the revocation was answered; null when the node died first.
   */
  refusedAfter: Map<number, { sent: number; answered: number } | null>;
  /** Per stream (node): ms from sending the revocation to the member shown offline or removed, null when never. */
  shownAfter: Map<number, number | null>;
  failures: string[];
}

/** A request to a node that was killed failed: the client moves on. */
class NodeGone extends Error {
  constructor(node: number) {
    super(`node ${node} is gone`);
  }
}

test(`many nodes: ${NODES} server processes, ${CLIENTS} desktop clients, ${DURATION_S} s, one node killed`, async (t) => {
  const rng = seededRandom(SEED);
  const stats = {
    opens: 0,
    closes: 0,
    abandons: 0,
    lost: 0,
    orphaned: 0,
    renewals: 0,
    heartbeats: 0,
    failovers: 0,
    refused: { account: 0, member: 0, device: 0 },
    statuses: new Map<number, number>(),
    opensByNode: Array.from({ length: NODES }, () => 0),
    unexpected: [] as string[],
    samples: [] as Array<{ account: AccountRun; memberId: string; state: PresenceState; sentAt: number; node: number }>,
  };

  // 1. N processes at the same moment on an empty database
  const database = await createServerDatabase();
  cleanups.push(database.drop);
  const spawnedAt = Date.now();
  const nodes: ServerProcess[] = await startNodesTogether(
    NODES,
    {
      databaseUrl: database.url,
      secret: SECRET,
      env: {
        TESSERA_LEASE_TTL_SECONDS: String(TTL_SECONDS),
        TESSERA_PRESENCE_TIMEOUT_SECONDS: String(PRESENCE_TIMEOUT_SECONDS),
        TESSERA_CLIENT_TOKEN_CACHE_SECONDS: String(CACHE_SECONDS),
        TESSERA_SESSION_CACHE_SECONDS: String(CACHE_SECONDS),
        // as behind a load balancer: every client is a machine of its own, so failed exchanges
        // (a revoked client's last refresh) are counted per client, not for the whole run
        TESSERA_TRUST_PROXY: 'true',
      },
    },
    cleanups,
  );
  const readyMs = Date.now() - spawnedAt;
  const migrations = await assertMigratedOnce(database.url);

  const killed = new Set<number>();
  const victim = Math.floor(rng() * NODES);
  let killedAt = Infinity;
  /** How many accounts had a lease held through the node when it was killed. */
  let killedHolding = 0;
  let exitedAt = Infinity;
  const nodeOf = (url: string) => nodes.findIndex((n) => url.startsWith(`${n.url}/`));

  /** Node's fetch: counts every answer; a network error is the kill's when it hit the killed node, else unexpected. */
  const countingFetch: typeof fetch = async (input, init) => {
    const url = String(input);
    const node = nodeOf(url);
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      if (killed.has(node)) throw new NodeGone(node);
      stats.unexpected.push(`${init?.method ?? 'GET'} ${url}: network error ${(error as Error).message} ${String((error as Error).cause ?? '')}`);
      throw error;
    }
    stats.statuses.set(response.status, (stats.statuses.get(response.status) ?? 0) + 1);
    if (response.status >= 500) stats.unexpected.push(`${init?.method ?? 'GET'} ${url}: ${response.status} ${await response.clone().text()}`);
    return response;
  };

  // 2. accounts: an owner signed in on every node, an organization with devices, members, an access key
  const setUpStart = Date.now();
  const accounts: AccountRun[] = await mapLimit(Array.from({ length: ACCOUNTS }, (_, a) => a), 2, async (a) => {
    const email = `many-nodes.${a}.${process.pid}.${randomBytes(3).toString('hex')}@example.test`;
    const registered = await nodes[a % NODES]!.client().register({ name: `Owner ${a}`, email, password: PASSWORD, companyName: `Many Nodes ${a} Ltd`, country: 'DE' });
    const accountId = registered.account.id;
    const owners = await Promise.all(nodes.map((node, n) => signInPortal(node, email, PASSWORD, `10.200.${a}.${n}`)));
    const owner = owners[a % NODES]!.portal;
    const org = await owner.createOrganization(accountId, { name: 'Lab' });
    const deviceIds = await mapLimit(Array.from({ length: DEVICES_PER_ACCOUNT }, (_, i) => i), 4, async (i) =>
      (await owner.createDevice(accountId, org.id, { name: `Bench ${a}.${i}`, kind: 'usb', identifier: `MANY-${a}-${i}` })).id,
    );
    const plan: Array<{ limit: number | null; role: Role }> = [
      { limit: null, role: 'token-revoked' },
      { limit: null, role: 'removed' },
      ...LOAD_MEMBER_LIMITS.map((limit) => ({ limit, role: 'load' as const })),
    ];
    const members = await mapLimit(plan, 4, async ({ limit, role }, i): Promise<MemberRun> => {
      const name = `${role === 'load' ? 'Member' : role === 'removed' ? 'Removed' : 'Revoked'} ${a}.${i}`;
      const added = await owner.addTeamMember(accountId, { name, ...(limit === null ? {} : { connectionLimit: limit }) });
      return { id: added.member.id, name, limit, role, firstTokenId: added.firstToken.token.id, firstToken: added.firstToken.secret, state: 'online', turn: Promise.resolve(), revoked: null };
    });
    const issued = await owner.createAccessKey(accountId, { name: 'Presence export', role: 'viewer' });
    return { index: a, id: accountId, owners, deviceIds, members, key: { id: issued.key.id, secret: issued.secret }, streams: [], held: [], opens: 0, interruptedOpens: 0 };
  });

  // the clients: account by turn; in each, the first two are the revoked and the removed member's
  // only clients, the rest spread over the load members; the account's clients over the nodes by turn
  const perAccount = new Map<AccountRun, number>();
  const clients: SimClient[] = await mapLimit(Array.from({ length: CLIENTS }, (_, i) => i), 16, async (i) => {
    const account = accounts[i % ACCOUNTS]!;
    const j = perAccount.get(account) ?? 0;
    perAccount.set(account, j + 1);
    const member = j < 2 ? account.members[j]! : account.members[2 + ((j - 2) % LOAD_MEMBER_LIMITS.length)]!;
    const turner = member.role === 'load' && j < 2 + LOAD_MEMBER_LIMITS.length;
    // every other load client signs in with a login token of its own, the rest with their member's first one
    const loginToken = j >= 2 + LOAD_MEMBER_LIMITS.length && j % 2 === 1
      ? (await account.owners[i % NODES]!.portal.createLoginToken(account.id, member.id, { label: `Desk ${i}` })).secret
      : member.firstToken;
    const node = (account.index + j) % NODES;
    const clientFetch = fetchFrom(`10.${1 + ((i >> 16) & 255)}.${(i >> 8) & 255}.${i & 255}`, countingFetch);
    const desktop = new TesseraDesktopClient({ baseUrl: nodes[node]!.url, fetch: clientFetch, userAgent: `many-nodes/${i}` });
    await desktop.signInWithLoginToken(loginToken);
    return {
      index: i, account, member, turner, startNode: node, node, desktop, fetch: clientFetch,
      rng: seededRandom(SEED + Math.imul(i + 1, 0x9e3779b9)),
      beatRng: seededRandom(SEED + Math.imul(i + 1, 0x85ebca6b)),
      heartbeatMs: 0, failingOver: null, failedOverAt: null, answeredAfterFailover: 0, stopped: false,
    };
  });
  for (const account of accounts) {
    const listed = await clients.find((c) => c.account === account)!.desktop.devices({ limit: 100 });
    assert.deepEqual(new Set(listed.items.map((d) => d.id)), new Set(account.deviceIds), 'a client sees its account’s devices');
  }

  // the owner's presence stream on every node, as the portal's Team accounts page follows it
  const streamsStop = new AbortController();
  for (const account of accounts) {
    account.streams = account.owners.map((owner, node) => {
      const watch: StreamWatch = { node, events: [], state: new Map(), snapshotAt: null, endedAt: null, error: null, done: Promise.resolve() };
      watch.done = owner
        .watchPresence(account.id, (event) => {
          const at = Date.now();
          watch.events.push({ at, event });
          if (event.type === 'snapshot') {
            watch.snapshotAt ??= at;
            for (const m of event.items) watch.state.set(m.memberId, m.state);
          } else if (event.type === 'presence') watch.state.set(event.member.memberId, event.member.state);
          else watch.state.set(event.memberId, 'removed');
        }, streamsStop.signal)
        .catch((error: unknown) => {
          watch.error = error;
        })
        .finally(() => {
          watch.endedAt = Date.now();
        });
      return watch;
    });
  }
  await waitFor('every presence stream’s snapshot', () => accounts.every((a) => a.streams.every((s) => s.snapshotAt !== null)), 10_000);
  const setUpMs = Date.now() - setUpStart;

  // the timeline
  const runMs = DURATION_S * 1000;
  const start = Date.now();
  const deadline = start + runMs;
  // in the middle third, and early enough that the leases it orphans expire with time to spare
  const killAt = start + runMs / 3 + rng() * (Math.min((2 * runMs) / 3, runMs - TTL_MS - KILL_WAIT_MS - 2000) - runMs / 3);
  const kinds: RevocationKind[] = ['login token', 'member', 'access key'];
  const planned = accounts.flatMap((account) => kinds.map((kind) => ({ account, kind })));
  for (let i = planned.length - 1; i > 0; i--) {
    const k = Math.floor(rng() * (i + 1));
    [planned[i], planned[k]] = [planned[k]!, planned[i]!];
  }
  const spacing = (0.76 * runMs) / planned.length;
  const revocationsPlanned = planned.map((p, i) => ({ ...p, at: start + 0.12 * runMs + (i + 0.5) * spacing + between(rng, -spacing / 4, spacing / 4) }));
  const revocations: Revocation[] = [];

  /** What a failed call means for this client; the unexpected is noted and rethrown. */
  function classify(c: SimClient, node: number, error: unknown, what: string): 'gone' | 'revoked' | 'not-found' | 'account' | 'member' | 'device' {
    // a body cut off by the kill surfaces from the SDK as the fetch's own error
    if (error instanceof NodeGone || (killed.has(node) && !(error instanceof TesseraError) && !(error instanceof TesseraOAuthError))) return 'gone';
    if (c.member.revoked) {
      // its session ended: 401 (after the SDK's one refresh), or its lease already closed by the revocation
      if (error instanceof TesseraError && (error.status === 401 || error.status === 404)) return 'revoked';
      if (error instanceof TesseraOAuthError && error.error === 'invalid_grant') return 'revoked';
    }
    if (error instanceof TesseraError && error.status === 409 && error.problem.limit) return error.problem.limit;
    if (error instanceof TesseraError && error.status === 404) return 'not-found';
    stats.unexpected.push(`client ${c.index} ${what} on node ${node}: ${error instanceof TesseraError ? `${error.status} ${JSON.stringify(error.problem)}` : String(error)}`);
    throw error;
  }

  /** Moves the client to the next node that answers, signed in there with its refresh token. */
  async function failOver(c: SimClient, from: number): Promise<void> {
    if (c.node !== from) return; // the other loop already moved it
    c.failingOver ??= (async () => {
      for (let k = 1; k < NODES; k++) {
        const next = (from + k) % NODES;
        const tokens = c.desktop.tokens;
        if (!tokens) {
          c.stopped = true; // the SDK dropped them: the session was revoked
          return;
        }
        const desktop = new TesseraDesktopClient({ baseUrl: nodes[next]!.url, fetch: c.fetch, userAgent: `many-nodes/${c.index}` });
        desktop.useRefreshToken(tokens.refresh_token);
        try {
          await desktop.refresh();
        } catch (error) {
          const failure = classify(c, next, error, 'refresh on failover');
          if (failure === 'gone') continue;
          if (failure !== 'revoked') throw error;
          c.stopped = true;
          return;
        }
        c.desktop = desktop;
        c.node = next;
        c.failedOverAt = Date.now();
        stats.failovers += 1;
        return;
      }
      throw new Error(`client ${c.index}: no node answered`);
    })().finally(() => {
      c.failingOver = null;
    });
    await c.failingOver;
  }

  /** classify, then act: move on from a dead node, stop once revoked. */
  async function recover(c: SimClient, node: number, error: unknown, what: string) {
    const failure = classify(c, node, error, what);
    if (failure === 'gone') await failOver(c, node);
    if (failure === 'revoked') c.stopped = true;
    return c.stopped ? 'revoked' : failure;
  }

  const answered = (c: SimClient) => {
    if (c.failedOverAt !== null) c.answeredAfterFailover += 1;
  };

  async function leaseLoop(c: SimClient): Promise<void> {
    const { rng, account } = c;
    let refusedInARow = 0;
    while (Date.now() < deadline && !c.stopped) {
      const deviceId = account.deviceIds[Math.floor(rng() * account.deviceIds.length)]!;
      const node = c.node;
      let lease: Lease;
      try {
        lease = await c.desktop.connect(deviceId);
      } catch (error) {
        const failure = await recover(c, node, error, 'open');
        if (failure === 'gone') {
          account.interruptedOpens += 1;
          continue;
        }
        if (failure === 'revoked') return;
        if (failure === 'not-found') throw error;
        stats.refused[failure] += 1;
        const pause = failure === 'device' ? REFUSED_PAUSE_MS.device : Math.min(REFUSED_PAUSE_MS.most, REFUSED_PAUSE_MS.first * 2 ** refusedInARow++);
        await sleep(Math.max(0, Math.min(between(rng, pause / 2, pause), deadline - Date.now())));
        continue;
      }
      answered(c);
      refusedInARow = 0;
      const held: HeldLease = { leaseId: lease.leaseId, member: c.member, deviceId, node, from: Date.now(), until: Date.parse(lease.expiresAt), closeSentAt: null, outcome: 'open' };
      account.held.push(held);
      stats.opens += 1;
      stats.opensByNode[node]! += 1;
      const abandon = ++account.opens % ABANDON_EVERY === ABANDON_EVERY / 2;
      held.outcome = await hold(c, held, abandon);
      if (held.outcome === 'closed') stats.closes += 1;
      else if (held.outcome === 'abandoned') stats.abandons += 1;
      else if (held.outcome === 'lost') stats.lost += 1;
      else if (held.outcome === 'orphaned') stats.orphaned += 1;
      await sleep(Math.max(0, Math.min(between(rng, 0, 40), deadline - Date.now())));
    }
  }

  /** Holds a lease a while, renewing as planned, then closes or abandons it; answers how it ended. */
  async function hold(c: SimClient, held: HeldLease, abandon: boolean): Promise<Outcome> {
    const { rng } = c;
    const { holdUntil, renewAt } = holdPlan(rng, Date.now(), held.until, deadline);
    for (const at of renewAt) {
      if (at >= holdUntil) break;
      await sleep(Math.max(0, at - Date.now()));
      if (c.stopped) return 'revoked';
      if (c.node !== held.node) return 'orphaned'; // its node died meanwhile (the heartbeats found out)
      try {
        const renewed = await c.desktop.renew(held.leaseId);
        held.until = Date.parse(renewed.expiresAt);
        stats.renewals += 1;
        answered(c);
      } catch (error) {
        const failure = await recover(c, held.node, error, 'renew');
        if (failure === 'gone') return 'orphaned';
        if (failure === 'revoked') return 'revoked';
        if (failure === 'not-found') return 'lost'; // renewed too late: it had expired
        throw error;
      }
    }
    await sleep(Math.max(0, holdUntil - Date.now()));
    if (c.stopped) return 'revoked';
    if (c.node !== held.node) return 'orphaned';
    if (abandon) return 'abandoned'; // never renewed again, never closed
    held.closeSentAt = Date.now();
    held.until = Math.min(held.until, held.closeSentAt);
    try {
      await c.desktop.disconnect(held.leaseId);
      answered(c);
      return 'closed';
    } catch (error) {
      const failure = await recover(c, held.node, error, 'close');
      if (failure === 'gone') return 'orphaned';
      if (failure === 'revoked') return 'revoked';
      throw error;
    }
  }

  /** Heartbeats as the server asks (its answer's heartbeatSeconds); a member's first client turns its state instead, more often. */
  async function heartbeatLoop(c: SimClient): Promise<void> {
    // the first heartbeats spread over one interval; the revoked and removed members' clients
    // beat at once, so they show online before their revocation
    let next = c.member.role === 'load' ? start + between(c.beatRng, 0, HEARTBEAT_MS) : start;
    for (;;) {
      await sleep(Math.max(0, Math.min(next, deadline) - Date.now()));
      if (Date.now() >= deadline || c.stopped) return;
      const run = c.member.turn.then(() => beat(c));
      c.member.turn = run.catch(() => {});
      await run;
      next = Date.now() + (c.turner ? between(c.beatRng, TURN_EVERY_MS.least, TURN_EVERY_MS.most) : between(c.beatRng, 0.8, 1) * c.heartbeatMs);
    }
  }

  async function beat(c: SimClient): Promise<void> {
    const { member } = c;
    if (c.turner) member.state = member.state === 'online' ? 'away' : 'online';
    const state = member.state;
    const sentAt = Date.now();
    while (!c.stopped) {
      const node = c.node;
      try {
        const answer = await c.desktop.heartbeat(state);
        c.heartbeatMs = answer.heartbeatSeconds * 1000;
        stats.heartbeats += 1;
        answered(c);
        if (c.turner) stats.samples.push({ account: c.account, memberId: member.id, state, sentAt, node });
        return;
      } catch (error) {
        if ((await recover(c, node, error, 'heartbeat')) !== 'gone') return;
      }
    }
  }

  async function killVictim(): Promise<void> {
    await sleep(killAt - Date.now());
    // at a moment when every account has a lease held through the node (most are held for
    // milliseconds), so that the kill surely orphans some; on a busy machine with many accounts
    // that moment may not come within the wait, and then it kills anyway
    const holding = () => accounts.filter((a) => a.held.some((h) => h.node === victim && h.outcome === 'open' && h.closeSentAt === null && !h.member.revoked)).length;
    const waitUntil = Date.now() + KILL_WAIT_MS;
    while (holding() < ACCOUNTS && Date.now() < waitUntil) await sleep(1);
    killedHolding = holding();
    killed.add(victim);
    killedAt = Date.now();
    const exit = await nodes[victim]!.crash();
    exitedAt = Date.now();
    assert.equal(exit.signal, 'SIGKILL');
  }

  /** The status of `path` on `node` with a bearer credential, or null when the node is gone. */
  async function statusWith(node: number, path: string, bearer: string, address: string): Promise<number | null> {
    try {
      const response = await fetch(`${nodes[node]!.url}${path}`, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/json', 'x-forwarded-for': address } });
      await response.arrayBuffer();
      return response.status;
    } catch (error) {
      if (killed.has(node)) return null;
      throw error;
    }
  }

  /** Waits until every live stream of the account shows `check`; answers per node the ms after `since`, null when never. */
  async function shownOnStreams(account: AccountRun, since: number, check: (event: PresenceStreamEvent) => boolean): Promise<Map<number, number | null>> {
    const shown = new Map<number, number | null>();
    await Promise.all(
      account.streams
        .filter((s) => !killed.has(s.node))
        .map(async (stream) => {
          for (;;) {
            const found = stream.events.find((e) => e.at >= since && check(e.event));
            if (found) return void shown.set(stream.node, found.at - since);
            if (killed.has(stream.node)) return; // died first: no measure
            if (Date.now() - since > PRESENCE_BOUND_MS) return void shown.set(stream.node, null);
            await sleep(5);
          }
        }),
    );
    return shown;
  }

  /**
   * Revokes one credential through one node (never the one about to be killed: its answer must
   * not be lost), then polls every other node until it answers 401.
   */
  async function revoke(planned: { account: AccountRun; kind: RevocationKind; at: number }, index: number): Promise<void> {
    const { account, kind } = planned;
    await sleep(Math.max(0, planned.at - Date.now()));
    const live = nodes.map((_, n) => n).filter((n) => !killed.has(n));
    const makers = live.filter((n) => n !== victim);
    const node = makers[Math.floor(rng() * makers.length)]!;
    const owner = account.owners[node]!.portal;
    const address = `10.201.${index >> 8}.${index & 255}`;
    const failures: string[] = [];
    let path: string;
    let bearer: string;
    let action: () => Promise<void>;
    let member: MemberRun | null = null;
    if (kind === 'access key') {
      path = `/api/v1/accounts/${account.id}/presence`;
      bearer = account.key.secret;
      action = () => owner.revokeAccessKey(account.id, account.key.id);
    } else {
      member = account.members.find((m) => m.role === (kind === 'login token' ? 'token-revoked' : 'removed'))!;
      const client = clients.find((c) => c.member === member)!;
      // not /me: it reads the member, so a removal shows there even from a cached token
      path = '/client/v1/presence';
      bearer = client.desktop.tokens!.access_token;
      const revoked = member;
      action = kind === 'login token' ? () => owner.revokeLoginToken(account.id, revoked.id, revoked.firstTokenId) : () => owner.removeTeamMember(account.id, revoked.id);
      for (const stream of account.streams.filter((s) => !killed.has(s.node))) {
        const deadlineOnline = Date.now() + PRESENCE_BOUND_MS;
        while (stream.state.get(revoked.id) !== 'online' && Date.now() < deadlineOnline) await sleep(10);
        if (stream.state.get(revoked.id) !== 'online') failures.push(`${revoked.name} was not online on node ${stream.node}'s stream before the revocation`);
      }
    }
    // every live node accepts the credential, and from now on has it cached
    for (const n of live) {
      const status = await statusWith(n, path, bearer, address);
      if (status !== null && status !== 200) failures.push(`node ${n} refused the ${kind} before its revocation (${status})`);
    }
    const sentAt = Date.now();
    if (member) member.revoked = { sentAt, answeredAt: Infinity, refusedEverywhereAt: Infinity };
    await action();
    const answeredAt = Date.now();
    // the node that made the change refuses at once; the others are polled from the same moment
    const here = statusWith(node, path, bearer, address).then((status) => {
      if (status !== 401) failures.push(`node ${node}, which revoked the ${kind}, still answered ${status}`);
    });
    const refusedAfter = new Map<number, { sent: number; answered: number } | null>();
    const polling = Promise.all(
      live
        .filter((n) => n !== node)
        .map(async (n) => {
          for (;;) {
            const sent = Date.now() - answeredAt;
            const status = await statusWith(n, path, bearer, address);
            const elapsed = Date.now() - answeredAt;
            if (status === null) return void refusedAfter.set(n, null);
            if (status === 401) return void refusedAfter.set(n, { sent, answered: elapsed });
            if (status !== 200) return void failures.push(`node ${n} answered ${status} for the revoked ${kind}`);
            if (sent > REVOCATION_BOUND_MS) return void failures.push(`node ${n} still accepted the revoked ${kind} in a request sent ${sent} ms after the revocation was answered`);
            await sleep(5);
          }
        }),
    );
    const shownAfter = member
      ? await shownOnStreams(account, sentAt, (e) =>
          kind === 'login token' ? e.type === 'presence' && e.member.memberId === member.id && e.member.state === 'offline' : e.type === 'removed' && e.memberId === member.id,
        )
      : new Map<number, number | null>();
    await Promise.all([here, polling]);
    if (member) {
      const latest = Math.max(0, ...[...refusedAfter.values()].map((d) => d?.answered ?? 0));
      member.revoked = { sentAt, answeredAt, refusedEverywhereAt: answeredAt + latest };
    }
    revocations.push({ account, kind, at: planned.at, node, sentAt, answeredAt, refusedAfter, shownAfter, failures });
  }

  async function revoker(): Promise<void> {
    for (const [index, planned] of revocationsPlanned.entries()) await revoke(planned, index);
  }

  const guard = (what: string, run: Promise<void>, c?: SimClient) =>
    run.catch((error: unknown) => {
      stats.unexpected.push(`${what}: ${(error as Error).stack ?? String(error)}`);
      if (c) c.stopped = true;
    });
  await Promise.all([
    ...clients.flatMap((c) => [guard(`client ${c.index} leases`, leaseLoop(c), c), guard(`client ${c.index} heartbeats`, heartbeatLoop(c), c)]),
    guard('revocations', revoker()),
    guard('the kill', killVictim()),
  ]);
  const lastFinish = Date.now();

  // every lease ends by itself within a TTL of its last renewal: then nothing is in use
  const latestExpiry = Math.max(0, ...accounts.flatMap((a) => a.held.map((h) => h.until)));
  const inUseAfter = await Promise.all(
    accounts.map(async (account) => {
      const watcher = clients.find((c) => c.account === account && !c.stopped)!;
      for (;;) {
        const me = await watcher.desktop.me();
        assert.equal(me.connections.accountAllowance, ALLOWANCE);
        if (me.connections.accountInUse === 0 || Date.now() > latestExpiry + 3000) return { inUse: me.connections.accountInUse, at: Date.now() };
        await sleep(Math.min(500, Math.max(50, latestExpiry - Date.now() + 20)));
      }
    }),
  );
  streamsStop.abort();
  await Promise.all(accounts.flatMap((a) => a.streams.map((s) => s.done)));

  // 5. the record, account by account
  const survivors = nodes.filter((_, n) => n !== victim);
  const report: string[] = [];
  let violations = 0;
  const withoutOrphans: number[] = [];
  const problems: string[] = [];
  for (const account of accounts) {
    const rows = await query<LeaseRow>(database.url, LEASE_QUERY, [account.id]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const memberOf = new Map(account.members.map((m) => [m.id, m]));
    const limitOf = (key: string): number => {
      if (key === 'account') return ALLOWANCE;
      if (key.startsWith('member:')) return memberOf.get(key.slice('member:'.length))!.limit ?? Infinity;
      return 1; // a device, a slot row
    };
    const record = sweep(recordIntervals(rows, (id) => id), limitOf);
    // what the clients know: a revoked member's leases only until the revocation was sent
    const observed = sweep(
      account.held.map((h) => ({ id: h.leaseId, start: h.from, end: Math.min(h.until, h.member.revoked?.sentAt ?? Infinity), keys: leaseKeys(h.member.id, h.deviceId, byId.get(h.leaseId)) })),
      limitOf,
    );
    violations += record.violations.length + observed.violations.length;
    if (record.violations.length > 0) problems.push(`account ${account.index}: the record shows a limit oversubscribed:\n${describeViolations(record, byId)}`);
    if (observed.violations.length > 0) problems.push(`account ${account.index}: the clients held more than a limit allows:\n${describeViolations(observed, byId)}`);

    // every lease is accounted for: the clients' story, plus the opens the kill cut off
    const known = new Set(account.held.map((h) => h.leaseId));
    const missing = account.held.filter((h) => !byId.has(h.leaseId));
    if (missing.length > 0) problems.push(`account ${account.index}: ${missing.length} leases answered 201 are not in the record`);
    const unknown = rows.filter((r) => !known.has(r.id));
    if (unknown.length > account.interruptedOpens) problems.push(`account ${account.index}: ${unknown.length} leases nobody was told of, but only ${account.interruptedOpens} opens were cut off by the kill`);
    for (const r of unknown) {
      if (r.closed_at !== null || r.opened_at.getTime() > exitedAt) problems.push(`account ${account.index}: lease ${r.id} nobody was told of is not an open cut off by the kill (opened ${r.opened_at.toISOString()}, closed ${r.closed_at?.toISOString()})`);
    }
    const lateAfterRevocation: string[] = [];
    for (const h of account.held) {
      const r = byId.get(h.leaseId);
      if (!r) continue;
      const revoked = h.member.revoked;
      if (revoked) {
        // ended by the revocation's own transaction, or (opened or renewed through a node that had
        // not heard of it yet) within a TTL of the moment every node refused the session
        if (recordEnd(r) > revoked.answeredAt) lateAfterRevocation.push(r.id);
        if (recordEnd(r) > revoked.refusedEverywhereAt + TTL_MS) problems.push(`account ${account.index}: lease ${r.id} of ${h.member.name} held until ${new Date(recordEnd(r)).toISOString()}, long after the revocation`);
        continue;
      }
      const closedByClient = r.close_reason === 'closed_by_client';
      const fine =
        h.outcome === 'closed' ? closedByClient
        : h.outcome === 'abandoned' || h.outcome === 'lost' ? r.closed_at === null
        : h.outcome === 'orphaned' ? (r.closed_at === null || (h.closeSentAt !== null && closedByClient)) && r.expires_at.getTime() <= exitedAt + TTL_MS
        : false;
      if (!fine) problems.push(`account ${account.index}: lease ${r.id} (${h.outcome}) ended in the record as ${r.close_reason ?? 'expired'} at ${new Date(recordEnd(r)).toISOString()}`);
    }

    // the kill's orphans: ended by their TTL, their slot rows taken again, the whole allowance usable
    const orphans = [...unknown, ...account.held.filter((h) => h.outcome === 'orphaned' && byId.get(h.leaseId)?.closed_at === null).map((h) => byId.get(h.leaseId)!)];
    if (orphans.length === 0) withoutOrphans.push(account.index);
    for (const o of orphans) {
      const reused = rows.some((r) => r.account_slot === o.account_slot && r.opened_at.getTime() >= recordEnd(o));
      if (!reused) problems.push(`account ${account.index}: account slot ${o.account_slot}, held by lease ${o.id} the kill orphaned, was never taken again`);
    }
    const freedAt = Math.max(killedAt, ...orphans.map(recordEnd));
    const afterwards = sweep(clip(recordIntervals(rows, (id) => id), freedAt, lastFinish), limitOf);
    if (afterwards.peaks.get('account') !== ALLOWANCE) problems.push(`account ${account.index}: once the orphans expired the account held at most ${afterwards.peaks.get('account') ?? 0} of ${ALLOWANCE}`);

    const liveAfter = rows.filter((r) => r.closed_at === null && r.expires_at.getTime() > inUseAfter[account.index]!.at);
    if (liveAfter.length > 0) problems.push(`account ${account.index}: ${liveAfter.length} leases still live in the record after the run`);
    if (inUseAfter[account.index]!.inUse !== 0) problems.push(`account ${account.index}: ${inUseAfter[account.index]!.inUse} connections in use within a TTL after the last renewal`);

    report.push(
      `  account ${account.index}: ${rows.length} leases in the record (${unknown.length} nobody was told of, ${orphans.length} orphaned by the kill, ` +
        `${lateAfterRevocation.length} of revoked members outliving the revocation); peak ${describePeaks(record, account)}; ` +
        `after the orphans expired ${afterwards.peaks.get('account') ?? 0}/${ALLOWANCE}`,
    );
  }

  // presence: each turn on every stream of another node, timed from the moment its node took the
  // heartbeat (the lastSeenAt it announced) to the stream's delivery, so a node slow to answer
  // requests under load is not counted as slow propagation; and from the client's sending it
  const delays: number[] = [];
  const endToEnd: number[] = [];
  const unseen: string[] = [];
  for (const sample of stats.samples) {
    for (const stream of sample.account.streams) {
      if (stream.node === sample.node) continue;
      const found = stream.events.find((e) => e.at >= sample.sentAt && e.event.type === 'presence' && e.event.member.memberId === sample.memberId && e.event.member.state === sample.state);
      const what = `${sample.state} of ${sample.memberId} sent ${new Date(sample.sentAt).toISOString()} via node ${sample.node}`;
      if (found) {
        const delay = found.at - Date.parse((found.event as Extract<PresenceStreamEvent, { type: 'presence' }>).member.lastSeenAt!);
        delays.push(delay);
        endToEnd.push(found.at - sample.sentAt);
        if (delay > PRESENCE_BOUND_MS) unseen.push(`${what}: node ${stream.node} showed it only ${delay} ms after it was taken`);
      } else if (!(stream.node === victim && stream.endedAt! <= sample.sentAt + PRESENCE_BOUND_MS)) {
        // (a stream of the killed node that died before it could show the turn measures nothing)
        unseen.push(`${what}: node ${stream.node} never showed it`);
      }
    }
  }
  delays.sort((a, b) => a - b);
  endToEnd.sort((a, b) => a - b);
  const pct = (values: number[], p: number) => values[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? NaN;

  const refusals = revocations.flatMap((r) => [...r.refusedAfter.values()].filter((d) => d !== null));
  const refusedSent = refusals.map((d) => d.sent).sort((a, b) => a - b);
  const refusedAnswered = refusals.map((d) => d.answered).sort((a, b) => a - b);
  const revocationShown = revocations.flatMap((r) => [...r.shownAfter.values()].filter((d): d is number => d !== null));
  const failedOver = clients.filter((c) => c.failedOverAt !== null);
  const expectedFailovers = clients.filter((c) => c.startNode === victim && !(c.member.revoked && c.member.revoked.sentAt < killedAt));
  const statuses = [...stats.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');

  console.log(
    [
      `[many nodes] seed ${SEED} (replay: TESSERA_MANY_NODES_SEED=${SEED}); ${NODES} nodes, ${CLIENTS} clients, ${ACCOUNTS} accounts ` +
        `(${MEMBERS_PER_ACCOUNT} members, ${DEVICES_PER_ACCOUNT} devices, allowance ${ALLOWANCE} each), ${DURATION_S} s, lease TTL ${TTL_SECONDS} s`,
      `  ${NODES} nodes ready ${(readyMs / 1000).toFixed(1)} s after one spawn, ${migrations} migrations applied once; set up ${(setUpMs / 1000).toFixed(1)} s; ` +
        `ran ${((lastFinish - start) / 1000).toFixed(1)} s`,
      `  node ${victim} SIGKILLed at ${((killedAt - start) / 1000).toFixed(1)} s (gone ${exitedAt - killedAt} ms later) while ${killedHolding} of ${ACCOUNTS} accounts held a lease through it; ` +
        `${stats.failovers} failovers ` +
        `(of ${expectedFailovers.length} clients on it), ${failedOver.filter((c) => c.answeredAfterFailover > 0).length} answered afterwards`,
      `  leases: ${stats.opens} opens (per node ${stats.opensByNode.join('/')}), ${stats.closes} closed, ${stats.abandons} abandoned, ${stats.lost} lost to a late renewal, ` +
        `${stats.orphaned} orphaned by the kill (+${accounts.reduce((n, a) => n + a.interruptedOpens, 0)} opens cut off), ${stats.renewals} renewals`,
      `  refused: account ${stats.refused.account}, member ${stats.refused.member}, device ${stats.refused.device}; HTTP answers ${statuses}`,
      ...report,
      `  limit violations: ${violations}`,
      `  revocations: ${revocations.length} (${revocations.map((r) => `${r.kind} via node ${r.node}: ${[...r.refusedAfter].map(([n, d]) => `n${n} ${d ? `${d.sent}/${d.answered}` : 'dead'}`).join(' ')}`).join('; ')})`,
      `  revoked credential refused on every other node by a request sent ≤ ${pct(refusedSent, 100)} ms after the revocation's answer (p50 ${pct(refusedSent, 50)} ms); ` +
        `that refusal answered ≤ ${pct(refusedAnswered, 100)} ms after it (p50 ${pct(refusedAnswered, 50)} ms); ` +
        `member shown offline/removed on the streams ≤ ${Math.max(...revocationShown)} ms after the revocation was sent`,
      `  presence: ${stats.heartbeats} heartbeats, ${stats.samples.length} turns, ${delays.length} seen on another node's stream ` +
        `${pct(delays, 50)}/${pct(delays, 99)}/${pct(delays, 100)} ms (p50/p99/max) after that node took the heartbeat, ` +
        `${pct(endToEnd, 50)}/${pct(endToEnd, 99)}/${pct(endToEnd, 100)} ms after it was sent; unseen or late ${unseen.length}${unseen.length ? `:\n    ${unseen.slice(0, 5).join('\n    ')}` : ''}`,
    ].join('\n'),
  );
  t.diagnostic(`seed ${SEED}; violations ${violations}; opens ${stats.opens}; failovers ${stats.failovers}`);

  assert.deepEqual(stats.unexpected, [], 'no 5xx, no network error from a live node, no answer a client should not get');
  assert.deepEqual(problems, [], 'the record accounts for every lease and no limit was exceeded');
  assert.equal(violations, 0);

  // the run meant something
  const minOpens = 10 * DURATION_S;
  assert.ok(stats.opens >= minOpens, `at least ${minOpens} opens (${stats.opens})`);
  assert.ok(stats.refused.account > 0 && stats.refused.member > 0 && stats.refused.device > 0, 'opens were refused for each kind of limit');
  assert.ok(stats.abandons > 0, 'some leases were abandoned and ended by expiry');
  assert.ok(withoutOrphans.length < ACCOUNTS, 'the kill orphaned leases (they then expired and their slots were taken again)');

  // the kill: every client of the node moved on once, and was answered on its new node
  assert.deepEqual(failedOver.map((c) => c.index).sort(), expectedFailovers.map((c) => c.index).sort(), 'exactly the clients of the killed node failed over');
  assert.equal(stats.failovers, expectedFailovers.length);
  assert.deepEqual(failedOver.filter((c) => c.answeredAfterFailover === 0 && !c.stopped).map((c) => c.index), [], 'every client that failed over was answered afterwards');
  for (const account of accounts) {
    for (const stream of account.streams) {
      if (stream.node === victim) assert.ok(stream.endedAt !== null && stream.endedAt >= killedAt, 'the killed node’s streams ended with it, not before');
      else assert.equal(stream.error, null, `node ${stream.node}'s stream ran until it was closed: ${String(stream.error)}`);
    }
  }

  // revocations: refused everywhere within the bound; revoked and removed members shown so
  assert.equal(revocations.length, planned.length, 'every planned revocation was made');
  assert.deepEqual(revocations.flatMap((r) => r.failures), []);
  for (const r of revocations) {
    assert.ok([...r.refusedAfter.values()].some((d) => d !== null), `the ${r.kind} revocation was checked on another node`);
    for (const [n, d] of r.refusedAfter) {
      assert.ok(d === null || d.sent <= REVOCATION_BOUND_MS, `node ${n} still accepted the revoked ${r.kind} in a request sent ${d?.sent} ms after the revocation was answered`);
    }
    if (r.kind !== 'access key') {
      for (const [n, d] of r.shownAfter) assert.ok(d !== null && d <= PRESENCE_BOUND_MS, `node ${n}'s stream showed the ${r.kind} revocation ${d === null ? 'never' : `after ${d} ms`}`);
    }
  }
  // and stay so: no later event showed the revoked member online again
  for (const account of accounts) {
    const tokenRevoked = account.members.find((m) => m.role === 'token-revoked')!;
    for (const stream of account.streams.filter((s) => s.node !== victim)) {
      assert.equal(stream.state.get(tokenRevoked.id), 'offline', `${tokenRevoked.name} is still offline on node ${stream.node}'s stream at the end`);
    }
  }

  // presence across nodes
  // a turn every 0.7–1.5 s, but queued behind the member's other clients' heartbeats: slower on a busy machine
  const minTurns = ACCOUNTS * LOAD_MEMBER_LIMITS.length * Math.floor(DURATION_S / 4);
  assert.ok(stats.samples.length >= minTurns, `at least ${minTurns} presence turns (${stats.samples.length})`);
  assert.deepEqual(unseen, [], `every presence turn shown on every other node's stream within ${PRESENCE_BOUND_MS} ms of its node taking it`);

  // the nodes: the survivors logged no error and drain cleanly; the killed one died of the SIGKILL
  assert.equal(nodes[victim]!.exitResult?.signal, 'SIGKILL');
  for (const node of survivors) {
    assert.doesNotMatch(node.stdout, /"level":(50|60)/, node.output());
    assert.equal(node.exitResult, null, `node ${node.url} still runs\n${node.output()}`);
  }
  for (const node of survivors) assert.deepEqual(await node.stop(), { code: 0, signal: null }, node.output());
});

/** Resolves once `check` holds; fails at the deadline. */
async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `no ${what} within ${ms} ms`);
    await sleep(10);
  }
}

/** The intervals as they fall within [from, to). */
function clip(intervals: Interval[], from: number, to: number): Interval[] {
  return intervals.map((i) => ({ ...i, start: Math.max(i.start, from), end: Math.min(i.end, to) }));
}

function describePeaks(result: SweepResult, account: AccountRun): string {
  const members = account.members.map((m) => `${result.peaks.get(`member:${m.id}`) ?? 0}/${m.limit ?? '-'}`).join(' ');
  return `account ${result.peaks.get('account') ?? 0}/${ALLOWANCE}, members ${members}, devices ${highestPeak(result, (k) => k.startsWith('device:'))}/1, slot rows ${highestPeak(result, (k) => k.includes('-slot:'))}/1`;
}

function describeViolations(result: SweepResult, byId: Map<string, LeaseRow>): string {
  return result.violations
    .slice(0, 10)
    .map((v) => {
      const holders = v.holders.map((id) => {
        const r = byId.get(id);
        return r ? `    ${id} [${r.opened_at.toISOString()}, closed ${r.closed_at?.toISOString() ?? '-'} expires ${r.expires_at.toISOString()}) slot ${r.account_slot}/${r.member_slot ?? '-'} ${r.close_reason ?? ''}` : `    ${id}`;
      });
      return `  ${v.key} held ${v.count} > ${v.limit} at ${new Date(v.at).toISOString()}:\n${holders.join('\n')}`;
    })
    .join('\n');
}
