import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations } from '../../src/server/db/migrate.ts';
import { createServerDatabase, query } from '../support/databases.ts';
import { killAllServers, makeTempDir, REPO_ROOT, spawnServer, type ServerProcess } from '../support/server-process.ts';

/**
 * Several nodes started together on one empty PostgreSQL database: the advisory lock in
 * migrate.ts must let exactly one of them apply each migration, and all of them must come up.
 */

const SECRET = randomBytes(32).toString('hex');
/** The advisory lock key of migrate.ts (not exported; read from its source so the two cannot drift). */
const MIGRATION_LOCK_KEY = Number(
  /const MIGRATION_LOCK_KEY = ([\d_]+);/.exec(fs.readFileSync(path.join(REPO_ROOT, 'src/server/db/migrate.ts'), 'utf8'))![1]!.replaceAll('_', ''),
);
const cleanups: Array<() => Promise<void> | void> = [];

after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freshDatabase(): Promise<string> {
  const database = await createServerDatabase();
  cleanups.push(database.drop);
  return database.url;
}

async function spawnNodes(url: string, count: number): Promise<ServerProcess[]> {
  const nodes: ServerProcess[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = makeTempDir('migrate');
    cleanups.push(dataDir.remove);
    nodes.push(await spawnServer({ dataDir: dataDir.dir, databaseUrl: url, secret: SECRET, logLevel: 'warn' }));
  }
  return nodes;
}

/** Every migration recorded once, with the checksum of this build; the schema created once. */
async function assertMigratedOnce(url: string): Promise<void> {
  const expected = loadMigrations();
  assert.ok(expected.length > 0);
  const rows = await query<{ id: string; checksum: string }>(url, 'select id, checksum from tessera_migrations order by id');
  assert.deepEqual(
    rows.map((r) => ({ id: r.id, checksum: r.checksum })),
    expected.map((m) => ({ id: m.id, checksum: m.checksum })),
  );
  const tables = await query<{ n: number }>(
    url,
    "select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = 'users' and c.relkind = 'r'",
  );
  assert.equal(tables[0]!.n, 1, 'the users table exists exactly once');
  const policies = await query<{ n: number }>(url, "select count(*)::int as n from pg_policies where tablename = 'accounts'");
  assert.equal(policies[0]!.n, 1, 'the accounts policy was created once');
}

/** Both nodes serve the same database: a person registered on one signs in on the other. */
async function assertNodesShareTheDatabase(nodes: ServerProcess[]): Promise<void> {
  const email = `migrate.${process.pid}.${randomBytes(3).toString('hex')}@example.test`;
  const password = 'correct horse 42 battery';
  await nodes[0]!.client().register({ name: 'Grace Hopper', email, password, companyName: 'Compilers Inc', country: 'DE' });
  for (const node of nodes.slice(1)) {
    const signedIn = await node.client().signIn({ email, password });
    assert.equal(signedIn.user.email, email);
  }
}

describe('migrations when several nodes start together on an empty PostgreSQL database', () => {
  test('two processes spawned at the same moment both become ready; each migration is applied once', async () => {
    const url = await freshDatabase();
    const nodes = await spawnNodes(url, 2);
    await Promise.all(nodes.map((node) => node.waitReady(45_000)));
    await assertMigratedOnce(url);
    await assertNodesShareTheDatabase(nodes);
    for (const node of nodes) assert.deepEqual(await node.stop(), { code: 0, signal: null }, node.output());
  });

  test('two processes queued on the migration lock at once: the second finds nothing left to do', async () => {
    // Take the migration lock first, so that both nodes are provably waiting on it together
    // when it is released (without this, one node may simply finish before the other starts).
    const url = await freshDatabase();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    cleanups.push(() => holder.end().catch(() => {}));
    await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);

    const nodes = await spawnNodes(url, 2);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const waiting = await holder.query<{ n: number }>(
        "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
      );
      if (waiting.rows[0]!.n === 2) break;
      for (const node of nodes) assert.equal(node.exitResult, null, `a node exited while waiting for the lock\n${node.output()}`);
      assert.ok(Date.now() < deadline, `both nodes should wait on the migration lock (waiting: ${waiting.rows[0]!.n})\n${nodes.map((n) => n.output()).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const before = await holder.query<{ n: number }>("select count(*)::int as n from pg_class where relname = 'tessera_migrations'");
    assert.equal(before.rows[0]!.n, 0, 'nothing is migrated while the lock is held');

    await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await Promise.all(nodes.map((node) => node.waitReady(30_000)));
    await assertMigratedOnce(url);
    await assertNodesShareTheDatabase(nodes);
    for (const node of nodes) assert.deepEqual(await node.stop(), { code: 0, signal: null }, node.output());
  });
});
