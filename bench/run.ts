/**
 * `npm run bench [-- --quick]`: throughput, latency and memory of the server as `npm start` runs
 * it, on PGlite and on PostgreSQL. See docs/benchmarks.md for how to read the figures.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, type Database } from '../src/server/db/database.ts';
import { DEFAULT_PLAN_ID, planOf } from '../src/server/domain/plans/catalog.ts';
import { createServerDatabase } from '../test/support/databases.ts';
import { accountsFor, Enrollments, enrollFixture, groupManagerDevices } from './access.ts';
import { auditSearchShapes, measureAuditExport, walkAuditPages, AUDIT_PAGE_LIMIT, type AuditExportFormat } from './audit.ts';
import { measureArgon2, type Argon2Reference } from './argon2.ts';
import { measureCliStart } from './cli.ts';
import { cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts';
import { loginTokenExchanges, measurePropagation, PROPAGATION_SCENARIO, RefreshPool } from './client-api.ts';
import { growLeaseData, insertAuditLog, insertClientAccounts, insertDeviceFleet, insertTeamAccounts, type LeaseIdentity, type TeamMemberIdentity } from './data.ts';
import { walkDevicePages } from './devices.ts';
import { anonymousCsrf, desktopMember, exchangeLoginToken, FORM_HEADERS, peerShapedAccount, registerPerson, signInCookie } from './fixtures.ts';
import { LeasePairs, oneAccountIdentities, pgliteReference, postgresReference, referenceLoad, SERVER_POOL_SIZE, type ReferenceTarget } from './leases.ts';
import { failureOf, runLoad, type CustomLoad, type LoadResult, type Scenario } from './load.ts';
import { passkeyHolder, PasskeySignIns } from './passkeys.ts';
import { describeMachine } from './machine.ts';
import { FANOUT_SCENARIO, firstRound, HeartbeatRounds, listPresence, measureFanout, presenceTableStats, SERVER_PRESENCE, type PresenceTableStats } from './presence.ts';
import { PEER_MEMBERS, runPeer } from './peer.ts';
import { summarizeProfile } from './profile.ts';
import {
  AUDIT_EXPORT_RSS_AIM_MB,
  AUDIT_SEARCH_AIM_MS,
  CLIENT_ME_AIM,
  DEVICE_PAGE_AIM,
  ENROLL_MEASURED,
  FANOUT_AIM_MS,
  GROUP_MANAGER_AIM,
  ACCESS_KEY_AIM,
  CLI_START_AIM_MS,
  LEASE_GROWTH_AIM,
  LEASE_REFERENCE_AIM,
  PEER_AIM,
  PROPAGATION_AIM_MS,
  RATIO,
  SCENARIO,
  SIGN_IN_MEASURED,
  textReport,
  writeDocs,
  type Backend,
  type BackendRun,
  type BenchRun,
  type DataScenarios,
  type StartTiming,
} from './report.ts';
import { readMemory, ROOT, spawnServer, type ServerProcess } from './server.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'sign-in-connections': { type: 'string' },
    'token-connections': { type: 'string' },
    revocations: { type: 'string' },
    'lease-connections': { type: 'string' },
    'list-connections': { type: 'string' },
    'spread-accounts': { type: 'string' },
    'grown-accounts': { type: 'string' },
    devices: { type: 'string' },
    'device-page': { type: 'string' },
    'presence-members': { type: 'string' },
    'presence-rate': { type: 'string' },
    'presence-changes': { type: 'string' },
    'audit-events': { type: 'string' },
    'pglite-audit-events': { type: 'string' },
    'audit-page': { type: 'string' },
    backends: { type: 'string', default: 'pglite,postgres' },
    scenarios: { type: 'string', default: 'health,me,sign-in,passkey-sign-in,client-me,client-token,client-refresh,client-revocation,manager-devices,enroll,lease-one,lease-spread,lease-reference,lease-grown,device-pages,heartbeats,presence-fanout,audit-search,audit-export,account-users,access-key,peer' },
    'no-write': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench [-- options]
  --quick                   3 s per scenario (1 s warm-up; the lease, reference, device-list and
                            audit-search scenarios 2 s), smaller data scenarios (1,000 presence
                            members, 100,000 audit events): everything in about four minutes
  --duration=<s>            seconds per scenario (default 10, quick 3)
  --warmup=<s>              warm-up seconds before each scenario (default 2, quick 1)
  --connections=<n>         connections for the GET scenarios (default 50)
  --sign-in-connections=<n> connections for sign-in (default 16)
  --token-connections=<n>   connections for POST /client/v1/token (default 16)
  --revocations=<n>         revocations timed across two nodes (default 200)
  --lease-connections=<n>   desktop clients looping open → close, and transactions in flight in the
                            database reference (default 10: the allowance of one account, and the
                            server's pool size); at most 10 for lease-one
  --list-connections=<n>    connections loading the device-list and audit-log pages (default 10)
  --spread-accounts=<n>     accounts (one client each) the lease-spread clients take turns on
                            (default 1000)
  --grown-accounts=<n>      accounts in the database for lease-grown, each with 10 expired leases
                            (default 100000: 1,000,000 expired leases; quick 10000)
  --devices=<n>             devices in the organization of device-pages (default 100000; quick 20000)
  --device-page=<n>         the far page of device-pages, 50 devices a page (default 1000; quick 200)
  --presence-members=<n>    team members of heartbeats and presence-fanout, 25 an account (the plan's
                            member limit), each a signed-in desktop client (default 5000; quick 1000)
  --presence-rate=<n>       background heartbeats/s on node A during presence-fanout (default 1000)
  --presence-changes=<n>    state changes timed from node A to node B's stream (default 300; quick 100)
  --audit-events=<n>        events of the account whose audit log audit-search and audit-export read, on
                            PostgreSQL (default 1000000; quick 100000), among 1,000 accounts with
                            audit events (100 each for the others)
  --pglite-audit-events=<n> the same on PGlite (default 200000; quick 50000): a million there takes one
                            to two minutes to write (half a gigabyte in the harness) and a minute an
                            export, too long for every run
  --audit-page=<n>          the far page of audit-search, 50 events a page (default 1000; quick 200)
  --backends=<list>         pglite,postgres (default both, in that order)
  --scenarios=<list>        health,me,sign-in,passkey-sign-in,client-me,client-token,client-refresh,
                            client-revocation, manager-devices, enroll, lease-one, lease-spread,
                            lease-reference, lease-grown, device-pages, heartbeats, presence-fanout,
                            audit-search, audit-export, account-users, access-key, peer
                            (default all; client-revocation, presence-fanout and peer on PostgreSQL only)
                              passkey-sign-in  passwordless sign-ins (options, then the answer of a
                                               software authenticator), one person with a passkey
                                               per --sign-in-connections connection
                              manager-devices  GET …/organizations/:o/devices?limit=50 (50 devices)
                                               as the owner, then as a manager of a group holding
                                               the organization (no account role), then with an
                                               owner access key: the ratios to the owner
                              enroll           POST /client/v1/enroll with an owner's password,
                                               --sign-in-connections connections, round robin
                                               over enough accounts for the plan's member limit
                              lease-one        open+close pairs/s, every client on one account
                              lease-spread     the same, the clients spread over --spread-accounts
                              lease-reference  BEGIN; SELECT … FOR UPDATE; UPDATE …; COMMIT through a
                                               pool of the server's size (PGlite: in this process),
                                               on one row and spread over 1,000 rows
                              lease-grown      lease-spread again after growing the database to
                                               --grown-accounts and 10 expired leases per account
                              device-pages     GET …/devices?limit=50, page 1 and page --device-page
                              heartbeats       POST /client/v1/presence, --connections connections, each
                                               request the next member's heartbeat (round robin over
                                               --presence-members): heartbeats/s, CPU, RSS, the rows
                                               of member_presence and (PostgreSQL) the writes
                              presence-fanout  a second node streams one account's presence while the
                                               first takes --presence-rate heartbeats/s; a member of
                                               that account flips between online and away on the
                                               first: heartbeat sent → event on the second node
                              audit-search     GET …/audit-events?limit=50 as the owner on an account of
                                               --audit-events events (SQL, then ANALYZE): page 1, one
                                               action, action=member.*, actorId, targetId, one day
                                               (from/to), and page --audit-page; aim p99 ≤ 50 ms each
                              audit-export     GET …/audit-events/export, format=jsonl then csv, one
                                               client reading to the end (every event counted):
                                               events/s and the server's RSS growth (aim < 50 MB)
                              account-users    GET /api/v1/accounts/:a/users, an account of 50 portal
                                               users, as its owner
                              access-key       GET /api/v1/accounts/:a with an owner access key
                              peer             Better Auth (bench/peer, installed there on first use)
                                               on a fresh database of the same PostgreSQL, after
                                               Tessera's server: sign-in, get-session, organization
                                               list, list-members of 50, get-session with an API
                                               key, each next to the Tessera row doing the same
                                               work (sign-in, me, account-users, access-key) with
                                               Tessera ÷ peer req/s (aim ≥ 5× with a lower p99)
  --no-write                do not touch docs/benchmarks.md and docs/benchmarks.json
  --profile                 write a V8 CPU profile of each server (to a temporary folder) and summarize
                            it per scenario; implies --no-write
  --wait-quiet=<s>          wait up to this long for other processes to leave the CPU before
                            starting (default 120, quick 0); the run goes ahead noisy after that`);
  process.exit(0);
}

const number = (value: string | undefined, fallback: number, name: string) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
};
const quick = args.quick;
const durationS = number(args.duration, quick ? 3 : 10, 'duration');
const warmupS = number(args.warmup, quick ? 1 : 2, 'warmup');
const connections = {
  get: number(args.connections, 50, 'connections'),
  signIn: number(args['sign-in-connections'], 16, 'sign-in-connections'),
  token: number(args['token-connections'], 16, 'token-connections'),
};
if (durationS === 0 || connections.get < 1 || connections.signIn < 1 || connections.token < 1) {
  throw new Error('--duration and the connection counts must be positive');
}
const revocations = number(args.revocations, 200, 'revocations');
/** Expired leases per account of lease-grown: one per unit of the default plan's allowance. */
const LEASES_PER_ACCOUNT = 10;
/** Rows of the reference table; the spread reference transaction takes turns on all of them. */
const REFERENCE_ROWS = 1000;
/** Devices a page in device-pages (the list's default). */
const DEVICE_PAGE_LIMIT = 50;
const data = {
  leaseConnections: number(args['lease-connections'], 10, 'lease-connections'),
  listConnections: number(args['list-connections'], 10, 'list-connections'),
  spreadAccounts: number(args['spread-accounts'], 1000, 'spread-accounts'),
  grownAccounts: number(args['grown-accounts'], quick ? 10_000 : 100_000, 'grown-accounts'),
  devices: number(args.devices, quick ? 20_000 : 100_000, 'devices'),
  devicePage: number(args['device-page'], quick ? 200 : 1000, 'device-page'),
  auditEvents: {
    postgres: number(args['audit-events'], quick ? 100_000 : 1_000_000, 'audit-events'),
    pglite: number(args['pglite-audit-events'], quick ? 50_000 : 200_000, 'pglite-audit-events'),
  } satisfies Record<Backend, number>,
  auditPage: number(args['audit-page'], quick ? 200 : 1000, 'audit-page'),
};
/** Accounts with audit events in audit-search and audit-export: the bench account and these others, with so many events each. */
const AUDIT_OTHER_ACCOUNTS = 999;
const AUDIT_EVENTS_PER_OTHER_ACCOUNT = 100;
const presence = {
  members: number(args['presence-members'], quick ? 1000 : 5000, 'presence-members'),
  membersPerAccount: planOf(DEFAULT_PLAN_ID).memberLimit,
  rate: number(args['presence-rate'], 1000, 'presence-rate'),
  changes: number(args['presence-changes'], quick ? 100 : 300, 'presence-changes'),
};
if (presence.members < 2 || presence.rate < 1) throw new Error('--presence-members must be at least 2 and --presence-rate positive');
if (data.leaseConnections < 1 || data.listConnections < 1 || data.spreadAccounts < data.leaseConnections || data.devicePage < 1) {
  throw new Error('--lease-connections and --list-connections must be positive, --spread-accounts at least --lease-connections, --device-page positive');
}
if (data.devices <= data.devicePage * DEVICE_PAGE_LIMIT) {
  throw new Error(`--devices must be more than --device-page × ${DEVICE_PAGE_LIMIT} (${data.devicePage * DEVICE_PAGE_LIMIT}), so the far page is full and has a next one`);
}
/** Node B keeps access tokens this long: only the NOTIFY can explain a 401 within it. */
const NODE_B_CACHE_SECONDS = 60;
const backends = args.backends.split(',').map((b) => b.trim()) as Backend[];
for (const b of backends) if (b !== 'pglite' && b !== 'postgres') throw new Error(`unknown backend ${b}`);
const scenarioKeys = new Set(args.scenarios.split(',').map((s) => s.trim()));
const SCENARIO_KEYS = [
  'health', 'me', 'sign-in', 'passkey-sign-in', 'client-me', 'client-token', 'client-refresh', 'client-revocation',
  'manager-devices', 'enroll', 'lease-one', 'lease-spread', 'lease-reference', 'lease-grown', 'device-pages',
  'heartbeats', 'presence-fanout', 'audit-search', 'audit-export', 'account-users', 'access-key', 'peer',
];
for (const s of scenarioKeys) if (!SCENARIO_KEYS.includes(s)) throw new Error(`unknown scenario ${s}`);
if (data.auditPage < 1) throw new Error('--audit-page must be positive');
for (const backend of backends) {
  const events = data.auditEvents[backend];
  if (scenarioKeys.has('audit-search') && events <= data.auditPage * AUDIT_PAGE_LIMIT) {
    throw new Error(`the ${backend} audit log (${events} events) must hold more than --audit-page × ${AUDIT_PAGE_LIMIT} events, so the far page is full`);
  }
}
if (scenarioKeys.has('lease-one') && data.leaseConnections > 10) {
  throw new Error('lease-one puts every client on one account, whose allowance is 10: --lease-connections must be at most 10');
}
const clientScenarios = [...scenarioKeys].some((s) => s.startsWith('client-'));
const write = !args['no-write'] && !args.profile;
/** The lease, reference and device-list scenarios: shorter in --quick (unless --duration is given), to fit. */
const dataDurationS = args.duration === undefined && quick ? 2 : durationS;
const dataWarmupS = args.warmup === undefined && quick ? 1 : warmupS;

