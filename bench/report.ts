import fs from 'node:fs';
import path from 'node:path';
import type { AuditExportResult } from './audit.ts';
import type { Argon2Reference } from './argon2.ts';
import type { CliStart } from './cli.ts';
import type { PropagationResult } from './client-api.ts';
import type { CpuUse } from './cpu.ts';
import type { LoadResult } from './load.ts';
import { writeChart } from './chart.ts';
import type { Machine } from './machine.ts';
import type { PresenceFanoutResult } from './presence.ts';

export type Backend = 'pglite' | 'postgres';

export interface StartTiming {
  /** spawn → first 200 from /healthz, ms. */
  healthzMs: number;
  /** RSS one second after /healthz answered, bytes. */
  idleRss: number;
}

export interface BackendRun {
  backend: Backend;
  /** spawn → /readyz on a fresh database, ms. */
  readyMs: number;
  /** RSS after start, before the fixtures (register, sign-in check), bytes. */
  idleRss: number;
  scenarios: LoadResult[];
  /** me ÷ healthz and sign-in ÷ argon2 limit by scenario name; sign-in ÷ measured (SIGN_IN_MEASURED); the lease and list ratios (RATIO). */
  ratios: Record<string, number>;
  /** The Ratio cell of scenarios whose ratio is not to /healthz, by scenario name. */
  ratioTexts: Record<string, string>;
  /** Lines for below the table: fixtures, the device-list walk, per-request lease latencies. */
  details: string[];
  /** Which rows are which of the lease and device-list scenarios (their names carry sizes). */
  data?: DataScenarios;
  /** The server's V8 CPU profile (--profile only). */
  profile?: string;
  /** Every server process of the backend (PGlite restarts for fixtures), by pid (--profile only). */
  profiles?: Record<number, string>;
  /** PostgreSQL only: desktop sessions revoked on this server, refused by a second node. */
  propagation?: PropagationResult;
  /** The name of the heartbeats row (it carries the member count), when it ran. */
  heartbeats?: string;
  /** PostgreSQL only: presence changes heartbeated to this server, seen on a second node's stream. */
  presence?: PresenceFanoutResult;
  /** The audit log fixture and its exports, when audit-search or audit-export ran. */
  audit?: AuditRun;
  /** PostgreSQL only: the peer (Better Auth) doing the same work, when the peer scenario ran. */
  peer?: PeerRun;
}

/** The peer of bench/peer.ts: Better Auth served on the same machine and PostgreSQL server. */
export interface PeerRun {
  /** Installed versions: better-auth, @better-auth/api-key, pg, @node-rs/argon2. */
  versions: Record<string, string>;
  /** Seconds the install took, when the block had to install the peer package. */
  installS: number | null;
  /** Schema migration and seed (setup.ts), ms. */
  setupMs: number;
  /** spawn → /healthz, ms, and RSS a second later. */
  readyMs: number;
  idleRss: number;
  /** Members of the peer's organization (and users of Tessera's account of the comparison). */
  members: number;
  /** One row each; detail.tessera names the Tessera row it is compared with. */
  scenarios: LoadResult[];
  /** Tessera ÷ peer, filled once both sides ran. */
  comparisons: PeerComparison[];
}

export interface PeerComparison {
  peer: string;
  tessera: string;
  /** Tessera's req/s ÷ the peer's. */
  ratio: number;
  tesseraP99: number;
  peerP99: number;
  /** ratio ≥ PEER_AIM and Tessera's p99 lower. */
  met: boolean;
}

/** The audit log of audit-search and audit-export: its size, how long it took to write, the exports. */
export interface AuditRun {
  /** Events of the bench account: written with SQL, and those it held already. */
  seeded: number;
  existing: number;
  /** Accounts holding audit events (the bench account and the others, eventsPerOtherAccount each). */
  accounts: number;
  eventsPerOtherAccount: number;
  seedMs: number;
  /** The far page of the search, and its walk. */
  page?: { page: number; walkMs: number; meanPageMs: number };
  /** Events each search row matches, by row name. */
  matching: Record<string, number>;
  exports: AuditExportResult[];
}

/** Names of the rows of the lease and device-list scenarios that ran. */
export interface DataScenarios {
  one?: string;
  spread?: string;
  grown?: string;
  reference?: string;
  referenceSpread?: string;
  pageFirst?: string;
  pageFar?: string;
  /** The rows of audit-search, in order. */
  auditSearch?: string[];
}

export interface BenchRun {
  mode: 'quick' | 'full';
  settings: {
    durationS: number;
    warmupS: number;
    connections: Record<string, number>;
    /** Sizes of the lease and device-list scenarios. */
    data?: {
      leaseConnections: number;
      listConnections: number;
      spreadAccounts: number;
      grownAccounts: number;
      leasesPerAccount: number;
      devices: number;
      devicePage: number;
      durationS: number;
      warmupS: number;
      /** Events of the bench account's audit log, by backend, and the far page of its search (absent from runs before audit-search). */
      auditEvents?: Record<Backend, number>;
      auditPage?: number;
    };
    /** Sizes of the presence scenarios: team members (so many an account), fan-out background rate and changes timed. */
    presence?: { members: number; membersPerAccount: number; rate: number; changes: number };
  };
  machine: Machine;
  argon2: Argon2Reference;
  start: { cold: StartTiming; warm: StartTiming } | null;
  /** Cold starts of the tessera command (absent from runs written before it was measured). */
  cli?: CliStart[];
  /** CPU in use by other processes just before the run (cores). */
  background: CpuUse;
  backends: BackendRun[];
  failures: string[];
  notes: string[];
}

export const SCENARIO = {
  health: 'GET /healthz',
  me: 'GET /api/v1/me',
  signIn: 'POST /api/v1/auth/sign-in',
  passkeySignIn: 'Passkey sign-in: POST /api/v1/auth/passkey/options + /sign-in',
  clientMe: 'GET /client/v1/me',
  clientToken: 'POST /client/v1/token (login token)',
  clientRefresh: 'POST /client/v1/token (refresh)',
  leaseOne: 'Lease open+close, 1 account',
  leaseSpread: (accounts: number) => `Lease open+close, ${count(accounts)} accounts`,
  leaseGrown: (accounts: number, total: number, expired: number) => `Lease open+close, ${count(accounts)} of ${count(total)} accounts, ${count(expired)} expired leases`,
  reference: (backend: Backend, rows: number) =>
    `DB reference${backend === 'pglite' ? ' (PGlite in-process)' : ''}: BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT, ${rows === 1 ? '1 row' : `${count(rows)} rows`}`,
  devicePage: (page: number, devices: number) => `GET …/devices?limit=50, page ${count(page)}${page === 1 ? ` of ${count(devices)} devices` : ''}`,
  devicesOwner: 'GET …/organizations/:o/devices, owner',
  devicesGroupManager: 'GET …/organizations/:o/devices, manager of a group only',
  devicesOwnerKey: 'GET …/organizations/:o/devices, owner access key',
  enroll: 'POST /client/v1/enroll',
  heartbeats: (members: number) => `POST /client/v1/presence, ${count(members)} members`,
  auditSearch: (shape: string) => `GET …/audit-events?limit=50, ${shape}`,
  auditExport: (format: string, events: number) => `GET …/audit-events/export?format=${format}, ${count(events)} events`,
  accountUsers: (users: number) => `GET /api/v1/accounts/:a/users, ${count(users)} users`,
  accountByKey: 'GET /api/v1/accounts/:a, access key',
} as const;

