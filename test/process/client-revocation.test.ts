import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import type { TesseraClient } from '../../src/client/sdk.ts';
import type { TokenResponse } from '../../src/shared/client-api.ts';
import { createServerDatabase } from '../support/databases.ts';
import { killAllServers, makeTempDir, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/**
 * Two server processes on one PostgreSQL database: a desktop access token that node B has
 * cached stops working on node B soon after node A revokes it (login token revoked, member
 * removed, session signed out, refresh-token reuse). Node B caches access tokens for 60 s, so
 * only the NOTIFY node A sends can explain a 401 on node B within a second; the control test
 * shows node B really does keep answering from its cache when no NOTIFY comes.
 *
 * The 401 checks use plain fetch: the desktop client's me() refreshes once on 401 and would hide it.
 */

const PASSWORD = 'correct horse 42 battery';
const SECRET = randomBytes(32).toString('hex');
/** Longest wait for node B's first 401 after node A answered the revocation. */
const PROPAGATION_LIMIT_MS = 1000;
/** Pause between two polls of node B. */
const POLL_MS = 2;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let nodeA: ServerProcess;
let nodeB: ServerProcess;
let databaseUrl: string;
let owner: TesseraClient;
let accountId: string;

async function startNode(label: string): Promise<ServerProcess> {
  const temp = makeTempDir(`client-revocation-${label}`);
  cleanups.push(temp.remove);
  return startServerProcess({
    dataDir: temp.dir,
    databaseUrl,
    secret: SECRET,
    env: {
      // a cached access token would live a minute on a node that missed the NOTIFY
      TESSERA_CLIENT_TOKEN_CACHE_SECONDS: '60',
      // a spent refresh token presented again a moment later revokes the session (for d)
      TESSERA_CLIENT_REFRESH_GRACE_SECONDS: '0',
    },
  });
}

/** GET /client/v1/me with this access token on this node; the status only. */
async function meStatus(node: ServerProcess, accessToken: string): Promise<number> {
  const response = await fetch(`${node.url}/client/v1/me`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Runs `revoke` (a call to node A), then polls node B with the access token until it answers
 * 401. Answers the milliseconds from node A's answer to node B's first 401.
 */
async function timeUntilRefused(t: TestContext, what: string, accessToken: string, revoke: () => Promise<unknown>): Promise<number> {
  assert.equal(await meStatus(nodeB, accessToken), 200, `node B accepts the access token before ${what}`);
  const sent = performance.now();
  await revoke();
  const answered = performance.now();
  let polls = 0;
  for (;;) {
    const status = await meStatus(nodeB, accessToken);
    polls += 1;
    const elapsed = performance.now() - answered;
    if (status === 401) {
      const first = polls === 1 ? ' (already on the first poll)' : ` (poll ${polls})`;
      t.diagnostic(`${what}: done in ${(answered - sent).toFixed(1)} ms; node B's 401 came ${elapsed.toFixed(1)} ms after that${first}`);
      return elapsed;
    }
    assert.equal(status, 200, `node B answers 200 or 401, not ${status}`);
    if (elapsed > PROPAGATION_LIMIT_MS) {
      assert.fail(`${what}: node B still accepted the access token ${elapsed.toFixed(0)} ms after node A answered\n${nodeA.output()}\n${nodeB.output()}`);
    }
    await sleep(POLL_MS);
  }
}

async function addMember(name: string): Promise<{ memberId: string; tokenId: string; secret: string }> {
  const added = await owner.addTeamMember(accountId, { name });
  return { memberId: added.member.id, tokenId: added.firstToken.token.id, secret: added.firstToken.secret };
}

/** A desktop client signed in on node B with a login token, its access token cached there. */
async function signedInOnB(loginToken: string): Promise<TesseraDesktopClient> {
  const desktop = new TesseraDesktopClient({ baseUrl: nodeB.url, userAgent: 'revocation-test' });
  await desktop.signInWithLoginToken(loginToken);
  await desktop.me(); // resolves the access token on node B: cached there for 60 s
  return desktop;
}

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

describe('desktop access tokens: a revocation on node A reaches node B through NOTIFY', () => {
  before(async () => {
    const database = await createServerDatabase();
    cleanups.push(database.drop);
    databaseUrl = database.url;
    nodeA = await startNode('a'); // migrates the empty database
    nodeB = await startNode('b');
    owner = nodeA.client();
    const registered = await owner.register({
      name: 'Olivia Owner',
      email: `revocation.${process.pid}.${randomBytes(3).toString('hex')}@example.test`,
      password: PASSWORD,
      companyName: 'Two Nodes Ltd',
      country: 'DE',
    });
    accountId = registered.account.id;
  });

  test('control: without a NOTIFY node B keeps answering from its cache', async (t) => {
    const member = await addMember('Cached Carl');
    const desktop = await signedInOnB(member.secret);
    const accessToken = desktop.tokens!.access_token;
    const { id: sessionId } = (await desktop.me()).session;
    // revoked in the database behind the servers' backs: no node is told
    const updated = await sql(`update client_sessions set revoked_at = now(), revoked_reason = 'test' where id = $1`, [sessionId]);
    assert.equal(updated.rowCount, 1);
    assert.equal(await meStatus(nodeA, accessToken), 401, 'node A never cached the token: it reads the revocation');
    for (let i = 0; i < 5; i++) {
      assert.equal(await meStatus(nodeB, accessToken), 200, 'node B answers from its cache');
      await sleep(100);
    }
    // the same notification node A would send: node B drops the session at once
    const elapsed = await timeUntilRefused(t, 'a hand-made NOTIFY', accessToken, () =>
      sql(`select pg_notify('tessera_client_sessions', $1)`, [JSON.stringify({ session: sessionId })]),
    );
    assert.ok(elapsed < PROPAGATION_LIMIT_MS);
  });

  test('(a) revoking the login token on node A: node B refuses its access token within a second', async (t) => {
    const member = await addMember('Alice Desktop');
    const desktop = await signedInOnB(member.secret);
    const accessToken = desktop.tokens!.access_token;
    const elapsed = await timeUntilRefused(t, 'login token revoked', accessToken, () => owner.revokeLoginToken(accountId, member.memberId, member.tokenId));
    assert.ok(elapsed < PROPAGATION_LIMIT_MS);
    assert.equal(await meStatus(nodeA, accessToken), 401);
    // the refresh token went with the session, and the login token opens no new one
    await assert.rejects(desktop.refresh(), (error: unknown) => error instanceof TesseraOAuthError && error.error === 'invalid_grant');
    await assert.rejects(new TesseraDesktopClient({ baseUrl: nodeB.url }).signInWithLoginToken(member.secret), TesseraOAuthError);
  });

  test('(b) removing the member on node A: node B refuses its access token within a second', async (t) => {
    const member = await addMember('Bob Desktop');
    const desktop = await signedInOnB(member.secret);
    const accessToken = desktop.tokens!.access_token;
    // (GET /me also looks the member up, so a removed member is refused even from the cache;
    // the control and (a), (c), (d) are the cases only the NOTIFY explains.)
    const elapsed = await timeUntilRefused(t, 'member removed', accessToken, () => owner.removeTeamMember(accountId, member.memberId));
    assert.ok(elapsed < PROPAGATION_LIMIT_MS);
    await assert.rejects(desktop.refresh(), (error: unknown) => error instanceof TesseraOAuthError && error.error === 'invalid_grant');
  });

  test("(c) the desktop session's own sign-out on node A: node B refuses its access token within a second", async (t) => {
    const member = await addMember('Carol Desktop');
    const desktop = await signedInOnB(member.secret);
    const accessToken = desktop.tokens!.access_token;
    const refreshToken = desktop.tokens!.refresh_token;
    // the same session, signed out through node A (RFC 7009 with the refresh token)
    const onA = new TesseraDesktopClient({ baseUrl: nodeA.url });
    onA.useRefreshToken(refreshToken);
    const elapsed = await timeUntilRefused(t, 'session signed out', accessToken, () => onA.signOut());
    assert.ok(elapsed < PROPAGATION_LIMIT_MS);
    // the login token itself still works: only that session ended
    const again = await signedInOnB(member.secret);
    assert.equal(await meStatus(nodeB, again.tokens!.access_token), 200);
  });

  test('(d) a refresh token presented again after the grace revokes the family on every node', async (t) => {
    const member = await addMember('Dave Desktop');
    const desktop = await signedInOnB(member.secret);
    const first = desktop.tokens!;
    // rotation on node A: the first refresh token is spent, a new pair is issued
    const rotated = await token(nodeA, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(rotated.status, 200);
    const second = rotated.body as TokenResponse;
    assert.equal(await meStatus(nodeB, second.access_token), 200, 'node B caches the rotated access token');
    await sleep(20); // past the grace of 0 s
    let reuse: { status: number; body: unknown } | undefined;
    const elapsed = await timeUntilRefused(t, 'refresh token reused', second.access_token, async () => {
      reuse = await token(nodeA, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    });
    assert.equal(reuse!.status, 400);
    assert.equal((reuse!.body as { error: string }).error, 'invalid_grant');
    assert.ok(elapsed < PROPAGATION_LIMIT_MS);
    // the whole family is gone: the first access token and the rotated refresh token too
    assert.equal(await meStatus(nodeB, first.access_token), 401);
    const refreshed = await token(nodeB, { grant_type: 'refresh_token', refresh_token: second.refresh_token });
    assert.equal(refreshed.status, 400);
  });

  test('node B answered through the whole run without errors', () => {
    assert.doesNotMatch(nodeA.stdout + nodeB.stdout, /"level":(50|60)/, `${nodeA.output()}\n${nodeB.output()}`);
  });
});

/** POST /client/v1/token with a form body, raw. */
async function token(node: ServerProcess, form: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${node.url}/client/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: await response.json() };
}