const t0 = performance.now();
function progress(message: string): void {
  const elapsed = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${elapsed}s] ${message}\n`);
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-'));
const webDir = path.join(workDir, 'no-portal'); // never created: no portal is built or served
// outside the checkout, and kept after the run
const profileDir = args.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-profiles-')) : undefined;

/** Things to undo however the run ends: servers to stop, databases to drop; then the work dir. */
const cleanups = new Set<() => Promise<unknown>>();
/** Registers an undo step; the returned function runs it now (once) and unregisters it. */
function onCleanUp(undo: () => Promise<unknown>): () => Promise<void> {
  const step = async () => {
    if (!cleanups.delete(step)) return;
    await undo();
  };
  cleanups.add(step);
  return step;
}
async function cleanUp(): Promise<void> {
  for (const step of [...cleanups].reverse()) {
    await step().catch((error: unknown) => progress(`clean-up failed: ${(error as Error).message}`));
  }
  fs.rmSync(workDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the server and dropping the database`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function startServer(
  dataDir: string,
  options: { databaseUrl?: string; secret?: string; env?: Record<string, string>; profile?: boolean } = {},
) {
  const server = await spawnServer({
    dataDir,
    databaseUrl: options.databaseUrl,
    secret: options.secret,
    env: options.env,
    webDir,
    cpuProfileDir: options.profile ? profileDir : undefined,
  });
  const stop = onCleanUp(() => server.stop());
  return { server, stop };
}

async function stopServer({ server, stop }: { server: ServerProcess; stop: () => Promise<void> }): Promise<void> {
  await stop();
  const code = await server.stop(); // already gone: answers its exit code
  if (code !== 0) throw new Error(`the server exited with code ${code} on SIGTERM:\n${server.output()}`);
}

/** Idle RSS once the process has settled for a moment after answering. */
async function settledRss(server: ServerProcess): Promise<number> {
  await sleep(1000);
  return readMemory(server.pid)?.rss ?? NaN;
}

async function measureStart(dataDir: string): Promise<StartTiming> {
  const started = await startServer(dataDir);
  const healthzMs = await started.server.waitFor('/healthz');
  const idleRss = await settledRss(started.server);
  await stopServer(started);
  return { healthzMs, idleRss };
}

