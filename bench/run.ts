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
import { createServerDatabase } from '../test/support/databases.ts';
import { measureArgon2 } from './argon2.ts';
import { cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts';
import { loginTokenExchanges, measurePropagation, PROPAGATION_SCENARIO, RefreshPool } from './client-api.ts';
import { anonymousCsrf, desktopMember, exchangeLoginToken, FORM_HEADERS, registerPerson } from './fixtures.ts';
import { failureOf, runLoad, type Scenario } from './load.ts';
import { describeMachine } from './machine.ts';
import { summarizeProfile } from './profile.ts';
import { CLIENT_ME_AIM, PROPAGATION_AIM_MS, SCENARIO, SIGN_IN_MEASURED, textReport, writeDocs, type Backend, type BackendRun, type BenchRun, type StartTiming } from './report.ts';
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
    backends: { type: 'string', default: 'pglite,postgres' },
    scenarios: { type: 'string', default: 'health,me,sign-in,client-me,client-token,client-refresh,client-revocation' },
    'no-write': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench [-- options]
  --quick                   3 s per scenario (1 s warm-up): everything in under two minutes
  --duration=<s>            seconds per scenario (default 10, quick 3)
  --warmup=<s>              warm-up seconds before each scenario (default 2, quick 1)
  --connections=<n>         connections for the GET scenarios (default 50)
  --sign-in-connections=<n> connections for sign-in (default 16)
  --token-connections=<n>   connections for POST /client/v1/token (default 16)
  --revocations=<n>         revocations timed across two nodes (default 200)
  --backends=<list>         pglite,postgres (default both, in that order)
  --scenarios=<list>        health,me,sign-in,client-me,client-token,client-refresh,
                            client-revocation (default all; client-revocation on PostgreSQL only)
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
/** Node B keeps access tokens this long: only the NOTIFY can explain a 401 within it. */
const NODE_B_CACHE_SECONDS = 60;
const backends = args.backends.split(',').map((b) => b.trim()) as Backend[];
for (const b of backends) if (b !== 'pglite' && b !== 'postgres') throw new Error(`unknown backend ${b}`);
const scenarioKeys = new Set(args.scenarios.split(',').map((s) => s.trim()));
const SCENARIO_KEYS = ['health', 'me', 'sign-in', 'client-me', 'client-token', 'client-refresh', 'client-revocation'];
for (const s of scenarioKeys) if (!SCENARIO_KEYS.includes(s)) throw new Error(`unknown scenario ${s}`);
const clientScenarios = [...scenarioKeys].some((s) => s.startsWith('client-'));
const write = !args['no-write'] && !args.profile;

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

async function runBackend(backend: Backend, failures: string[]): Promise<BackendRun> {
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
  const started = await startServer(dataDir, { databaseUrl, secret, profile: true });
  const { server } = started;
  const readyMs = await server.waitFor('/readyz');
  const idleRss = await settledRss(server);
  progress(`${backend}: server pid ${server.pid} ready in ${(readyMs / 1000).toFixed(2)} s, idle RSS ${(idleRss / 1048576).toFixed(0)} MiB`);

  const person = await registerPerson(server.url);
  const csrf = await anonymousCsrf(server.url);
  progress(`${backend}: registered ${person.email}; session and sign-in checked`);

  // the desktop client: one member with a login token per token-endpoint connection
  const desktop = clientScenarios ? await desktopMember(server.url, person, connections.token) : null;
  const desktopTokens = desktop ? await exchangeLoginToken(server.url, desktop.loginTokens[0]!) : null;
  const refreshPool = desktop ? new RefreshPool(server.url, desktop.loginTokens[0]!) : null;
  if (desktop) progress(`${backend}: team member with ${desktop.loginTokens.length} login tokens; exchange and GET /client/v1/me checked`);

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
  const run: BackendRun = { backend, readyMs, idleRss, scenarios: [], ratios: {} };
  for (const [key, scenario, prepare] of scenarios) {
    if (!scenarioKeys.has(key)) continue;
    await prepare?.();
    progress(`${backend}: ${scenario.name}, ${scenario.connections} connections, ${warmupS} s warm-up + ${durationS} s`);
    const result = await runLoad(scenario, { baseUrl: server.url, pid: server.pid, database: databaseName, durationS, warmupS });
    const failure = failureOf(result);
    progress(
      `${backend}: ${scenario.name}: ${result.reqPerSec.toFixed(0)} req/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, ` +
        `p99 ${result.latencyMs.p99.toFixed(2)} ms, RSS peak ${(result.rss.peak / 1048576).toFixed(0)} MiB` +
        (failure ? ` — FAILED: ${failure}` : ''),
    );
    if (failure) {
      failures.push(`${backend} ${scenario.name}: ${failure}`);
      process.stderr.write(`--- server output (tail) ---\n${server.output()}\n---\n`);
    }
    run.scenarios.push(result);
  }
  if (refreshPool?.starved) failures.push(`${backend} ${SCENARIO.clientRefresh}: the refresh-token pool ran dry ${refreshPool.starved} times`);
  if (backend === 'postgres' && desktop && scenarioKeys.has('client-revocation') && revocations > 0) {
    run.propagation = await measureRevocation(server.url, { dataDir: path.join(workDir, 'data-node-b'), databaseUrl: databaseUrl!, secret: secret! }, desktop.loginTokens[0]!);
    const p = run.propagation;
    if (p.failures.length) failures.push(...p.failures.slice(0, 5).map((f) => `${backend} ${PROPAGATION_SCENARIO}: ${f}`));
  }
  await stopServer(started);
  if (profileDir) {
    const written = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${server.pid}.`));
    if (written[0]) run.profile = path.join(profileDir, written[0]);
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

function addRatios(run: BackendRun, argon2: { limitPerSec: number; parallelHashesPerSec: number }): void {
  const find = (name: string) => run.scenarios.find((s) => s.scenario === name);
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
}

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
    const run = await runBackend(backend, failures);
    addRatios(run, argon2);
    results.push(run);
  }

  const notes: string[] = [];
  if (background.other > 0.1) notes.push(`Other processes used ${background.other.toFixed(2)} cores just before the run; the figures are noisy.`);
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
    const p99 = run.propagation?.fromSentMs.p99;
    if (p99 !== undefined && p99 > PROPAGATION_AIM_MS) {
      notes.push(`${run.backend}: revocation propagation p99 ${p99.toFixed(1)} ms is above the aim of ${PROPAGATION_AIM_MS} ms.`);
    }
  }
  const bench: BenchRun = {
    mode: quick ? 'quick' : 'full',
    settings: { durationS, warmupS, connections },
    machine,
    argon2,
    start,
    background,
    backends: results,
    failures,
    notes,
  };

  console.log(textReport(bench));
  if (profileDir) {
    // one profile per server, in the order the backends ran; cut each to its scenarios' runs
    for (const run of results) {
      if (!run.profile) continue;
      console.log(`\n${run.backend}: ${run.profile}`);
      for (const s of run.scenarios) {
        console.log(`\n${summarizeProfile(run.profile, 20, { label: s.scenario, ...s.window })}`);
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
