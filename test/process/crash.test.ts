import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { openDatabase } from '../../src/server/db/database.ts';
import { BACKENDS, createServerDatabase, type Backend } from '../support/databases.ts';
import { killAllServers, makeTempDir, mapLimit, startServerProcess, type ServerProcess, type ServerProcessOptions } from '../support/server-process.ts';

/**
 * Durability across a crash: the server is SIGKILLed at a random moment of a write load and
 * started again on the same data, with no manual step. Every write the server acknowledged must
 * be there afterwards, and no entity may be half-written. Writes that were in flight may or may
 * not be there.
 *
 * TESSERA_CRASH_CYCLES (default 3) kill/restart cycles per backend; TESSERA_CRASH_SEED replays
 * the kill moments of an earlier run (the seed is printed as a diagnostic).
 */

const CYCLES = Number(process.env.TESSERA_CRASH_CYCLES ?? 3);
const SEED = Number(process.env.TESSERA_CRASH_SEED ?? randomBytes(4).readUInt32LE());
if (!Number.isInteger(CYCLES) || CYCLES < 1) throw new Error(`TESSERA_CRASH_CYCLES must be a positive integer, not ${process.env.TESSERA_CRASH_CYCLES}`);
if (!Number.isInteger(SEED)) throw new Error(`TESSERA_CRASH_SEED must be an integer, not ${process.env.TESSERA_CRASH_SEED}`);
const WORKERS = 4;
const UPDATES_PER_PERSON = 3;
const PASSWORD = 'correct horse 42 battery';

/** mulberry32: a small seeded generator, so a failing run's kill moments can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

/** What the test sent and what the server acknowledged, for one person and their account. */
interface Person {
  email: string;
  companyName: string;
  accountId: string;
  /** Profile updates of the account, in the order they were sent (one at a time). */
  updates: Array<{ companyName: string; acknowledged: boolean }>;
}

interface Ledger {
  /** Registrations the server answered 201. */
  people: Person[];
  /** Every email a registration was sent for (acknowledged or not). */
  attemptedEmails: Set<string>;
  /** Answers that are errors although the server was still up: always a failure. */
  unexpected: string[];
}

/** The company names the account may show: the last acknowledged one, or a later unacknowledged one. */
function allowedCompanyNames(person: Person): string[] {
  const lastAcked = person.updates.findLastIndex((u) => u.acknowledged);
  if (lastAcked === -1) return [person.companyName, ...person.updates.map((u) => u.companyName)];
  return person.updates.slice(lastAcked).map((u) => u.companyName);
}

/**
 * One writer: registers a person, changes their account's company name a few times, repeats.
 * Stops at the first request that fails; a failure before `killed()` is unexpected.
 */
async function writer(server: ServerProcess, ledger: Ledger, label: string, killed: () => boolean): Promise<void> {
  for (let n = 0; ; n++) {
    const client = new TesseraClient({ baseUrl: server.url, cookieJar: true });
    const email = `crash.${label}.${n}.${randomBytes(3).toString('hex')}@example.test`;
    const companyName = `Registered ${label}.${n}`;
    let person: Person | null = null;
    try {
      ledger.attemptedEmails.add(email);
      const registered = await client.register({ name: `Person ${label}.${n}`, email, password: PASSWORD, companyName, country: 'DE' });
      person = { email, companyName, accountId: registered.account.id, updates: [] };
      ledger.people.push(person);
      for (let u = 0; u < UPDATES_PER_PERSON; u++) {
        const update = { companyName: `Updated ${label}.${n}.${u}`, acknowledged: false };
        person.updates.push(update);
        const account = await client.updateAccount(person.accountId, { companyName: update.companyName });
        assert.equal(account.companyName, update.companyName);
        update.acknowledged = true;
      }
    } catch (error) {
      // An answer from the server (TesseraError) means it was up: nothing should have failed.
      // A network error is expected once the server is killed, and only then.
      if (error instanceof TesseraError || !killed()) ledger.unexpected.push(`${label}.${n}: ${(error as Error).stack ?? String(error)}`);
      return;
    }
  }
}