async function runBackend(backend: Backend, failures: string[], argon2: Argon2Reference): Promise<BackendRun> {
  const dataDir = path.join(workDir, `data-${backend}`);
  let databaseUrl: string | undefined;
  let databaseName: string | null = null;
  let secret: string | undefined;
  let dropDatabase = async () => {};
  if (backend === 'postgres') {
    const database = await createServerDatabase();
    dropDatabase = onCleanUp(() => database.drop());
    databaseUrl = database.url;
    databaseName = new URL(database.url).pathname.slice(1);
    secret = randomBytes(32).toString('hex'); // shared with the second node of client-revocation
    progress(`postgres: created database ${databaseName}`);
  }
  let started = await startServer(dataDir, { databaseUrl, secret, profile: true });
  const pids = [started.server.pid];
  const readyMs = await started.server.waitFor('/readyz');
  const idleRss = await settledRss(started.server);
  progress(`${backend}: server pid ${started.server.pid} ready in ${(readyMs / 1000).toFixed(2)} s, idle RSS ${(idleRss / 1048576).toFixed(0)} MiB`);
  const url = () => started.server.url;

  const person = await registerPerson(url());
  const csrf = await anonymousCsrf(url());
  progress(`${backend}: registered ${person.email}; session and sign-in checked`);

  // the desktop client: one member with a login token per token-endpoint connection
  const desktop = clientScenarios ? await desktopMember(url(), person, connections.token) : null;
  const desktopTokens = desktop ? await exchangeLoginToken(url(), desktop.loginTokens[0]!) : null;
  const refreshPool = desktop ? new RefreshPool(url(), desktop.loginTokens[0]!) : null;
  if (desktop) progress(`${backend}: team member with ${desktop.loginTokens.length} login tokens; exchange and GET /client/v1/me checked`);

  // users and roles: an owner and a manager of a group only, on the same organization's devices
  const groupManager = scenarioKeys.has('manager-devices') ? await groupManagerDevices(url()) : null;
  if (groupManager) progress(`${backend}: an organization of 50 devices in a group, its owner and a manager of the group alone signed in; both see the same page`);
  // enrollment: an owner with accounts enough for the plan's member limit (see bench/access.ts)
  const enrollAccounts = accountsFor(argon2.limitPerSec, warmupS + durationS + 2);
  const enrollment = scenarioKeys.has('enroll') ? await enrollFixture(url(), enrollAccounts) : null;
  const enrollments = enrollment ? new Enrollments(enrollment) : null;
  if (enrollment) progress(`${backend}: an owner of ${enrollment.accountIds.length} accounts (room for ${enrollment.capacity} enrollments); one enrollment and its token pair checked`);

  // the peer comparison's account: as many portal users as the peer's organization has members, an owner access key
  const shaped = scenarioKeys.has('account-users') || scenarioKeys.has('access-key') ? await peerShapedAccount(url(), PEER_MEMBERS) : null;
  if (shaped) progress(`${backend}: an account of ${shaped.users} portal users and an owner access key; the list and a read with the key checked`);

  const scenarios: Array<[string, Scenario, (() => Promise<void>)?]> = [
    ['health', { name: SCENARIO.health, method: 'GET', path: '/healthz', connections: connections.get }],
    [
      'me',
      {
        name: SCENARIO.me,
        method: 'GET',
        path: '/api/v1/me',
        headers: { accept: 'application/json', cookie: person.sessionCookie },
        connections: connections.get,
      },
    ],
    [
      'sign-in',
      {
        name: SCENARIO.signIn,
        method: 'POST',
        path: '/api/v1/auth/sign-in',
        headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': csrf.token, cookie: csrf.cookie },
        body: JSON.stringify({ email: person.email, password: person.password }),
        connections: connections.signIn,
      },
    ],
  ];
  if (shaped) {
    scenarios.push(
      [
        'account-users',
        {
          name: SCENARIO.accountUsers(shaped.users),
          method: 'GET',
          path: shaped.usersPath,
          headers: { accept: 'application/json', cookie: shaped.ownerCookie },
          connections: connections.get,
        },
      ],
      [
        'access-key',
        {
          name: SCENARIO.accountByKey,
          method: 'GET',
          path: shaped.accountPath,
          headers: { accept: 'application/json', authorization: shaped.keyAuthorization },
          connections: connections.get,
        },
      ],
    );
  }
  if (desktop && desktopTokens && refreshPool) {
    scenarios.push(
      [
        'client-me',
        {
          name: SCENARIO.clientMe,
          method: 'GET',
          path: '/client/v1/me',
          headers: { accept: 'application/json', authorization: `Bearer ${desktopTokens.access_token}` },
          connections: connections.get,
        },
      ],
      [
        'client-token',
        {
          name: SCENARIO.clientToken,
          method: 'POST',
          path: '/client/v1/token',
          headers: FORM_HEADERS,
          connections: connections.token,
          requests: loginTokenExchanges(desktop.loginTokens),
        },
      ],
      [
        'client-refresh',
        {
          name: SCENARIO.clientRefresh,
          method: 'POST',
          path: '/client/v1/token',
          headers: FORM_HEADERS,
          connections: connections.token,
          requests: refreshPool.requests(),
        },
        // a session per connection for the warm-up and the run, plus the chains they cut off
        () => refreshPool.fill(connections.token * 3 + 16),
      ],
    );
  }
  if (groupManager) {
    const devices = (name: string, cookie: string): Scenario => ({
      name,
      method: 'GET',
      path: groupManager.path,
      headers: { accept: 'application/json', cookie },
      connections: data.listConnections,
    });
    // the owner first, then the group manager and the owner's access key: each ratio to the
    // owner's session is the cost of the scoped role, or of authenticating with a key
    scenarios.push(
      ['manager-devices', devices(SCENARIO.devicesOwner, groupManager.ownerCookie)],
      ['manager-devices', devices(SCENARIO.devicesGroupManager, groupManager.managerCookie)],
      [
        'manager-devices',
        { ...devices(SCENARIO.devicesOwnerKey, ''), headers: { accept: 'application/json', authorization: groupManager.ownerKeyAuthorization } },
      ],
    );
  }
  if (enrollments) {
    scenarios.push([
      'enroll',
      {
        name: SCENARIO.enroll,
        method: 'POST',
        path: '/client/v1/enroll',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        connections: connections.signIn,
        requests: enrollments.requests(),
      },
    ]);
  }
  const run: BackendRun = { backend, readyMs, idleRss, scenarios: [], ratios: {}, ratioTexts: {}, details: [] };

  /** Loads one scenario (autocannon, or a load of the harness's own), reports it, keeps it. */
  async function measure(scenario: Scenario, custom?: CustomLoad & { problems?: string[] }, timing = { durationS, warmupS }): Promise<LoadResult> {
    const count = custom ? '' : `${scenario.connections} connections, `;
    progress(`${backend}: ${scenario.name}, ${count}${timing.warmupS} s warm-up + ${timing.durationS} s`);
    const result = await runLoad(scenario, { baseUrl: url(), pid: started.server.pid, database: databaseName, ...timing }, custom);
    let failure = failureOf(result);
    if (failure && custom?.problems?.length) failure += ` (${custom.problems.slice(0, 3).join('; ')})`;
    progress(
      `${backend}: ${scenario.name}: ${result.reqPerSec.toFixed(0)} ${result.unit ?? 'req'}/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, ` +
        `p99 ${result.latencyMs.p99.toFixed(2)} ms, RSS peak ${(result.rss.peak / 1048576).toFixed(0)} MiB` +
        (failure ? ` — FAILED: ${failure}` : ''),
    );
    if (failure) {
      failures.push(`${backend} ${scenario.name}: ${failure}`);
      process.stderr.write(`--- server output (tail) ---\n${started.server.output()}\n---\n`);
    }
    run.scenarios.push(result);
    return result;
  }

  for (const [key, scenario, prepare] of scenarios) {
    if (!scenarioKeys.has(key)) continue;
    await prepare?.();
    await measure(scenario);
  }
  if (scenarioKeys.has('passkey-sign-in')) {
    // a person with a passkey per connection, as many as sign in with passwords above
    const holders = [];
    for (let i = 0; i < connections.signIn; i++) holders.push(await passkeyHolder(url()));
    progress(`${backend}: ${holders.length} people with a passkey each`);
    const load = new PasskeySignIns(url(), holders);
    await measure({ name: SCENARIO.passkeySignIn, method: 'POST', path: '/api/v1/auth/passkey/sign-in', connections: holders.length }, load);
  }
  if (refreshPool?.starved) failures.push(`${backend} ${SCENARIO.clientRefresh}: the refresh-token pool ran dry ${refreshPool.starved} times`);
  if (enrollment && enrollments) {
    const line =
      `Enrollment, ${backend}: ${enrollments.enrolled.toLocaleString('en-US')} PCs enrolled (warm-up included) into ${enrollment.accountIds.length} accounts ` +
      `of one owner, round robin (room for ${enrollment.capacity.toLocaleString('en-US')}: 25 team members an account)`;
    run.details.push(line);
    progress(line);
  }
  if (backend === 'postgres' && desktop && scenarioKeys.has('client-revocation') && revocations > 0) {
    run.propagation = await measureRevocation(url(), { dataDir: path.join(workDir, 'data-node-b'), databaseUrl: databaseUrl!, secret: secret! }, desktop.loginTokens[0]!);
    const p = run.propagation;
    if (p.failures.length) failures.push(...p.failures.slice(0, 5).map((f) => `${backend} ${PROPAGATION_SCENARIO}: ${f}`));
  }

  /**
   * Writes fixtures straight into the tables (see bench/data.ts): on PostgreSQL through a
   * connection of its own while the server runs; PGlite's data directory is the server's alone,
   * so the server stops for it and starts again afterwards (with cold caches: the warm-up of
   * the next scenario fills them).
   */
  async function withTables<T>(what: string, fn: (database: Database) => Promise<T>): Promise<T> {
    const from = performance.now();
    let value: T;
    if (backend === 'postgres') {
      const database = await openDatabase({ url: databaseUrl!, dataDir: dataDir, poolSize: 1 });
      try {
        value = await fn(database);
      } finally {
        await database.close();
      }
    } else {
      await stopServer(started);
      const database = await openDatabase({ dataDir });
      try {
        value = await fn(database);
      } finally {
        await database.close();
      }
      started = await startServer(dataDir, { profile: true });
      pids.push(started.server.pid);
      await started.server.waitFor('/readyz');
    }
    const line = `${what}: ${((performance.now() - from) / 1000).toFixed(1)} s${backend === 'pglite' ? ' (server stopped, written, started again)' : ' (while the server ran)'}`;
    run.details.push(`Fixtures, ${backend}: ${line}`);
    progress(`${backend}: ${line}`);
    return value;
  }

  const wants = (key: string) => scenarioKeys.has(key);
  const dataTiming = { durationS: dataDurationS, warmupS: dataWarmupS };
  const leaseScenarios: DataScenarios = {};
  run.data = leaseScenarios;
  const pairScenario = (name: string): Scenario => ({ name, method: 'POST+DELETE', path: '/client/v1/connections', connections: data.leaseConnections });
  const pairDetail = (result: LoadResult, load: LeasePairs, identities: number) => {
    result.unit = 'pairs';
    const last = load.last();
    result.detail = {
      identities,
      accounts: new Set(load.identities.map((i) => i.accountId)).size,
      open: last?.open,
      close: last?.close,
      pairs: last?.pairs,
      refused: last?.refused,
      refusedWithWarmup: load.refused,
    };
  };

  // 1. lease pairs, every client on one account
  if (wants('lease-one') || wants('lease-reference')) {
    const identities = await oneAccountIdentities(url(), person, 10);
    // one pair each, one after the other: every client can open and close (and the account's
    // slot rows exist, as they do for any account that has connected before)
    await new LeasePairs(url(), identities, 1).once();
    progress(`${backend}: ${identities.length} members of one account, a device each, signed in; a lease opened and closed for each`);
    if (wants('lease-one')) {
      const load = new LeasePairs(url(), identities, data.leaseConnections);
      const result = await measure(pairScenario(SCENARIO.leaseOne), load, dataTiming);
      pairDetail(result, load, identities.length);
      leaseScenarios.one = result.scenario;
    }
  }

  // 2. lease pairs spread over many accounts (SQL fixtures), the device fleet, the presence teams
  let spread: LeaseIdentity[] | null = null;
  let fleet: { accountId: string; organizationId: string } | null = null;
  let team: TeamMemberIdentity[] | null = null;
  const needSpread = wants('lease-spread') || wants('lease-grown');
  const needTeams = wants('heartbeats') || (backend === 'postgres' && wants('presence-fanout'));
  const teamAccounts = Math.ceil(presence.members / presence.membersPerAccount);
  if (needSpread || wants('device-pages') || needTeams) {
    const sizes = [
      needSpread ? `${data.spreadAccounts.toLocaleString('en-US')} accounts with a signed-in client each` : '',
      wants('device-pages') ? `${data.devices.toLocaleString('en-US')} devices in one organization` : '',
      needTeams ? `${presence.members.toLocaleString('en-US')} team members on ${teamAccounts.toLocaleString('en-US')} accounts, each a signed-in desktop client` : '',
    ];
    team = await withTables(sizes.filter(Boolean).join(', '), async (database) => {
      const now = new Date();
      if (needSpread) spread = await insertClientAccounts(database, data.spreadAccounts, now, 24 * 3600_000);
      if (wants('device-pages')) fleet = await insertDeviceFleet(database, person.userId, data.devices, now);
      return needTeams ? await insertTeamAccounts(database, { ...presence, now, tokenTtlMs: 24 * 3600_000 }) : null;
    });
  }
  const spreadName = SCENARIO.leaseSpread(data.spreadAccounts);
  if (spread && wants('lease-spread')) {
    const load = new LeasePairs(url(), spread, data.leaseConnections);
    const result = await measure(pairScenario(spreadName), load, dataTiming);
    pairDetail(result, load, data.spreadAccounts);
    leaseScenarios.spread = result.scenario;
  }

  // 2b. presence: heartbeats of every member as fast as the server answers them, then (PostgreSQL)
  // a second node streaming one account's presence while this one takes a steady load
  if (team && wants('heartbeats')) {
    const members: TeamMemberIdentity[] = team;
    const rounds = new HeartbeatRounds(members);
    // every member's first heartbeat inserts its row: one round before the load, so the load
    // finds a running team (rows in place) and the writes it causes are its own
    const first = await firstRound(url(), rounds, FIRST_ROUND_CONNECTIONS);
    const firstLine =
      `${backend}: first heartbeat of each member (inserts its row), ${FIRST_ROUND_CONNECTIONS} in flight: ` +
      `${members.length.toLocaleString('en-US')} in ${(first.ms / 1000).toFixed(1)} s (${((members.length / first.ms) * 1000).toFixed(0)}/s)`;
    progress(firstLine);
    const statsBefore = backend === 'postgres' ? await settledPresenceStats(url(), members, databaseUrl!, (s) => s.inserted >= members.length) : null;
    if (backend === 'postgres' && !statsBefore) progress(`${backend}: PostgreSQL's statistics did not count the first round's inserts within 12 s: no write counts`);
    const awayBefore = rounds.away;
    const result = await measure({
      name: SCENARIO.heartbeats(members.length),
      method: 'POST',
      path: '/client/v1/presence',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      connections: connections.get,
      requests: rounds.requests(),
    });
    const heartbeats = result.ok + result.warmup.ok;
    const away = rounds.away - awayBefore;
    // every "away" follows an "online" of the round before: a change, written (an update), as is
    // the "online" after it; fewer updates counted means a backend's report is still pending
    const statsAfter = statsBefore
      ? await settledPresenceStats(url(), members, databaseUrl!, (s) => s.updated - statsBefore.updated >= away - connections.get)
      : null;
    if (statsBefore && !statsAfter) progress(`${backend}: PostgreSQL's statistics did not count the load's updates within 12 s: no write counts`);
    const listed = await listPresence(url(), members);
    const answered = rounds.membersAnswered;
    const intervalS = members.length / result.reqPerSec;
    const inserted = statsAfter && statsBefore ? statsAfter.inserted - statsBefore.inserted : NaN;
    const updated = statsAfter && statsBefore ? statsAfter.updated - statsBefore.updated : NaN;
    result.detail = {
      members: members.length,
      accounts: teamAccounts,
      firstRoundMs: first.ms,
      heartbeatsWithWarmup: heartbeats,
      away,
      memberIntervalS: intervalS,
      membersAnswered: answered,
      listedWithHeartbeat: listed.seen,
      rows: statsAfter?.rows ?? null,
      inserted: statsAfter ? inserted : null,
      updated: statsAfter ? updated : null,
      writesPerHeartbeat: statsAfter ? (inserted + updated) / heartbeats : null,
    };
    run.heartbeats = result.scenario;
    const rowsText = statsAfter
      ? `member_presence holds ${statsAfter.rows.toLocaleString('en-US')} rows`
      : `GET /client/v1/presence lists ${listed.seen.toLocaleString('en-US')} members with a last heartbeat (one row each)`;
    const writesText = statsAfter
      ? `; writes to member_presence during warm-up and run (pg_stat_user_tables): ${(inserted + updated).toLocaleString('en-US')} ` +
        `(${inserted.toLocaleString('en-US')} inserts, ${updated.toLocaleString('en-US')} updates), ${((inserted + updated) / heartbeats).toFixed(3)} per heartbeat`
      : '';
    const line =
      `Heartbeats, ${backend}: ${members.length.toLocaleString('en-US')} team members (${teamAccounts.toLocaleString('en-US')} accounts of up to ${presence.membersPerAccount}, ` +
      `SQL fixtures); each member's first heartbeat (inserting its row) before the load, ${FIRST_ROUND_CONNECTIONS} in flight: ${(first.ms / 1000).toFixed(1)} s ` +
      `(${((members.length / first.ms) * 1000).toFixed(0)}/s); then ${heartbeats.toLocaleString('en-US')} heartbeats answered in warm-up and run ` +
      `(${away.toLocaleString('en-US')} "away", the rest "online"), each member's ${fmt(intervalS)} s apart in the run (a node caches an access token ` +
      `${SERVER_PRESENCE.tokenCacheSeconds} s and answers a repeat from its memo for ${SERVER_PRESENCE.writeEverySeconds} s after writing); ` +
      `${answered.toLocaleString('en-US')} members heartbeated, ${rowsText}${writesText}`;
    run.details.push(line);
    progress(line);
    const rowProblems = [
      listed.duplicates > 0 ? `GET /client/v1/presence listed ${listed.duplicates} members twice` : '',
      listed.seen !== answered ? `${listed.seen} members listed with a last heartbeat, but ${answered} members heartbeated` : '',
      statsAfter && statsAfter.rows !== answered ? `member_presence holds ${statsAfter.rows} rows for ${answered} members that heartbeated` : '',
      statsAfter && inserted !== 0 ? `${inserted} rows inserted into member_presence although every member's row was in place` : '',
    ].filter(Boolean);
    for (const problem of rowProblems) failures.push(`${backend} ${result.scenario}: ${problem}`);
  }
  if (team && backend === 'postgres' && wants('presence-fanout') && presence.changes > 0) {
    const members: TeamMemberIdentity[] = team;
    run.presence = await measurePresenceFanout(url(), started.server.pid, {
      dataDir: path.join(workDir, 'data-node-b-presence'),
      databaseUrl: databaseUrl!,
      databaseName: databaseName!,
      secret: secret!,
      members,
      rowsInPlace: wants('heartbeats'),
    });
    const p = run.presence;
    if (p.failures.length) failures.push(...p.failures.slice(0, 5).map((f) => `${backend} ${FANOUT_SCENARIO}: ${f}`));
  }

  // 3. the database reference, with the server idle
  if (wants('lease-reference')) {
    // one table of 1,000 counters: the one-row run uses row 1 only
    const target: ReferenceTarget =
      backend === 'postgres' ? await postgresReference(databaseUrl!, REFERENCE_ROWS) : await pgliteReference(path.join(workDir, 'data-reference'), REFERENCE_ROWS);
    try {
      for (const rows of [1, REFERENCE_ROWS]) {
        const name = SCENARIO.reference(backend, rows);
        const result = await measure(
          { name, method: 'SQL', path: '', connections: data.leaseConnections },
          referenceLoad(target, { concurrency: data.leaseConnections, rows }),
          dataTiming,
        );
        result.unit = 'transactions';
        result.rss = { idle: NaN, peak: NaN, after: NaN, samples: 0, peakFrom: 'samples' }; // the server idles: its memory says nothing here
        result.detail = { where: target.label, rows, poolSize: backend === 'postgres' ? SERVER_POOL_SIZE : 1 };
        if (rows === 1) leaseScenarios.reference = name;
        else leaseScenarios.referenceSpread = name;
      }
    } finally {
      await target.close();
    }
  }

  // 4. the device list: page 1 and a far page of one big organization
  if (fleet && wants('device-pages')) {
    const target = fleet as { accountId: string; organizationId: string };
    const cookie = await signInCookie(url(), person); // a new session sees the account added by SQL
    const walk = await walkDevicePages(url(), cookie, target, { page: data.devicePage, limit: DEVICE_PAGE_LIMIT });
    const walkLine = `walked the cursor from page 1 to page ${data.devicePage.toLocaleString('en-US')} once in ${(walk.walkMs / 1000).toFixed(1)} s (${walk.meanPageMs.toFixed(2)} ms a page, one at a time; every page full and after the one before)`;
    run.details.push(`Device list, ${backend}: ${data.devices.toLocaleString('en-US')} devices in one organization, named in an order unrelated to how they were written; ${walkLine}`);
    progress(`${backend}: ${walkLine}`);
    const headers = { accept: 'application/json', cookie };
    const first = await measure({ name: SCENARIO.devicePage(1, data.devices), method: 'GET', path: walk.firstPath, headers, connections: data.listConnections }, undefined, dataTiming);
    const far = await measure({ name: SCENARIO.devicePage(data.devicePage, data.devices), method: 'GET', path: walk.pagePath, headers, connections: data.listConnections }, undefined, dataTiming);
    first.detail = far.detail = { devices: data.devices, limit: DEVICE_PAGE_LIMIT, walkMs: walk.walkMs, meanPageMs: walk.meanPageMs };
    leaseScenarios.pageFirst = first.scenario;
    leaseScenarios.pageFar = far.scenario;
  }

  // 5. lease pairs again after the database grew
  if (spread && wants('lease-grown')) {
    const identities: LeaseIdentity[] = spread;
    const grown = await withTables(
      `grew to ${data.grownAccounts.toLocaleString('en-US')} accounts with ${LEASES_PER_ACCOUNT} expired leases each`,
      (database) => growLeaseData(database, identities, { totalAccounts: data.grownAccounts, leasesPerAccount: LEASES_PER_ACCOUNT, now: new Date() }),
    );
    const load = new LeasePairs(url(), identities, data.leaseConnections);
    const result = await measure(pairScenario(SCENARIO.leaseGrown(data.spreadAccounts, data.grownAccounts, grown.leases)), load, dataTiming);
    pairDetail(result, load, data.spreadAccounts);
    result.detail = { ...result.detail, accountsAdded: grown.accounts, expiredLeases: grown.leases };
    leaseScenarios.grown = result.scenario;
  }

  // 6. the audit log: one account's grown to --audit-events, searched in several shapes, exported
  if (wants('audit-search') || wants('audit-export')) {
    const events = data.auditEvents[backend];
    const fixture = await withTables(
      `audit log: ${events.toLocaleString('en-US')} events of one account and ${AUDIT_OTHER_ACCOUNTS.toLocaleString('en-US')} other accounts with ${AUDIT_EVENTS_PER_OTHER_ACCOUNT} each`,
      (database) =>
        insertAuditLog(
          database,
          { accountId: person.accountId, ownerUserId: person.userId, events, otherAccounts: AUDIT_OTHER_ACCOUNTS, eventsPerOtherAccount: AUDIT_EVENTS_PER_OTHER_ACCOUNT, now: new Date() },
          (message) => progress(`${backend}: ${message}`),
        ),
    );
    const total = fixture.seeded + fixture.existing;
    const audit: NonNullable<BackendRun['audit']> = {
      seeded: fixture.seeded,
      existing: fixture.existing,
      accounts: fixture.accounts,
      eventsPerOtherAccount: fixture.eventsPerOtherAccount,
      seedMs: fixture.seedMs,
      matching: {},
      exports: [],
    };
    run.audit = audit;
    const headers = { accept: 'application/json', cookie: person.sessionCookie };
    if (wants('audit-search')) {
      const shapes = auditSearchShapes(fixture, person.userId);
      const walk = await walkAuditPages(url(), headers, person.accountId, data.auditPage);
      audit.page = { page: walk.page, walkMs: walk.walkMs, meanPageMs: walk.meanPageMs };
      const walkLine =
        `walked the cursor from page 1 to page ${data.auditPage.toLocaleString('en-US')} once in ${(walk.walkMs / 1000).toFixed(1)} s ` +
        `(${walk.meanPageMs.toFixed(2)} ms a page, one at a time; every page full and older than the one before)`;
      progress(`${backend}: audit log: ${walkLine}`);
      shapes.push({ label: `page ${data.auditPage.toLocaleString('en-US')} (cursor)`, path: walk.pagePath, matching: total - (data.auditPage - 1) * AUDIT_PAGE_LIMIT });
      leaseScenarios.auditSearch = [];
      for (const shape of shapes) {
        const name = SCENARIO.auditSearch(shape.label);
        const result = await measure({ name, method: 'GET', path: shape.path, headers, connections: data.listConnections }, undefined, dataTiming);
        result.detail = { matching: shape.matching, events: total };
        audit.matching[name] = shape.matching;
        leaseScenarios.auditSearch.push(name);
      }
      run.details.push(
        `Audit log search, ${backend}: ${total.toLocaleString('en-US')} events of the owner's account (${fixture.seeded.toLocaleString('en-US')} written with SQL, ` +
          `${fixture.existing.toLocaleString('en-US')} by the bench through the API before), ${fixture.accounts.toLocaleString('en-US')} accounts with audit events; ` +
          `targetId ${fixture.targetId} (a device), one day ${fixture.day.from.slice(0, 10)}; ${walkLine}`,
      );
    }
    if (wants('audit-export')) {
      for (const format of ['jsonl', 'csv'] as AuditExportFormat[]) {
        const scenario = SCENARIO.auditExport(format, total);
        progress(`${backend}: ${scenario}, one client`);
        const result = await measureAuditExport({
          baseUrl: url(),
          headers: { cookie: person.sessionCookie },
          accountId: person.accountId,
          format,
          pid: started.server.pid,
          database: databaseName,
          expected: total,
          scenario,
        });
        const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
        const line =
          `${scenario}, ${backend}: ${result.events.toLocaleString('en-US')} events (${mb(result.bytes)}) in ${(result.wallMs / 1000).toFixed(2)} s ` +
          `(first byte after ${result.firstByteMs.toFixed(0)} ms): ${Math.round(result.eventsPerSec).toLocaleString('en-US')} events/s; server RSS before ` +
          `${mb(result.rss.before)}, peak ${mb(result.rss.peak)} (${result.rss.peakFrom === 'VmHWM' ? `VmHWM; sampled peak ${mb(result.rss.sampledPeak)}` : 'sampled'}, ` +
          `${result.rss.samples} samples), growth ${mb(result.rss.growth)} (aim < ${AUDIT_EXPORT_RSS_AIM_MB} MB), after ${mb(result.rss.after)}; ` +
          `sampled peak while the first tenth was read ${mb(result.rss.firstTenth)}, growth over the other nine tenths ${mb(result.rss.lateGrowth)}; ` +
          `CPU server ${result.cpu.server.toFixed(2)}, PostgreSQL ${result.cpu.postgres.toFixed(2)}, client ${result.cpu.generator.toFixed(2)}, other ${result.cpu.other.toFixed(2)} cores` +
          (result.problems.length ? ` — FAILED: ${result.problems.join('; ')}` : '');
        progress(`${backend}: ${line}`);
        run.details.push(line);
        audit.exports.push(result);
        for (const problem of result.problems) failures.push(`${backend} ${scenario}: ${problem}`);
      }
    }
  }

  await stopServer(started);
  if (profileDir) {
    run.profiles = {};
    for (const pid of pids) {
      const written = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
      if (written[0]) run.profiles[pid] = path.join(profileDir, written[0]);
    }
    run.profile = run.profiles[pids[0]!];
  }
  if (backend === 'postgres') {
    await dropDatabase();
    progress('postgres: database dropped');
  }
  return run;
}