/** The peer's rows (bench/peer.ts), each next to the Tessera row doing the same work. */
export const PEER_SCENARIO = {
  signIn: 'peer: sign-in, POST /api/auth/sign-in/email',
  session: 'peer: session check, GET /api/auth/get-session',
  organizations: "peer: the user's organizations, GET /api/auth/organization/list",
  members: (members: number) => `peer: an organization's members, GET /api/auth/organization/list-members, ${count(members)} members`,
  apiKey: 'peer: API key, GET /api/auth/get-session with x-api-key',
} as const;

/** Tessera should answer at least this many times the peer's req/s, with a lower p99, in every shared scenario. */
export const PEER_AIM = 5;

/** Keys in BackendRun.ratios for the lease and device-list scenarios. */
export const RATIO = {
  oneToReference: 'lease pairs, 1 account ÷ reference, 1 row',
  spreadToReference: 'lease pairs, spread ÷ reference, 1 row',
  spreadToReferenceSpread: 'lease pairs, spread ÷ reference, spread',
  grownOpenP50: 'lease open p50, grown ÷ spread',
  grownRate: 'lease pairs, grown ÷ spread',
  farPageP50: 'device list p50, far page ÷ page 1',
  farPageRate: 'device list req/s, far page ÷ page 1',
  groupManagerToOwner: 'device list req/s, group manager ÷ owner',
  accessKeyToSession: 'device list req/s, owner access key ÷ owner session',
  heartbeatsToHealth: 'heartbeats/s ÷ /healthz',
  writesPerHeartbeat: 'member_presence writes ÷ heartbeats',
  passkeyToPassword: 'passkey sign-ins/s ÷ password sign-ins/s',
} as const;

/** Lease pairs should reach this share of the one-row reference transaction (PostgreSQL). */
export const LEASE_REFERENCE_AIM = 1.0;
/** Lease-open p50 with the grown database should stay within this factor of the small one. */
export const LEASE_GROWTH_AIM = 1.3;
/** A far page of the device list should cost at most this factor of page 1 (p50). */
export const DEVICE_PAGE_AIM = 1.2;
/** Every page of the audit log's search, whatever the filter, should answer within this (p99, ms). */
export const AUDIT_SEARCH_AIM_MS = 50;
/** An export of the whole audit log should grow the server's RSS by less than this (MB, 10⁶ bytes). */
export const AUDIT_EXPORT_RSS_AIM_MB = 50;

/** GET /client/v1/me should reach this share of /healthz (a cached access token, one query). */
export const CLIENT_ME_AIM = 0.7;
/** Node B should refuse a revoked access token within this many ms (p99). */
export const PROPAGATION_AIM_MS = 100;
/** A presence change heartbeated to node A should reach a stream on node B within this many ms (p99). */
export const FANOUT_AIM_MS = 250;

/** Key in BackendRun.ratios: sign-in ÷ the hash rate measured with `cores` hashes in flight. */
export const SIGN_IN_MEASURED = `${SCENARIO.signIn} ÷ measured parallel argon2`;
/** Key in BackendRun.ratios: enrollment ÷ the hash rate measured with `cores` hashes in flight. */
export const ENROLL_MEASURED = `${SCENARIO.enroll} ÷ measured parallel argon2`;

/** The device list read through a group role should reach this share of the owner's (same run). */
export const GROUP_MANAGER_AIM = 0.9;
/** A command of the tessera CLI should start and finish within this (median, cold process). */
export const CLI_START_AIM_MS = 300;
/** The same read with an access key should reach this share of the read with a session (same run). */
export const ACCESS_KEY_AIM = 0.9;

