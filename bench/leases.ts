import pg from 'pg';
import { TesseraClient } from '../src/client/sdk.ts';
import { openDatabase, type Database } from '../src/server/db/database.ts';
import type { LeaseIdentity } from './data.ts';
import { exchangeLoginToken, type Person } from './fixtures.ts';
import { Connection, Tally } from './connection.ts';
import { Samples, type CustomLoad, type LatencySummary, type Round } from './load.ts';

/**
 * Connection leases under load: desktop clients looping open → close through the HTTP client API
 * (POST /client/v1/connections, DELETE /client/v1/connections/:leaseId), and the database
 * reference they are measured against — a bare `BEGIN; SELECT … FOR UPDATE; UPDATE …; COMMIT`
 * through a pool of the server's size.
 */

/** The server's pool: openDatabase's default, which `npm start` uses. */
export const SERVER_POOL_SIZE = 10;

/** Per-request latencies of the measured run of a pair load: opens and closes apart. */
export interface PairLatencies {
  open: LatencySummary;
  close: LatencySummary;
  pairs: number;
  /** Opens refused for the account's allowance (and tried again) although the client held no lease. */
  refused: number;
}

function isAccountRefusal(body: string): boolean {
  try {
    return (JSON.parse(body) as { limit?: string }).limit === 'account';
  } catch {
    return false;
  }
}

/**
 * Desktop clients looping open → close on their own device: `connections` workers, each with one
 * keep-alive connection, worker w driving identities w, w + connections, w + 2·connections, … in
 * turn (so no two workers ever share a device, and a pair never waits for another). A worker
 * only stops between pairs, so no lease is left open when a round ends. The rate is pairs per
 * second; the latencies are per request (opens and closes alike, each answered 201 or 204), with
 * opens and closes apart in `last()`. With no more clients than the account's allowance, every
 * open should succeed; one refused for the account's allowance all the same is counted in
 * `refused` and sent again (its latency is that of the open that succeeded); any other answer
 * fails the run.
 */
export class LeasePairs implements CustomLoad {
  readonly #baseUrl: string;
  readonly #identities: LeaseIdentity[];
  readonly #connections: number;
  #last: PairLatencies | null = null;
  readonly problems: string[] = [];
  /** Refused opens in every round so far (warm-up included). */
  refused = 0;

  constructor(baseUrl: string, identities: LeaseIdentity[], connections: number) {
    if (identities.length < connections) throw new Error(`${connections} lease connections need as many identities, not ${identities.length}`);
    this.#baseUrl = baseUrl;
    this.#identities = identities;
    this.#connections = connections;
  }

  get identities(): readonly LeaseIdentity[] {
    return this.#identities;
  }

  last(): PairLatencies | null {
    return this.#last;
  }

  /** One pair for each identity, one after the other; throws at the first unexpected answer. */
  async once(): Promise<void> {
    const connection = new Connection(this.#baseUrl);
    try {
      for (const identity of this.#identities) {
        const headers = { accept: 'application/json', authorization: `Bearer ${identity.accessToken}` };
        const opened = await connection.request('POST', '/client/v1/connections', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ deviceId: identity.deviceId }));
        if (opened.status !== 201) throw new Error(`POST /client/v1/connections answered ${opened.status}, not 201: ${opened.body.slice(0, 300)}`);
        const { leaseId } = JSON.parse(opened.body) as { leaseId: string };
        const closed = await connection.request('DELETE', `/client/v1/connections/${leaseId}`, headers);
        if (closed.status !== 204) throw new Error(`DELETE /client/v1/connections/${leaseId} answered ${closed.status}, not 204: ${closed.body.slice(0, 300)}`);
      }
    } finally {
      connection.close();
    }
  }

  async round(durationS: number, latencies?: Samples): Promise<Round> {
    const tally = new Tally();
    const open = new Samples();
    const close = new Samples();
    let pairs = 0;
    let refused = 0;
    const started = performance.now();
    const until = started + durationS * 1000;
    await Promise.all(
      Array.from({ length: this.#connections }, async (_, w) => {
        const mine = this.#identities.filter((_, i) => i % this.#connections === w);
        const connection = new Connection(this.#baseUrl);
        try {
          for (let n = 0; performance.now() < until; n++) {
            const identity = mine[n % mine.length]!;
            const headers = { accept: 'application/json', authorization: `Bearer ${identity.accessToken}` };
            let t0 = performance.now();
            let leaseId: string;
            try {
              let opened = await connection.request('POST', '/client/v1/connections', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ deviceId: identity.deviceId }));
              // the account's allowance refused although this client holds nothing: counted, and
              // tried again at once as a desktop client would (docs/connections.md, trade-offs)
              while (opened.status === 409 && isAccountRefusal(opened.body) && performance.now() < until + 10_000) {
                refused += 1;
                t0 = performance.now();
                opened = await connection.request('POST', '/client/v1/connections', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ deviceId: identity.deviceId }));
              }
              if (!tally.answer(opened.status, 201, 'POST /client/v1/connections', opened.body)) continue;
              leaseId = (JSON.parse(opened.body) as { leaseId: string }).leaseId;
            } catch (error) {
              tally.failed(error as Error, 'POST /client/v1/connections');
              continue;
            }
            const t1 = performance.now();
            try {
              const closed = await connection.request('DELETE', `/client/v1/connections/${leaseId}`, headers);
              if (!tally.answer(closed.status, 204, 'DELETE /client/v1/connections/:leaseId', closed.body)) continue;
            } catch (error) {
              tally.failed(error as Error, 'DELETE /client/v1/connections/:leaseId');
              continue;
            }
            const t2 = performance.now();
            pairs += 1;
            open.push(t1 - t0);
            close.push(t2 - t1);
            latencies?.push(t1 - t0);
            latencies?.push(t2 - t1);
          }
        } finally {
          connection.close();
        }
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    this.problems.push(...tally.problems.slice(0, 5 - this.problems.length));
    this.refused += refused;
    if (latencies) this.#last = { open: open.summary(), close: close.summary(), pairs, refused };
    return { units: pairs, elapsedS, ok: tally.ok, non2xx: tally.non2xx, errors: tally.errors, timeouts: tally.timeouts, statusCodes: tally.statusCodes };
  }
}