/** Starts a second node on the same database and times revocations on the first seen by it. */
async function measureRevocation(nodeA: string, nodeB: { dataDir: string; databaseUrl: string; secret: string }, loginToken: string) {
  const second = await startServer(nodeB.dataDir, {
    databaseUrl: nodeB.databaseUrl,
    secret: nodeB.secret,
    env: { TESSERA_CLIENT_TOKEN_CACHE_SECONDS: String(NODE_B_CACHE_SECONDS) },
  });
  try {
    await second.server.waitFor('/readyz');
    progress(`postgres: ${PROPAGATION_SCENARIO}: node B pid ${second.server.pid} ready; timing ${revocations} revocations`);
    const result = await measurePropagation({
      nodeA,
      nodeB: second.server.url,
      loginToken,
      count: revocations,
      warmup: 10,
      nodeBCacheSeconds: NODE_B_CACHE_SECONDS,
      timeoutMs: 5000,
    });
    progress(
      `postgres: ${PROPAGATION_SCENARIO}: revoke sent → node B's first 401 p50 ${result.fromSentMs.p50.toFixed(2)} ms, ` +
        `p99 ${result.fromSentMs.p99.toFixed(2)} ms, max ${result.fromSentMs.max.toFixed(2)} ms` +
        (result.failures.length ? ` — FAILED: ${result.failures.length} revocations` : ''),
    );
    return result;
  } finally {
    await stopServer(second);
  }
}