const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(0)} MiB` : '—');
const gib = (bytes: number) => `${(bytes / 1073741824).toFixed(1)} GiB`;
const ms = (value: number) => (!Number.isFinite(value) ? '—' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
const seconds = (valueMs: number) => `${(valueMs / 1000).toFixed(2)} s`;
const rate = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1));
function count(value: number): string {
  return value.toLocaleString('en-US');
}
const UNIT: Record<NonNullable<LoadResult['unit']>, string> = { requests: '', pairs: ' pairs', transactions: ' txn' };

function ratioText(run: BackendRun, result: LoadResult): string {
  const text = run.ratioTexts?.[result.scenario];
  if (text !== undefined) return text;
  const ratio = run.ratios[result.scenario];
  if (result.scenario === SCENARIO.health) return 'baseline';
  if (ratio === undefined) return '—';
  if (result.scenario === SCENARIO.enroll) {
    const measured = run.ratios[ENROLL_MEASURED];
    return `${ratio.toFixed(2)} of argon2 limit` + (measured === undefined ? '' : ` (${measured.toFixed(2)} of measured)`);
  }
  if (result.scenario !== SCENARIO.signIn) return `${ratio.toFixed(2)} of /healthz`;
  const measured = run.ratios[SIGN_IN_MEASURED];
  return `${ratio.toFixed(2)} of argon2 limit` + (measured === undefined ? '' : ` (${measured.toFixed(2)} of measured)`);
}

const HEADERS = ['Backend', 'Scenario', 'Conns', 'req/s', 'Ratio', 'p50 ms', 'p99 ms', 'non-2xx+err', 'RSS idle', 'RSS peak', 'RSS after', 'CPU srv/db/gen/other'];
const RIGHT = new Set([2, 3, 5, 6, 7, 8, 9, 10, 11]);
const cores = (c: CpuUse) => [c.server, c.postgres, c.generator, c.other].map((v) => v.toFixed(2)).join('/');

function propagationRow(b: BackendRun): string[][] {
  const p = b.propagation;
  if (!p) return [];
  return [
    [
      b.backend,
      p.scenario,
      '2 nodes',
      '—',
      `${p.revocations} revocations (aim p99 ≤ ${PROPAGATION_AIM_MS} ms)`,
      ms(p.fromSentMs.p50),
      ms(p.fromSentMs.p99),
      String(p.failures.length),
      '—',
      '—',
      '—',
      '—',
    ],
  ];
}

function presenceRow(b: BackendRun): string[][] {
  const p = b.presence;
  if (!p) return [];
  return [
    [
      b.backend,
      p.scenario,
      '2 nodes',
      rate(p.backgroundRate),
      `${p.changes} changes at ${rate(p.backgroundRate)} heartbeats/s (aim p99 ≤ ${FANOUT_AIM_MS} ms)`,
      ms(p.fromSentMs.p50),
      ms(p.fromSentMs.p99),
      String(p.failures.length + p.background.non2xx + p.background.errors),
      '—',
      '—',
      mib(p.rss.nodeA),
      [p.cpu.nodeA + p.cpu.nodeB, p.cpu.postgres, p.cpu.harness, p.cpu.other].map((v) => v.toFixed(2)).join('/'),
    ],
  ];
}

const mb = (bytes: number) => (Number.isFinite(bytes) ? `${bytes >= 0 ? '+' : '−'}${(Math.abs(bytes) / 1e6).toFixed(1)} MB` : '—');

/** The exports of audit-export: events/s in the rate column, RSS growth and wall time in the ratio cell. */
function auditExportRows(b: BackendRun): string[][] {
  return (b.audit?.exports ?? []).map((e) => [
    b.backend,
    e.scenario,
    '1',
    `${rate(e.eventsPerSec)} events`,
    `RSS ${mb(e.rss.growth)} (aim < ${AUDIT_EXPORT_RSS_AIM_MB} MB); ${seconds(e.wallMs)}, ${(e.bytes / 1e6).toFixed(0)} MB`,
    '—',
    '—',
    String(e.problems.length),
    mib(e.rss.before),
    mib(e.rss.peak),
    mib(e.rss.after),
    cores(e.cpu),
  ]);
}

function loadRow(b: BackendRun, r: LoadResult, ratio: string): string[] {
  return [
    b.backend,
    r.scenario,
    String(r.connections),
    rate(r.reqPerSec) + UNIT[r.unit ?? 'requests'],
    ratio,
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p99),
    String(r.non2xx + r.warmup.non2xx + r.errors + r.warmup.errors + r.timeouts + r.warmup.timeouts),
    mib(r.rss.idle),
    mib(r.rss.peak),
    mib(r.rss.after),
    cores(r.cpu),
  ];
}

/** The Ratio cell of a peer row: Tessera ÷ peer req/s against the aim, and both p99s. */
function peerRatioText(b: BackendRun, r: LoadResult): string {
  const c = b.peer?.comparisons.find((x) => x.peer === r.scenario);
  if (!c) return `no Tessera row (${String(r.detail?.tessera ?? '—')} did not run)`;
  return `Tessera ${c.ratio.toFixed(1)}× (aim ≥ ${PEER_AIM}×); p99 Tessera ${ms(c.tesseraP99)} vs ${ms(c.peerP99)} ms${c.met ? '' : ' — aim missed'}`;
}

/** The backend's load rows, each peer row right after the Tessera row it is compared with. */
function loadRows(b: BackendRun): string[][] {
  const peer = b.peer?.scenarios ?? [];
  const placed = new Set<LoadResult>();
  const out: string[][] = [];
  for (const r of b.scenarios) {
    out.push(loadRow(b, r, ratioText(b, r)));
    for (const p of peer) {
      if (p.detail?.tessera !== r.scenario || placed.has(p)) continue;
      placed.add(p);
      out.push(loadRow(b, p, peerRatioText(b, p)));
    }
  }
  for (const p of peer) if (!placed.has(p)) out.push(loadRow(b, p, peerRatioText(b, p)));
  return out;
}

function rows(run: BenchRun): string[][] {
  return run.backends.flatMap((b) => [
    ...loadRows(b),
    ...propagationRow(b),
    ...presenceRow(b),
    ...auditExportRows(b),
  ]);
}

function textTable(headers: string[], body: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (RIGHT.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function markdownTable(headers: string[], body: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map((_, i) => (RIGHT.has(i) ? '---:' : '---'))), ...body.map(line)].join('\n');
}

function describeLoad(run: BenchRun): string {
  const c = run.settings.connections;
  return (
    `autocannon in the harness process (one thread), ${run.settings.durationS} s per scenario after a ` +
    `${run.settings.warmupS} s warm-up; ${c.get} connections for the GETs, ${c.signIn} for sign-in, ` +
    `${c.token ?? c.signIn} for the token endpoint. ` +
    `Login-token exchanges cycle through ${c.token ?? c.signIn} login tokens of one member, each exchange opening a new desktop session; ` +
    `each refresh connection carries one desktop session that keeps rotating, every request presenting the single-use ` +
    `refresh token the previous answer returned (never one already sent), so req/s is sustained rotations. ` +
    accessLoad(run) +
    leaseLoad(run) +
    presenceLoad(run) +
    auditLoad(run) +
    peerLoad(run) +
    `The server runs as a child process; generator, server (and PostgreSQL) share the same ` +
    `${run.machine.cores} cores, so absolute figures understate a dedicated server. ` +
    `CPU columns: average cores used during the run by the server process, PostgreSQL's processes, the ` +
    `load generator, and everything else on the machine (${run.background.other.toFixed(2)} cores just before the run).`
  );
}

function accessLoad(run: BenchRun): string {
  const ran = (name: string) => run.backends.some((b) => b.scenarios.some((s) => s.scenario === name));
  let text = '';
  if (ran(SCENARIO.devicesGroupManager)) {
    text +=
      `Group manager: one organization of 50 devices in a group, its first page (GET …/devices?limit=50) loaded by the account's ` +
      `owner and then, in the same run, by a user whose only role is manager of that group (no role on the whole account), each ` +
      `with a session cookie of their own; the ratio is the manager's req/s ÷ the owner's (aim ≥ ${GROUP_MANAGER_AIM}). ` +
      `Then the same page with an access key of the owner role (Authorization: Bearer, no cookie): its req/s ÷ the owner session's (aim ≥ ${ACCESS_KEY_AIM}). `;
  }
  if (ran(SCENARIO.enroll)) {
    text +=
      `Enrollment: POST /client/v1/enroll with an owner's right email and password and no member credentials (one argon2 hash, like a ` +
      `sign-in; member, login token, desktop session, token pair and three audit records written), ${c(run).signIn} connections, each ` +
      `request a new PC; the plan allows 25 team members an account, so the owner has enough accounts for every enrollment the ` +
      `argon2 limit allows and the requests name them in turn with accountId. `;
  }
  return text;
}

const c = (run: BenchRun) => run.settings.connections;

