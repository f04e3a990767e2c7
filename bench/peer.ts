/**
 * The peer scenario: Better Auth (bench/peer, a package of its own that `npm install` of Tessera
 * never installs) served on this machine and the same PostgreSQL server, loaded with the work
 * Tessera's rows do: sign-in, session check, the person's organizations, an organization's
 * members, a request authenticated by an API key. Installs the peer package when it is missing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createServerDatabase } from '../test/support/databases.ts';
import { expectStatus } from './fixtures.ts';
import { failureOf, runLoad, type LoadResult, type Scenario } from './load.ts';
import { PEER_SCENARIO, SCENARIO, type PeerRun } from './report.ts';
import { freePort, readMemory, ROOT, spawnNode, type ServerProcess } from './server.ts';

export const PEER_DIR = path.join(ROOT, 'bench', 'peer');
/** Members of the peer's organization, and portal users of Tessera's account it is compared with. */
export const PEER_MEMBERS = 50;

const run = promisify(execFile);

function installedVersion(name: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PEER_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

/**
 * The versions bench/peer/package.json pins, installed (`npm install --prefix bench/peer`, which
 * follows bench/peer/package-lock.json) when any is missing or another; answers the versions and
 * how long an install took (null when none was needed).
 */
export async function ensurePeerInstalled(progress: (message: string) => void): Promise<{ versions: Record<string, string>; installS: number | null }> {
  const wanted = (JSON.parse(fs.readFileSync(path.join(PEER_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
  const stale = Object.entries(wanted).filter(([name, version]) => installedVersion(name) !== version);
  let installS: number | null = null;
  if (stale.length) {
    progress(`peer: installing Better Auth into bench/peer/node_modules (npm install --prefix bench/peer; ${stale.map(([n, v]) => `${n}@${v}`).join(', ')})`);
    const from = performance.now();
    try {
      await run('npm', ['install', '--prefix', PEER_DIR, '--no-audit', '--no-fund'], { cwd: ROOT, maxBuffer: 16 << 20 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`npm install --prefix bench/peer failed: ${e.stderr?.slice(-2000) || e.message}`);
    }
    installS = (performance.now() - from) / 1000;
    const still = Object.entries(wanted).filter(([name, version]) => installedVersion(name) !== version);
    if (still.length) throw new Error(`npm install --prefix bench/peer left ${still.map(([n, v]) => `${n} at ${installedVersion(n) ?? 'nothing'}, not ${v}`).join('; ')}`);
    progress(`peer: installed in ${installS.toFixed(1)} s`);
  }
  const versions: Record<string, string> = {};
  for (const name of ['better-auth', '@better-auth/api-key', 'pg', '@node-rs/argon2']) versions[name] = installedVersion(name) ?? '?';
  return { versions, installS };
}

/** What setup.ts seeded. */
interface PeerFixture {
  email: string;
  password: string;
  userId: string;
  organizationId: string;
  members: number;
  apiKey: string;
}

/** The peer's environment: ours less anything that would configure Tessera or Better Auth, and theirs. */
function peerEnv(settings: { databaseUrl: string; secret: string; port: number }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('TESSERA_') || name.startsWith('BETTER_AUTH_') || ['DATABASE_URL', 'PORT', 'HOST', 'NODE_ENV'].includes(name)) continue;
    env[name] = value;
  }
  return Object.assign(env, {
    NODE_ENV: 'production',
    PORT: String(settings.port),
    HOST: '127.0.0.1',
    DATABASE_URL: settings.databaseUrl,
    BETTER_AUTH_SECRET: settings.secret,
    BETTER_AUTH_URL: `http://127.0.0.1:${settings.port}`,
    PEER_MEMBERS: String(PEER_MEMBERS),
  });
}

/** Starts bench/peer/server.ts with this Node and waits for /healthz. */
async function spawnPeer(env: NodeJS.ProcessEnv, port: number): Promise<ServerProcess & { readyMs: number }> {
  const peer = await spawnNode([path.join(PEER_DIR, 'server.ts')], { cwd: PEER_DIR, env, port, what: 'the peer' });
  try {
    return { ...peer, readyMs: await peer.waitFor('/healthz', 60_000) };
  } catch (error) {
    await peer.stop();
    throw error;
  }
}

/** `better-auth.session_token=…` from a sign-in's answer. */
function sessionCookie(response: Response): string {
  const pair = response.headers.getSetCookie().find((l) => l.startsWith('better-auth.session_token='))?.split(';')[0];
  if (!pair) throw new Error('POST /api/auth/sign-in/email answered without a better-auth.session_token cookie');
  return pair;
}

/** Signs the person in over HTTP and checks every endpoint of the scenarios answers what the seed wrote. */
async function checkPeer(url: string, fixture: PeerFixture): Promise<string> {
  const json = { accept: 'application/json', 'content-type': 'application/json', origin: url };
  const signIn = await fetch(`${url}/api/auth/sign-in/email`, { method: 'POST', headers: json, body: JSON.stringify({ email: fixture.email, password: fixture.password }) });
  const cookie = sessionCookie(signIn);
  const signedIn = (await expectStatus(signIn, 200, 'peer POST /api/auth/sign-in/email')) as { user: { id: string } };
  if (signedIn.user.id !== fixture.userId) throw new Error(`the peer's sign-in answered user ${signedIn.user.id}, not ${fixture.userId}`);
  const get = async (p: string, headers: Record<string, string>) => expectStatus(await fetch(`${url}${p}`, { headers: { accept: 'application/json', ...headers } }), 200, `peer GET ${p}`);
  const session = (await get('/api/auth/get-session', { cookie })) as { user: { id: string } } | null;
  if (session?.user.id !== fixture.userId) throw new Error(`the peer's get-session answered ${JSON.stringify(session)?.slice(0, 200)}, not the person's session`);
  const organizations = (await get('/api/auth/organization/list', { cookie })) as Array<{ id: string }>;
  if (organizations.length !== 1 || organizations[0]!.id !== fixture.organizationId) throw new Error(`the peer lists the organizations ${JSON.stringify(organizations.map((o) => o.id))}, not [${fixture.organizationId}]`);
  const members = (await get(`/api/auth/organization/list-members?organizationId=${fixture.organizationId}`, { cookie })) as { members: unknown[]; total: number };
  if (members.total !== fixture.members || members.members.length !== fixture.members) {
    throw new Error(`the peer lists ${members.members.length} members (total ${members.total}), not ${fixture.members}`);
  }
  const byKey = (await get('/api/auth/get-session', { 'x-api-key': fixture.apiKey })) as { user: { id: string } } | null;
  if (byKey?.user.id !== fixture.userId) throw new Error(`the peer's get-session with the API key answered ${JSON.stringify(byKey)?.slice(0, 200)}, not the key's user`);
  const wrongKey = await fetch(`${url}/api/auth/get-session`, { headers: { accept: 'application/json', 'x-api-key': `${fixture.apiKey.slice(0, -4)}xxxx` } });
  await wrongKey.arrayBuffer();
  if (wrongKey.status < 400) throw new Error(`the peer's get-session with a wrong API key answered ${wrongKey.status}`);
  return cookie;
}

export interface PeerOptions {
  connections: { get: number; signIn: number };
  durationS: number;
  warmupS: number;
  progress: (message: string) => void;
  /** Registers an undo step (stop, drop) for however the run ends; the returned function runs it now. */
  onCleanUp: (undo: () => Promise<unknown>) => () => Promise<void>;
  /** Where a row with non-2xx answers, errors or timeouts is written: it fails the run. */
  failures: string[];
}

/** Installs (if need be), seeds, starts and loads the peer; answers its rows. */
export async function runPeer(options: PeerOptions): Promise<PeerRun> {
  const { progress, failures } = options;
  const { versions, installS } = await ensurePeerInstalled(progress);
  const database = await createServerDatabase();
  const drop = options.onCleanUp(() => database.drop());
  const databaseName = new URL(database.url).pathname.slice(1);
  const port = await freePort();
  const env = peerEnv({ databaseUrl: database.url, secret: randomBytes(32).toString('hex'), port });
  progress(`peer: Better Auth ${versions['better-auth']} on database ${databaseName}: schema (getMigrations) and seed (one person, an organization of ${PEER_MEMBERS} members, an API key)`);
  const setupFrom = performance.now();
  let fixture: PeerFixture;
  try {
    const { stdout } = await run(process.execPath, [path.join(PEER_DIR, 'setup.ts')], { cwd: PEER_DIR, env, maxBuffer: 16 << 20 });
    fixture = JSON.parse(stdout.trim().split('\n').at(-1)!) as PeerFixture;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`the peer's setup (bench/peer/setup.ts) failed: ${e.stderr?.slice(-3000) || e.message}`);
  }
  const setupMs = performance.now() - setupFrom;
  const peer = await spawnPeer(env, port);
  const stop = options.onCleanUp(() => peer.stop());
  try {
    const cookie = await checkPeer(peer.url, fixture);
    await sleep(1000);
    const idleRss = readMemory(peer.pid)?.rss ?? NaN;
    progress(`peer: pid ${peer.pid} ready in ${(peer.readyMs / 1000).toFixed(2)} s, idle RSS ${(idleRss / 1048576).toFixed(0)} MiB; sign-in, session, organizations, ${fixture.members} members and the API key checked`);

    const get = (name: string, p: string, headers: Record<string, string>, tessera: string): [Scenario, string] => [
      { name, method: 'GET', path: p, headers: { accept: 'application/json', ...headers }, connections: options.connections.get },
      tessera,
    ];
    const scenarios: Array<[Scenario, string]> = [
      [
        {
          name: PEER_SCENARIO.signIn,
          method: 'POST',
          path: '/api/auth/sign-in/email',
          headers: { accept: 'application/json', 'content-type': 'application/json', origin: peer.url },
          body: JSON.stringify({ email: fixture.email, password: fixture.password }),
          connections: options.connections.signIn,
        },
        SCENARIO.signIn,
      ],
      get(PEER_SCENARIO.session, '/api/auth/get-session', { cookie }, SCENARIO.me),
      get(PEER_SCENARIO.organizations, '/api/auth/organization/list', { cookie }, SCENARIO.me),
      get(PEER_SCENARIO.members(fixture.members), `/api/auth/organization/list-members?organizationId=${fixture.organizationId}`, { cookie }, SCENARIO.accountUsers(fixture.members)),
      get(PEER_SCENARIO.apiKey, '/api/auth/get-session', { 'x-api-key': fixture.apiKey }, SCENARIO.accountByKey),
    ];
    const results: LoadResult[] = [];
    for (const [scenario, tessera] of scenarios) {
      progress(`postgres: ${scenario.name}, ${scenario.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s`);
      const result = await runLoad(scenario, { baseUrl: peer.url, pid: peer.pid, database: databaseName, durationS: options.durationS, warmupS: options.warmupS });
      result.detail = { tessera };
      const failure = failureOf(result);
      progress(
        `postgres: ${scenario.name}: ${result.reqPerSec.toFixed(0)} req/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, ` +
          `p99 ${result.latencyMs.p99.toFixed(2)} ms, RSS peak ${(result.rss.peak / 1048576).toFixed(0)} MiB` +
          (failure ? ` — FAILED: ${failure}` : ''),
      );
      if (failure) {
        failures.push(`postgres ${scenario.name}: ${failure}`);
        process.stderr.write(`--- peer output (tail) ---\n${peer.output()}\n---\n`);
      }
      results.push(result);
    }
    return { versions, installS, setupMs, readyMs: peer.readyMs, idleRss, members: fixture.members, scenarios: results, comparisons: [] };
  } finally {
    await stop();
    await drop();
    progress('peer: stopped, database dropped');
  }
}
