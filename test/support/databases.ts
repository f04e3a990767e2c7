import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/server/db/database.ts';
import { migrate } from '../../src/server/db/migrate.ts';

export type Backend = 'pglite' | 'postgres';

/** Every suite runs on both backends from the same source. */
export const BACKENDS: Backend[] = ['pglite', 'postgres'];

/** The PostgreSQL server the suites use; each test file gets a database of its own on it. */
export const TEST_SERVER_URL = process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  try {
    await client.connect();
  } catch (error) {
    // Never skip: a suite that cannot reach its server fails, loudly.
    throw new Error(
      `The PostgreSQL test server at ${TEST_SERVER_URL} is unreachable (${(error as Error).message}). ` +
        'Start it, or point TESSERA_TEST_DATABASE_URL at one.',
    );
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** One query on its own connection to `url` (a database of createServerDatabase). */
export async function query<R extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A new, empty database on the test server; dropped by the returned function. */
export async function createServerDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tessera_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return {
    url: withDatabaseName(TEST_SERVER_URL, name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export interface TestDatabase {
  database: Database;
  /** postgres:// URL of the database, for suites that start server processes (postgres only). */
  url: string | undefined;
  close(): Promise<void>;
}

/** A fresh, migrated database: PGlite in memory, or a new database on the test server. */
export async function openTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const database = await openDatabase({ dataDir: 'memory://' });
    await migrate(database);
    return { database, url: undefined, close: () => database.close() };
  }
  const server = await createServerDatabase();
  const database = await openDatabase({ url: server.url, dataDir: 'memory://', poolSize: 5 });
  await migrate(database);
  return {
    database,
    url: server.url,
    async close() {
      await database.close();
      await server.drop();
    },
  };
}