function leaseLoad(run: BenchRun): string {
  const d = run.settings.data;
  if (!d || !run.backends.some((b) => b.data && Object.keys(b.data).some((key) => key !== 'auditSearch'))) return '';
  const timing = d.durationS !== run.settings.durationS || d.warmupS !== run.settings.warmupS ? `The lease, reference and device-list scenarios run ${d.durationS} s after a ${d.warmupS} s warm-up. ` : '';
  return (
    timing +
    `Leases: ${d.leaseConnections} desktop clients (one keep-alive connection each, driven by the harness, not autocannon) loop ` +
    `POST /client/v1/connections → DELETE /client/v1/connections/:leaseId on a device of their own, stopping only between pairs; ` +
    `"pairs" is open+close pairs per second, p50/p99 are per request (opens and closes together). "1 account": 10 team members ` +
    `of one account (allowance 10, no member limit), a device each, created through the API. "${count(d.spreadAccounts)} accounts": ` +
    `as many accounts written with SQL (owner, member, device, signed-in desktop session, free slot rows), the clients taking turns ` +
    `on them. The grown run repeats that after adding accounts up to ${count(d.grownAccounts)} with ${d.leasesPerAccount} expired, never-closed leases each. ` +
    `The DB reference runs ${d.leaseConnections} transactions in flight with the server idle. ` +
    `Device list: ${count(d.devices)} devices in one organization; page 1 and page ${count(d.devicePage)} (its cursor found by walking the list once) loaded by autocannon (${d.listConnections} connections) with a session cookie. `
  );
}

function presenceLoad(run: BenchRun): string {
  const p = run.settings.presence;
  const heartbeats = run.backends.some((b) => b.heartbeats);
  const fanout = run.backends.some((b) => b.presence);
  if (!p || (!heartbeats && !fanout)) return '';
  let text =
    `Presence: ${count(p.members)} team members, ${p.membersPerAccount} an account (the plan's member limit), written with SQL, each a desktop ` +
    `session with an access token. `;
  if (heartbeats) {
    text +=
      `Heartbeats: every member's first heartbeat (inserting its row) once, 16 in flight, timed; then autocannon, ${c(run).get} connections, ` +
      `POST /client/v1/presence, each request the next member's heartbeat in turn (every member heartbeats once a round, as its client ` +
      `would every heartbeatSeconds, only faster); a member says "away" one round in 100 (staggered) and "online" otherwise, so nearly ` +
      `all are repeats answered from the node's memo. Below the table: the ` +
      `rows member_presence holds afterwards (one per member) and, on PostgreSQL, the inserts and updates it counted (pg_stat_user_tables: ` +
      `the state changes, and a row's refresh once its last write is 20 s old) per heartbeat answered in warm-up and run. `;
  }
  if (fanout) {
    text +=
      `Fan-out (PostgreSQL): a second server process (node B) on the same database streams the first account's presence ` +
      `(GET /client/v1/presence/stream as a desktop client of it); node A takes ${count(p.rate)} heartbeats/s from the other members ` +
      `(paced, 16 keep-alive connections; one round over every member before timing) while one member of that account flips between ` +
      `online and away ${count(p.changes)} times; p50/p99 are from sending that heartbeat to node A to reading the matching event on node B, ` +
      `req/s is the background rate reached, CPU srv is both nodes together. `;
  }
  return text;
}

function auditLoad(run: BenchRun): string {
  const searched = run.backends.filter((b) => b.data?.auditSearch?.length);
  const exported = run.backends.filter((b) => b.audit?.exports.length);
  if (!searched.length && !exported.length) return '';
  const logs = run.backends.filter((b) => b.audit);
  const sizes = logs.map((b) => `${count(b.audit!.seeded)} events on ${b.backend}`).join(', ');
  const first = logs[0]!.audit!;
  let text =
    `Audit log: one account's log grown with SQL over a year by ${sizes} (plus the events the bench had written to it through the API), ` +
    `among ${count(first.accounts)} accounts with audit events (the others ${count(first.eventsPerOtherAccount)} each); `;
  if (searched.length) {
    text +=
      `the search read by its owner's session cookie, each query shape a row of its own, ${run.settings.data?.listConnections ?? 10} connections (autocannon), ` +
      `${run.settings.data?.durationS ?? run.settings.durationS} s after a ${run.settings.data?.warmupS ?? run.settings.warmupS} s warm-up, ` +
      `50 events a page; the far page's cursor found by walking the unfiltered log once. `;
  }
  if (exported.length) {
    text +=
      `Exports: the whole log once as JSON Lines, then once as CSV, by one client reading the stream to the end and counting lines; events/s over ` +
      `the client's wall time, RSS of the server sampled every 100 ms (and its VmHWM, reset before) against its RSS just before the request. `;
  }
  return text;
}

function peerLoad(run: BenchRun): string {
  const peer = run.backends.find((b) => b.peer)?.peer;
  if (!peer) return '';
  const v = peer.versions;
  return (
    `Peer: Better Auth ${v['better-auth'] ?? '?'} (@better-auth/api-key ${v['@better-auth/api-key'] ?? '?'}) on node:http through its Node handler, ` +
    `a process of its own on a fresh database of the same PostgreSQL server (pg pool of 10, like Tessera's), after Tessera's server stopped; ` +
    `passwords hashed with argon2id m=19456 KiB, t=2, p=1 by @node-rs/argon2 (Tessera's parameters and library) through emailAndPassword.password.hash/verify; ` +
    `Better Auth's request rate limiter and the API key's rate limit off (Tessera throttles failed sign-ins only), no cookie cache (the default). ` +
    `Same connections and durations as the Tessera row each is compared with: sign-in (${c(run).signIn} connections) against ` +
    `${SCENARIO.signIn}; the session check and the person's organizations against ${SCENARIO.me} (which answers the person and every account with their role: ` +
    `Tessera's accounts are what Better Auth calls organizations); the ${count(peer.members)} members of the organization against ` +
    `GET /api/v1/accounts/:a/users of an account with ${count(peer.members)} portal users; an API key (x-api-key, enableSessionForAPIKeys: the key ` +
    `verified and its user's session answered) against GET /api/v1/accounts/:a with an owner access key. ` +
    `Ratio of a peer row: Tessera's req/s ÷ the peer's (aim ≥ ${PEER_AIM}× with a lower p99). `
  );
}

