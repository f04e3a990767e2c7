import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import { PROBLEM_TYPE_BASE } from '../../src/shared/problems.ts';
import { injectFetch, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';
import { Caller, nextAddress, type Answer } from '../support/caller.ts';
import { FILTER_IDS, ID_SOURCES, NOT_IDS, type IdKind } from '../support/ids.ts';
import { seedLinkedIdentity } from '../support/oidc-provider.ts';
import { seedPasskey } from '../support/passkey-authenticator.ts';

/**
 * Tenant isolation, proven. Two accounts, A and B, each seeded through the API with one of
 * everything that has an id. Every operation of the OpenAPI document that takes an id (in its
 * path, its query or its body) is called as A's principal with B's id in one place and A's own ids
 * everywhere else, and again with a well-formed id that exists nowhere: the two answers must be
 * the same refusal (for ids in the path, the same 404), and neither account may change — not a
 * row of any tenant table, not an audit event. The walk then runs mirrored, as B against A.
 */

// ---------------------------------------------------------------------------------------------
// HTTP: raw calls through test/support/caller.ts

let sequence = 0;

// ---------------------------------------------------------------------------------------------
// Two accounts, each with one of everything that has an id


interface Tenant {
  label: 'A' | 'B';
  email: string;
  ids: Record<IdKind, string>;
  /** The owner, signed in to the portal. */
  owner: Caller;
  /** A team member's desktop access token: the principal of /client/v1. */
  bearer: string;
  /** An owner access key of the account, the other principal of /api/v1. */
  ownerKey: Caller;
}

async function seedTenant(t: TestApp, label: 'A' | 'B'): Promise<Tenant> {
  const person = await registerPerson(t, { name: `Owner ${label}`, companyName: `Tenant ${label} Ltd`, ip: nextAddress() });
  const sdk = person.client;
  const accountId = person.account.id;
  const org = (await sdk.createOrganization(accountId, { name: `${label} main` })).id;
  const spareOrg = (await sdk.createOrganization(accountId, { name: `${label} spare` })).id;
  const group = (await sdk.createGroup(accountId, { name: `${label} group`, organizationIds: [org] })).id;
  const leased = (await sdk.createDevice(accountId, org, { name: `${label} leased`, kind: 'usb', identifier: `${label}-LEASED` })).id;
  const free = (await sdk.createDevice(accountId, org, { name: `${label} free`, kind: 'usb', identifier: `${label}-FREE` })).id;
  await sdk.createDevice(accountId, spareOrg, { name: `${label} spare device`, kind: 'serial', identifier: `${label}-SPARE` });

  // a member with a desktop session and an open connection; another with credentials and tokens
  const desk = await sdk.addTeamMember(accountId, { name: `${label} front desk` });
  const desktop = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextAddress()) });
  await desktop.signInWithLoginToken(desk.firstToken.secret);
  const lease = (await desktop.connect(leased)).leaseId;
  const office = await sdk.addTeamMember(accountId, { name: `${label} back office`, connectionLimit: 2 });
  await sdk.setMemberCredentials(accountId, office.member.id, { email: uniqueEmail(`office-${label}`), password: STRONG_PASSWORD });
  await sdk.createLoginToken(accountId, office.member.id, { label: `${label} spare token` });

  // portal users: a viewer of the whole account, a manager of one organization, a viewer of the group
  const viewer = await sdk.addAccountUser(accountId, { name: `${label} viewer`, email: uniqueEmail(`viewer-${label}`), password: STRONG_PASSWORD, role: 'viewer' });
  await sdk.addAccountUser(accountId, { name: `${label} org manager`, email: uniqueEmail(`orgman-${label}`), password: STRONG_PASSWORD, role: 'manager', organizationId: org });
  await sdk.addAccountUser(accountId, { name: `${label} group viewer`, email: uniqueEmail(`grpview-${label}`), password: STRONG_PASSWORD, role: 'viewer', groupId: group });
  const invitation = await sdk.createInvitation(accountId, { email: uniqueEmail(`pending-${label}`), role: 'viewer' });
  await sdk.setSelectedOrganization(accountId, org);
  const scopedKey = await sdk.createAccessKey(accountId, { name: `${label} reader`, role: 'viewer', organizationId: org });
  const ownerKey = await sdk.createAccessKey(accountId, { name: `${label} owner key`, role: 'owner' });

  return {
    label,
    email: person.email,
    ids: {
      accountId,
      organizationId: org,
      groupId: group,
      deviceId: free,
      memberId: office.member.id,
      tokenId: office.firstToken.token.id,
      leaseId: lease,
      userId: viewer.user.id,
      invitationId: invitation.id,
      keyId: scopedKey.key.id,
      identityId: await seedLinkedIdentity(t, person.user.id, person.email),
      // the viewer's, who never signs in here: the owner keeps signing in with the password alone
      passkeyId: await seedPasskey(t, viewer.user.id),
    },
    owner: await new Caller(t).signIn(person.email),
    bearer: desktop.tokens!.access_token,
    ownerKey: new Caller(t, nextAddress(), { accessKey: ownerKey.secret }),
  };
}

