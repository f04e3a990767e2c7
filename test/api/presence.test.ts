import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { PRESENCE_CHANNEL } from '../../src/server/domain/presence/presence.ts';
import type { PresenceStreamEvent } from '../../src/shared/presence.ts';
import { injectFetch, registerPerson, startTestApp, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';

/**
 * Presence: heartbeats make a member online or away, silence makes them offline once the timeout
 * has passed (derived from the clock, nothing written), one row per member written only when
 * something changed or the stored time grew old, changes streamed, and a revoked session or a
 * removed member leaves at once.
 */

const TIMEOUT_S = 30;

for (const backend of BACKENDS) {
  describe(`presence (${backend})`, () => {
    let t: TestApp;
    let signals: string[] = [];
    before(async () => {
      t = await startTestApp(backend, { presenceTimeoutSeconds: TIMEOUT_S });
      await t.db.database.listen(PRESENCE_CHANNEL, (payload) => signals.push(payload));
    });
    after(() => t.close());

    const desktop = () => new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app) });

    /** An account with two members signed in on their desktops. */
    async function team() {
      const owner = await registerPerson(t, { companyName: 'Present Ltd' });
      const accountId = owner.account.id;
      const ada = await owner.client.addTeamMember(accountId, { name: 'Ada' });
      const bob = await owner.client.addTeamMember(accountId, { name: 'Bob' });
      const adaDesk = desktop();
      await adaDesk.signInWithLoginToken(ada.firstToken.secret);
      const bobDesk = desktop();
      await bobDesk.signInWithLoginToken(bob.firstToken.secret);
      return { owner, accountId, ada, bob, adaDesk, bobDesk };
    }
    const states = (items: Array<{ name: string; state: string }>) => Object.fromEntries(items.map((m) => [m.name, m.state]));
    const rowOf = (accountId: string, memberId: string) =>
      t.db.database.db.selectFrom('member_presence').selectAll().where('account_id', '=', accountId).where('member_id', '=', memberId).execute();

    it('shows a heartbeat to teammates and to the portal: online, away, then offline when the client quits', async () => {
      const { owner, accountId, adaDesk, bobDesk } = await team();
      assert.deepEqual(states((await bobDesk.presence()).items), { Ada: 'offline', Bob: 'offline' }, 'nobody has sent a heartbeat');
      const answer = await adaDesk.heartbeat('online');
      assert.deepEqual(answer, { state: 'online', heartbeatSeconds: Math.floor(TIMEOUT_S / 4), timeoutSeconds: TIMEOUT_S });
      assert.deepEqual(states((await bobDesk.presence()).items), { Ada: 'online', Bob: 'offline' });
      await adaDesk.heartbeat('away');
      const portal = await owner.client.listPresence(accountId);
      assert.deepEqual(states(portal.items), { Ada: 'away', Bob: 'offline' });
      assert.equal(portal.items.find((m) => m.name === 'Ada')!.lastSeenAt, t.clock.now().toISOString());
      await adaDesk.heartbeat('offline');
      assert.deepEqual(states((await owner.client.listPresence(accountId)).items), { Ada: 'offline', Bob: 'offline' });
    });

    it('derives offline from the clock when heartbeats stop, writing nothing', async () => {
      const { accountId, ada, adaDesk, bobDesk } = await team();
      await adaDesk.heartbeat('online');
      const written = await rowOf(accountId, ada.member.id);
      t.clock.advance(TIMEOUT_S * 1000 - 1000);
      assert.equal(states((await bobDesk.presence()).items).Ada, 'online', 'within the timeout');
      t.clock.advance(2000);
      const after = (await bobDesk.presence()).items.find((m) => m.name === 'Ada')!;
      assert.equal(after.state, 'offline', 'past the timeout');
      assert.equal(after.lastSeenAt, written[0]!.last_seen_at.toISOString(), 'last seen stays the last heartbeat');
      assert.deepEqual(await rowOf(accountId, ada.member.id), written, 'no write made it offline');
    });

    it('keeps one row per member and writes a heartbeat only when something changed or the stored time grew old', async () => {
      const { accountId, ada, adaDesk } = await team();
      signals = [];
      await adaDesk.heartbeat('online');
      const first = await rowOf(accountId, ada.member.id);
      for (let i = 0; i < 20; i += 1) {
        t.clock.advance(100);
        await adaDesk.heartbeat('online');
      }
      assert.deepEqual(await rowOf(accountId, ada.member.id), first, '20 heartbeats within the granularity wrote nothing');
      t.clock.advance((TIMEOUT_S * 1000) / 3);
      await adaDesk.heartbeat('online');
      const refreshed = await rowOf(accountId, ada.member.id);
      assert.equal(refreshed.length, 1, 'still one row');
      assert.equal(refreshed[0]!.last_seen_at.toISOString(), t.clock.now().toISOString(), 'the stored time moves on once it is a third of the timeout old');
      assert.equal(refreshed[0]!.changed_at.toISOString(), first[0]!.changed_at.toISOString(), 'the state did not change');
      await adaDesk.heartbeat('away');
      await new Promise((r) => setTimeout(r, 50));
      const mine = signals.map((s) => JSON.parse(s)).filter((s) => s.m === ada.member.id);
      assert.deepEqual(mine.map((s) => s.s), ['online', 'away'], 'one announcement per change, none for repeats');
      const rows = await t.db.database.db.selectFrom('member_presence').select('member_id').where('account_id', '=', accountId).execute();
      assert.equal(rows.length, 1, 'one row for the one member who sent heartbeats');
    });

    it('makes a member offline at once when their session is revoked, and drops a removed member', async () => {
      const { owner, accountId, ada, bob, adaDesk, bobDesk } = await team();
      await adaDesk.heartbeat('online');
      await bobDesk.heartbeat('online');
      await owner.client.revokeLoginToken(accountId, ada.member.id, ada.firstToken.token.id);
      assert.deepEqual(states((await owner.client.listPresence(accountId)).items), { Ada: 'offline', Bob: 'online' });
      await owner.client.removeTeamMember(accountId, bob.member.id);
      assert.deepEqual(states((await owner.client.listPresence(accountId)).items), { Ada: 'offline' });
      assert.deepEqual(await rowOf(accountId, bob.member.id), [], 'the removed member leaves no row');
    });

    it('refuses a heartbeat of a session ended a moment ago on another node, before this node has heard of it: no write, no announcement', async () => {
      const { owner, accountId, ada, bob, adaDesk, bobDesk } = await team();
      await adaDesk.heartbeat('online');
      await bobDesk.heartbeat('online');
      // what another node's revocation and removal commit, without the notification that would
      // drop this node's cached access tokens: the window between commit and NOTIFY
      const db = t.db.database.db;
      await db.updateTable('client_sessions').set({ revoked_at: t.clock.now(), revoked_reason: 'revoked elsewhere' }).where('account_id', '=', accountId).where('member_id', '=', ada.member.id).execute();
      await db.deleteFrom('team_members').where('account_id', '=', accountId).where('id', '=', bob.member.id).execute();
      signals = [];
      t.clock.advance(1000);
      for (const [desk, state] of [[adaDesk, 'away'], [bobDesk, 'away']] as const) {
        // the cached token still authenticates the request; the heartbeat itself refuses
        const refused = await desk.heartbeat(state).then(() => null, (error: unknown) => error as { status?: number });
        assert.equal(refused?.status, 401, 'a 401, never a 500 (a removed member) nor an accepted heartbeat');
      }
      assert.deepEqual(signals, [], 'nothing announced');
      assert.deepEqual(states((await owner.client.listPresence(accountId)).items), { Ada: 'offline' });
      assert.equal((await rowOf(accountId, ada.member.id))[0]?.state, 'online', 'the stored row is as it was (shown offline: its session ended)');
    });

    it('streams a snapshot, then each change, including offline by timeout, to a client; drops members as they go', async () => {
      // an app of its own with the shortest timeout, listening on a socket: the stream is real HTTP
      const s = await startTestApp(backend, { presenceTimeoutSeconds: 3 });
      await s.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
      const owner = await registerPerson(s, { companyName: 'Streaming Ltd' });
      const accountId = owner.account.id;
      const ada = await owner.client.addTeamMember(accountId, { name: 'Ada' });
      const bob = await owner.client.addTeamMember(accountId, { name: 'Bob' });
      const adaDesk = new TesseraDesktopClient({ baseUrl: url });
      await adaDesk.signInWithLoginToken(ada.firstToken.secret);
      const bobDesk = new TesseraDesktopClient({ baseUrl: url });
      await bobDesk.signInWithLoginToken(bob.firstToken.secret);
      const events: PresenceStreamEvent[] = [];
      const stop = new AbortController();
      const watching = bobDesk.watchPresence((event) => events.push(event), stop.signal);
      const waitFor = async (what: string, check: (e: PresenceStreamEvent) => boolean, ms = 6000) => {
        const deadline = Date.now() + ms;
        while (!events.some(check)) {
          if (Date.now() > deadline) assert.fail(`no ${what} in ${JSON.stringify(events)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        events.splice(0, events.findIndex(check) + 1);
      };
      const is = (name: string, state: string) => (e: PresenceStreamEvent) => e.type === 'presence' && e.member.name === name && e.member.state === state;
      try {
        await waitFor('the snapshot', (e) => e.type === 'snapshot' && e.items.length === 2 && e.timeoutSeconds === 3);
        await adaDesk.heartbeat('online');
        await waitFor('Ada online', is('Ada', 'online'));
        await adaDesk.heartbeat('away');
        await waitFor('Ada away', is('Ada', 'away'));

        // Ada's client goes silent: offline once the timeout has passed, with no heartbeat to announce it
        s.clock.advance(3500);
        await waitFor('Ada offline by timeout', is('Ada', 'offline'));
        assert.equal(await s.db.database.db.selectFrom('member_presence').select('state').where('member_id', '=', ada.member.id).executeTakeFirstOrThrow().then((r) => r.state), 'away', 'nothing was written to say so');

        await adaDesk.heartbeat('online');
        await waitFor('Ada back online', is('Ada', 'online'));
        await owner.client.revokeLoginToken(accountId, ada.member.id, ada.firstToken.token.id);
        await waitFor('Ada offline at once when her session is revoked', is('Ada', 'offline'));

        const cara = await owner.client.addTeamMember(accountId, { name: 'Cara' });
        const caraDesk = new TesseraDesktopClient({ baseUrl: url });
        await caraDesk.signInWithLoginToken(cara.firstToken.secret);
        await caraDesk.heartbeat('online');
        await waitFor('a member added since, online', is('Cara', 'online'));
        await owner.client.removeTeamMember(accountId, cara.member.id);
        await waitFor('the removed member', (e) => e.type === 'removed' && e.memberId === cara.member.id);
      } finally {
        stop.abort();
        await watching;
        await s.close();
      }
    });
  });
}