/**
 * `count` team members of the person's account (no fixed limit of their own), each signed in with
 * its first login token, and an organization with one device per member: every client of one
 * account, connecting to its own device — the account's allowance is the only limit they share.
 * Created through the portal API, as an owner would.
 */
export async function oneAccountIdentities(baseUrl: string, person: Person, count: number): Promise<LeaseIdentity[]> {
  const owner = new TesseraClient({ baseUrl, cookieJar: true });
  await owner.signIn({ email: person.email, password: person.password });
  const organization = await owner.createOrganization(person.accountId, { name: 'Bench Leases' });
  const identities: LeaseIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const added = await owner.addTeamMember(person.accountId, { name: `Bench Client ${i + 1}` });
    const device = await owner.createDevice(person.accountId, organization.id, { name: `Bench Workstation ${i + 1}`, kind: 'workstation', identifier: `bench-lease-${i + 1}` });
    const tokens = await exchangeLoginToken(baseUrl, added.firstToken.secret);
    identities.push({ accountId: person.accountId, memberId: added.member.id, deviceId: device.id, accessToken: tokens.access_token });
  }
  return identities;
}

/** A table of `rows` counters, the subject of the reference transaction. */
const REFERENCE_TABLE = 'bench_reference';
const referenceSetup = (rows: number) => [
  `drop table if exists ${REFERENCE_TABLE}`,
  `create table ${REFERENCE_TABLE} (id integer primary key, n bigint not null default 0)`,
  `insert into ${REFERENCE_TABLE} (id) select g from generate_series(1, ${rows}) g`,
];
const SELECT_FOR_UPDATE = `select n from ${REFERENCE_TABLE} where id = $1 for update`;
const UPDATE = `update ${REFERENCE_TABLE} set n = n + 1 where id = $1`;

export interface ReferenceTarget {
  /** Where the transactions run: a pg pool on the PostgreSQL server, or PGlite in this process. */
  label: string;
  /** One transaction on row `id`; resolves when it committed. */
  transaction(id: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The PostgreSQL reference: a pg pool of the server's size on the server's database (a table of
 * its own, dropped afterwards), each transaction four statements as the server sends its own.
 */
export async function postgresReference(url: string, rows: number): Promise<ReferenceTarget> {
  const pool = new pg.Pool({ connectionString: url, max: SERVER_POOL_SIZE });
  pool.on('error', () => {});
  for (const statement of referenceSetup(rows)) await pool.query(statement);
  return {
    label: `pg pool of ${SERVER_POOL_SIZE} in the harness process, same PostgreSQL server and database`,
    async transaction(id) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await client.query(SELECT_FOR_UPDATE, [id]);
        await client.query(UPDATE, [id]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.query(`drop table if exists ${REFERENCE_TABLE}`).catch(() => {});
      await pool.end();
    },
  };
}

/**
 * The PGlite reference: PGlite in this process on a data directory of its own (on the same disk
 * as the server's), its one connection handed to one transaction at a time as the server's
 * driver does (openDatabase's session mutex).
 */
export async function pgliteReference(dataDir: string, rows: number): Promise<ReferenceTarget> {
  const database: Database = await openDatabase({ dataDir });
  await database.withSession(async (session) => {
    for (const statement of referenceSetup(rows)) await session.query(statement);
  });
  return {
    label: 'PGlite in the harness process (one connection, transactions one at a time), own data directory',
    async transaction(id) {
      await database.withSession(async (session) => {
        await session.query('begin');
        try {
          await session.query(SELECT_FOR_UPDATE, [id]);
          await session.query(UPDATE, [id]);
          await session.query('commit');
        } catch (error) {
          await session.query('rollback').catch(() => {});
          throw error;
        }
      });
    },
    close: () => database.close(),
  };
}

/**
 * `concurrency` workers running the reference transaction back to back: on row 1 only (every
 * transaction queues on its lock), or spread over `rows` rows (worker w on rows w, w + concurrency,
 * …, so workers never meet, like the clients of LeasePairs spread over accounts).
 */
export function referenceLoad(target: ReferenceTarget, options: { concurrency: number; rows: number }): CustomLoad {
  return {
    async round(durationS, latencies) {
      const tally = new Tally();
      let done = 0;
      const started = performance.now();
      const until = started + durationS * 1000;
      await Promise.all(
        Array.from({ length: options.concurrency }, async (_, w) => {
          for (let n = 0; performance.now() < until; n++) {
            const id = options.rows === 1 ? 1 : ((w + n * options.concurrency) % options.rows) + 1;
            const t0 = performance.now();
            try {
              await target.transaction(id);
            } catch (error) {
              tally.failed(error as Error, 'reference transaction');
              continue;
            }
            latencies?.push(performance.now() - t0);
            done += 1;
          }
        }),
      );
      return { units: done, elapsedS: (performance.now() - started) / 1000, ok: done, non2xx: 0, errors: tally.errors, timeouts: tally.timeouts, statusCodes: {} };
    },
  };
}