/** Heartbeats in flight for each member's first (the round before the heartbeats load). */
const FIRST_ROUND_CONNECTIONS = 16;

/**
 * member_presence's statistics once PostgreSQL's backends have reported them: a backend reports
 * when a transaction ends at least a second after its last report (else when idle ten seconds
 * later), so a second after the load every account's presence list is read (a transaction each,
 * every pool connection busy) before reading them, and again every half second until `complete`
 * holds (at most 12 s).
 */
async function settledPresenceStats(
  baseUrl: string,
  members: TeamMemberIdentity[],
  databaseUrl: string,
  complete: (stats: PresenceTableStats) => boolean,
): Promise<PresenceTableStats | null> {
  await sleep(1100);
  await listPresence(baseUrl, members);
  const deadline = performance.now() + 12_000;
  for (;;) {
    const stats = await presenceTableStats(databaseUrl);
    if (complete(stats)) return stats;
    if (performance.now() > deadline) return null;
    await sleep(500);
  }
}

/** Starts a second node on the same database; times presence changes on the first seen on its stream. */
async function measurePresenceFanout(
  nodeA: string,
  nodeAPid: number,
  nodeB: { dataDir: string; databaseUrl: string; databaseName: string; secret: string; members: TeamMemberIdentity[]; rowsInPlace: boolean },
) {
  const second = await startServer(nodeB.dataDir, { databaseUrl: nodeB.databaseUrl, secret: nodeB.secret });
  try {
    await second.server.waitFor('/readyz');
    progress(`postgres: ${FANOUT_SCENARIO}: node B pid ${second.server.pid} ready; timing ${presence.changes} state changes`);
    const result = await measureFanout({
      nodeA: { url: nodeA, pid: nodeAPid },
      nodeB: { url: second.server.url, pid: second.server.pid },
      database: nodeB.databaseName,
      members: nodeB.members,
      rowsInPlace: nodeB.rowsInPlace,
      count: presence.changes,
      warmup: 10,
      rate: presence.rate,
      timeoutMs: 5000,
      progress,
    });
    progress(
      `postgres: ${FANOUT_SCENARIO}: heartbeat sent → event on node B p50 ${result.fromSentMs.p50.toFixed(2)} ms, ` +
        `p99 ${result.fromSentMs.p99.toFixed(2)} ms, max ${result.fromSentMs.max.toFixed(2)} ms; ` +
        `background ${result.backgroundRate.toFixed(0)} heartbeats/s of ${presence.rate}` +
        (result.failures.length ? ` — FAILED: ${result.failures.length} problems` : ''),
    );
    return result;
  } finally {
    await stopServer(second);
  }
}