function referenceLines(run: BenchRun): string[] {
  const a = run.argon2;
  const lines = [
    `argon2id (m=${a.options.memoryCost} KiB, t=${a.options.timeCost}, p=${a.options.parallelism}): ` +
      `${ms(a.msPerHash)} ms per hash on one core (fastest of ${a.samplesMs.length}; median ${ms(a.medianMs)} ms) → sign-in limit ${a.cores} × 1000 / ${ms(a.msPerHash)} = ` +
      `${rate(a.limitPerSec)}/s (measured with ${a.cores} hashes in flight, best of 3: ${rate(a.parallelHashesPerSec)} hashes/s)`,
  ];
  if (run.start) {
    lines.push(
      `Start, PGlite (spawn of node src/server/start.ts → /healthz answers): empty data dir ${seconds(run.start.cold.healthzMs)} ` +
        `(idle RSS ${mib(run.start.cold.idleRss)}), second start ${seconds(run.start.warm.healthzMs)} (idle RSS ${mib(run.start.warm.idleRss)})`,
    );
  }
  for (const c of run.cli ?? []) {
    lines.push(
      `Cold start of \`${c.command}\` (spawn → exit ${c.exitCode}, ${c.samplesMs.length} runs): median ${ms(c.medianMs)} ms, p90 ${ms(c.p90Ms)} ms (aim < ${CLI_START_AIM_MS} ms)`,
    );
  }
  for (const b of run.backends) {
    lines.push(`Start for the load runs, ${b.backend} (fresh database, spawn → /readyz): ${seconds(b.readyMs)}, idle RSS ${mib(b.idleRss)}`);
  }
  for (const b of run.backends) {
    const p = b.propagation;
    if (!p) continue;
    lines.push(
      `${p.scenario}, ${b.backend}: a second server process on the same database and secret (access tokens cached ${p.nodeBCacheSeconds} s there). ` +
        `${p.revocations} times (after ${p.warmup} unmeasured): a desktop client signs in on node A, node B caches its access token ` +
        `(GET /client/v1/me → 200), node A revokes the session (POST /client/v1/revoke) while node B is polled back to back ` +
        `(${p.pollsMean.toFixed(1)} polls per revocation on average). Revoke sent → node B's first 401: ` +
        `p50 ${ms(p.fromSentMs.p50)} ms, p90 ${ms(p.fromSentMs.p90)} ms, p99 ${ms(p.fromSentMs.p99)} ms, max ${ms(p.fromSentMs.max)} ms; ` +
        `node A's answer → node B's first 401: p50 ${ms(p.afterAnswerMs.p50)} ms, p99 ${ms(p.afterAnswerMs.p99)} ms ` +
        `(node A answers the revocation in p50 ${ms(p.revokeMs.p50)} ms, p99 ${ms(p.revokeMs.p99)} ms)` +
        (p.failures.length ? `; ${p.failures.length} failed: ${p.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  for (const b of run.backends) {
    const p = b.presence;
    if (!p) continue;
    lines.push(
      `${p.scenario}, ${b.backend}: a second server process on the same database and secret streams one account's presence ` +
        `to one of its members; node A takes ${rate(p.backgroundRate)} background heartbeats/s ` +
        `(asked ${count(p.targetRate)}/s, from ${count(p.members)} members of ${count(p.accounts)} accounts; answered in p50 ${ms(p.background.latencyMs.p50)} ms, ` +
        `p99 ${ms(p.background.latencyMs.p99)} ms) while another member of that account flips between online and away ${p.changes} times ` +
        `(after ${p.warmup} unmeasured). Heartbeat sent → event on node B: p50 ${ms(p.fromSentMs.p50)} ms, p90 ${ms(p.fromSentMs.p90)} ms, ` +
        `p99 ${ms(p.fromSentMs.p99)} ms, max ${ms(p.fromSentMs.max)} ms (aim p99 ≤ ${FANOUT_AIM_MS} ms); node A's answer → event: ` +
        `p50 ${ms(p.afterAnswerMs.p50)} ms, p99 ${ms(p.afterAnswerMs.p99)} ms (node A answers the changing heartbeat in p50 ${ms(p.heartbeatMs.p50)} ms, ` +
        `p99 ${ms(p.heartbeatMs.p99)} ms); ${count(p.streamEvents)} presence events on the stream meanwhile. CPU: node A ${p.cpu.nodeA.toFixed(2)}, ` +
        `node B ${p.cpu.nodeB.toFixed(2)}, PostgreSQL ${p.cpu.postgres.toFixed(2)}, harness ${p.cpu.harness.toFixed(2)}, other ${p.cpu.other.toFixed(2)} cores; ` +
        `RSS after: node A ${mib(p.rss.nodeA)}, node B ${mib(p.rss.nodeB)}` +
        (p.failures.length ? `; ${p.failures.length} failed: ${p.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  for (const b of run.backends) lines.push(...(b.details ?? []));
  for (const b of run.backends) {
    const p = b.peer;
    if (!p) continue;
    lines.push(
      `Peer, ${b.backend}: ${Object.entries(p.versions).map(([name, version]) => `${name} ${version}`).join(', ')}` +
        `${p.installS === null ? '' : `; installed into bench/peer/node_modules in ${p.installS.toFixed(1)} s`}; schema and seed (one person, an organization ` +
        `of ${count(p.members)} members, an API key) ${seconds(p.setupMs)}; spawn → /healthz ${seconds(p.readyMs)}, idle RSS ${mib(p.idleRss)}` +
        (p.comparisons.length ? `; Tessera ÷ peer req/s: ${p.comparisons.map((x) => `${x.ratio.toFixed(1)}×`).join(', ')}` : ''),
    );
  }
  return lines;
}

/** The final table for stdout. */
export function textReport(run: BenchRun): string {
  const m = run.machine;
  return [
    `Tessera benchmarks — ${run.mode} run`,
    `Machine  ${m.cores} cores, ${m.cpuModel}, ${gib(m.memoryBytes)} memory, ${m.kernel}`,
    `Node     ${m.node}`,
    `Commit   ${m.commit}`,
    `Date     ${m.date}`,
    `Load     ${describeLoad(run)}`,
    '',
    textTable(HEADERS, rows(run)),
    '',
    ...referenceLines(run),
    ...run.notes.map((n) => `Note: ${n}`),
    ...(run.failures.length ? ['', 'FAILED:', ...run.failures.map((f) => `  ${f}`)] : []),
  ].join('\n');
}

/** The generated part of docs/benchmarks.md. */
export function markdownSection(run: BenchRun): string {
  const m = run.machine;
  return [
    `Generated by \`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` on ${m.date.slice(0, 10)} (raw figures: [benchmarks.json](benchmarks.json)).`,
    '',
    '![Throughput per scenario on a log scale, with p50 and p99 latency](benchmarks.svg)',
    '',
    '| Machine | Node | Commit | Date |',
    '| --- | --- | --- | --- |',
    `| ${m.cores} cores, ${m.cpuModel}, ${gib(m.memoryBytes)}, ${m.kernel} | ${m.node} | \`${m.commit}\` | ${m.date} |`,
    '',
    `Load: ${describeLoad(run)}`,
    '',
    markdownTable(HEADERS, rows(run)),
    '',
    ...referenceLines(run).map((l) => `- ${l}`),
    ...run.notes.map((n) => `- ${n}`),
    ...(run.failures.length ? ['', '**This run failed:**', '', ...run.failures.map((f) => `- ${f}`)] : []),
  ].join('\n');
}

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

export const DOCS_INTRO = `# Benchmarks

\`npm run bench\` measures the server as \`npm start\` runs it. It starts \`node src/server/start.ts\`
as a child process (so the server's memory is measured apart from the load generator), first on
PGlite in a fresh data directory, then on a fresh database on the PostgreSQL server at
\`127.0.0.1:5432\` (dropped afterwards), and loads it with
[autocannon](https://github.com/mcollina/autocannon): \`GET /healthz\` as the baseline,
\`GET /api/v1/me\` with a session cookie, \`POST /api/v1/auth/sign-in\` with the right
password, a passwordless sign-in with a passkey (**passkey-sign-in**, driven by the harness: the
options, then the answer an ES256 software authenticator signs for them, one person with a
passkey per connection; [passkeys.md](passkeys.md)), and the desktop client API: \`GET /client/v1/me\` with an access token, and
\`POST /client/v1/token\` exchanging login tokens and rotating refresh tokens. On PostgreSQL it
also starts a second server process on the same database and times how soon that node refuses
an access token the first node revoked. It also times argon2id on this machine, the start of
\`npm start\` on an empty and on an existing data directory, and the cold start of the
\`tessera\` command (\`--help\`, and \`client status\` signed out).

Then the data-heavy scenarios ([connection leases](connections.md) and the
[device list](organizations.md)):

- **lease-one**: desktop clients looping open → close (\`POST /client/v1/connections\`,
  \`DELETE /client/v1/connections/:leaseId\`), every one a team member of the same account
  (allowance 10) connecting to a device of its own;
- **lease-spread**: the same with the clients taking turns on 1,000 accounts, written straight
  into the tables with SQL (an owner, a team member, a device, a signed-in desktop session
  each);
- **lease-reference**: the database reference, measured in the same run with the server idle:
  \`BEGIN; SELECT … FOR UPDATE; UPDATE …; COMMIT\` on one row, and spread over 1,000 rows,
  through a \`pg\` pool of the server's size (10) with as many transactions in flight as lease
  clients — on PGlite, the same through PGlite in the harness process;
- **lease-grown**: lease-spread again after growing the database to 100,000 accounts with
  10 expired, never-closed leases each (1,000,000), written with \`generate_series\`;
- **device-pages**: \`GET /api/v1/accounts/:a/organizations/:o/devices?limit=50\` on one
  organization of 100,000 devices: page 1, and page 1,000 (its cursor found by walking the
  list once).

And users and roles ([users-and-roles.md](users-and-roles.md)):

- **manager-devices**: the first page of an organization's 50 devices, loaded by the account's
  owner, then by a user whose only role is manager of a group holding the organization, then
  with an owner access key;
- **enroll**: \`POST /client/v1/enroll\` with an owner's email and password, each request
  creating a team member (with its login token and desktop session) for a new PC.

And [presence](presence.md), on 5,000 team members (200 accounts of 25, the plan's member limit)
written with SQL, each a desktop client signed in:

- **heartbeats**: \`POST /client/v1/presence\` as fast as the server answers, each request the
  next member's heartbeat in turn, nearly all of them repeats of \`online\`;
- **presence-fanout** (PostgreSQL only): a second server process streams one account's presence
  (\`GET /client/v1/presence/stream\`) while the first takes 1,000 heartbeats/s and a member of
  that account flips between online and away: from the heartbeat to the event on the other node.

And the audit log (\`GET /api/v1/accounts/:a/audit-events\` and its export): the bench account's
log grown with SQL by 1,000,000 events over 360 days on PostgreSQL, and by 200,000 on PGlite (a
million there takes one to two minutes to write, with half a gigabyte in the harness, then a
restart of the server, and about a minute for each export; \`--pglite-audit-events=1000000\` runs
it), among 1,000 accounts with audit events (100 each for the other 999):

- **audit-search**: one page of 50 events, newest first, read with the owner's session cookie,
  each query shape a row of its own: page 1 with no filter, one action (\`member.updated\`), a
  group of actions (\`member.*\`), one actor (the owner), one target (a device, by \`targetId\`
  alone, as the portal asks), one day (\`from\`/\`to\`), and page 1,000 (its cursor found by
  walking the log once);
- **audit-export**: the whole log once as JSON Lines and once as CSV
  (\`…/audit-events/export?format=\`), one client reading the stream to the end, while the
  server's memory is watched.

And a peer side by side (**peer**, PostgreSQL only): [Better Auth](https://www.better-auth.com)
from npm, with email and password, its organization plugin and its API-key plugin, doing the
work Tessera's rows do. It is a package of its own, \`bench/peer\` (versions pinned in its
\`package.json\` and lock file), which \`npm install\` of Tessera never installs: the bench
installs it into \`bench/peer/node_modules\` the first time (\`npm install --prefix bench/peer\`),
so it is never shipped. Once Tessera's PostgreSQL run is over (its server stopped, its database
dropped), the bench makes a fresh database on the same PostgreSQL server, creates Better Auth's
schema with its own migrations (\`getMigrations\`, what \`npx auth migrate\` runs), seeds it
through Better Auth's server API (one person signed up with email and password, owning an
organization of 50 members, each signed up the same way, and an API key of that person), and
serves it with Better Auth's Node handler on \`node:http\` in a process of its own
(\`bench/peer/server.ts\`, \`NODE_ENV=production\`). Configured as Tessera is where it matters:

- **Password hashing**: \`emailAndPassword.password.hash\`/\`verify\` call argon2id from
  \`@node-rs/argon2\` with Tessera's parameters (m=19,456 KiB, t=2, p=1), in place of Better
  Auth's default scrypt, so a sign-in costs both servers the same hash.
- **Database**: a \`pg\` pool of 10 connections (Tessera's pool size), which Better Auth wraps in
  its Kysely adapter.
- **Limits**: Better Auth's request rate limiter (on in production: 3 sign-ins per 10 s from an
  address) and the API key's own rate limit (10 requests a day by default) are off: Tessera's
  sign-in throttle counts failed sign-ins only, and it has no quota on access keys.
- **Sessions**: no cookie cache (Better Auth's default): a cached session cookie would be
  believed for up to its lifetime after the session was revoked, where Tessera drops a revoked
  session from every node's cache at once.
- **API keys**: \`enableSessionForAPIKeys\`, so a request carrying \`x-api-key\` is
  authenticated by the key (the plugin's verify endpoint, \`auth.api.verifyApiKey\`, is server
  only: not reachable over HTTP).

Each peer row runs with the connections and durations of the Tessera row it is compared with,
and is printed right after it:

| Work | Tessera | Better Auth |
| --- | --- | --- |
| sign-in | \`POST /api/v1/auth/sign-in\` (16 connections) | \`POST /api/auth/sign-in/email\` |
| session check | \`GET /api/v1/me\` | \`GET /api/auth/get-session\` |
| the person's organizations | \`GET /api/v1/me\` (the person and every account with their role) | \`GET /api/auth/organization/list\` |
| an organization's members | \`GET /api/v1/accounts/:a/users\` (**account-users**: an account of 50 portal users, read by its owner) | \`GET /api/auth/organization/list-members?organizationId=…\` (50 members, the whole list) |
| an API key | \`GET /api/v1/accounts/:a\` with \`Authorization: Bearer tsr_ak_…\` (**access-key**: an owner key) | \`GET /api/auth/get-session\` with \`x-api-key\` |

What Better Auth calls an organization (members with roles) is a Tessera account; Tessera's
organizations are the sites inside an account that hold its devices. So the person's
organizations are the accounts that \`GET /api/v1/me\` answers, the same request as the session
check: Tessera answers both with one request, and the two peer rows are compared with that one
row.

\`\`\`sh
npm run bench              # 10 s per scenario after a 2 s warm-up; rewrites the results below
npm run bench -- --quick   # 3 s per scenario (the data-heavy ones 2 s, on 10,000 accounts,
                           # 20,000 devices, page 200, 1,000 presence members, 100,000 audit
                           # events (PGlite 50,000) and the audit search's page 200)
npm run bench -- --help    # --duration, --connections, --backends, --scenarios, --revocations, --no-write,
                           # --lease-connections, --spread-accounts, --grown-accounts, --devices, --device-page,
                           # --presence-members, --presence-rate, --presence-changes,
                           # --audit-events, --pglite-audit-events, --audit-page,
                           # --profile (V8 CPU profiles of the server, summarized per scenario),
                           # --wait-quiet (wait for other processes to leave the CPU first)
\`\`\`

Progress goes to stderr, the table to stdout. Each run rewrites this file (the text above the
results comes from \`bench/report.ts\`, next to the scenarios it explains) and
[benchmarks.json](benchmarks.json) (raw figures). Any non-2xx answer or socket error fails the
run (exit code 1) and leaves both alone (the one exception, an open refused for the account's
allowance, is below).

## Reading the figures

Absolute requests per second depend on the machine, and on this one the load generator and the
database share the cores with the server. The ratios, measured in the same run, travel better:

- **\`/api/v1/me\` ÷ \`/healthz\`**: \`/healthz\` does no work, so it is the ceiling of the HTTP
  stack on this machine. The ratio is what resolving a session cookie and answering the person
  and their accounts costs on top of that; near 1 means the session cache carries the load.
- **sign-in ÷ argon2 limit**: a sign-in must hash the password once with argon2id (19 MiB,
  2 passes), which the harness times on one core (the fastest of a series).
  \`cores × 1000 / ms per hash\` is the most sign-ins the machine can do; the ratio shows how
  close the server comes to it (the rest is the database work, the HTTP stack and the load
  generator sharing the cores). In brackets: the ratio to the hash rate measured with one hash
  in flight per core, which is lower than the limit where cores share caches and memory
  bandwidth (hyper-threads, small VMs).
- **passkey sign-in ÷ password sign-in**: a passkey sign-in verifies one ECDSA signature where a
  password sign-in hashes with argon2id; both then open a session and write an audit event. Its
  req/s counts sign-ins (two requests each), its latencies are per sign-in.
- **\`/client/v1/me\` ÷ \`/healthz\`**: the same for the desktop client: resolving an access
  token (cached per node) and answering the member, its account and its limits. The aim is 0.7.
- **\`POST /client/v1/token\`** writes: a login-token exchange opens a desktop session (session,
  token pair, audit record); a refresh rotates the pair. Both are database-bound; their ratio to
  \`/healthz\` is given for scale. A refresh token is single use (presenting it twice revokes the
  session), so the refresh scenario keeps one desktop session per connection rotating: each
  request sends the refresh token the previous answer returned, taken from a pool filled by
  login-token exchanges before the run. No refresh token is sent twice; req/s counts the
  rotations answered 200.
- **Revocation node A → node B** (PostgreSQL only): a second server process on the same
  database and secret, caching access tokens for 60 s. Each time, a desktop client signs in on
  node A, node B caches its access token, node A revokes the session (the desktop sign-out)
  while node B is polled back to back; p50/p99 are from sending the revocation to node B's first
  401, which only the NOTIFY explains. The aim is p99 ≤ 100 ms.
- **Lease open+close ÷ DB reference** (the \`pairs\` and \`txn\` rows): the req/s column counts
  open+close pairs per second for the lease rows and committed transactions for the reference;
  p50/p99 are per request (opens and closes together; each apart in the lines below the table)
  and per transaction. The lease clients are driven by the harness (one keep-alive connection
  each, stopping only between pairs, so no lease outlives a run), as many as the account's
  allowance, so with one lease each no open should be refused. The one-row reference is the
  cost of the obvious design (one counter row per account: every open and close queues on its
  lock); the ratio says how the row-per-unit design of migration 0004 compares, and the aim on
  PostgreSQL is ≥ 1.0. The reference spread over 1,000 rows never waits for a lock: it is the
  most a pool of 10 gets from this PostgreSQL for such a transaction: a ceiling for any lease
  design. Below the table: CPU per pair and per transaction, by process. An open
  refused with 409 \`"limit": "account"\` although no client holds a lease (a \`SKIP LOCKED\`
  claim that looked while another client's close or open held the rows it needed) is counted,
  sent again as a desktop client would, and reported in a note; any other refusal fails the run.
  The PGlite reference runs in the harness process, not in a server: it is the same database
  engine without HTTP, Node's event loop or the server's queries around it.
- **Lease open p50, grown ÷ 1,000 accounts**: the same clients and the same load after the
  database grew by 99,000 accounts (owner, member, organization, device, ten slot rows naming an
  expired lease) and 1,000,000 expired leases that were never closed (their clients vanished), ten
  on every account including the clients' own. The tables are vacuumed and analyzed after the
  bulk insert, as autovacuum would have left them. The aim is ≤ 1.3. On PGlite the server stops
  for the bulk insert and starts again (the data directory is its alone), so caches start cold;
  the warm-up refills them.
- **Device list, far page ÷ page 1**: keyset pagination should make page 1,000 cost what page 1
  costs; the ratio of the p50s is given with the aim ≤ 1.2, and the req/s ratio next to it. The
  100,000 devices are named in an order unrelated to how they were written, so a page reads rows
  spread over the table. The walk to the far page (one request at a time) is timed too.
- **Device list, group manager ÷ owner**: the same page of the same organization, read by the
  owner (an account-wide role: no further check) and by a manager whose only role is on a group
  containing the organization (the organization found in the session's cached reach, the group
  expanded to its organizations when the session is resolved). The aim is ≥ 0.9: a scoped role
  should cost next to nothing per request.
- **Device list, owner access key ÷ owner session**: the same page, authenticated with
  \`Authorization: Bearer tsr_ak_…\` instead of the session cookie (no CSRF on a GET either way).
  The key is resolved like a session: its hash looked up once, then a per-node cache. The aim is
  ≥ 0.9.
- **enroll ÷ argon2 limit**: an enrollment checks the person's password once (argon2id, like a
  sign-in; member credentials, which would hash a second time, are not given) and writes a team
  member, its sealed login token, a desktop session with a token pair and three audit records in
  one transaction; the ratio is to the same argon2 limit as sign-in. Every enrollment creates a
  team member and the plan allows 25 an account, so the enrolling owner owns enough accounts for
  every enrollment the argon2 limit allows, and each request names the next with \`accountId\`
  (as an installer must for a person who manages several accounts). Every request carries the
  right password, so, as with sign-in, the sign-in throttle (which counts failures only) never
  blocks them.
- **Heartbeats** (\`POST /client/v1/presence, 5,000 members\`): heartbeats per second with every
  member taking its turn (a round over all of them, then the next), as 5,000 desktop clients would
  send them. First each member's first heartbeat is sent once, 16 in flight, and timed: it looks
  the access token up and inserts the member's row. Then the load: a member says \`away\` one
  round in 100 and \`online\` otherwise, so nearly every heartbeat repeats the last and is
  answered from the node's memo without the database. Below the table: the rows
  \`member_presence\` holds afterwards, which must be one per member that heartbeated (else the
  run fails), and on PostgreSQL the inserts and updates the table counted during warm-up and run
  (\`pg_stat_user_tables\`, read once every pool connection has reported): the state changes,
  and a row's refresh where its last write is 20 s old by then. Per heartbeat, that is the Ratio
  cell's writes/heartbeat, next to heartbeats/s ÷ \`/healthz\`. Each member's heartbeats
  come members ÷ heartbeats/s apart (in the same line), far closer than a client's
  \`heartbeatSeconds\` (20 s at the default timeout), so the node's caches carry them: an access
  token stays cached 5 s, a repeat is answered from the memo for 20 s after a write. Where a
  backend cannot bring a member's heartbeats within 5 s of each other, every heartbeat looks its
  token up in the database and the rate falls to what the database answers; a note says so. A
  client keeping to \`heartbeatSeconds\` is in that case with every heartbeat, and writes again
  with nearly every one (its last write is 20 s old): the first round costs about as much.
- **Presence heartbeat node A → stream on node B** (PostgreSQL only): a second server process on
  the same database and secret serves \`GET /client/v1/presence/stream\` to a desktop client of
  one account; node A takes a steady background of heartbeats (1,000/s, every member but one in
  turn, paced by the harness over 16 keep-alive connections) and, a few hundred times, a heartbeat
  that flips the one left out, a member of that account, between online and away. p50/p99 are from
  sending that heartbeat to node A to reading the matching \`presence\` event on node B (the
  write, its \`NOTIFY\` committed with it, node B's listener, its hub, the SSE write and the
  harness's read). The aim is p99 ≤ 250 ms at 1,000 heartbeats/s; the row's req/s is the
  background rate reached, its CPU "srv" both nodes together.
- **Audit log search** (\`GET …/audit-events?limit=50, …\`): the aim is p99 ≤ 50 ms for every
  shape: a filter should read an index range in the search's order (newest first), however many
  events the account holds and however few match. The Ratio cell gives the events of the account
  the filter matches. The log is what a year of a busy account looks like: desktop sessions and
  closed connections most of it, changes to members, devices and login tokens next, changes to the
  account itself rarest; 300 actors (60 people, the owner among them and behind a fifth of the
  people's changes; 200 team members; 40 access keys; the system closing connections), of whom
  the 60 people (30 still in the account), 10 members and 10 keys exist (the search joins their
  names; the others show as removed); targets from 50 groups to a million connections; each
  event with its before and after, address, user agent and request id; timestamps at an even pace
  over 360 days (inside the default retention of 365 days, which a server enforces as it starts)
  with millisecond precision, as the server writes them. Every event is written with
  \`generate_series\` (the account's in statements of 100,000, in time order), then the table is
  vacuumed and analyzed, as autovacuum would have left it. The time to write it is in the line
  below the table, with the walk to the far page (one page at a time, each checked to be full and
  older than the one before). On PGlite every query waits its turn on the one connection, so
  with 10 connections in flight p50 is about ten times a query's own time, and p99 mostly queueing.
- **Audit log export**: events/s is the events read ÷ the client's wall time (request sent → last
  byte), one export at a time on one connection; the server reads 1,000 events a query, each in a
  transaction of its own, and writes them as they come. The answer must hold every event of the
  account (lines counted; the CSV's header aside), else the run fails. The Ratio cell gives the
  growth of the server's RSS (its peak while streaming, sampled every 100 ms and from VmHWM, minus
  its RSS just before the request), with the aim < 50 MB: the export should hold a batch or two,
  however long the log; and the wall time and the size of the answer. The growth depends on what
  the server did before: a server fresh from its start grows its heap to a working size during the
  first export, one that has just served the search's load has done so already (in a full run the
  exports come after every other scenario). The line below the table tells the two apart: the RSS
  while the first tenth of the events was read, and the growth over the other nine tenths, which
  streaming keeps near zero.
- **Tessera ÷ peer** (the \`peer:\` rows): Tessera's req/s ÷ Better Auth's for the same work,
  on the same machine, PostgreSQL server and load; the aim is ≥ 5× with a lower p99 in every
  row. Sign-in cannot reach it by construction: both hash the password once with the same
  argon2id, which bounds both (see sign-in ÷ argon2 limit), so that row shows what a sign-in
  costs beyond the hash. The peer's CPU "srv" is the Better Auth process.
- **RSS** is the server process's resident memory: before the scenario's warm-up, the peak
  while loaded (VmHWM, reset before each scenario), and right after.
- **CPU srv/db/gen/other** is the average number of cores the server process, PostgreSQL, the
  load generator and all other processes used during the run. A run where "other" is well
  above zero shared the machine with something else (a test suite, a build) and is noisy.

## Latest results

`;

/**
 * Writes docs/benchmarks.md: the explanation (DOCS_INTRO, kept here beside the scenarios it
 * explains) and the results of this run; whatever follows the results section is kept.
 */
export function writeDocs(docsDir: string, run: BenchRun): { markdown: string; json: string } {
  fs.mkdirSync(docsDir, { recursive: true });
  const markdownPath = path.join(docsDir, 'benchmarks.md');
  const jsonPath = path.join(docsDir, 'benchmarks.json');
  const section = `${START}\n${markdownSection(run)}\n${END}`;
  let tail = '\n';
  try {
    const current = fs.readFileSync(markdownPath, 'utf8');
    const to = current.indexOf(END);
    if (to >= 0) tail = current.slice(to + END.length);
  } catch {
    // a new file: the explanation and the results alone
  }
  const next = `${DOCS_INTRO.replace(/\s*$/, '\n\n')}${section}${tail}`;
  fs.writeFileSync(markdownPath, next);
  fs.writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  writeChart(docsDir, run);
  return { markdown: markdownPath, json: jsonPath };
}
