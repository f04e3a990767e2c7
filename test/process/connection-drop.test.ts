import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { hashSecret } from '../../src/server/auth/secrets.ts';
import { createServerDatabase } from '../support/databases.ts';
import { killAllServers, makeTempDir, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/**
 * PostgreSQL only (PGlite runs inside the server process: there is no connection to drop).
 * The server's database connections are cut with pg_terminate_backend, as a restart, a failover
 * or an administrator would cut them:
 * - a connection inside a write transaction: the request answers 503 with Retry-After (a problem
 *   document, not a hang and not a 500), nothing of it is stored, and the next requests work;
 * - idle pooled connections: replaced, the next requests work;
 * - the LISTEN connections that carry cache invalidations: opened again, so revocations reach
 *   the node again, and the node's cache is emptied since notifications sent meanwhile are lost.
 *
 * The servers run as child processes (the real `npm start` wiring): a connection that dies while
 * a request holds it must not crash the node (node-postgres emits an 'error' event on it), and a
 * child's exit shows that where an in-process app would take the test runner down with it. Each
 * node names its connections (`application_name`), so the test finds exactly its backends.
 */

const PASSWORD = 'correct horse 42 battery';
const SECRET = randomBytes(32).toString('hex');
/** Longest a request cut off mid-transaction may take to answer once its backend is gone. */
const ANSWER_LIMIT_MS = 5000;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let databaseUrl: string;
let nodeA: ServerProcess;
let nodeB: ServerProcess;
let admin: pg.Client;
/** What node A answered last: the SDK throws the problem document but not the headers. */
let lastResponseA: { status: number; headers: Headers } | null = null;
let ownerA: TesseraClient;
let accountId: string;
let member: { id: string; tokenId: string; loginToken: string };

function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

async function startNode(name: string): Promise<ServerProcess> {
  const temp = makeTempDir(`connection-drop-${name}`);
  cleanups.push(temp.remove);
  return startServerProcess({
    dataDir: temp.dir,
    databaseUrl: withApplicationName(databaseUrl, name),
    secret: SECRET,
    // a node that missed a revocation would keep answering from its cache for ten minutes
    env: { TESSERA_CLIENT_TOKEN_CACHE_SECONDS: '600' },
  });
}

interface Backend {
  pid: number;
  state: string | null;
  wait_event_type: string | null;
  query: string;
  backend_xid: string | null;
}

/** The node's server backends (its pool and its LISTEN connections), from pg_stat_activity. */
async function backendsOf(node: 'tessera-a' | 'tessera-b'): Promise<Backend[]> {
  const { rows } = await admin.query<Backend>(
    `select pid, state, wait_event_type, query, backend_xid::text from pg_stat_activity
      where datname = current_database() and application_name = $1 and backend_type = 'client backend'`,
    [node],
  );
  return rows;
}

const isListen = (backend: Backend) => /^LISTEN /i.test(backend.query);

async function terminate(pids: number[]): Promise<void> {
  const { rows } = await admin.query<{ done: boolean }>('select pg_terminate_backend(pid) as done from unnest($1::int[]) pid', [pids]);
  assert.ok(rows.every((r) => r.done), `terminated backends ${pids.join(', ')}`);
  // pg_terminate_backend only signals: wait until they are gone
  await waitFor('the terminated backends to exit', async () => {
    const { rows: left } = await admin.query('select 1 from pg_stat_activity where pid = any($1::int[])', [pids]);
    return left.length === 0;
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${nodeA.output()}`);
    await sleep(20);
  }
}

/** GET /client/v1/me with this access token on this node; the status only (no refresh on 401). */
async function meStatus(node: ServerProcess, accessToken: string): Promise<number> {
  const response = await fetch(`${node.url}/client/v1/me`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  await response.arrayBuffer();
  return response.status;
}

async function readyStatus(node: ServerProcess): Promise<number> {
  const response = await fetch(`${node.url}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

async function loginTokenLabels(): Promise<string[]> {
  const { rows } = await admin.query<{ label: string }>('select label from login_tokens where account_id = $1 and member_id = $2 order by created_at, id', [accountId, member.id]);
  return rows.map((r) => r.label);
}

async function tokenAuditLabels(): Promise<string[]> {
  const { rows } = await admin.query<{ label: string }>(
    `select after->>'label' as label from audit_events where account_id = $1 and action = 'login_token.created' order by occurred_at, id`,
    [accountId],
  );
  return rows.map((r) => r.label);
}

describe('postgres: the server survives its database connections being cut', () => {
  before(async () => {
    const database = await createServerDatabase();
    cleanups.push(database.drop);
    databaseUrl = database.url;
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    cleanups.push(() => admin.end());
    nodeA = await startNode('tessera-a'); // migrates the empty database
    nodeB = await startNode('tessera-b');
    ownerA = new TesseraClient({
      baseUrl: nodeA.url,
      cookieJar: true,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        lastResponseA = { status: response.status, headers: response.headers };
        return response;
      },
    });
    const registered = await ownerA.register({
      name: 'Olivia Owner',
      email: `connection-drop.${process.pid}.${randomBytes(3).toString('hex')}@example.test`,
      password: PASSWORD,
      companyName: 'Dropped Lines Ltd',
      country: 'DE',
    });
    accountId = registered.account.id;
    const added = await ownerA.addTeamMember(accountId, { name: 'Dana Desktop' });
    member = { id: added.member.id, tokenId: added.firstToken.token.id, loginToken: added.firstToken.secret };
  });

  test('a write whose connection is terminated mid-transaction answers 503 with Retry-After, stores nothing, and the node goes on', async (t) => {
    assert.deepEqual(await loginTokenLabels(), ['First token']);
    // Hold the account row: creating a login token inserts the token, then its audit event,
    // whose foreign key to the account must wait for this lock. So the server's transaction
    // blocks after it has written the token.
    const locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from accounts where account_id = $1 for update', [accountId]);
      const pending = ownerA.createLoginToken(accountId, member.id, { label: 'cut off' }).then(
        () => assert.fail('the request whose connection was cut must not succeed'),
        (error: unknown) => error,
      );
      let blocked: Backend | undefined;
      await waitFor("node A's transaction to wait for the lock at the token's audit event", async () => {
        blocked = (await backendsOf('tessera-a')).find((b) => b.wait_event_type === 'Lock' && /^insert into "audit_events"/.test(b.query));
        return blocked !== undefined;
      });
      assert.notEqual(blocked!.backend_xid, null, 'the blocked transaction has written (it holds a transaction id)');
      const cutAt = performance.now();
      await terminate([blocked!.pid]);
      await locker.query('rollback');

      const error = await Promise.race([pending, sleep(ANSWER_LIMIT_MS).then(() => assert.fail(`no answer ${ANSWER_LIMIT_MS} ms after the cut`))]);
      t.diagnostic(`answered ${(performance.now() - cutAt).toFixed(0)} ms after pg_terminate_backend`);
      assert.ok(error instanceof TesseraError, `a problem document, not ${String(error)}\n${nodeA.output()}`);
      assert.equal(error.status, 503, `503, not ${error.status}: ${JSON.stringify(error.problem)}`);
      assert.equal(error.code, 'unavailable');
      assert.equal(lastResponseA?.status, 503);
      assert.equal(lastResponseA?.headers.get('content-type'), 'application/problem+json');
      assert.match(lastResponseA?.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After in seconds');
    } finally {
      await locker.end();
    }

    assert.equal(nodeA.exitResult, null, `node A is still running\n${nodeA.output()}`);
    assert.deepEqual(await loginTokenLabels(), ['First token'], 'the token inserted before the cut was rolled back');
    assert.deepEqual(await tokenAuditLabels(), ['First token'], 'and no audit event of it');
    const logged = nodeA.logLines();
    assert.ok(logged.some((line) => line.msg === 'database connection lost'), 'the node logs the lost connection');
    assert.ok(!logged.some((line) => line.msg === 'unhandled error'), 'not as an unhandled error');

    // The pool replaced the dead connection: the same request now goes through.
    assert.equal(await readyStatus(nodeA), 200);
    const again = await ownerA.createLoginToken(accountId, member.id, { label: 'after the cut' });
    assert.equal(again.token.label, 'after the cut');
    assert.deepEqual(await loginTokenLabels(), ['First token', 'after the cut']);
    assert.deepEqual(await tokenAuditLabels(), ['First token', 'after the cut']);
  });

  test('idle pooled connections that are terminated are replaced', async () => {
    // several requests at once, so the pool holds several connections
    await Promise.all(Array.from({ length: 6 }, () => ownerA.getTeam(accountId)));
    const idle = (await backendsOf('tessera-a')).filter((b) => !isListen(b) && b.state === 'idle');
    assert.ok(idle.length >= 1, 'node A has idle pooled connections');
    await terminate(idle.map((b) => b.pid));

    const answers = await Promise.allSettled(Array.from({ length: 6 }, () => ownerA.getTeam(accountId)));
    assert.deepEqual(answers.map((a) => a.status === 'fulfilled' ? 'ok' : String(a.reason)), Array(6).fill('ok'), 'every request after the cut works');
    assert.equal(await readyStatus(nodeA), 200);
    const now = (await backendsOf('tessera-a')).filter((b) => !isListen(b)).map((b) => b.pid);
    assert.ok(now.length >= 1 && now.every((pid) => !idle.some((b) => b.pid === pid)), 'on new connections');
    assert.equal(nodeA.exitResult, null, `node A is still running\n${nodeA.output()}`);
  });

  test('terminated LISTEN connections are opened again: revocations reach the node again', async (t) => {
    const desktop = new TesseraDesktopClient({ baseUrl: nodeA.url });
    const first = await desktop.signInWithLoginToken(member.loginToken);
    assert.equal(await meStatus(nodeA, first.access_token), 200, 'node A resolves the access token and caches it');
    // Revoked behind the nodes' backs, with no NOTIFY: as if the notification were lost while
    // node A was not listening. Node A still answers from its cache...
    const revoked = await admin.query(
      `update client_sessions s set revoked_at = now(), revoked_reason = 'test' from client_tokens t
        where t.token_hash = $1 and s.account_id = t.account_id and s.id = t.session_id`,
      [hashSecret(first.access_token)],
    );
    assert.equal(revoked.rowCount, 1);
    assert.equal(await meStatus(nodeA, first.access_token), 200, 'control: node A answers from its cache');

    const listening = (await backendsOf('tessera-a')).filter(isListen);
    assert.ok(listening.length >= 1, 'node A listens for cache invalidations');
    const cutAt = performance.now();
    await terminate(listening.map((b) => b.pid));
    await waitFor('node A to listen again on every channel', async () => {
      const now = (await backendsOf('tessera-a')).filter(isListen);
      return now.length === listening.length && now.every((b) => !listening.some((old) => old.pid === b.pid));
    });
    t.diagnostic(`${listening.length} LISTEN connections back ${(performance.now() - cutAt).toFixed(0)} ms after the cut`);
    // ...until it listens again: what it missed meanwhile cannot be known, so it emptied its cache.
    assert.equal(await meStatus(nodeA, first.access_token), 401, 'node A emptied its cache when it listened again');

    // And a revocation made on node B reaches node A through the new LISTEN connections.
    const second = await desktop.signInWithLoginToken(member.loginToken);
    assert.equal(await meStatus(nodeA, second.access_token), 200, 'node A caches the new access token');
    const ownerB = nodeB.client();
    await ownerB.signIn({ email: (await ownerA.me()).user.email, password: PASSWORD });
    await ownerB.revokeLoginToken(accountId, member.id, member.tokenId);
    const revokedAt = performance.now();
    await waitFor('node A to refuse the access token revoked on node B', async () => (await meStatus(nodeA, second.access_token)) === 401, 2000);
    t.diagnostic(`node A refused the token ${(performance.now() - revokedAt).toFixed(0)} ms after node B revoked it`);
    assert.equal(nodeA.exitResult, null, `node A is still running\n${nodeA.output()}`);
  });
});