function addRatios(run: BackendRun, argon2: { limitPerSec: number; parallelHashesPerSec: number }): void {
  const find = (name: string | undefined) => (name === undefined ? undefined : run.scenarios.find((s) => s.scenario === name));
  // the peer's rows: Tessera ÷ peer req/s, both p99s
  if (run.peer) {
    run.peer.comparisons = [];
    for (const p of run.peer.scenarios) {
      const tessera = find(String(p.detail?.tessera));
      if (!tessera) continue;
      const ratio = tessera.reqPerSec / p.reqPerSec;
      const met = ratio >= PEER_AIM && tessera.latencyMs.p99 < p.latencyMs.p99;
      run.peer.comparisons.push({ peer: p.scenario, tessera: tessera.scenario, ratio, tesseraP99: tessera.latencyMs.p99, peerP99: p.latencyMs.p99, met });
      run.ratios[`Tessera ÷ peer req/s: ${p.scenario}`] = ratio;
    }
  }
  const health = find(SCENARIO.health);
  const me = find(SCENARIO.me);
  const signIn = find(SCENARIO.signIn);
  if (health && me) run.ratios[SCENARIO.me] = me.reqPerSec / health.reqPerSec;
  for (const name of [SCENARIO.clientMe, SCENARIO.clientToken, SCENARIO.clientRefresh]) {
    const result = find(name);
    if (health && result) run.ratios[name] = result.reqPerSec / health.reqPerSec;
  }
  if (signIn) {
    run.ratios[SCENARIO.signIn] = signIn.reqPerSec / argon2.limitPerSec;
    run.ratios[SIGN_IN_MEASURED] = signIn.reqPerSec / argon2.parallelHashesPerSec;
  }
  // a passkey sign-in verifies a signature where a password sign-in hashes: compared with that
  const passkeySignIn = find(SCENARIO.passkeySignIn);
  if (passkeySignIn && signIn) {
    run.ratios[RATIO.passkeyToPassword] = passkeySignIn.reqPerSec / signIn.reqPerSec;
    run.ratioTexts[passkeySignIn.scenario] = `${run.ratios[RATIO.passkeyToPassword]!.toFixed(1)}× password sign-in`;
  }
  // enrollment hashes once, like sign-in: the same limit
  const enroll = find(SCENARIO.enroll);
  if (enroll) {
    run.ratios[SCENARIO.enroll] = enroll.reqPerSec / argon2.limitPerSec;
    run.ratios[ENROLL_MEASURED] = enroll.reqPerSec / argon2.parallelHashesPerSec;
  }
  const ownerDevices = find(SCENARIO.devicesOwner);
  const managerDevices = find(SCENARIO.devicesGroupManager);
  const keyDevices = find(SCENARIO.devicesOwnerKey);
  if (ownerDevices && managerDevices) {
    run.ratios[RATIO.groupManagerToOwner] = managerDevices.reqPerSec / ownerDevices.reqPerSec;
    run.ratioTexts[ownerDevices.scenario] = 'baseline of the group manager and the key';
    run.ratioTexts[managerDevices.scenario] = `${run.ratios[RATIO.groupManagerToOwner]!.toFixed(2)} of owner (aim ≥ ${GROUP_MANAGER_AIM})`;
  }
  if (ownerDevices && keyDevices) {
    run.ratios[RATIO.accessKeyToSession] = keyDevices.reqPerSec / ownerDevices.reqPerSec;
    run.ratioTexts[keyDevices.scenario] = `${run.ratios[RATIO.accessKeyToSession]!.toFixed(2)} of owner's session (aim ≥ ${ACCESS_KEY_AIM})`;
  }

  // leases and the device list: their Ratio cells say to what
  const d = run.data ?? {};
  const one = find(d.one);
  const spread = find(d.spread);
  const grown = find(d.grown);
  const reference = find(d.reference);
  const referenceSpread = find(d.referenceSpread);
  const aim = run.backend === 'postgres' ? ` (aim ≥ ${LEASE_REFERENCE_AIM.toFixed(1)})` : '';
  const texts = run.ratioTexts;
  if (reference) texts[reference.scenario] = 'reference for the lease pairs';
  if (reference && referenceSpread) texts[referenceSpread.scenario] = `${(referenceSpread.reqPerSec / reference.reqPerSec).toFixed(2)} of 1 row`;
  if (one && reference) {
    run.ratios[RATIO.oneToReference] = one.reqPerSec / reference.reqPerSec;
    texts[one.scenario] = `${run.ratios[RATIO.oneToReference]!.toFixed(2)} of DB reference, 1 row${aim}`;
  }
  if (spread && reference) {
    run.ratios[RATIO.spreadToReference] = spread.reqPerSec / reference.reqPerSec;
    texts[spread.scenario] = `${run.ratios[RATIO.spreadToReference]!.toFixed(2)} of DB reference, 1 row`;
    if (referenceSpread) {
      run.ratios[RATIO.spreadToReferenceSpread] = spread.reqPerSec / referenceSpread.reqPerSec;
      texts[spread.scenario] += `; ${run.ratios[RATIO.spreadToReferenceSpread]!.toFixed(2)} of 1,000 rows`;
    }
  }
  const openP50 = (r: LoadResult) => (r.detail?.open as { p50: number } | undefined)?.p50 ?? NaN;
  if (grown && spread) {
    run.ratios[RATIO.grownOpenP50] = openP50(grown) / openP50(spread);
    run.ratios[RATIO.grownRate] = grown.reqPerSec / spread.reqPerSec;
    texts[grown.scenario] = `open p50 ${run.ratios[RATIO.grownOpenP50]!.toFixed(2)}× of ${d.spread!.replace(/^Lease open\+close, /, '')} (aim ≤ ${LEASE_GROWTH_AIM}); pairs ${run.ratios[RATIO.grownRate]!.toFixed(2)}×`;
  }
  const heartbeats = find(run.heartbeats);
  if (heartbeats) {
    const writes = heartbeats.detail?.writesPerHeartbeat;
    const parts: string[] = [];
    if (health) {
      run.ratios[RATIO.heartbeatsToHealth] = heartbeats.reqPerSec / health.reqPerSec;
      parts.push(`${run.ratios[RATIO.heartbeatsToHealth]!.toFixed(2)} of /healthz`);
    }
    if (typeof writes === 'number') {
      run.ratios[RATIO.writesPerHeartbeat] = writes;
      parts.push(`${writes.toFixed(3)} writes/heartbeat`);
    }
    if (parts.length) texts[heartbeats.scenario] = parts.join('; ');
  }
  const first = find(d.pageFirst);
  const far = find(d.pageFar);
  if (first && far) {
    run.ratios[RATIO.farPageP50] = far.latencyMs.p50 / first.latencyMs.p50;
    run.ratios[RATIO.farPageRate] = far.reqPerSec / first.reqPerSec;
    texts[first.scenario] = 'baseline of the far page';
    texts[far.scenario] = `p50 ${run.ratios[RATIO.farPageP50]!.toFixed(2)}× of page 1 (aim ≤ ${DEVICE_PAGE_AIM}); req/s ${run.ratios[RATIO.farPageRate]!.toFixed(2)}×`;
  }
  for (const name of d.auditSearch ?? []) {
    const r = find(name);
    const matching = run.audit?.matching[name];
    if (r && matching !== undefined) texts[name] = `${matching.toLocaleString('en-US')} matching (aim p99 ≤ ${AUDIT_SEARCH_AIM_MS} ms)`;
  }
  for (const r of [one, spread, grown]) {
    if (!r?.detail) continue;
    const o = r.detail.open as LoadResult['latencyMs'] | undefined;
    const c = r.detail.close as LoadResult['latencyMs'] | undefined;
    if (!o || !c) continue;
    run.details.push(
      `${r.scenario}, ${run.backend}: ${Number(r.detail.pairs).toLocaleString('en-US')} pairs in ${r.durationS} s; ` +
        `open (POST) p50 ${fmt(o.p50)} ms, p99 ${fmt(o.p99)} ms; close (DELETE) p50 ${fmt(c.p50)} ms, p99 ${fmt(c.p99)} ms` +
        `; CPU per pair: ${cpuPer(r, run.backend)}` +
        (Number(r.detail.refusedWithWarmup) > 0
          ? `; ${plural(Number(r.detail.refusedWithWarmup), 'open')} (${Number(r.detail.refused)} in the measured run) refused with 409 "limit": "account" while its client held no lease, and sent again`
          : '; no open refused'),
    );
  }
  for (const r of [reference, referenceSpread]) {
    if (r?.detail?.where) {
      run.details.push(`${r.scenario}, ${run.backend}: ${String(r.detail.where)}; ${r.connections} transactions in flight; CPU per transaction: ${cpuPer(r, run.backend)}`);
    }
  }
}

