import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { buildApp } from '../../src/server/app.ts';
import { generateSecret } from '../../src/server/auth/secrets.ts';
import { ACCESS_KEY_RULE } from '../../src/server/auth/key-authentication.ts';
import { parseConfig } from '../../src/server/config.ts';
import { openDatabase, type Database } from '../../src/server/db/database.ts';
import { injectFetch, problemOf, registerPerson, startTestApp, uniqueEmail, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';
import { Caller } from '../support/caller.ts';

/**
 * Access keys: made and revoked by owners in person, shown once, stored as a hash, acting with
 * their role inside their scope on /api/v1, refused everywhere at once when revoked or expired,
 * and guarded against guessing.
 */

const KEY_FORMAT = /^tsr_ak_[A-Za-z0-9_-]{43}_[A-Za-z0-9_-]{6}$/;

let addresses = 0;
const nextIp = () => `203.0.113.${++addresses}`;

for (const backend of BACKENDS) {
  describe(`access keys (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      // a cache lifetime far longer than any test: what drops a cached key is the notification
      t = await startTestApp(backend, { sessionCacheSeconds: 3600 });
    });
    after(() => t.close());

    /** An SDK client that authenticates with `secret`, from an address of its own. */
    const withKey = (secret: string, ip = nextIp(), app: FastifyInstance = t.app) =>
      new TesseraClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(app, ip), accessKey: secret, userAgent: 'tessera-key-tests/1' });

    async function ownerWithOrganizations() {
      const owner = await registerPerson(t, { companyName: 'Keyed Ltd', ip: nextIp() });
      const accountId = owner.account.id;
      const a = await owner.client.createOrganization(accountId, { name: 'A' });
      const b = await owner.client.createOrganization(accountId, { name: 'B' });
      return { owner, accountId, a, b };
    }

    it('shows a new key once: 256 random bits with a checksum, stored only as its SHA-256, listed without its secret, audited', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const issued = await owner.client.createAccessKey(accountId, { name: 'Exporter', role: 'viewer' });
      const other = await owner.client.createAccessKey(accountId, { name: 'Importer', role: 'viewer' });
      assert.match(issued.secret, KEY_FORMAT);
      assert.equal(Buffer.from(issued.secret.slice(7, 50), 'base64url').length, 32, '256 bits of randomness');
      assert.notEqual(issued.secret.slice(7, 50), other.secret.slice(7, 50));
      assert.ok(issued.secret.startsWith(issued.key.prefix) && issued.key.prefix.length === 11);
      assert.deepEqual(issued.key.grant, { role: 'viewer', scope: 'account', scopeId: null, scopeName: null });

      const row = await t.db.database.db.selectFrom('access_keys').selectAll().where('id', '=', issued.key.id).executeTakeFirstOrThrow();
      assert.deepEqual(Buffer.from(row.secret_hash), createHash('sha256').update(issued.secret).digest());
      assert.ok(!JSON.stringify(row).includes(issued.secret.slice(11)), 'no column holds the secret');

      const listed = await owner.client.listAccessKeys(accountId);
      assert.deepEqual(listed.map((k) => k.name), ['Importer', 'Exporter']);
      assert.ok(!JSON.stringify(listed).includes(issued.secret.slice(11)), 'the list never shows a secret');
      assert.equal(listed[1]!.createdBy?.id, owner.user.id);

      const audit = await t.db.database.db.selectFrom('audit_events').selectAll().where('account_id', '=', accountId).where('action', '=', 'access_key.created').execute();
      assert.equal(audit.length, 2);
      assert.ok(!JSON.stringify(audit).includes(issued.secret.slice(11)), 'nor does the audit record');
    });

    it('acts with its role inside its scope, and its changes are audited as the key', async () => {
      const { owner, accountId, a, b } = await ownerWithOrganizations();
      const viewer = withKey((await owner.client.createAccessKey(accountId, { name: 'Viewer of A', role: 'viewer', organizationId: a.id })).secret);
      assert.deepEqual((await viewer.listOrganizations(accountId)).items.map((o) => o.name), ['A']);
      assert.deepEqual((await viewer.listDevices(accountId, a.id)).items, []);
      assert.equal((await problemOf(viewer.createDevice(accountId, a.id, { name: 'No', kind: 'usb', identifier: 'NO-1' }))).status, 403);
      assert.equal((await problemOf(viewer.listDevices(accountId, b.id))).status, 404, 'B is out of reach');
      assert.equal((await problemOf(viewer.getTeam(accountId))).status, 403);

      const manager = await owner.client.createAccessKey(accountId, { name: 'Manager of A', role: 'manager', organizationId: a.id });
      const device = await withKey(manager.secret, '198.51.100.7').createDevice(accountId, a.id, { name: 'By a program', kind: 'usb', identifier: 'KEY-1' });
      const event = await t.db.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('target_id', '=', device.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual([event.action, event.actor_type, event.actor_id, event.client_address, event.user_agent], ['device.created', 'access_key', manager.key.id, '198.51.100.7', 'tessera-key-tests/1']);

      const ownerKey = withKey((await owner.client.createAccessKey(accountId, { name: 'Owner', role: 'owner' })).secret);
      assert.equal((await ownerKey.updateAccount(accountId, { companyName: 'Keyed Group' })).companyName, 'Keyed Group');
      await ownerKey.createInvitation(accountId, { email: uniqueEmail('by-key'), role: 'viewer' });
    });

    it('never makes, lists or revokes keys, and never acts as a person', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const issued = await owner.client.createAccessKey(accountId, { name: 'Owner', role: 'owner' });
      const key = withKey(issued.secret);
      for (const call of [
        () => key.listAccessKeys(accountId),
        () => key.createAccessKey(accountId, { name: 'Minted', role: 'owner' }),
        () => key.revokeAccessKey(accountId, issued.key.id),
        () => key.me(),
        () => key.createAccount({ companyName: 'By a key', country: 'DE' }),
        () => key.transferOwnership(accountId, owner.user.id),
      ]) {
        const refused = await problemOf(call());
        assert.equal(refused.status, 403, refused.problem.detail);
        assert.match(refused.problem.detail ?? '', /Access keys cannot do this/);
      }
      assert.deepEqual((await owner.client.listAccessKeys(accountId)).map((k) => k.name), ['Owner'], 'nothing was minted or revoked');
    });

    it('needs no CSRF token, and a request with a key never uses the session cookie it also carries', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const issued = await owner.client.createAccessKey(accountId, { name: 'Writer', role: 'manager' });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${issued.secret}` };
      const created = await t.app.inject({ method: 'POST', url: `/api/v1/accounts/${accountId}/organizations`, headers, payload: JSON.stringify({ name: 'No CSRF' }) });
      assert.equal(created.statusCode, 201, created.body);
      // the owner's own session cookie, with a bearer that is no key: refused, not signed in by the cookie
      const person = await new Caller(t).signIn(owner.email);
      assert.equal((await person.call('GET', '/api/v1/me')).status, 200, 'the cookie alone signs in');
      const mixed = await person.call('GET', '/api/v1/me', { bearer: 'not-a-key' });
      assert.equal(mixed.status, 401);
      assert.equal(mixed.body.type, '/api/v1/problems/unauthenticated');
      const keyAndCookie = await person.call('GET', '/api/v1/me', { bearer: issued.secret });
      assert.equal(keyAndCookie.status, 403, 'with a key, the request is the key: /me is for people');
    });

    it('stops at once when revoked, on this node and on another node sharing the database', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const issued = await owner.client.createAccessKey(accountId, { name: 'Doomed', role: 'viewer' });
      // a second node: its own app, caches and listener on the same database
      let secondDatabase: Database | null = null;
      if (t.db.url) secondDatabase = await openDatabase({ url: t.db.url, dataDir: 'memory://', poolSize: 2 });
      const node = await buildApp({
        config: parseConfig({ logLevel: 'silent', webDir: '', sessionCacheSeconds: 3600 }),
        database: secondDatabase ?? t.db.database,
        secret: randomBytes(32),
      });
      await node.ready();
      try {
        const here = withKey(issued.secret);
        const there = withKey(issued.secret, nextIp(), node);
        assert.equal((await here.getAccount(accountId)).id, accountId);
        assert.equal((await there.getAccount(accountId)).id, accountId, 'both nodes have the key cached now');
        await owner.client.revokeAccessKey(accountId, issued.key.id);
        assert.equal((await problemOf(here.getAccount(accountId))).status, 401, 'this node refuses it at once');
        const deadline = Date.now() + 5000;
        let status = 200;
        while (Date.now() < deadline) {
          status = await there.getAccount(accountId).then(() => 200, (e: TesseraError) => e.status);
          if (status === 401) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(status, 401, 'the other node refuses it too, long before its cache would expire');
        assert.deepEqual(await owner.client.listAccessKeys(accountId), []);
        const revoked = await t.db.database.db.selectFrom('audit_events').select('actor_id').where('account_id', '=', accountId).where('action', '=', 'access_key.revoked').execute();
        assert.deepEqual(revoked, [{ actor_id: owner.user.id }]);
      } finally {
        await node.close();
        await secondDatabase?.close();
      }
    });

    it('stops at its expiry even while cached, and records its last use at most once a minute', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const expiresAt = new Date(t.clock.now().getTime() + 3600_000).toISOString();
      const issued = await owner.client.createAccessKey(accountId, { name: 'Short-lived', role: 'viewer', expiresAt });
      const key = withKey(issued.secret);
      await key.getAccount(accountId);
      const firstUse = (await owner.client.listAccessKeys(accountId))[0]!.lastUsedAt;
      assert.equal(firstUse, t.clock.now().toISOString());
      t.clock.advance(30_000);
      await key.getAccount(accountId);
      assert.equal((await owner.client.listAccessKeys(accountId))[0]!.lastUsedAt, firstUse, 'not written again within the minute');
      t.clock.advance(31_000);
      await key.getAccount(accountId);
      assert.equal((await owner.client.listAccessKeys(accountId))[0]!.lastUsedAt, t.clock.now().toISOString());

      t.clock.advance(3600_000);
      assert.equal((await problemOf(key.getAccount(accountId))).status, 401, 'expired');
      assert.equal((await owner.client.listAccessKeys(accountId))[0]!.status, 'expired');
    });

    it('follows its reach: a key on a group loses an organization taken out of the group, and goes with a deleted organization', async () => {
      const { owner, accountId, a, b } = await ownerWithOrganizations();
      const group = await owner.client.createGroup(accountId, { name: 'G', organizationIds: [a.id, b.id] });
      const onGroup = withKey((await owner.client.createAccessKey(accountId, { name: 'On G', role: 'viewer', groupId: group.id })).secret);
      assert.deepEqual((await onGroup.listOrganizations(accountId)).items.map((o) => o.name), ['A', 'B']);
      await owner.client.removeOrganizationFromGroup(accountId, group.id, b.id);
      assert.equal((await problemOf(onGroup.listDevices(accountId, b.id))).status, 404, 'B left G: the cached reach was dropped');

      const empty = await owner.client.createOrganization(accountId, { name: 'Empty' });
      const onEmpty = withKey((await owner.client.createAccessKey(accountId, { name: 'On Empty', role: 'viewer', organizationId: empty.id })).secret);
      await onEmpty.listDevices(accountId, empty.id);
      await owner.client.deleteOrganization(accountId, empty.id);
      assert.equal((await problemOf(onEmpty.getAccount(accountId))).status, 401, 'the key went with its organization');
      assert.deepEqual((await owner.client.listAccessKeys(accountId)).map((k) => k.name), ['On G']);
    });

    it('refuses a bad key with 401 and counts guesses per address: past the limit even a valid key waits (429)', async () => {
      const { owner, accountId } = await ownerWithOrganizations();
      const valid = (await owner.client.createAccessKey(accountId, { name: 'Valid', role: 'viewer' })).secret;
      const ip = nextIp();
      const malformed = await problemOf(withKey(`${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`, ip).getAccount(accountId));
      assert.equal(malformed.status, 401, 'a broken checksum');
      const raw = await t.app.inject({ method: 'GET', url: `/api/v1/accounts/${accountId}`, headers: { authorization: 'Bearer tsr_ak_nope' }, remoteAddress: nextIp() });
      assert.deepEqual([raw.statusCode, raw.headers['www-authenticate'], raw.json().type], [401, 'Bearer error="invalid_token"', '/api/v1/problems/unauthenticated']);
      for (let i = 0; i < ACCESS_KEY_RULE.limit; i += 1) {
        const guess = await problemOf(withKey(generateSecret('tsr_ak_'), ip).getAccount(accountId));
        assert.equal(guess.status, 401);
      }
      const blocked = await problemOf(withKey(valid, ip).getAccount(accountId));
      assert.equal(blocked.status, 429);
      assert.equal((await withKey(valid).getAccount(accountId)).id, accountId, 'another address is not blocked');
    });

    it('validates a new key field by field and writes nothing when refused', async () => {
      const { owner, accountId, a } = await ownerWithOrganizations();
      await owner.client.createAccessKey(accountId, { name: 'Taken', role: 'viewer' });
      const cases: Array<[Parameters<TesseraClient['createAccessKey']>[1], string, number]> = [
        [{ name: '', role: 'viewer' }, 'name', 400],
        [{ name: 'Scoped owner', role: 'owner', organizationId: a.id }, 'role', 400],
        [{ name: 'Both', role: 'viewer', organizationId: a.id, groupId: a.id }, 'organizationId', 400],
        [{ name: 'Nowhere', role: 'viewer', organizationId: '01900000-0000-7000-8000-000000000000' }, 'organizationId', 400],
        [{ name: 'Past', role: 'viewer', expiresAt: new Date(t.clock.now().getTime() - 1000).toISOString() }, 'expiresAt', 400],
        [{ name: 'taken', role: 'viewer' }, 'name', 409],
      ];
      for (const [body, field, status] of cases) {
        const refused = await problemOf(owner.client.createAccessKey(accountId, body));
        assert.equal(refused.status, status, `${JSON.stringify(body)}: ${refused.problem.detail}`);
        assert.deepEqual(refused.fieldErrors.map((e) => e.field), [field], JSON.stringify(body));
      }
      assert.deepEqual((await owner.client.listAccessKeys(accountId)).map((k) => k.name), ['Taken']);
    });
  });
}
