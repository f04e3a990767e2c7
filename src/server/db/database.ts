import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { beginWithFirstStatement } from './pg-pool.ts';
import { pgliteDialect, SerialMutex } from './pglite-driver.ts';
import type { DB } from './schema.ts';

export type Tx = Transaction<DB>;

/** A session on one connection, for work Kysely does not model: multi-statement scripts, locks. */
export interface RawSession {
  exec(script: string): Promise<void>;
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Kysely<DB>;
  /**
   * A transaction bound to one account: row-level security admits only that account's rows,
   * as a second wall behind the services' own filters.
   */
  inTenant<T>(accountId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** A transaction across accounts (sign-in, the list of a person's accounts). */
  inSystem<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  withSession<T>(fn: (session: RawSession) => Promise<T>): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel; returns the unsubscribe function. Should the listening
   * connection drop, it is opened again and `onResubscribed` runs: notifications sent while it
   * was down are lost, so the subscriber must catch up on its own (drop a cache, read again).
   */
  listen(channel: string, onPayload: (payload: string) => void, onResubscribed?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; without it the embedded PGlite in dataDir (or memory) is used. */
  url?: string | undefined;
  /** PGlite data directory; 'memory://' keeps it in memory (tests). */
  dataDir: string;
  poolSize?: number;
  /** PGlite's shared_buffers (PostgreSQL's units, e.g. 64MB); PGLITE_SHARED_BUFFERS when absent. */
  sharedBuffers?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The restricted role and the account, set for the transaction alone. The account id is written
 * as a literal rather than a parameter: a statement without parameters travels with the
 * transaction's BEGIN in one round trip (pg-pool.ts). Only a UUID is written.
 */
function tenantScope(accountId: string) {
  if (!UUID.test(accountId)) throw new Error(`not an account id: ${JSON.stringify(accountId)}`);
  return sql`select set_config('role', 'tessera_app', true), set_config('tessera.account_id', ${sql.lit(accountId)}, true)`;
}

function helpers(db: Kysely<DB>) {
  return {
    inTenant<T>(accountId: string, fn: (tx: Tx) => Promise<T>) {
      return db.transaction().execute(async (tx) => {
        await tenantScope(accountId).execute(tx);
        return fn(tx);
      });
    },
    inSystem<T>(fn: (tx: Tx) => Promise<T>) {
      return db.transaction().execute(fn);
    },
  };
}

/**
 * PGlite's buffer pool. PostgreSQL's default (128MB) lives in the process's WebAssembly memory and
 * is most of an idle embedded server's footprint; 32MB takes the idle RSS of `npm start` from
 * about 480MB to under 400MB. Pages it misses come from the operating system's file cache.
 */
export const PGLITE_SHARED_BUFFERS = '32MB';

async function openPGlite(dataDir: string, sharedBuffers: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  const lock: DataDirLock | null = inMemory ? null : lockDataDir(dataDir);
  let pglite: PGlite;
  try {
    const path = inMemory ? dataDir : `${dataDir}/pgdata`;
    const options = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`] };
    const created = !inMemory && !fs.existsSync(`${path}/PG_VERSION`);
    pglite = await PGlite.create(path, options);
    if (created) {
      // The first start runs initdb in this process, whose memory stays with the instance (about
      // 250MB more idle RSS): open the new directory again and let that instance go.
      await pglite.close();
      pglite = await PGlite.create(path, options);
    }
  } catch (error) {
    lock?.release();
    throw error;
  }
  const mutex = new SerialMutex();
  const db = new Kysely<DB>({ dialect: pgliteDialect(pglite, mutex) });
  return {
    kind: 'pglite',
    db,
    ...helpers(db),
    withSession: (fn) =>
      mutex.run(() =>
        fn({
          exec: async (script) => {
            await pglite.exec(script);
          },
          query: async <R,>(text: string, params?: unknown[]) =>
            (await pglite.query<R>(text, params)).rows,
        }),
      ),
    async listen(channel, onPayload) {
      const unsubscribe = await mutex.run(() => pglite.listen(channel, onPayload));
      return () => mutex.run(unsubscribe);
    },
    async close() {
      await db.destroy();
      await mutex.run(() => pglite.close());
      lock?.release();
    },
  };
}

// int8 (counts, sums) as numbers on both backends; PGlite already answers numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** Pause before opening a dropped LISTEN connection again; doubles up to the maximum while it fails. */
const RELISTEN_FIRST_DELAY_MS = 100;
const RELISTEN_MAX_DELAY_MS = 5_000;

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A dropped connection surfaces as an error on the idle client; the pool replaces it.
  pool.on('error', () => {});
  // A connection that drops while a request holds it (pg_terminate_backend, a restart or
  // failover) fails the request's query, and then node-postgres emits 'error' on the client as
  // well, which the pool only listens for while the client is idle: unhandled, that event would
  // crash the node. The query's failure already reaches the request (a 503); the pool discards
  // the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: beginWithFirstStatement(pool) }) });
  const subscriptions = new Set<() => Promise<void>>();
  return {
    kind: 'postgres',
    db,
    ...helpers(db),
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (script) => {
            await client.query(script);
          },
          query: async <R,>(text: string, params?: unknown[]) =>
            (await client.query(text, params)).rows as R[],
        });
      } finally {
        client.release();
      }
    },
    async listen(channel, onPayload, onResubscribed) {
      // One connection per channel, for as long as the subscription lasts: a LISTEN that
      // silently died would leave this node's caches deaf to revocations made on other nodes.
      let stopped = false;
      let current: pg.Client | null = null;
      let retry: NodeJS.Timeout | undefined;
      const subscribe = async (): Promise<pg.Client> => {
        const client = new pg.Client({ connectionString: url });
        client.on('error', () => {}); // 'end' follows, and is handled below
        try {
          await client.connect();
          client.on('notification', (message) => {
            if (message.channel === channel) onPayload(message.payload ?? '');
          });
          await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        } catch (error) {
          await client.end().catch(() => {});
          throw error;
        }
        client.once('end', () => {
          current = null;
          if (!stopped) resubscribe(RELISTEN_FIRST_DELAY_MS);
        });
        return client;
      };
      const resubscribe = (delayMs: number) => {
        retry = setTimeout(() => {
          subscribe().then(
            async (client) => {
              if (stopped) return void (await client.end().catch(() => {}));
              current = client;
              onResubscribed?.();
            },
            () => {
              if (!stopped) resubscribe(Math.min(delayMs * 2, RELISTEN_MAX_DELAY_MS));
            },
          );
        }, delayMs);
      };
      current = await subscribe();
      const unsubscribe = async () => {
        stopped = true;
        clearTimeout(retry);
        subscriptions.delete(unsubscribe);
        await current?.end().catch(() => {});
      };
      subscriptions.add(unsubscribe);
      return unsubscribe;
    },
    async close() {
      await Promise.all([...subscriptions].map((unsubscribe) => unsubscribe()));
      await db.destroy();
    },
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url
    ? openPostgres(options.url, options.poolSize ?? 10)
    : openPGlite(options.dataDir, options.sharedBuffers ?? PGLITE_SHARED_BUFFERS);
}