/** Over HTTP: every acknowledged person signs in and sees the latest acknowledged profile. */
async function checkAcknowledgedWrites(server: ServerProcess, ledger: Ledger): Promise<void> {
  await mapLimit(ledger.people, 4, async (person) => {
    const client = server.client();
    const signedIn = await client.signIn({ email: person.email, password: PASSWORD }).catch((error: unknown) => {
      throw new Error(`acknowledged registration of ${person.email} cannot sign in: ${(error as Error).message}`);
    });
    assert.equal(signedIn.user.email, person.email);
    const me = await client.me();
    assert.deepEqual(
      me.accounts.map((a) => ({ id: a.id, role: a.role })),
      [{ id: person.accountId, role: 'owner' }],
      `${person.email} owns exactly the account they registered`,
    );
    const account = await client.getAccount(person.accountId);
    const allowed = allowedCompanyNames(person);
    assert.ok(
      allowed.includes(account.companyName),
      `${person.email}: account shows "${account.companyName}", expected one of ${JSON.stringify(allowed)} (updates ${JSON.stringify(person.updates)})`,
    );
  });
}

type Query = <R>(text: string) => Promise<R[]>;

/** In SQL: no half-written registration or profile update, and every acknowledged row present. */
async function checkConsistency(query: Query, ledger: Ledger): Promise<void> {
  const users = await query<{ email: string; owner_of: string[] | null; memberships: number; registered_events: number }>(`
    select u.email,
           array_agg(m.account_id::text) filter (where m.role = 'owner' and a.account_id is not null) as owner_of,
           count(m.account_id)::int as memberships,
           (select count(*)::int from user_audit_events e where e.user_id = u.id and e.action = 'user.registered') as registered_events
    from users u
    left join memberships m on m.user_id = u.id
    left join accounts a on a.account_id = m.account_id
    group by u.id, u.email`);
  for (const user of users) {
    assert.equal(user.owner_of?.length ?? 0, 1, `${user.email} owns exactly one existing account (${JSON.stringify(user)})`);
    assert.equal(user.memberships, 1, `${user.email} has exactly one membership`);
    assert.equal(user.registered_events, 1, `${user.email} has exactly one user.registered audit event`);
    assert.ok(ledger.attemptedEmails.has(user.email), `${user.email} is a person the test registered`);
  }
  const byEmail = new Map(users.map((u) => [u.email, u]));
  for (const person of ledger.people) {
    assert.deepEqual(byEmail.get(person.email)?.owner_of, [person.accountId], `acknowledged ${person.email} is stored with its account`);
  }

  const accounts = await query<{ account_id: string; company_name: string; owners: number; created_events: number; last_update: string | null }>(`
    select a.account_id::text, a.company_name,
           (select count(*)::int from memberships m where m.account_id = a.account_id and m.role = 'owner') as owners,
           (select count(*)::int from audit_events e where e.account_id = a.account_id and e.action = 'account.created') as created_events,
           (select e.after->>'companyName' from audit_events e where e.account_id = a.account_id and e.action = 'account.updated'
             order by e.occurred_at desc, e.id desc limit 1) as last_update
    from accounts a`);
  for (const account of accounts) {
    assert.ok(account.owners >= 1, `account ${account.account_id} has an owner`);
    assert.equal(account.created_events, 1, `account ${account.account_id} has exactly one account.created audit event`);
    if (account.last_update !== null) {
      // an update and its audit event are one transaction: the newest event shows the stored value
      assert.equal(account.company_name, account.last_update, `account ${account.account_id}: stored name matches its newest audit event`);
    }
  }
  assert.equal(accounts.length, users.length, 'one account per registered person');
  const orphans = await query<{ n: number }>(`
    select count(*)::int as n from memberships m
    where not exists (select 1 from accounts a where a.account_id = m.account_id)
       or not exists (select 1 from users u where u.id = m.user_id)`);
  assert.equal(orphans[0]!.n, 0, 'no membership without its account or person');
}

