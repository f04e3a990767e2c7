import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { openDatabase } from '../../src/server/db/database.ts';
import { checkOverHttp, checkOverSql, type Findings, type Query } from '../support/crash-checks.ts';
import { isSetUp, newLedger, runWriter, WRITE_KINDS, type Ledger } from '../support/crash-load.ts';
import { seededRandom } from '../support/lease-record.ts';
import { BACKENDS, createServerDatabase, type Backend } from '../support/databases.ts';
import { killAllServers, makeTempDir, startServerProcess, type ServerProcess, type ServerProcessOptions } from '../support/server-process.ts';

/**
 * Durability across a crash: the server is SIGKILLed at a random moment of a mixed write load
 * (registrations, team members, login tokens, desktop sign-ins and refreshes, connection leases,
 * invitations, profile updates, and revocations and removals of those; test/support/crash-load.ts)
 * and started again on the same data, with no manual step. After every kill:
 * - over SQL, every write acknowledged since the start of the run is stored, nothing nobody
 *   asked for changed, and the invariants hold: no half-written entity (each with its audit
 *   event), limits (plan, member, device), token families, an owner for every account
 *   (test/support/crash-checks.ts);
 * - over HTTP, the restarted server answers every acknowledged write of the killed one.
 * Writes in flight at the kill may or may not be there. At the end, one more HTTP pass covers
 * every account of the run.
 *
 * TESSERA_CRASH_CYCLES (default 20) kill/restart cycles per backend; TESSERA_CRASH_SEED replays
 * the kill moments and each writer's choices of an earlier run (the seed is printed).
 */

const CYCLES = Number(process.env.TESSERA_CRASH_CYCLES ?? 20);
const SEED = Number(process.env.TESSERA_CRASH_SEED ?? randomBytes(4).readUInt32LE());
if (!Number.isInteger(CYCLES) || CYCLES < 1) throw new Error(`TESSERA_CRASH_CYCLES must be a positive integer, not ${process.env.TESSERA_CRASH_CYCLES}`);
if (!Number.isInteger(SEED)) throw new Error(`TESSERA_CRASH_SEED must be an integer, not ${process.env.TESSERA_CRASH_SEED}`);
const WRITERS = 4;
/**
 * The kill comes this long after the cycle's first writer has set its account up, drawn
 * uniformly: the other writers may still be registering or setting up, or all be in the mix.
 * (Counting from the first account set up, not from the start, keeps the mix in every cycle
 * however slow the machine.)
 */
const KILL_AFTER_SETUP_MS = 1000;

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function assertClean(findings: Findings, when: string, server: ServerProcess | null): void {
  const show = (list: string[]) => list.slice(0, 30).join('\n  ') + (list.length > 30 ? `\n  … and ${list.length - 30} more` : '');
  assert.ok(
    findings.lost.length === 0 && findings.broken.length === 0,
    `${when}: ${findings.lost.length} acknowledged writes lost, ${findings.broken.length} invariants broken\n` +
      `lost:\n  ${show(findings.lost)}\nbroken:\n  ${show(findings.broken)}${server ? `\n${server.output()}` : ''}`,
  );
}

/**
 * The HTTP checks present a spent refresh token again and expect its family revoked: with no
 * grace (the default 10 s would hand it a new pair, for a client that lost an answer). Each such
 * refusal counts against the client's address; trusting X-Forwarded-For lets every check come
 * from an address of its own.
 */
const SERVER_ENV = { TESSERA_CLIENT_REFRESH_GRACE_SECONDS: '0', TESSERA_TRUST_PROXY: 'true' };

interface Harness {
  options: ServerProcessOptions;
  /** Runs SQL on the data: PGlite's directory only while no server runs; PostgreSQL at any time. */
  withQuery<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  cleanup(): Promise<void>;
}

async function harness(backend: Backend): Promise<Harness> {
  const temp = makeTempDir(`crash-${backend}`);
  if (backend === 'pglite') {
    return {
      options: { dataDir: temp.dir, env: SERVER_ENV },
      async withQuery(fn) {
        // PGlite's directory belongs to one process: openDatabase takes the same lock the server
        // does (taking over the one a killed server left behind).
        const database = await openDatabase({ dataDir: temp.dir });
        try {
          return await database.withSession((session) => fn((text) => session.query(text)));
        } finally {
          await database.close();
        }
      },
      async cleanup() {
        temp.remove();
      },
    };
  }
  const database = await createServerDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    options: { dataDir: temp.dir, databaseUrl: database.url, secret: randomBytes(32).toString('hex'), env: SERVER_ENV },
    withQuery: (fn) => fn(async (text) => (await client.query(text)).rows),
    async cleanup() {
      await client.end();
      await database.drop();
      temp.remove();
    },
  };
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups) await cleanup();
});

function reportFigures(t: TestContext, ledger: Ledger, kills: number, checks: { sql: number; http: number }): void {
  const total = WRITE_KINDS.reduce((sum, kind) => sum + ledger.acknowledged[kind], 0);
  // a lost write fails the run at the check that finds it: reaching this line means none was lost
  t.diagnostic(`kills survived: ${kills}; SQL checks: ${checks.sql}; HTTP checks: ${checks.http}; acknowledged writes lost: 0`);
  t.diagnostic(`acknowledged writes checked: ${total} (${WRITE_KINDS.map((kind) => `${kind} ${ledger.acknowledged[kind]}`).join(', ')})`);
  t.diagnostic(`token families after restarts: ${ledger.families.reusesRefused} spent refresh tokens refused (sessions revoked), ${ledger.families.rotations} newest refresh tokens rotated`);
}