// ---------------------------------------------------------------------------------------------
// The operations that take ids, read from the OpenAPI document

interface Slot {
  /** `path.leaseId`, `query.x`, `body.organizationId`, `body.grants[].groupId`, `body.organizationIds[]`. */
  key: string;
  where: 'path' | 'query' | 'body';
  /** The parameter name, or the field's pointer inside the body. */
  name: string;
  kind: IdKind;
  /** A search filter (FILTER_IDS): any id is welcome and the other account's matches nothing. */
  filter: boolean;
}

interface Operation {
  operationId: string;
  method: string;
  path: string;
  slots: Slot[];
  /** The document lets an access key call it (its security lists accessKey). */
  viaKey: boolean;
}

interface OpenApiSchema {
  $ref?: string;
  type?: string;
  format?: string;
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  allOf?: OpenApiSchema[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; security?: Array<Record<string, unknown>>; parameters?: Array<{ in: string; name: string; schema?: OpenApiSchema }>; requestBody?: { content: Record<string, { schema: OpenApiSchema }> } }>>;
  components?: { schemas?: Record<string, OpenApiSchema> };
}

const looksLikeId = (name: string) => /Ids?(\[\])?$/.test(name);

/** Reads the document; `problems` collects every id whose kind this suite cannot source. */
function operationsOf(document: OpenApiDocument, problems: string[]): { withIds: Operation[]; withoutIds: string[] } {
  const resolve = (schema: OpenApiSchema | undefined): OpenApiSchema | undefined =>
    schema?.$ref ? resolve(document.components?.schemas?.[schema.$ref.split('/').pop()!]) : schema;
  const bodyIds = (schema: OpenApiSchema | undefined, pointer: string, found: Map<string, OpenApiSchema>): void => {
    const s = resolve(schema);
    if (!s) return;
    const name = pointer.split('.').pop() ?? '';
    if (pointer && (s.format === 'uuid' || (looksLikeId(name) && s.type === 'string'))) found.set(pointer, s);
    for (const [key, value] of Object.entries(s.properties ?? {})) bodyIds(value, pointer ? `${pointer}.${key}` : key, found);
    if (s.items) bodyIds(s.items, `${pointer}[]`, found);
    for (const alternative of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) bodyIds(alternative, pointer, found);
  };

  const withIds: Operation[] = [];
  const withoutIds: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op?.operationId) continue;
      const operationId = op.operationId;
      const slots: Slot[] = [];
      const add = (where: Slot['where'], name: string) => {
        const key = `${where}.${name}`;
        if (NOT_IDS[`${operationId} ${key}`]) return;
        const filterKind = FILTER_IDS[`${operationId} ${key}`];
        const kind = filterKind ?? ID_SOURCES[name.replaceAll('[]', '').split('.').pop()!];
        if (!kind) problems.push(`${operationId}: no id source for ${key} — seed one and add it to ID_SOURCES`);
        else slots.push({ key, where, name, kind, filter: filterKind !== undefined });
      };
      for (const parameter of op.parameters ?? []) {
        if (parameter.in !== 'path' && parameter.in !== 'query') continue;
        const key = `${parameter.in}.${parameter.name}`;
        const isId = resolve(parameter.schema)?.format === 'uuid' || looksLikeId(parameter.name);
        if (isId) add(parameter.in, parameter.name);
        else if (parameter.in === 'path' && !NOT_IDS[`${operationId} ${key}`]) {
          problems.push(`${operationId}: path parameter ${parameter.name} is neither a uuid nor listed in NOT_IDS`);
        }
      }
      for (const content of Object.values(op.requestBody?.content ?? {})) {
        const found = new Map<string, OpenApiSchema>();
        bodyIds(content.schema, '', found);
        for (const pointer of found.keys()) if (!slots.some((s) => s.key === `body.${pointer}`)) add('body', pointer);
      }
      const viaKey = (op.security ?? []).some((requirement) => 'accessKey' in requirement);
      if (slots.length > 0) withIds.push({ operationId, method: method.toUpperCase(), path, slots, viaKey });
      else withoutIds.push(operationId);
    }
  }
  return { withIds, withoutIds };
}