interface Harness {
  options: ServerProcessOptions;
  /** Runs SQL against the data while no server runs (PGlite) or alongside it (PostgreSQL). */
  withQuery<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  cleanup(): Promise<void>;
}

async function harness(backend: Backend): Promise<Harness> {
  const temp = makeTempDir(`crash-${backend}`);
  if (backend === 'pglite') {
    return {
      options: { dataDir: temp.dir },
      async withQuery(fn) {
        // PGlite's directory belongs to one process: this opens it only after the server has
        // stopped, and openDatabase takes the same lock the server does.
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
  return {
    options: { dataDir: temp.dir, databaseUrl: database.url, secret: randomBytes(32).toString('hex') },
    async withQuery(fn) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return await fn(async (text) => (await client.query(text)).rows);
      } finally {
        await client.end();
      }
    },
    async cleanup() {
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

describe('a server killed during writes comes back with every acknowledged write', () => {
  for (const backend of BACKENDS) {
    test(`${backend}: ${CYCLES} SIGKILL/restart cycles under a write load`, async (t) => {
      const random = seededRandom(SEED + (backend === 'pglite' ? 0 : 1));
      t.diagnostic(`seed ${SEED} (replay with TESSERA_CRASH_SEED=${SEED}), ${CYCLES} cycles`);
      const h = await harness(backend);
      cleanups.push(h.cleanup);
      const ledger: Ledger = { people: [], attemptedEmails: new Set(), unexpected: [] };
      let server = await startServerProcess(h.options);

      for (let cycle = 0; cycle < CYCLES; cycle++) {
        // Write load, then SIGKILL a few hundred ms in: at a random moment, but not before this
        // cycle has at least one acknowledged registration and one acknowledged update to check.
        const killDelay = Math.round(150 + random() * 650);
        let killed = false;
        const acknowledgedBefore = ledger.people.length;
        const loadStart = Date.now();
        const writers = Array.from({ length: WORKERS }, (_, w) => writer(server, ledger, `${backend}.${cycle}.${w}`, () => killed));
        await sleep(killDelay);
        const acknowledgedUpdate = () => ledger.people.slice(acknowledgedBefore).some((p) => p.updates.some((u) => u.acknowledged));
        const deadline = Date.now() + 20_000;
        while (!acknowledgedUpdate() && ledger.unexpected.length === 0 && Date.now() < deadline) await sleep(5);
        killed = true;
        const killedAfter = Date.now() - loadStart;
        const exit = await server.crash();
        assert.equal(exit.signal, 'SIGKILL', server.output());
        await withTimeout(Promise.all(writers), 30_000, 'writers did not stop within 30 s of the kill');
        assert.deepEqual(ledger.unexpected, [], `writes failed while the server was up\n${server.output()}`);
        const people = ledger.people.length - acknowledgedBefore;
        const updates = ledger.people.slice(acknowledgedBefore).reduce((n, p) => n + p.updates.filter((u) => u.acknowledged).length, 0);
        t.diagnostic(`cycle ${cycle}: killed ${killedAfter} ms into the load (drawn: ${killDelay} ms); ${people} registrations and ${updates} updates acknowledged`);
        assert.ok(people > 0 && updates > 0, 'the server acknowledged writes of both kinds before it was killed');
        if (backend === 'pglite') {
          assert.ok(fs.existsSync(path.join(h.options.dataDir, 'tessera.lock')), 'the killed server left its lock behind');
        }

        // Start again on the same data: no manual step.
        const restartAt = Date.now();
        server = await startServerProcess(h.options);
        t.diagnostic(`cycle ${cycle}: ready again ${Date.now() - restartAt} ms after the restart`);
        await checkAcknowledgedWrites(server, ledger);
        if (backend === 'pglite') {
          assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output());
          await h.withQuery((query) => checkConsistency(query, ledger));
          if (cycle < CYCLES - 1) server = await startServerProcess(h.options);
        } else {
          await h.withQuery((query) => checkConsistency(query, ledger));
        }
      }
      if (server.exitResult === null) assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output());
      t.diagnostic(`${ledger.people.length} acknowledged registrations survived ${CYCLES} crashes`);
    });
  }
});
