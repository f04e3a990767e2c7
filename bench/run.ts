/**
 * `npm run bench [-- --quick]`: throughput, latency and memory of the server as `npm start` runs
 * it, on PGlite and on PostgreSQL. See docs/benchmarks.md for how to read the figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServerDatabase } from '../test/support/databases.ts';
import { measureArgon2 } from './argon2.ts';
import { cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts';
import { anonymousCsrf, registerPerson } from './fixtures.ts';
import { failureOf, runLoad, type Scenario } from './load.ts';
import { describeMachine } from './machine.ts';
import { summarizeProfile } from './profile.ts';
import { SCENARIO, SIGN_IN_MEASURED, textReport, writeDocs, type Backend, type BackendRun, type BenchRun, type StartTiming } from './report.ts';
import { readMemory, ROOT, spawnServer, type ServerProcess } from './server.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'sign-in-connections': { type: 'string' },
    backends: { type: 'string', default: 'pglite,postgres' },
    scenarios: { type: 'string', default: 'health,me,sign-in' },
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
  --backends=<list>         pglite,postgres (default both, in that order)
  --scenarios=<list>        health,me,sign-in (default all)
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
const connections = { get: number(args.connections, 50, 'connections'), signIn: number(args['sign-in-connections'], 16, 'sign-in-connections') };
if (durationS === 0 || connections.get < 1 || connections.signIn < 1) throw new Error('--duration and the connection counts must be positive');
const backends = args.backends.split(',').map((b) => b.trim()) as Backend[];
for (const b of backends) if (b !== 'pglite' && b !== 'postgres') throw new Error(`unknown backend ${b}`);
const scenarioKeys = new Set(args.scenarios.split(',').map((s) => s.trim()));
for (const s of scenarioKeys) if (!['health', 'me', 'sign-in'].includes(s)) throw new Error(`unknown scenario ${s}`);
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

async function startServer(dataDir: string, options: { databaseUrl?: string; profile?: boolean } = {}) {
  const server = await spawnServer({ dataDir, databaseUrl: options.databaseUrl, webDir, cpuProfileDir: options.profile ? profileDir : undefined });
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
  let dropDatabase = async () => {};
  if (backend === 'postgres') {
    const database = await createServerDatabase();
    dropDatabase = onCleanUp(() => database.drop());
    databaseUrl = database.url;
    databaseName = new URL(database.url).pathname.slice(1);
    progress(`postgres: created database ${databaseName}`);
  }
  const started = await startServer(dataDir, { databaseUrl, profile: true });
  const { server } = started;
  const readyMs = await server.waitFor('/readyz');
  const idleRss = await settledRss(server);
  progress(`${backend}: server pid ${server.pid} ready in ${(readyMs / 1000).toFixed(2)} s, idle RSS ${(idleRss / 1048576).toFixed(0)} MiB`);

  const person = await registerPerson(server.url);
  const csrf = await anonymousCsrf(server.url);
  progress(`${backend}: registered ${person.email}; session and sign-in checked`);

  const scenarios: Array<[string, Scenario]> = [
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
  const run: BackendRun = { backend, readyMs, idleRss, scenarios: [], ratios: {} };
  for (const [key, scenario] of scenarios) {
    if (!scenarioKeys.has(key)) continue;
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

function addRatios(run: BackendRun, argon2: { limitPerSec: number; parallelHashesPerSec: number }): void {
  const find = (name: string) => run.scenarios.find((s) => s.scenario === name);
  const health = find(SCENARIO.health);
  const me = find(SCENARIO.me);
  const signIn = find(SCENARIO.signIn);
  if (health && me) run.ratios[SCENARIO.me] = me.reqPerSec / health.reqPerSec;
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
