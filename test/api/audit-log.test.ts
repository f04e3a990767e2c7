import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { TesseraClient, type AuditEvent } from '../../src/client/sdk.ts';
import { EXPORT_BATCH } from '../../src/server/domain/audit/export.ts';
import { pruneAuditLog, PRUNE_BATCH, PRUNE_LOCK_KEY } from '../../src/server/domain/audit/retention.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';

/**
 * The audit log an owner reads: every change newest first, searched by actor, action, target and
 * time, paged by keyset, exported as CSV or JSON Lines in full, and pruned past its retention.
 */

let addresses = 0;
const nextIp = () => `198.51.100.${++addresses}`;

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** Every page of a search, followed to the end. */
async function allPages(client: TesseraClient, accountId: string, query: Parameters<TesseraClient['searchAuditEvents']>[1] = {}): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.searchAuditEvents(accountId, { ...query, cursor });
    events.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return events;
}

for (const backend of BACKENDS) {
  describe(`audit log (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    /** Writes `count` synthetic events for the account, one millisecond apart, ending `endAt`. */
    async function seedEvents(accountId: string, count: number, endAt: Date, action = 'device.updated'): Promise<void> {
      for (let start = 0; start < count; start += 1000) {
        const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
          account_id: accountId,
          id: uuidv7(),
          occurred_at: new Date(endAt.getTime() - (start + i) * 1),
          actor_type: 'system' as const,
          actor_id: null,
          action,
          target_type: 'device',
          target_id: `seeded-${start + i}`,
          before: null,
          after: null,
          client_address: null,
          user_agent: null,
          request_id: null,
        }));
        await t.db.database.db.insertInto('audit_events').values(rows).execute();
      }
    }

    it('records who changed what from where, newest first, with the actor named', async () => {
      const owner = await registerPerson(t, { name: 'Grace Hopper', ip: nextIp() });
      const accountId = owner.account.id;
      const organization = await owner.client.createOrganization(accountId, { name: 'North' });
      await owner.client.updateOrganization(accountId, organization.id, { name: 'North Clinic' });
      const issued = await owner.client.createAccessKey(accountId, { name: 'Provisioner', role: 'manager' });
      const keyClient = new TesseraClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextIp()), accessKey: issued.secret });
      const device = await keyClient.createDevice(accountId, organization.id, { name: 'Scanner 1', kind: 'scanner', identifier: 'SN-1' });

      const page = await owner.client.searchAuditEvents(accountId);
      assert.deepEqual(
        page.items.map((e) => e.action),
        ['device.created', 'access_key.created', 'organization.updated', 'organization.created', 'membership.created', 'account.created'],
      );
      const [created, , renamed] = page.items;
      assert.deepEqual(created!.actor, { type: 'access_key', id: issued.key.id, name: 'Provisioner' });
      assert.deepEqual(created!.target, { type: 'device', id: device.id });
      assert.deepEqual(renamed!.actor, { type: 'user', id: owner.user.id, name: 'Grace Hopper' });
      assert.deepEqual(renamed!.target, { type: 'organization', id: organization.id });
      assert.equal((renamed!.before as { name: string }).name, 'North');
      assert.equal((renamed!.after as { name: string }).name, 'North Clinic');
      assert.equal(renamed!.userAgent, 'tessera-tests/1');
      assert.ok(renamed!.clientAddress, 'the address the change came from');
      assert.ok(renamed!.requestId);
      assert.equal(page.nextCursor, null);
    });

    it('searches by actor, action (exact, several, or a whole noun), target and time range', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      const north = await owner.client.createOrganization(accountId, { name: 'North' });
      const south = await owner.client.createOrganization(accountId, { name: 'South' });
      t.clock.advance(60_000);
      const betweenAt = t.clock.now().toISOString();
      t.clock.advance(60_000);
      const device = await owner.client.createDevice(accountId, north.id, { name: 'D1', kind: 'scanner', identifier: 'SN-D1' });
      await owner.client.updateDevice(accountId, device.id, { name: 'D1 renamed' });
      const issued = await owner.client.createAccessKey(accountId, { name: 'Reader', role: 'manager' });
      const keyClient = new TesseraClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextIp()), accessKey: issued.secret });
      await keyClient.updateOrganization(accountId, south.id, { description: 'by key' });

      const actions = async (query: Parameters<TesseraClient['searchAuditEvents']>[1]) => (await allPages(owner.client, accountId, query)).map((e) => e.action);
      assert.deepEqual(await actions({ action: 'device.updated' }), ['device.updated']);
      assert.deepEqual(await actions({ action: 'device.*' }), ['device.updated', 'device.created']);
      assert.deepEqual(await actions({ action: 'organization.created, device.updated' }), ['device.updated', 'organization.created', 'organization.created']);
      assert.deepEqual(await actions({ actorType: 'access_key' }), ['organization.updated']);
      assert.deepEqual(await actions({ actorId: issued.key.id }), ['organization.updated']);
      assert.deepEqual(await actions({ actorId: owner.user.id, action: 'organization.*' }), ['organization.created', 'organization.created']);
      assert.deepEqual(await actions({ targetType: 'device', targetId: device.id }), ['device.updated', 'device.created']);
      assert.deepEqual(await actions({ targetId: south.id }), ['organization.updated', 'organization.created']);
      assert.deepEqual(await actions({ to: betweenAt }), ['organization.created', 'organization.created', 'membership.created', 'account.created']);
      assert.deepEqual(await actions({ from: betweenAt, action: 'device.*,access_key.*' }), ['access_key.created', 'device.updated', 'device.created']);
      const nextYear = new Date(t.clock.now().getTime() + 365 * 86_400_000).toISOString().replace('Z', '+00:00');
      assert.deepEqual(await actions({ from: betweenAt, to: nextYear }), ['organization.updated', 'access_key.created', 'device.updated', 'device.created']);
    });

    it('pages by keyset: every event once, in order, whatever the page size', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      // several events in one millisecond: the id breaks the tie, so none is skipped or repeated
      const at = new Date(t.clock.now().getTime() - 3600_000);
      await seedEvents(accountId, 250, at);
      await t.db.database.db
        .insertInto('audit_events')
        .values(Array.from({ length: 7 }, (_, i) => ({ account_id: accountId, id: uuidv7(), occurred_at: at, actor_type: 'system' as const, actor_id: null, action: 'device.deleted', target_type: 'device', target_id: `tie-${i}`, before: null, after: null, client_address: null, user_agent: null, request_id: null })))
        .execute();
      const expected = await t.db.database.db
        .selectFrom('audit_events')
        .select('id')
        .where('account_id', '=', accountId)
        .orderBy('occurred_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      for (const limit of [1, 7, 50, 200]) {
        if (limit === 1) {
          const first = await owner.client.searchAuditEvents(accountId, { limit });
          assert.equal(first.items.length, 1);
          assert.ok(first.nextCursor);
          continue;
        }
        const events = await allPages(owner.client, accountId, { limit });
        assert.deepEqual(events.map((e) => e.id), expected.map((r) => r.id), `page size ${limit}`);
      }
    });

    it('refuses bad filters with a problem naming the field, and another account with 404', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const other = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      const fieldsOf = async (query: Record<string, string>) => {
        const problem = await problemOf(owner.client.searchAuditEvents(accountId, query as never));
        assert.equal(problem.status, 400);
        return problem.fieldErrors.map((e) => [e.field, e.code]);
      };
      assert.deepEqual(await fieldsOf({ action: 'device.exploded' }), [['query.action', 'unknown_action']]);
      assert.deepEqual(await fieldsOf({ action: 'nothing.*' }), [['query.action', 'unknown_action']]);
      assert.deepEqual(await fieldsOf({ from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }), [['query.to', 'range_reversed']]);
      assert.deepEqual((await fieldsOf({ from: 'yesterday' }))[0]?.[0], 'query.from');
      assert.deepEqual((await fieldsOf({ actorId: 'me' }))[0]?.[0], 'query.actorId');
      assert.deepEqual((await fieldsOf({ limit: '201' }))[0]?.[0], 'query.limit');
      assert.deepEqual(await fieldsOf({ cursor: 'bm90LWEtY3Vyc29y' }), [['query.cursor', 'invalid_cursor']]);
      assert.deepEqual(await fieldsOf({ cursor: Buffer.from(JSON.stringify(['not a date', 'x'])).toString('base64url') }), [['query.cursor', 'invalid_cursor']]);
      const foreign = await problemOf(other.client.searchAuditEvents(accountId));
      assert.equal(foreign.status, 404);
      const foreignExport = await problemOf(other.client.exportAuditEvents(accountId));
      assert.equal(foreignExport.status, 404);
    });

    it('exports the same events as the search, as CSV and as JSON Lines, in batches, with formulas defused', async () => {
      const owner = await registerPerson(t, { ip: nextIp(), name: '=HYPERLINK("http://evil.test")' });
      const accountId = owner.account.id;
      await owner.client.updateAccount(accountId, { companyName: '+Injected, "quoted"\nnext line' });
      // more than one export batch, and one search filter's worth of seeded events
      await seedEvents(accountId, EXPORT_BATCH + 321, new Date(t.clock.now().getTime() - 3600_000));
      const searched = await allPages(owner.client, accountId, { limit: 200 });
      assert.equal(searched.length, EXPORT_BATCH + 321 + 3, 'seeded, the update, and the registration (account and membership)');

      const jsonl = await text(await owner.client.exportAuditEvents(accountId, { format: 'jsonl' }));
      const lines = jsonl.trimEnd().split('\n');
      assert.deepEqual(lines.map((line) => JSON.parse(line) as AuditEvent), searched);

      const csv = await text(await owner.client.exportAuditEvents(accountId, { format: 'csv' }));
      const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
      assert.deepEqual(records.map((r) => r.id), searched.map((e) => e.id));
      const updated = records.find((r) => r.action === 'account.updated')!;
      assert.equal(updated.actor_name, `'=HYPERLINK("http://evil.test")`, 'a formula in a name is quoted as text');
      assert.equal(JSON.parse(updated.after!).companyName, '+Injected, "quoted"\nnext line', 'JSON cells survive commas, quotes and newlines');
      assert.deepEqual(Object.keys(records[0]!), ['occurred_at', 'action', 'actor_type', 'actor_id', 'actor_name', 'target_type', 'target_id', 'client_address', 'user_agent', 'request_id', 'before', 'after', 'id']);

      const filtered = await text(await owner.client.exportAuditEvents(accountId, { format: 'jsonl', action: 'account.*' }));
      assert.deepEqual(filtered.trimEnd().split('\n').map((l) => (JSON.parse(l) as AuditEvent).action), ['account.updated', 'account.created']);

      // what a browser's download gets: the type, a file name, and nothing cached
      let headers = new Headers();
      const inject = injectFetch(t.app, nextIp());
      const recording = new TesseraClient({
        baseUrl: 'http://tessera.test',
        cookieJar: true,
        fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
          const response = await inject(input as string, init);
          headers = response.headers;
          return response;
        }) as typeof fetch,
      });
      await recording.signIn({ email: owner.email, password: STRONG_PASSWORD });
      await text(await recording.exportAuditEvents(accountId));
      assert.equal(headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.equal(headers.get('cache-control'), 'no-store');
      assert.match(headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="audit-${accountId}-\\d{8}T\\d{6}Z\\.csv"$`));
    });

    it('leaves out of an export what happens after it began', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const accountId = owner.account.id;
      await seedEvents(accountId, EXPORT_BATCH * 2, new Date(t.clock.now().getTime() - 3600_000));
      const stream = await owner.client.exportAuditEvents(accountId, { format: 'jsonl' });
      const reader = stream.getReader();
      const first = await reader.read();
      assert.equal(first.done, false);
      t.clock.advance(1000);
      await owner.client.updateAccount(accountId, { companyName: 'Changed during the export' });
      let rest = Buffer.from(first.value!).toString();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
      const actions = rest.trimEnd().split('\n').map((l) => (JSON.parse(l) as AuditEvent).action);
      assert.equal(actions.length, EXPORT_BATCH * 2 + 2, 'seeded and the registration');
      assert.ok(!actions.includes('account.updated'));
    });

    it('prunes events past the retention, in batches, account by account, and personal events too', async () => {
      const owner = await registerPerson(t, { ip: nextIp() });
      const other = await registerPerson(t, { ip: nextIp() });
      const now = t.clock.now();
      const cutoff = new Date(now.getTime() - 30 * 86_400_000);
      const old = new Date(cutoff.getTime() - 1);
      await seedEvents(owner.account.id, PRUNE_BATCH + 10, old);
      await seedEvents(other.account.id, 3, old);
      const personal = { user_id: owner.user.id, id: uuidv7(), occurred_at: old, action: 'user.signed_in', before: null, after: null, client_address: null, user_agent: null, request_id: null };
      await t.db.database.db.insertInto('user_audit_events').values(personal).execute();
      const before = await counts(owner.account.id, owner.user.id);

      const result = await pruneAuditLog(t.db.database, cutoff);
      assert.ok(result.completed);
      // other tests' accounts share this database: count only this test's rows
      const afterOwner = await counts(owner.account.id, owner.user.id);
      assert.equal(before.account - afterOwner.account, PRUNE_BATCH + 10);
      assert.equal(afterOwner.account, 2, 'the recent account.created and membership.created stay');
      assert.equal((await counts(other.account.id, other.user.id)).account, 2);
      assert.equal(before.user - afterOwner.user, 1, 'the old sign-in is gone');
      assert.ok(afterOwner.user >= 1, 'the recent registration stays');
      assert.ok(result.accountEvents >= PRUNE_BATCH + 13);
    });

    if (backend === 'postgres') {
      it('gives way when another node is pruning at the same moment', async () => {
        const owner = await registerPerson(t, { ip: nextIp() });
        await seedEvents(owner.account.id, 5, new Date(t.clock.now().getTime() - 400 * 86_400_000));
        const cutoff = new Date(t.clock.now().getTime() - 365 * 86_400_000);
        // another node's prune: a transaction holding the same advisory lock
        await t.db.database.db.transaction().execute(async (tx) => {
          await sql`select pg_advisory_xact_lock(${PRUNE_LOCK_KEY})`.execute(tx);
          const result = await pruneAuditLog(t.db.database, cutoff);
          assert.equal(result.completed, false);
          assert.equal(result.accountEvents, 0);
        });
        assert.equal((await counts(owner.account.id, owner.user.id)).account, 7, 'nothing deleted while the other node held the lock');
        assert.equal((await pruneAuditLog(t.db.database, cutoff)).completed, true);
        assert.equal((await counts(owner.account.id, owner.user.id)).account, 2, 'pruned once the lock is free');
      });
    }

    async function counts(accountId: string, userId: string): Promise<{ account: number; user: number }> {
      const db = t.db.database.db;
      const account = await db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
      const user = await db.selectFrom('user_audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
      return { account: Number(account.n), user: Number(user.n) };
    }
  });
}