describe('a server killed during a mixed write load comes back with every acknowledged write', () => {
  for (const backend of BACKENDS) {
    // A cycle takes 1–5 s depending on the machine's load; the time allowed grows with the
    // cycles, so that a long run is not cut short by npm test's per-test timeout. A wedged cycle
    // still fails on its own deadlines (writers 30 s after the kill, a restart 60 s).
    test(`${backend}: ${CYCLES} SIGKILL/restart cycles`, { timeout: 120_000 + CYCLES * 15_000 }, async (t) => {
      const backendSeed = SEED + (backend === 'pglite' ? 0 : 1);
      const random = seededRandom(backendSeed);
      t.diagnostic(`seed ${SEED} (replay with TESSERA_CRASH_SEED=${SEED}), ${CYCLES} cycles`);
      const h = await harness(backend);
      cleanups.push(h.cleanup);
      const ledger = newLedger();
      const checks = { sql: 0, http: 0 };
      let server = await startServerProcess(h.options);
      const started = Date.now();

      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const cycleStart = Date.now();
        // Writers on accounts of their own, then SIGKILL at a drawn moment.
        const killDelay = Math.round(random() * KILL_AFTER_SETUP_MS);
        let killed = false;
        const tenantsBefore = ledger.tenants.length;
        const writers = Array.from({ length: WRITERS }, (_, w) => runWriter(server.url, ledger, `${backend}.${cycle}.${w}`, backendSeed * 1000 + cycle * WRITERS + w, () => killed));
        const tenants = () => ledger.tenants.slice(tenantsBefore);
        const deadline = Date.now() + 20_000;
        while (!tenants().some(isSetUp) && ledger.unexpected.length === 0 && Date.now() < deadline) await sleep(5);
        const setUpAfter = Date.now() - cycleStart;
        await sleep(killDelay);
        killed = true;
        const killedAfter = Date.now() - cycleStart;
        const exit = await server.crash();
        assert.equal(exit.signal, 'SIGKILL', server.output());
        await withTimeout(Promise.all(writers), 30_000, 'writers did not stop within 30 s of the kill');
        assert.deepEqual(ledger.unexpected, [], `unexpected answers while the server was up\n${server.output()}`);
        assert.ok(tenants().some(isSetUp), 'a writer had its account set up before the kill');
        if (backend === 'pglite') assert.ok(fs.existsSync(path.join(h.options.dataDir, 'tessera.lock')), 'the killed server left its lock behind');
        const inFlight = tenants().map((tenant) => tenant.pending?.kind ?? '-').join(', ');

        // PGlite: on even cycles the check opens the killed server's directory before the
        // restart (so it recovers the data, and the server then starts on a cleanly closed
        // directory); on odd cycles the server recovers it itself, and the next check covers it.
        // PostgreSQL: the database outlives the server, so it is checked while the server restarts.
        let sqlMs = 0;
        const sqlCheck = async () => {
          const at = Date.now();
          assertClean(await h.withQuery((query) => checkOverSql(query, ledger)), `SQL check after kill ${cycle + 1}`, null);
          sqlMs = Date.now() - at;
          checks.sql += 1;
        };
        if (backend === 'pglite' && cycle % 2 === 0) await sqlCheck();
        const restartAt = Date.now();
        const [restarted] = await Promise.all([startServerProcess(h.options), backend === 'postgres' ? sqlCheck() : undefined]);
        server = restarted;
        const readyAfter = Date.now() - restartAt;
        const httpAt = Date.now();
        assertClean(await checkOverHttp(server.url, ledger, tenants(), true), `HTTP check after kill ${cycle + 1}`, server);
        checks.http += 1;
        t.diagnostic(
          `cycle ${cycle}: killed ${killedAfter} ms into the load, ${killDelay} ms after the first account was set up (at ${setUpAfter} ms); in flight: ${inFlight}; ` +
            `ready again ${readyAfter} ms after the restart; checks: SQL ${sqlMs ? `${sqlMs} ms` : 'next cycle'}, HTTP ${Date.now() - httpAt} ms; ` +
            `cycle ${Date.now() - cycleStart} ms`,
        );
      }

      // Every account of the run, over HTTP, from the last server; then, stopped, over SQL.
      const finalAt = Date.now();
      assertClean(await checkOverHttp(server.url, ledger, ledger.tenants, false), 'final HTTP check', server);
      t.diagnostic(`final HTTP check of ${ledger.tenants.length} accounts: ${Date.now() - finalAt} ms`);
      checks.http += 1;
      assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output());
      await h.withQuery(async (query) => assertClean(await checkOverSql(query, ledger), 'final SQL check', null));
      checks.sql += 1;
      t.diagnostic(`${CYCLES} cycles in ${Date.now() - started} ms`);
      reportFigures(t, ledger, CYCLES, checks);
    });
  }
});