// ---------------------------------------------------------------------------------------------
// A valid body per operation (it passes the schema, which is checked before access), so a 404 is
// about the id tried and never a 400 for the body in disguise

interface BodyContext {
  /** The value of an id field (pointer inside the body): the caller's own, the other account's, or unknown. */
  id(pointer: string): string;
  /** The slot this call varies, or null when it varies path ids only. */
  focus: string | null;
  /** A unique name or email, the same for both calls of a pair (a refused call creates nothing). */
  unique(label: string): string;
  email(label: string): string;
}

type BodyBuilder = (c: BodyContext) => unknown;

/** One of the two exclusive scope fields: the one varied, else the organization. */
const scopeOf = (c: BodyContext, prefix = '') =>
  c.focus === `body.${prefix}groupId` ? { groupId: c.id(`${prefix}groupId`) } : { organizationId: c.id(`${prefix}organizationId`) };

const BODIES: Record<string, BodyBuilder> = {
  updateAccount: () => ({ companyName: 'Taken Over Ltd', emailNotifications: false }),
  addTeamMember: (c) => ({ name: c.unique('Intruder desk') }),
  updateTeamMember: () => ({ name: 'Renamed by a stranger', connectionLimit: 7 }),
  setMemberCredentials: (c) => ({ email: c.email('stolen-desk'), password: STRONG_PASSWORD }),
  createLoginToken: () => ({ label: 'Planted' }),
  createOrganization: (c) => ({ name: c.unique('Planted org') }),
  updateOrganization: () => ({ name: 'Renamed by a stranger', description: 'Changed' }),
  setSelectedOrganization: (c) => ({ organizationId: c.id('organizationId') }),
  createGroup: (c) => ({ name: c.unique('Planted group'), organizationIds: [c.id('organizationIds[]')] }),
  updateGroup: () => ({ name: 'Renamed by a stranger', description: 'Changed' }),
  createDevice: (c) => ({ name: c.unique('Planted device'), kind: 'usb', identifier: c.unique('PLANTED') }),
  // moving the device to the account's own organization (where it already is) is a valid move
  updateDevice: (c) => ({ notes: 'Changed', organizationId: c.id('organizationId') }),
  addAccountUser: (c) => ({ name: 'Planted user', email: c.email('planted'), password: STRONG_PASSWORD, role: 'viewer', ...scopeOf(c) }),
  setAccountUserRoles: (c) => ({ role: 'viewer', grants: [{ role: 'manager', ...scopeOf(c, 'grants[].') }] }),
  transferOwnership: (c) => ({ userId: c.id('userId') }),
  createInvitation: (c) => ({ email: c.email('invited'), role: 'viewer', ...scopeOf(c) }),
  createAccessKey: (c) => ({ name: c.unique('Planted key'), role: 'viewer', ...scopeOf(c) }),
  clientOpenConnection: (c) => ({ deviceId: c.id('deviceId') }),
  changePlan: () => ({ planId: 'team' }),
  renamePasskey: () => ({ name: 'Renamed by a stranger' }),
  removePasskey: () => ({ password: STRONG_PASSWORD }),
  setBillingDetails: () => ({ legalName: 'Stranger GmbH', addressLine1: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', country: 'DE', billingEmail: 'billing@stranger.example' }),
};

// clientEnroll: the caller's owner's own credentials, naming the account in the body
function enrollBody(self: Tenant): BodyBuilder {
  return (c) => ({ email: self.email, password: STRONG_PASSWORD, accountId: c.id('accountId'), memberName: c.unique('Enrolled PC') });
}

// ---------------------------------------------------------------------------------------------
// Comparing answers

/** The answer with the tried ids replaced by their slot names and the per-request id dropped. */
function normalized(answer: Answer, tried: Map<string, string>): string {
  const { requestId: _requestId, ...rest } = (answer.body && typeof answer.body === 'object' ? answer.body : { text: answer.body }) as Record<string, unknown>;
  let text = JSON.stringify({ status: answer.status, contentType: answer.contentType, body: rest });
  for (const [value, key] of tried) text = text.replaceAll(value, `{${key}}`);
  return text;
}

const shown = (answer: Answer) => `${answer.status} ${JSON.stringify(answer.body)}`;

/** The pointer of a body field as the problem document names it: `grants[].groupId` → `grants.0.groupId`. */
const fieldOf = (pointer: string) => pointer.replaceAll('[]', '.0');

/** Why the answer to an unknown id is not the refusal the slot calls for, or null. */
function notARefusal(operationId: string, varied: Slot[], answer: Answer): string | null {
  // a filter refuses nothing: the unknown id (and, compared below, the other account's) finds no events
  if (varied.every((s) => s.filter)) {
    const nothing = answer.body === null || (typeof answer.body === 'string' ? answer.body.trim().split('\n').length <= 1 : answer.body.items?.length === 0);
    return answer.status === 200 && nothing ? null : `expected 200 with nothing found, got ${shown(answer)}`;
  }
  if (!answer.contentType.startsWith('application/problem+json')) return `expected a problem document, got ${answer.contentType} ${shown(answer)}`;
  if (typeof answer.body?.detail === 'string' && answer.body.detail.startsWith('No route')) return `the request missed every route: ${shown(answer)}`;
  const type = answer.body?.type;
  if (varied.some((s) => s.where !== 'body')) {
    // an id in the address: what the caller cannot reach does not exist
    return answer.status === 404 && type === `${PROBLEM_TYPE_BASE}not_found` ? null : `expected 404 not_found, got ${shown(answer)}`;
  }
  if (operationId === 'clientEnroll') {
    // docs/users-and-roles.md: every refused enrollment is the same 401, whatever the reason
    return answer.status === 401 && type === `${PROBLEM_TYPE_BASE}invalid_credentials` ? null : `expected 401 invalid_credentials, got ${shown(answer)}`;
  }
  // an id in the body: a 404, or the field error an unknown id gets (src/server/auth/access.ts)
  if (answer.status === 404 && type === `${PROBLEM_TYPE_BASE}not_found`) return null;
  const fields = varied.map((s) => fieldOf(s.name));
  const named = answer.status === 400 && type === `${PROBLEM_TYPE_BASE}validation_failed` &&
    (answer.body?.errors ?? []).some((e: { field: string; code: string }) => fields.includes(e.field) && e.code === 'not_found');
  return named ? null : `expected 404 not_found or a not_found field error on ${fields.join(', ')}, got ${shown(answer)}`;
}

// ---------------------------------------------------------------------------------------------
// "No change to either account": every row of both accounts, before and after

/** Stable text for a row: keys sorted, bytes as hex, times as ISO strings. */
function rowText(row: Record<string, unknown>): string {
  const value = (v: unknown): unknown =>
    v instanceof Date
      ? v.toISOString()
      : v instanceof Uint8Array
        ? `\\x${Buffer.from(v).toString('hex')}`
        : v && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, value((v as Record<string, unknown>)[k])]))
          : v;
  return JSON.stringify(value(row));
}