/** Cores used during the run ÷ units per second: ms of CPU per pair or transaction, by process. */
function cpuPer(r: LoadResult, backend: Backend): string {
  const per = (cores: number) => `${fmt((cores / r.reqPerSec) * 1000)} ms`;
  const parts = r.unit === 'transactions' ? [] : [`server ${per(r.cpu.server)}`];
  if (backend === 'postgres') parts.push(`PostgreSQL ${per(r.cpu.postgres)}`);
  parts.push(`${r.unit === 'transactions' ? (backend === 'pglite' ? 'harness (PGlite)' : 'harness (pg client)') : 'harness (clients)'} ${per(r.cpu.generator)}`);
  return parts.join(', ');
}

const plural = (n: number, noun: string) => `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;

const fmt = (value: number) => (!Number.isFinite(value) ? '—' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));

/** CPU used by other processes over one second. */
async function backgroundLoad(): Promise<CpuUse> {
  const from = cpuSnapshot(null);
  await sleep(1000);
  return cpuUse(from, cpuSnapshot(null));
}

/** Waits (up to waitS) for the machine to be nearly idle; answers the last measurement. */
async function quietMachine(waitS: number): Promise<CpuUse> {
  const deadline = performance.now() + waitS * 1000;
  let load = await backgroundLoad();
  while (load.other > 0.1 && performance.now() < deadline) {
    progress(`waiting for a quiet machine: other processes use ${load.other.toFixed(2)} cores`);
    await sleep(4000);
    load = await backgroundLoad();
  }
  return load;
}

async function main(): Promise<number> {
  const machine = describeMachine();
  progress(`${quick ? 'quick' : 'full'} run on ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, commit ${machine.commit}`);
  const background = await quietMachine(number(args['wait-quiet'], quick ? 0 : 120, 'wait-quiet'));
  progress(`other processes use ${background.other.toFixed(2)} cores${background.other > 0.1 ? ' — the figures will be noisy' : ''}`);

  progress('argon2id reference: timing hashes with the server parameters');
  const argon2 = await measureArgon2(quick ? 12 : 30, machine.cores);
  progress(`argon2id: ${argon2.msPerHash.toFixed(1)} ms per hash (fastest; median ${argon2.medianMs.toFixed(1)} ms) → limit ${argon2.limitPerSec.toFixed(1)} sign-ins/s`);

  progress('tessera command: cold starts of --help and client status');
  const cli = measureCliStart(quick ? 5 : 15);
  for (const c of cli) progress(`${c.command}: median ${c.medianMs.toFixed(0)} ms, p90 ${c.p90Ms.toFixed(0)} ms (exit ${c.exitCode})`);

  let start: BenchRun['start'] = null;
  if (backends.includes('pglite')) {
    const dataDir = path.join(workDir, 'data-start');
    progress('start: PGlite on an empty data directory');
    const cold = await measureStart(dataDir);
    progress(`start: /healthz after ${(cold.healthzMs / 1000).toFixed(2)} s; starting again on the same data directory`);
    const warm = await measureStart(dataDir);
    progress(`start: /healthz after ${(warm.healthzMs / 1000).toFixed(2)} s on the second start`);
    start = { cold, warm };
  }

  const failures: string[] = [];
  const results: BackendRun[] = [];
  for (const backend of backends) {
    const run = await runBackend(backend, failures, argon2);
    // the peer on the same PostgreSQL server once Tessera's server has stopped and its database is gone
    if (backend === 'postgres' && scenarioKeys.has('peer')) {
      run.peer = await runPeer({ connections, durationS, warmupS, progress, onCleanUp, failures });
    }
    addRatios(run, argon2);
    results.push(run);
  }
  if (scenarioKeys.has('peer') && !backends.includes('postgres')) progress('peer: runs on PostgreSQL only, and --backends has no postgres: skipped');

  const notes: string[] = [];
  if (background.other > 0.1) notes.push(`Other processes used ${background.other.toFixed(2)} cores just before the run; the figures are noisy.`);
  for (const c of cli) if (c.medianMs >= CLI_START_AIM_MS) notes.push(`\`${c.command}\` takes ${c.medianMs.toFixed(0)} ms to start and finish (median; aim < ${CLI_START_AIM_MS} ms).`);
  for (const run of results) {
    for (const s of run.scenarios) {
      if (s.cpu.other > 0.15) notes.push(`${run.backend} ${s.scenario}: other processes used ${s.cpu.other.toFixed(2)} cores during the run (noisy).`);
    }
    const ratio = run.ratios[SCENARIO.me];
    if (ratio !== undefined && ratio < 0.5) {
      notes.push(`${run.backend}: GET /api/v1/me reaches only ${ratio.toFixed(2)} of /healthz (below 0.5).`);
    }
    const clientMe = run.ratios[SCENARIO.clientMe];
    if (clientMe !== undefined && clientMe < CLIENT_ME_AIM) {
      notes.push(`${run.backend}: GET /client/v1/me reaches only ${clientMe.toFixed(2)} of /healthz (aim ≥ ${CLIENT_ME_AIM}).`);
    }
    const leaseRatio = run.ratios[RATIO.oneToReference];
    if (run.backend === 'postgres' && leaseRatio !== undefined && leaseRatio < LEASE_REFERENCE_AIM) {
      notes.push(`${run.backend}: lease pairs on one account reach only ${leaseRatio.toFixed(2)} of the one-row reference transaction (aim ≥ ${LEASE_REFERENCE_AIM}).`);
    }
    const growth = run.ratios[RATIO.grownOpenP50];
    if (growth !== undefined && growth > LEASE_GROWTH_AIM) {
      notes.push(`${run.backend}: lease-open p50 grows ${growth.toFixed(2)}× with the grown database (aim ≤ ${LEASE_GROWTH_AIM}).`);
    }
    for (const s of run.scenarios) {
      const interval = s.detail?.memberIntervalS;
      if (typeof interval === 'number' && interval > SERVER_PRESENCE.tokenCacheSeconds) {
        notes.push(
          `${run.backend} ${s.scenario}: each member's heartbeats came ${fmt(interval)} s apart, longer than a node caches an access token ` +
            `(${SERVER_PRESENCE.tokenCacheSeconds} s): nearly every heartbeat looked its token up in the database, as every heartbeat of a client ` +
            `keeping to heartbeatSeconds (${SERVER_PRESENCE.heartbeatSeconds} s) does.`,
        );
      }
      const refused = Number(s.detail?.refusedWithWarmup ?? 0);
      if (refused > 0) {
        notes.push(
          `${run.backend} ${s.scenario}: ${plural(refused, 'open')} refused for the account's allowance although no more clients than the allowance ` +
            `connected, each holding at most one lease (sent again; see docs/connections.md on SKIP LOCKED refusals).`,
        );
      }
    }
    for (const s of run.peer?.scenarios ?? []) {
      if (s.cpu.other > 0.15) notes.push(`${run.backend} ${s.scenario}: other processes used ${s.cpu.other.toFixed(2)} cores during the run (noisy).`);
    }
    for (const c of run.peer?.comparisons ?? []) {
      if (c.met) continue;
      notes.push(
        `${run.backend}: ${c.tessera} reaches ${c.ratio.toFixed(1)}× the req/s of ${c.peer} (aim ≥ ${PEER_AIM}×), p99 ${fmt(c.tesseraP99)} ms against ${fmt(c.peerP99)} ms (aim: lower)` +
          (c.tessera === SCENARIO.signIn ? '; both hash the password once with the same argon2id, which bounds both.' : '.'),
      );
    }
    const keyRatio = run.ratios[RATIO.accessKeyToSession];
    if (keyRatio !== undefined && keyRatio < ACCESS_KEY_AIM) {
      notes.push(`${run.backend}: the device list read with an access key reaches only ${keyRatio.toFixed(2)} of the same read with a session (aim ≥ ${ACCESS_KEY_AIM}).`);
    }
    const groupRatio = run.ratios[RATIO.groupManagerToOwner];
    if (groupRatio !== undefined && groupRatio < GROUP_MANAGER_AIM) {
      notes.push(`${run.backend}: the device list read by a manager of a group reaches only ${groupRatio.toFixed(2)} of the owner's (aim ≥ ${GROUP_MANAGER_AIM}).`);
    }
    const farPage = run.ratios[RATIO.farPageP50];
    if (farPage !== undefined && farPage > DEVICE_PAGE_AIM) {
      notes.push(`${run.backend}: the far page of the device list costs ${farPage.toFixed(2)}× page 1 at p50 (aim ≤ ${DEVICE_PAGE_AIM}).`);
    }
    for (const name of run.data?.auditSearch ?? []) {
      const r = run.scenarios.find((s) => s.scenario === name);
      if (r && r.latencyMs.p99 > AUDIT_SEARCH_AIM_MS) notes.push(`${run.backend}: ${name} answers in p99 ${fmt(r.latencyMs.p99)} ms (aim ≤ ${AUDIT_SEARCH_AIM_MS} ms).`);
    }
    for (const e of run.audit?.exports ?? []) {
      if (!(e.rss.growth < AUDIT_EXPORT_RSS_AIM_MB * 1e6)) notes.push(`${run.backend}: ${e.scenario} grew the server's RSS by ${(e.rss.growth / 1e6).toFixed(1)} MB (aim < ${AUDIT_EXPORT_RSS_AIM_MB} MB).`);
    }
    const fanout = run.presence;
    if (fanout && fanout.fromSentMs.p99 > FANOUT_AIM_MS) {
      notes.push(`${run.backend}: presence fan-out p99 ${fanout.fromSentMs.p99.toFixed(1)} ms (heartbeat on node A → event on node B's stream) is above the aim of ${FANOUT_AIM_MS} ms.`);
    }
    if (fanout && fanout.backgroundRate < 0.9 * fanout.targetRate) {
      notes.push(`${run.backend}: the presence fan-out's background load reached only ${fanout.backgroundRate.toFixed(0)} of ${fanout.targetRate} heartbeats/s.`);
    }
    const p99 = run.propagation?.fromSentMs.p99;
    if (p99 !== undefined && p99 > PROPAGATION_AIM_MS) {
      notes.push(`${run.backend}: revocation propagation p99 ${p99.toFixed(1)} ms is above the aim of ${PROPAGATION_AIM_MS} ms.`);
    }
  }
  const bench: BenchRun = {
    mode: quick ? 'quick' : 'full',
    settings: { durationS, warmupS, connections, data: { ...data, leasesPerAccount: LEASES_PER_ACCOUNT, durationS: dataDurationS, warmupS: dataWarmupS }, presence },
    machine,
    argon2,
    start,
    cli,
    background,
    backends: results,
    failures,
    notes,
  };

  console.log(textReport(bench));
  if (profileDir) {
    // one profile per server, in the order the backends ran; cut each to its scenarios' runs
    for (const run of results) {
      for (const [pid, file] of Object.entries(run.profiles ?? {})) console.log(`\n${run.backend}: server pid ${pid}: ${file}`);
      for (const s of run.scenarios) {
        const file = run.profiles?.[s.pid];
        if (!file || s.unit === 'transactions') continue; // the reference runs in this process, the server idles
        console.log(`\n${summarizeProfile(file, 20, { label: s.scenario, ...s.window })}`);
      }
    }
  }
  if (write && failures.length === 0) {
    const written = writeDocs(path.join(ROOT, 'docs'), bench);
    progress(`wrote ${path.relative(ROOT, written.markdown)} and ${path.relative(ROOT, written.json)}`);
  } else if (write) {
    progress('not writing docs/benchmarks.md: the run failed');
  }
  if (failures.length) {
    progress(`FAILED: ${failures.length} scenario(s) had errors or non-2xx answers`);
    return 1;
  }
  progress('done');
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  progress(`FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
} finally {
  await cleanUp();
}
process.exit(exitCode);
