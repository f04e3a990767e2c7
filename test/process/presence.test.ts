import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { TesseraClient } from '../../src/client/sdk.ts';
import type { PresenceStreamEvent } from '../../src/shared/presence.ts';
import { createServerDatabase } from '../support/databases.ts';
import { killAllServers, makeTempDir, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/**
 * Two server processes on one PostgreSQL database: heartbeats taken by node A reach a presence
 * stream served by node B (NOTIFY), and so do what no heartbeat announces: a client gone silent
 * (offline once the timeout has passed, derived on node B), a session revoked and a member removed
 * on node A.
 */

const PASSWORD = 'correct horse 42 battery';
const SECRET = randomBytes(32).toString('hex');
const TIMEOUT_S = 3;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await killAllServers();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let nodeA: ServerProcess;
let nodeB: ServerProcess;
let databaseUrl: string;

async function startNode(label: string): Promise<ServerProcess> {
  const temp = makeTempDir(`presence-${label}`);
  cleanups.push(temp.remove);
  return startServerProcess({ dataDir: temp.dir, databaseUrl, secret: SECRET, env: { TESSERA_PRESENCE_TIMEOUT_SECONDS: String(TIMEOUT_S) } });
}

describe('presence across nodes: a heartbeat on node A reaches a stream on node B', () => {
  let owner: TesseraClient;
  let accountId: string;

  before(async () => {
    const database = await createServerDatabase();
    cleanups.push(database.drop);
    databaseUrl = database.url;
    nodeA = await startNode('a');
    nodeB = await startNode('b');
    owner = nodeA.client();
    const registered = await owner.register({
      name: 'Olivia Owner',
      email: `presence.${process.pid}.${randomBytes(3).toString('hex')}@example.test`,
      password: PASSWORD,
      companyName: 'Two Nodes Ltd',
      country: 'DE',
    });
    accountId = registered.account.id;
  });

  test('online, away, silent, revoked and removed, each seen on the other node', async (t) => {
    const ada = await owner.addTeamMember(accountId, { name: 'Ada' });
    const bob = await owner.addTeamMember(accountId, { name: 'Bob' });
    const adaOnA = new TesseraDesktopClient({ baseUrl: nodeA.url });
    await adaOnA.signInWithLoginToken(ada.firstToken.secret);
    const bobOnB = new TesseraDesktopClient({ baseUrl: nodeB.url });
    await bobOnB.signInWithLoginToken(bob.firstToken.secret);

    const events: Array<{ at: number; event: PresenceStreamEvent }> = [];
    const stop = new AbortController();
    const watching = bobOnB.watchPresence((event) => events.push({ at: performance.now(), event }), stop.signal);
    const waitFor = async (what: string, check: (e: PresenceStreamEvent) => boolean, since: number, ms = 8000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.find((e) => e.at >= since && check(e.event));
        if (found) return found.at - since;
        if (Date.now() > deadline) assert.fail(`node B's stream showed no ${what}: ${JSON.stringify(events.map((e) => e.event))}\n${nodeA.output()}\n${nodeB.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const is = (state: string, name = 'Ada') => (e: PresenceStreamEvent) => e.type === 'presence' && e.member.name === name && e.member.state === state;
    try {
      await waitFor('snapshot', (e) => e.type === 'snapshot', 0);

      let sent = performance.now();
      await adaOnA.heartbeat('online');
      t.diagnostic(`online on A → B's stream: ${(await waitFor('Ada online', is('online'), sent)).toFixed(1)} ms`);
      sent = performance.now();
      await adaOnA.heartbeat('away');
      t.diagnostic(`away on A → B's stream: ${(await waitFor('Ada away', is('away'), sent)).toFixed(1)} ms`);

      // silent: node B derives offline once the timeout has passed (nobody writes or announces it)
      sent = performance.now();
      const silence = await waitFor('Ada offline by timeout', is('offline'), sent, (TIMEOUT_S + 5) * 1000);
      assert.ok(silence >= (TIMEOUT_S - 1) * 1000, `offline came after the timeout, not before (${silence.toFixed(0)} ms)`);

      await adaOnA.heartbeat('online');
      await waitFor('Ada back online', is('online'), sent + silence);
      sent = performance.now();
      await owner.revokeLoginToken(accountId, ada.member.id, ada.firstToken.token.id);
      t.diagnostic(`revoked on A → offline on B's stream: ${(await waitFor('Ada offline after the revocation', is('offline'), sent)).toFixed(1)} ms`);

      sent = performance.now();
      await owner.removeTeamMember(accountId, ada.member.id);
      await waitFor('Ada removed', (e) => e.type === 'removed' && e.memberId === ada.member.id, sent);
    } finally {
      stop.abort();
      await watching;
    }
  });
});