type Snapshot = Record<string, string[]>;

/**
 * Every row of the account in every table with an account_id column (found in the catalog, so a
 * new tenant table is in without a change here), audit_events included: a refused request writes
 * no audit event. Also the account's people (users) and their user_audit_events.
 *
 * Nothing is excluded: the walk's requests are refused before they touch anything, and none of
 * the tables below is written by a mere read. (Portal sessions are: sessions.last_seen_at moves on
 * every request — they are the caller's, not the account's, and have no account_id.) The clock is
 * moved before the walk, so a write that stamps "now" shows even when it keeps every other value.
 */
async function snapshot(t: TestApp, accountId: string): Promise<Snapshot> {
  return t.db.database.inSystem(async (tx) => {
    const tables = (
      await sql<{ table_name: string }>`
        select c.table_name from information_schema.columns c
          join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
         where c.table_schema = 'public' and c.column_name = 'account_id' and t.table_type = 'BASE TABLE'
         order by c.table_name`.execute(tx)
    ).rows.map((r) => r.table_name);
    const out: Snapshot = {};
    for (const table of tables) {
      const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)} where account_id = ${accountId}`.execute(tx)).rows;
      // using a key stamps when it was last used: the walk's own owner key is used on purpose
      if (table === 'access_keys') for (const row of rows) delete row.last_used_at;
      out[table] = rows.map(rowText).sort();
    }
    const people = sql`select user_id from memberships where account_id = ${accountId}`;
    out['users (people of the account)'] = (await sql<Record<string, unknown>>`select * from users where id in (${people})`.execute(tx)).rows.map(rowText).sort();
    out['user_audit_events (people of the account)'] = (
      await sql<Record<string, unknown>>`select * from user_audit_events where user_id in (${people})`.execute(tx)
    ).rows.map(rowText).sort();
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Calling an operation as one account's principal

/**
 * One call of `op` as `self`'s principal: the owner's portal session, or for /client/v1 a team
 * member's desktop access token. `values` replaces ids by slot key; every other id is self's own.
 * `uniques` keeps names and emails the same across the two calls of a pair; `read` collects the
 * body fields the builder filled in.
 */
function callAs(self: Tenant, op: Operation, values: Map<string, string>, focus: string | null, uniques: Map<string, string>, read: Set<string>, asKey = false): Promise<Answer> {
  let url = op.path;
  const query = new URLSearchParams();
  for (const s of op.slots) {
    const value = values.get(s.key) ?? self.ids[s.kind];
    if (s.where === 'path') url = url.replace(`{${s.name}}`, encodeURIComponent(value));
    if (s.where === 'query') query.set(s.name, value);
  }
  if (query.size > 0) url += `?${query}`;
  const context: BodyContext = {
    id: (pointer) => {
      read.add(`body.${pointer}`);
      const slot = op.slots.find((s) => s.key === `body.${pointer}`);
      assert.ok(slot, `${op.operationId}: the body builder fills ${pointer}, which the document does not declare as an id`);
      return values.get(slot.key) ?? self.ids[slot.kind];
    },
    focus,
    unique: (label) => uniques.get(label) ?? (uniques.set(label, `${label} ${++sequence}`), uniques.get(label)!),
    email: (label) => uniques.get(`@${label}`) ?? (uniques.set(`@${label}`, uniqueEmail(label)), uniques.get(`@${label}`)!),
  };
  const builder = op.operationId === 'clientEnroll' ? enrollBody(self) : BODIES[op.operationId];
  const json = builder ? builder(context) : undefined;
  if (asKey) return self.ownerKey.call(op.method, url, { json });
  return self.owner.call(op.method, url, { json, ...(op.path.startsWith('/client/v1/') ? { bearer: self.bearer } : {}) });
}

// ---------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  describe(`tenant isolation, proven (${backend})`, () => {
    let t: TestApp;
    let a: Tenant;
    let b: Tenant;
    let operations: Operation[] = [];
    let withoutIds: string[] = [];
    const coverageProblems: string[] = [];
    const snapshots: Record<'A' | 'B', Snapshot> = { A: {}, B: {} };
    let calls = 0;
    let pairs = 0;
    let started = 0;

    before(async () => {
      started = Date.now();
      t = await startTestApp(backend);
      a = await seedTenant(t, 'A');
      b = await seedTenant(t, 'B');
      const document = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as OpenApiDocument;
      ({ withIds: operations, withoutIds } = operationsOf(document, coverageProblems));
      // any write during the walk stamps a time no seeded row has
      t.clock.advance(1000);
      snapshots.A = await snapshot(t, a.ids.accountId);
      snapshots.B = await snapshot(t, b.ids.accountId);
    });
    after(async () => {
      await t?.close();
      console.log(
        `# tenant isolation (${backend}): ${operations.length} operations that take ids × their ids × 3 walks (A→B, B→A, A's owner key→B) = ${pairs} (other account's id, unknown id) pairs, ${calls} calls ` +
          `(${withoutIds.length} operations take no id) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });

    it('finds an id source for every id the OpenAPI document takes, and a valid body for every operation with one', () => {
      assert.ok(operations.length > 0, 'the document has operations that take ids');
      const bodiless = operations.filter((o) => o.slots.some((s) => s.where === 'body') && !BODIES[o.operationId] && o.operationId !== 'clientEnroll');
      assert.deepEqual(coverageProblems, [], 'ids of the document this suite cannot source');
      assert.deepEqual(bodiless.map((o) => o.operationId), [], 'operations with id fields in the body but no body here');
    });

    // without this, every refusal below could be "A's principal does not reach A" and prove nothing
    it("gives A's and B's principals their own account", async () => {
      for (const tenant of [a, b]) {
        const account = await tenant.owner.call('GET', `/api/v1/accounts/${tenant.ids.accountId}`);
        assert.equal(account.status, 200, `${tenant.label}'s owner reads ${tenant.label}: ${shown(account)}`);
        const me = await tenant.owner.call('GET', '/client/v1/me', { bearer: tenant.bearer });
        assert.equal(me.status, 200, `${tenant.label}'s desktop token: ${shown(me)}`);
        assert.equal(me.body.account.id, tenant.ids.accountId);
      }
    });

    it("answers every operation called with the other account's ids exactly as with an unknown id", async () => {
      const failures: string[] = [];
      const exercised = new Map<string, Set<string>>();
      // A's principal with B's ids, the same walk mirrored (B's principal with A's), and A's owner
      // access key with B's ids on every operation a key may call
      const walks = [[a, b, false], [b, a, false], [a, b, true]] as const;
      for (const [self, other, asKey] of walks) for (const op of operations.filter((o) => !asKey || o.viaKey)) {
        const who = `${self.label}${asKey ? "'s key" : ''}`;
        const read = new Set<string>();
        const addressIds = op.slots.filter((s) => s.where !== 'body');
        // one id at a time with the caller's own everywhere else; then every address id at once (the other's whole URL)
        const variations: Slot[][] = op.slots.map((s) => [s]);
        if (addressIds.length > 1) variations.push(addressIds);
        /** The refusal of an unknown account, which another id's refusal must not be. */
        let accountRefusal: string | undefined;

        for (const varied of variations) {
          const uniques = new Map<string, string>();
          const focus = varied.length === 1 ? varied[0]!.key : null;
          const foreignValues = new Map(varied.map((s) => [s.key, other.ids[s.kind]]));
          const unknownValues = new Map(varied.map((s) => [s.key, uuidv7()]));
          const foreign = await callAs(self, op, foreignValues, focus, uniques, read, asKey);
          const unknown = await callAs(self, op, unknownValues, focus, uniques, read, asKey);
          calls += 2;
          pairs += 1;
          const tried = `${who}→${other.label} ${op.operationId}`;
          for (const s of varied) (exercised.get(tried) ?? exercised.set(tried, new Set()).get(tried)!).add(s.key);

          const label = `${who}'s ${op.operationId} (${op.method} ${op.path}) with ${other.label}'s ${varied.map((s) => s.key).join(' + ')}`;
          const why = notARefusal(op.operationId, varied, unknown);
          if (why) failures.push(`${label}, unknown id: ${why}`);
          const sameAnswer =
            normalized(foreign, new Map(varied.map((s) => [foreignValues.get(s.key)!, s.key]))) ===
            normalized(unknown, new Map(varied.map((s) => [unknownValues.get(s.key)!, s.key])));
          if (!sameAnswer) failures.push(`${label}: ${other.label}'s id answered ${shown(foreign)}, an unknown id ${shown(unknown)}`);

          // A's account was reached: the refusal is about the id tried, not about the account
          if (focus === 'path.accountId') accountRefusal = unknown.body?.detail;
          else if (accountRefusal !== undefined && !varied.some((s) => s.key === 'path.accountId') && unknown.body?.detail === accountRefusal) {
            failures.push(`${label}: refused like an unknown account (${accountRefusal}), so the id itself was never looked up`);
          }
        }
        for (const s of op.slots) {
          if (s.where === 'body' && !read.has(s.key)) failures.push(`${who}'s ${op.operationId}: its body never carried ${s.key}`);
        }
      }

      // coverage: every operation that takes an id, and every id it takes, was called with the other account's
      const missed = ['A→B', 'B→A', "A's key→B"].flatMap((direction) =>
        operations.filter((o) => !direction.includes('key') || o.viaKey).flatMap((o) => o.slots.filter((s) => !exercised.get(`${direction} ${o.operationId}`)?.has(s.key)).map((s) => `${direction} ${o.operationId} ${s.key}`)),
      );
      assert.deepEqual(missed, [], 'ids the walk did not try');
      assert.deepEqual(failures, [], 'operations that tell a foreign id from an unknown one');
    });

    it('changes neither account: no row of any tenant table, no audit event', async () => {
      for (const tenant of [a, b]) {
        const now = await snapshot(t, tenant.ids.accountId);
        const then = snapshots[tenant.label];
        assert.ok(Object.keys(then).length > 5 && (then.audit_events?.length ?? 0) > 0, 'the snapshot saw the seeded rows');
        const changed = Object.keys({ ...then, ...now }).filter((table) => JSON.stringify(then[table]) !== JSON.stringify(now[table]));
        const detail = changed.flatMap((table) => {
          const was = new Set(then[table] ?? []);
          const is = new Set(now[table] ?? []);
          return [...[...was].filter((r) => !is.has(r)).map((r) => `${table}, gone: ${r}`), ...[...is].filter((r) => !was.has(r)).map((r) => `${table}, new: ${r}`)];
        });
        assert.deepEqual(detail, [], `account ${tenant.label} changed`);
      }
    });

    // After the snapshot (these calls change A): the same requests with A's own ids succeed, so the
    // refusals above were about the ids alone. Reads only, and the enrollment whose refusal (a 401
    // for any reason) would otherwise hide a wrong password; writes are covered by the check above
    // that their refusal names the id tried, not the account.
    it("succeeds with A's own ids: every read that takes an id, and the enrollment naming A", async () => {
      const failures: string[] = [];
      for (const op of operations.filter((o) => o.method === 'GET' || o.operationId === 'clientEnroll')) {
        const answer = await callAs(a, op, new Map(), null, new Map(), new Set());
        calls += 1;
        if (answer.status < 200 || answer.status > 299) failures.push(`${op.operationId}: ${shown(answer)}`);
      }
      assert.deepEqual(failures, [], "operations that refuse A's own ids too");
    });
  });
}
