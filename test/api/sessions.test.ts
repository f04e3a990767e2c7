import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import { parseConfig } from '../../src/server/config.ts';
import { openDatabase, type Database } from '../../src/server/db/database.ts';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { BACKENDS } from '../support/databases.ts';
import { injectFetch, registerPerson, startTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.ts';

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof TesseraError) return error.status;
    throw error;
  }
}

for (const backend of BACKENDS) {
  describe(`portal sessions (${backend})`, () => {
    let t: TestApp;
    /** A second node: its own app (and, on PostgreSQL, its own pool and listener) on the same data. */
    let node2: FastifyInstance;
    let node2Database: Database | null = null;
    const secret = randomBytes(32);

    before(async () => {
      t = await startTestApp(backend);
      node2Database = t.db.url ? await openDatabase({ url: t.db.url, dataDir: 'memory://', poolSize: 2 }) : null;
      node2 = await buildApp({
        config: parseConfig({ logLevel: 'silent', webDir: '', sessionCacheSeconds: 60 }),
        database: node2Database ?? t.db.database,
        secret,
        clock: t.clock,
      });
      await node2.ready();
    });
    after(async () => {
      await node2.close();
      await node2Database?.close();
      await t.close();
    });

    it('ends a session on every node at once when it signs out, despite a long cache lifetime', async () => {
      const { email } = await registerPerson(t);
      const node2Fetch = injectFetch(node2);
      let cookie = '';
      const withCookie: typeof fetch = (input, init) =>
        node2Fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie } });
      // sign in on node 1 through a raw exchange so the same cookie can be replayed on node 2
      const csrf = await t.app.inject({ method: 'GET', url: '/api/v1/auth/csrf' });
      const csrfCookie = String(csrf.headers['set-cookie']).split(';')[0]!;
      const signIn = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        headers: { cookie: csrfCookie, 'x-csrf-token': (csrf.json() as { csrfToken: string }).csrfToken },
        payload: { email, password: STRONG_PASSWORD },
      });
      const sessionCookie = ([] as string[]).concat(signIn.headers['set-cookie'] ?? []).find((c) => c.startsWith('tessera_session='))!.split(';')[0]!;
      cookie = sessionCookie;
      const node2Client = new TesseraClient({ baseUrl: 'http://tessera.test', fetch: withCookie });
      assert.equal(await status(node2Client.me()), 200, 'node 2 resolves and caches the session');
      const signOut = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-out',
        headers: { cookie: `${sessionCookie}; ${csrfCookie}`, 'x-csrf-token': (signIn.json() as { csrfToken: string }).csrfToken },
      });
      assert.equal(signOut.statusCode, 204, signOut.body);
      const started = Date.now();
      let seen = 200;
      while (Date.now() - started < 2000 && seen === 200) {
        seen = await status(node2Client.me());
        if (seen === 200) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(seen, 401, 'node 2 forgot the session within 2 s though it caches for 60 s');
    });

    it('expires a session after its idle time and after its maximum age', async () => {
      const { client, email } = await registerPerson(t);
      t.clock.advance(6 * 24 * 3600_000);
      assert.equal(await status(client.me()), 200, 'six idle days are within the week');
      t.clock.advance(6 * 24 * 3600_000);
      assert.equal(await status(client.me()), 200, 'use renewed the idle time');
      t.clock.advance(8 * 24 * 3600_000);
      assert.equal(await status(client.me()), 401, 'eight idle days end it');
      const active = t.client();
      await active.signIn({ email, password: STRONG_PASSWORD });
      for (let day = 0; day < 30; day += 5) {
        t.clock.advance(5 * 24 * 3600_000);
        await active.me().catch(() => {});
      }
      t.clock.advance(3600_000);
      assert.equal(await status(active.me()), 401, 'thirty days is the most a session lives, however busy');
    });
  });
}
