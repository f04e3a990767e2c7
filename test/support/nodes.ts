import assert from 'node:assert/strict';
import { readEventStream } from '../../src/client/event-stream.ts';
import { TesseraClient } from '../../src/client/sdk.ts';
import { loadMigrations } from '../../src/server/db/migrate.ts';
import { SESSION_COOKIE } from '../../src/server/auth/cookies.ts';
import type { PresenceStreamEvent } from '../../src/shared/presence.ts';
import { query } from './databases.ts';
import { makeTempDir, spawnServer, type ServerProcess, type ServerProcessOptions } from './server-process.ts';

/**
 * Several server processes on one PostgreSQL database, for test/process/many-nodes.test.ts: start
 * them together, check the migrations they raced to apply, and watch presence as the portal does.
 */

/**
 * Spawns `count` server processes at the same moment (none waits for another) and resolves once
 * every one answers /readyz; `cleanups` receives their data directories.
 */
export async function startNodesTogether(
  count: number,
  options: Omit<ServerProcessOptions, 'dataDir'>,
  cleanups: Array<() => void>,
  readyWithinMs = 60_000,
): Promise<ServerProcess[]> {
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const temp = makeTempDir(`many-nodes-${i}`);
      cleanups.push(temp.remove);
      return spawnServer({ ...options, dataDir: temp.dir });
    }),
  );
  await Promise.all(nodes.map((node) => node.waitReady(readyWithinMs)));
  return nodes;
}

/**
 * Every migration of this build recorded once with its checksum, and the schema created once.
 * With nodes racing on an empty database, a second application would have failed its node
 * (a table that exists, a duplicate migration id), so "all ready" and this together mean once.
 */
export async function assertMigratedOnce(url: string): Promise<number> {
  const expected = loadMigrations();
  assert.ok(expected.length > 0);
  const rows = await query<{ id: string; checksum: string }>(url, 'select id, checksum from tessera_migrations order by id');
  assert.deepEqual(
    rows.map((r) => ({ id: r.id, checksum: r.checksum })),
    expected.map((m) => ({ id: m.id, checksum: m.checksum })),
    'each migration of this build recorded exactly once',
  );
  const tables = await query<{ n: number }>(url, "select count(*)::int as n from pg_class c where c.relname = 'users' and c.relkind = 'r'");
  assert.equal(tables[0]!.n, 1, 'the users table exists exactly once');
  const policies = await query<{ n: number }>(url, "select count(*)::int as n from pg_policies where tablename = 'accounts'");
  assert.equal(policies[0]!.n, 1, 'the accounts policy was created once');
  return rows.length;
}

/** A fetch that sends every request as coming from `address` (the nodes trust X-Forwarded-For, as behind a balancer). */
export function fetchFrom(address: string, inner: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('x-forwarded-for', address);
    return inner(input, { ...init, headers });
  };
}

/** A person signed in to the portal on one node: the SDK client, and the presence stream as the portal's EventSource reads it. */
export interface PortalSession {
  node: ServerProcess;
  portal: TesseraClient;
  /**
   * Follows the account's presence stream with this session's cookie: resolves when the stream
   * ends (or `signal` aborts), rejects if it breaks off or is refused.
   */
  watchPresence(accountId: string, onEvent: (event: PresenceStreamEvent) => void, signal: AbortSignal): Promise<void>;
}

/** Signs `email` in on `node`, keeping the session cookie for the stream (the SDK's jar is its own). */
export async function signInPortal(node: ServerProcess, email: string, password: string, address: string): Promise<PortalSession> {
  let cookie = '';
  const keepSession: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    for (const line of response.headers.getSetCookie()) {
      if (line.startsWith(`${SESSION_COOKIE}=`)) cookie = line.slice(0, line.indexOf(';'));
    }
    return response;
  };
  const portal = new TesseraClient({ baseUrl: node.url, cookieJar: true, fetch: fetchFrom(address, keepSession), userAgent: 'many-nodes/portal' });
  await portal.signIn({ email, password });
  assert.ok(cookie, 'the sign-in set a session cookie');
  return {
    node,
    portal,
    async watchPresence(accountId, onEvent, signal) {
      const response = await fetch(portal.presenceStreamUrl(accountId), {
        headers: { cookie, accept: 'text/event-stream', 'x-forwarded-for': address },
        signal,
      });
      assert.equal(response.status, 200, `the presence stream on ${node.url} opened`);
      try {
        await readEventStream(response.body!, (event, data) => {
          const parsed = JSON.parse(data);
          if (event === 'snapshot') onEvent({ type: 'snapshot', items: parsed.items, timeoutSeconds: parsed.timeoutSeconds });
          else if (event === 'presence') onEvent({ type: 'presence', member: parsed });
          else if (event === 'removed') onEvent({ type: 'removed', memberId: parsed.memberId });
        });
      } catch (error) {
        if (!signal.aborted) throw error;
      }
    },
  };
}
