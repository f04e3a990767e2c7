import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { TesseraClient } from '../../src/client/sdk.ts';
import { injectFetch, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { oidcConfigOf, seedLinkedIdentity, startTestProvider, TEST_APP_REDIRECT_URI } from '../support/oidc-provider.ts';
import { nextAddress } from '../support/caller.ts';
import { BACKENDS, type Backend } from '../support/databases.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { FILTER_IDS, ID_KINDS, ID_SOURCES, NOT_IDS, type IdKind } from '../support/ids.ts';
import * as OTPAuth from 'otpauth';
import { PASSKEY_TEST_ORIGIN, seedPasskey, SoftwareAuthenticator } from '../support/passkey-authenticator.ts';

// a real OpenID Connect provider, so the sign-in operations with it are on (test/support/oidc-provider.ts)
const provider = await startTestProvider(TEST_APP_REDIRECT_URI);
after(() => provider.close());
/** Operations whose success is a 302 (the browser is sent on), not a 2xx. */
const REDIRECTING_OPERATIONS = new Set(['startOidcSignIn', 'completeOidcSignIn']);
/** Operations that take query parameters they do not declare: Google adds scope, authuser, hd, prompt to its redirect. */
const OPEN_QUERIES = new Set(['completeOidcSignIn']);

/**
 * Bad input, generated. A property-based fuzzer (fast-check) driven by the OpenAPI document: for
 * every operation it derives arbitraries from the document's schemas and sends, as every kind of
 * principal, valid requests (real ids of a seeded world, fresh victims for destructive calls) and
 * broken ones (wrong types, missing and extra fields, boundary and huge strings, odd Unicode, bad
 * ids, the other tenant's ids, wrong content types, broken JSON, bodies over the limit, missing
 * CSRF tokens, garbage credentials, wrong methods).
 *
 * The oracle, for every answer: never a 5xx; a 4xx is a problem document (the OAuth error format on
 * /client/v1/token and /client/v1/revoke) and leaves the database exactly as it was (a digest of
 * every table, taken just before the request); a valid request by its home principal gets a 2xx;
 * a request that can never be right (a must-reject mutation) never gets a 2xx.
 *
 * `npm test` runs it with a fixed seed and a bounded count; `npm run fuzz` (test/api/fuzz-run.ts)
 * runs it longer with a random seed. See docs/fuzzing.md.
 */

// ---------------------------------------------------------------------------------------------
// Settings (environment), all optional

const intEnv = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  assert.ok(Number.isSafeInteger(value), `${name} must be an integer, not ${raw}`);
  return value;
};
const listEnv = (name: string) => process.env[name]?.split(',').map((s) => s.trim()).filter(Boolean);

/** The seed of every run; `npm run fuzz` picks a random one. */
const SEED = intEnv('TESSERA_FUZZ_SEED', 20_250_611);
/** Runs per operation and kind of request: 2×RUNS valid, RUNS by another principal, RUNS per kind of mutation. */
const RUNS = intEnv('TESSERA_FUZZ_RUNS', 1);
/** Only these operations (comma-separated operationIds), to replay a failure quickly. */
const ONLY = listEnv('TESSERA_FUZZ_OPS');
/** Kinds of mutation left out (keys of MUTATIONS below, or `nul` for NUL characters), e.g. while a known bug is being fixed. */
const SKIP = new Set(listEnv('TESSERA_FUZZ_SKIP') ?? []);
const SUITE_BACKENDS = (listEnv('TESSERA_FUZZ_BACKENDS') ?? BACKENDS) as Backend[];
/** Shrink steps at most per failure: a failing request is replayed against a live server. */
const MAX_SHRINKS = intEnv('TESSERA_FUZZ_MAX_SHRINKS', 60);

const BODY_LIMIT = 64 * 1024;
/** The token endpoint's own limit (src/server/client-api/routes.ts). */
const FORM_LIMIT = 8 * 1024;

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: Schema;
}

interface OpenApiOperation {
  operationId?: string;
  security?: Array<Record<string, unknown>>;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, Schema> };
}

interface Operation {
  id: string;
  method: string;
  path: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body: { encoding: 'json' | 'form'; schema: Schema; required: boolean } | null;
  /** No credential needed (security: []). */
  open: boolean;
  /** An access key may call it. */
  viaKey: boolean;
  /** Under /client/v1: the desktop client's API. */
  client: boolean;
  /** Every method the document defines on the same path. */
  methodsOfPath: string[];
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let components: Record<string, Schema> = {};

function resolve(schema: Schema | undefined): Schema {
  if (!schema) return {};
  return schema.$ref ? resolve(components[schema.$ref.split('/').pop()!]) : schema;
}

/** The schema without its `null` alternative, and whether null is allowed. */
function nonNull(schema: Schema | undefined): { schema: Schema; nullable: boolean } {
  const s = resolve(schema);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    const rest = alternatives.map(resolve).filter((a) => a.type !== 'null');
    if (rest.length === 1 && rest.length < alternatives.length) {
      const { anyOf: _anyOf, oneOf: _oneOf, ...outer } = s;
      return { schema: { ...outer, ...rest[0] }, nullable: true };
    }
  }
  if (s.allOf?.length === 1) return nonNull({ ...s, ...resolve(s.allOf[0]), allOf: undefined });
  return { schema: s, nullable: false };
}

function operationsOf(document: OpenApiDocument, problems: string[]): Operation[] {
  components = document.components?.schemas ?? {};
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    const methodsOfPath = Object.entries(item).filter(([, op]) => op?.operationId).map(([m]) => m.toUpperCase());
    for (const [method, op] of Object.entries(item)) {
      if (!op?.operationId) continue;
      const parameters = op.parameters ?? [];
      const content = Object.entries(op.requestBody?.content ?? {});
      if (content.length > 1) problems.push(`${op.operationId}: takes ${content.length} content types; the fuzzer knows one per operation`);
      const [contentType, media] = content[0] ?? [];
      if (contentType && contentType !== 'application/json' && contentType !== 'application/x-www-form-urlencoded') {
        problems.push(`${op.operationId}: unknown request content type ${contentType}`);
      }
      operations.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        body: media ? { encoding: contentType === 'application/x-www-form-urlencoded' ? 'form' : 'json', schema: media.schema, required: op.requestBody?.required ?? false } : null,
        open: (op.security ?? []).length === 0,
        viaKey: (op.security ?? []).some((requirement) => 'accessKey' in requirement),
        client: path.startsWith('/client/v1/'),
        methodsOfPath,
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------------------------------------
// Symbolic values: generation is pure (so a seed replays it); ids, tokens and emails of the live
// world are filled in when the request is sent.


type SecretKind =
  | 'signinEmail'
  | 'enrollerEmail'
  | 'credsEmail'
  | 'knownPassword'
  | 'freshEmail'
  | 'verifyToken'
  | 'resetToken'
  | 'lookupToken'
  | 'inviteToken'
  | 'loginToken'
  | 'refreshToken'
  | 'revocableToken'
  | 'ownPassword'
  | 'pendingTotpCode'
  | 'totpCode'
  | 'recoveryCode'
  | 'emailChangeToken'
  | 'passkeyRegistration'
  | 'passkeyAssertion';

/** An id of the world (the caller's own, the other tenant's, or one that exists nowhere), or a secret. */
class Ref {
  readonly kind: IdKind | SecretKind;
  readonly variant: 'own' | 'other' | 'unknown';
  readonly index: number;
  readonly uuid: string;
  constructor(kind: IdKind | SecretKind, variant: 'own' | 'other' | 'unknown' = 'own', index = 0, uuid = '') {
    this.kind = kind;
    this.variant = variant;
    this.index = index;
    this.uuid = uuid;
  }
  [fc.toStringMethod](): string {
    return `<${this.variant} ${this.kind}${this.index ? `#${this.index}` : ''}${this.uuid ? ` ${this.uuid}` : ''}>`;
  }
}
const isIdKind = (kind: string): kind is IdKind => (ID_KINDS as readonly string[]).includes(kind);

/** Free text that must not clash with an earlier one (names are unique in an account): a counter is appended. */
class Unique {
  readonly text: string;
  readonly max: number;
  constructor(text: string, max: number) {
    this.text = text;
    this.max = max;
  }
  [fc.toStringMethod](): string {
    return `<unique ${JSON.stringify(this.text)}>`;
  }
}

/** A long string, kept short in reports. */
class Big {
  readonly unit: string;
  readonly length: number;
  constructor(unit: string, length: number) {
    this.unit = unit;
    this.length = length;
  }
  [fc.toStringMethod](): string {
    return `<${JSON.stringify(this.unit)} × ${this.length}>`;
  }
}

/** `insert` spliced into the value at a fraction of its length, cut to `max` UTF-16 units. */
class Splice {
  readonly inner: unknown;
  readonly insert: string;
  readonly at: number;
  readonly max: number | undefined;
  constructor(inner: unknown, insert: string, at: number, max: number | undefined) {
    this.inner = inner;
    this.insert = insert;
    this.at = at;
    this.max = max;
  }
  [fc.toStringMethod](): string {
    return `<${fc.stringify(this.inner)} with ${JSON.stringify(this.insert)} at ${this.at.toFixed(2)}>`;
  }
}

/** The value, reshaped (upper case, wrapped in braces, …). */
class Reshape {
  readonly inner: unknown;
  readonly how: 'upper' | 'braces' | 'spaces' | 'urn' | 'trailing';
  constructor(inner: unknown, how: Reshape['how']) {
    this.inner = inner;
    this.how = how;
  }
  [fc.toStringMethod](): string {
    return `<${this.how} ${fc.stringify(this.inner)}>`;
  }
}

/** A path segment sent exactly as written (not percent-encoded). */
class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  [fc.toStringMethod](): string {
    return `<raw ${JSON.stringify(this.text)}>`;
  }
}

const SYMBOLIC = [Ref, Unique, Big, Splice, Reshape, Raw];
const isSymbolic = (v: unknown) => SYMBOLIC.some((c) => v instanceof c);
const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v) && !isSymbolic(v);

function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) as T;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Requests as generated

type Part = 'path' | 'query' | 'body';
type PrincipalName = 'owner' | 'ownerKey' | 'orgViewer' | 'bearer' | 'outsider' | 'anonymous' | 'unverified' | 'ownPerson' | 'garbage';
type Mode = 'valid' | 'foreign' | 'broken';

/**
 * The principals requests come from: A's owner (a portal session), A's owner access key, A's viewer
 * of one organization (a scoped principal), the desktop access token of a team member of A, B's
 * owner (the outsider: no role in A), and nobody. Two more are special: `unverified`, a person who
 * just registered (resending the verification mail), and `garbage`, a credential that is none.
 */
const PRINCIPALS: PrincipalName[] = ['owner', 'ownerKey', 'orgViewer', 'bearer', 'outsider', 'anonymous'];

interface Mutation {
  /** What was done, for the report: `body.name: 121 characters (max 120)`. */
  label: string;
  /** The request can never be right: a 2xx is a failure. `ifA`: unless the outsider (tenant B) sends it. */
  must: boolean | 'ifA';
  /** For the report's counts. */
  tag: string;
  /** The location changed (`body:grants.0.role`), if one was. */
  at?: string;
}

type PayloadChange =
  | { kind: 'replace'; text: string | Big }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; text: string }
  | { kind: 'prepend'; text: string }
  | { kind: 'inject'; member: string }
  | { kind: 'badBytes' }
  | { kind: 'pad'; bytes: number };

interface Spec {
  op: string;
  mode: Mode;
  principal: PrincipalName;
  method: string;
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  /** Extra query pairs (duplicates, unknown parameters), appended as written. */
  queryExtra: Array<[string, string]>;
  body: unknown;
  encoding: 'json' | 'form' | 'none';
  /** undefined: the encoding's own; null: no Content-Type header. */
  contentType?: string | null;
  payload?: PayloadChange;
  csrf?: 'omit' | 'garbage' | 'foreign';
  /** For `garbage`: the Authorization or Cookie header sent instead of a credential. */
  credential?: { header: 'authorization' | 'cookie'; value: string | Big };
  mutations: Mutation[];
}

// ---------------------------------------------------------------------------------------------
// Valid values, from the schemas

interface Field {
  op: Operation;
  part: Part;
  /** `name`, `grants[].organizationId`, `organizationIds[]`. */
  pointer: string;
  /** The last named key. */
  name: string;
}

const child = (f: Field, key: string): Field => ({ ...f, pointer: f.pointer ? `${f.pointer}.${key}` : key, name: key });
const itemOf = (f: Field): Field => ({ ...f, pointer: `${f.pointer}[]` });

const looksLikeId = (name: string) => /Ids?$/.test(name);

/** The kind of id a field carries, null when it carries none; unknown kinds are reported. */
function idKindOf(f: Field, s: Schema, problems?: string[]): IdKind | null {
  if (s.type !== 'string' && s.type !== undefined) return null;
  if (s.format !== 'uuid' && !looksLikeId(f.name)) return null;
  if (NOT_IDS[`${f.op.id} ${f.part}.${f.pointer}`]) return null;
  const kind = FILTER_IDS[`${f.op.id} ${f.part}.${f.pointer}`] ?? ID_SOURCES[f.name];
  if (!kind) problems?.push(`${f.op.id}: no id source for ${f.part}.${f.pointer} — seed one and add it to ID_SOURCES`);
  return kind ?? null;
}

const LETTERS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'é', 'ß', 'Ж', 'я', 'ø', 'ğ', '日', '本', 'ש', 'ع', '한'];
const NICE = [...LETTERS, ...'0123456789', ' ', ' ', '-', '.', ',', "'", '&', '(', ')', '/', '%', '_', '\\', '"', '<', '>', '+', '#', '*', 'e\u0301', '€', '🙂', '🚀'];

/** Fits whole characters into `max` UTF-16 units. */
function fit(chars: string[], max: number): string {
  let out = '';
  for (const c of chars) {
    if (out.length + c.length > max) break;
    out += c;
  }
  return out;
}

/** Ordinary text of any script, starting with a letter, `min`–`max` UTF-16 units. */
function text(min: number, max: number, unique: boolean): fc.Arbitrary<unknown> {
  const written = fc
    .tuple(fc.constantFrom(...LETTERS), fc.array(fc.constantFrom(...NICE), { maxLength: Math.min(Math.max(max - 1, 0), 30) }))
    .map(([first, rest]) => {
      const s = fit([first, ...rest], max);
      return s.length >= min ? s : s + 'a'.repeat(min - s.length);
    });
  const arb = min === 0 ? fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 5, arbitrary: written }) : written;
  return unique ? arb.map((s) => new Unique(s, max)) : arb;
}

const WORDS = ['amber', 'tiles', 'north', 'quiet', 'lake', 'violet', 'harbor', 'copper', 'meadow', 'sable', 'tundra', 'orchid', 'lantern', 'ember', 'glacier', 'falcon'];
/** Passwords the policy takes: letters and digits, long, not common, not built from an email. */
const strongPassword = fc
  .tuple(fc.constantFrom(...WORDS), fc.constantFrom(...WORDS), fc.integer({ min: 10, max: 99_999 }), fc.constantFrom(...WORDS), fc.constantFrom('', ' ñandú', ' Ωmega', ' 🙂'))
  .map(([a, b, n, c, d]) => `${a} ${b} ${n} ${c}${d}`);

/** A moment in the future (the app's clock is the test's), with or without offset and fraction; the same all year for a seed. */
const THIS_YEAR = new Date().getUTCFullYear();
const futureMoment = fc
  .tuple(fc.integer({ min: Date.UTC(THIS_YEAR + 2, 0, 1), max: Date.UTC(THIS_YEAR + 70, 11, 31) }), fc.constantFrom('Z', '+02:00', '-05:30', '.123Z'))
  .map(([ms, zone]) => {
    const iso = new Date(ms).toISOString().slice(0, 19);
    return zone === '.123Z' ? `${iso}.123Z` : `${iso}${zone}`;
  });

/** Fields the schema alone does not make valid: they get values from the world or the rules. */
const FIELD_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  'signIn body.email': fc.constant(new Ref('signinEmail')),
  'signIn body.password': fc.constant(new Ref('knownPassword')),
  'clientEnroll body.email': fc.constant(new Ref('enrollerEmail')),
  'clientEnroll body.password': fc.constant(new Ref('knownPassword')),
  'clientToken body.username': fc.constant(new Ref('credsEmail')),
  'clientToken body.password': fc.constant(new Ref('knownPassword')),
  'clientToken body.login_token': fc.constant(new Ref('loginToken')),
  'clientToken body.refresh_token': fc.constant(new Ref('refreshToken')),
  'clientRevoke body.token': fc.constant(new Ref('revocableToken')),
  'verifyEmail body.token': fc.constant(new Ref('verifyToken')),
  'confirmPasswordReset body.token': fc.constant(new Ref('resetToken')),
  'lookupInvitation body.token': fc.constant(new Ref('lookupToken')),
  'acceptInvitation body.token': fc.constant(new Ref('inviteToken')),
  // the password typed again, and codes of the own person's second factor (OWN_PERSON_OPS)
  'startTwoFactor body.password': fc.constant(new Ref('knownPassword')),
  'changePassword body.currentPassword': fc.constant(new Ref('ownPassword')),
  'changeEmail body.password': fc.constant(new Ref('knownPassword')),
  'disableTwoFactor body.password': fc.constant(new Ref('knownPassword')),
  'regenerateRecoveryCodes body.password': fc.constant(new Ref('knownPassword')),
  'confirmTwoFactor body.code': fc.constant(new Ref('pendingTotpCode')),
  'disableTwoFactor body.code': fc.constant(new Ref('totpCode')),
  'disableTwoFactor body.recoveryCode': fc.constant(new Ref('recoveryCode')),
  'completeTwoFactorSignIn body.code': fc.constant(new Ref('totpCode')),
  'completeTwoFactorSignIn body.recoveryCode': fc.constant(new Ref('recoveryCode')),
  'confirmEmailChange body.token': fc.constant(new Ref('emailChangeToken')),
  // passkeys: the password again, and what the own person's authenticator answers to the server's options
  'startPasskeyRegistration body.password': fc.constant(new Ref('knownPassword')),
  'removePasskey body.password': fc.constant(new Ref('knownPassword')),
  'addPasskey body.credential': fc.constant(new Ref('passkeyRegistration')),
  'signInWithPasskey body.credential': fc.constant(new Ref('passkeyAssertion')),
  'deleteOrganization query.cascade': fc.constantFrom('true', 'false'),
  // plans of the built-in catalog (src/server/domain/plans/catalog.ts)
  'changePlan body.planId': fc.constantFrom('starter', 'team', 'business'),
  ...Object.fromEntries(
    ['getUsage', 'exportUsage'].flatMap((op) => ['from', 'to'].map((end) => [`${op} query.${end}`, fc.constantFrom('2025-12-02', '2026-06-30', '2026-11-01', '2026-12-01')])),
  ),
  'setBillingDetails body.postalCode': fc.constantFrom('10117', 'SW1A 1AA', '75001', '1010-123'),
  'setBillingDetails body.country': fc.constantFrom('DE', 'FR', 'GB', 'US', 'JP'),
  // a VAT number of the body's country, or none (FIXUPS.setBillingDetails matches the two)
  'setBillingDetails body.taxId': fc.constantFrom('DE123456789', 'FR12345678901', 'GB123456789'),
  ...Object.fromEntries(
    ['searchAuditEvents', 'exportAuditEvents'].flatMap((op) => [
      // actions of the catalog (src/shared/audit.ts): one, a whole noun, or a list
      [`${op} query.action`, fc.constantFrom('member.created', 'device.*', 'organization.created,device.*', 'account.updated, access_key.*')],
      [`${op} query.targetType`, fc.constantFrom('device', 'member', 'organization', 'nothing_of_that_kind')],
    ]),
  ),
};

const VALUES_BY_NAME: Record<string, fc.Arbitrary<unknown>> = {
  country: fc.constantFrom('GB', 'DE', 'FR', 'NL', 'US', 'JP', 'BR', 'de', 'gb', ' fr '),
  password: strongPassword,
  newPassword: strongPassword,
  memberPassword: strongPassword,
  expiresAt: futureMoment,
  // a fixed limit is at most the plan's allowance (10 on the starter plan)
  connectionLimit: fc.integer({ min: 1, max: 10 }),
};

/** Names that must be unique in an account, and other names: all get a counter. */
const UNIQUE_FIELDS = new Set(['name', 'identifier', 'memberName', 'label', 'companyName', 'kind']);

function valueOf(schema: Schema | undefined, f: Field): fc.Arbitrary<unknown> {
  const { schema: s, nullable } = nonNull(schema);
  const arb = nonNullValueOf(s, f);
  return nullable ? fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(null) }) : arb;
}

function nonNullValueOf(s: Schema, f: Field): fc.Arbitrary<unknown> {
  const special = FIELD_VALUES[`${f.op.id} ${f.part}.${f.pointer}`] ?? VALUES_BY_NAME[f.name];
  if (special) return special;
  if (s.oneOf || s.anyOf) return fc.oneof(...(s.oneOf ?? s.anyOf)!.map((alternative) => valueOf(alternative, f)));
  if (s.enum) return fc.constantFrom(...s.enum);
  const kind = idKindOf(f, s);
  if (kind) return fc.constant(new Ref(kind));
  switch (s.type) {
    case 'string':
      if (s.format === 'email') return fc.constant(new Ref('freshEmail'));
      if (s.format === 'date-time') return futureMoment;
      return text(s.minLength ?? 0, s.maxLength ?? 200, UNIQUE_FIELDS.has(f.name));
    case 'integer':
    case 'number':
      return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1000 });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = nonNull(s.items).schema;
      const itemKind = idKindOf(itemOf(f), items);
      const max = Math.min(s.maxItems ?? 2, 2);
      // ids of a list are distinct ids of the world: the index picks which
      if (itemKind) return fc.integer({ min: s.minItems ?? 0, max }).map((n) => Array.from({ length: n }, (_, i) => new Ref(itemKind, 'own', i)));
      return fc.array(valueOf(s.items, itemOf(f)), { minLength: s.minItems ?? 0, maxLength: max }).map((list) => list.map(reindex));
    }
    case 'object':
      return objectOf(s, f);
    default:
      return fc.constant('x');
  }
}

/** The n-th item of a list refers to the n-th id of its kind. */
function reindex(item: unknown, index: number): unknown {
  if (!isPlainObject(item)) return item;
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v instanceof Ref && v.variant === 'own' ? new Ref(v.kind, 'own', index) : v]));
}

function objectOf(s: Schema, f: Field): fc.Arbitrary<unknown> {
  const properties = Object.entries(s.properties ?? {});
  const required = (s.required ?? []).filter((k) => s.properties?.[k]);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, property] of properties) model[key] = valueOf(property, child(f, key));
  let arb = fc.record(model, { requiredKeys: required as never[] }) as fc.Arbitrary<Record<string, unknown>>;
  // a change changes something (`empty_change`)
  if (f.pointer === '' && f.op.method === 'PATCH') arb = arb.filter((o) => Object.keys(o).length > 0);
  return arb.map((o) => scoped(o, f.pointer.endsWith('grants[]')));
}

/**
 * One scope at most (group or organization), none for an owner, and exactly one for a grant on a
 * group or an organization (src/shared/users.ts, access-keys.ts).
 */
function scoped(o: Record<string, unknown>, grant: boolean): Record<string, unknown> {
  if (!('role' in o)) return o;
  const out = { ...o };
  if (out.role === 'owner') {
    delete out.groupId;
    delete out.organizationId;
  } else if (out.groupId !== undefined && out.organizationId !== undefined) {
    delete out.groupId;
  }
  if (grant && out.groupId === undefined && out.organizationId === undefined) out.organizationId = new Ref('organizationId');
  return out;
}

function orderedDays(d: Draft): void {
  const { from, to } = d.query as { from?: string; to?: string };
  if (from !== undefined && to !== undefined && (from > to || Date.parse(to) - Date.parse(from) >= 366 * 86_400_000)) delete d.query.from;
}

function orderedRange(d: Draft): void {
  const { from, to } = d.query as { from?: string; to?: string };
  if (from !== undefined && to !== undefined && Date.parse(from) >= Date.parse(to)) delete d.query.to;
}

/** One second factor of the app: a code or a recovery code (a passkey's step is test/api/passkeys.test.ts's). */
function oneSecondFactor(d: Draft): void {
  const body = d.body as Record<string, unknown>;
  delete body.passkey;
  if (body.code !== undefined) delete body.recoveryCode;
  else body.recoveryCode ??= new Ref('recoveryCode');
}

/** What the schemas cannot say: rules across fields, checked by the server (src/shared/*.ts). */
const FIXUPS: Record<string, (draft: Draft) => void> = {
  setAccountUserRoles: (d) => {
    const body = d.body as { role: unknown; grants?: Array<Record<string, unknown>> };
    const seen = new Set<string>();
    // one grant per scope; the group is one, organizations are two
    body.grants = (body.grants ?? []).filter((g) => {
      const key = g.groupId !== undefined ? 'group' : `organization ${(g.organizationId as Ref).index % 2}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (body.role === null && body.grants.length === 0) body.grants = [{ role: 'viewer', organizationId: new Ref('organizationId') }];
  },
  clientEnroll: (d) => {
    const body = d.body as Record<string, unknown>;
    if ((body.memberEmail === undefined) !== (body.memberPassword === undefined)) {
      delete body.memberEmail;
      delete body.memberPassword;
    }
  },
  // a VAT number is the country's: keep it only where it fits
  setBillingDetails: (d) => {
    const body = d.body as { country?: string; taxId?: string };
    if (body.taxId !== undefined && body.taxId.slice(0, 2) !== body.country) delete body.taxId;
  },
  // a range of days ends on or after its first, at most 366 days later
  getUsage: orderedDays,
  exportUsage: orderedDays,
  // a time range ends after it starts
  searchAuditEvents: orderedRange,
  exportAuditEvents: orderedRange,
  // a code of the app or a recovery code: exactly one
  disableTwoFactor: oneSecondFactor,
  completeTwoFactorSignIn: oneSecondFactor,
  // the two-factor requirement is the owner's, in person and with a second factor of their own
  // (test/api/two-factor.test.ts): the fuzzed owner and key change the rest of the profile
  updateAccount: (d) => {
    const body = d.body as Record<string, unknown>;
    delete body.requireTwoFactor;
    if (Object.keys(body).length === 0) body.emailNotifications = true;
  },
  // nobody signed in: the invited person signs up with a name and a password
  acceptInvitation: (d) => {
    const body = d.body as Record<string, unknown>;
    body.name ??= 'Invited Person';
    body.password ??= 'violet harbor 4242 amber';
  },
};

interface Draft {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
}

function draftOf(op: Operation): fc.Arbitrary<Draft> {
  const base: Field = { op, part: 'path', pointer: '', name: '' };
  const pathModel: Record<string, fc.Arbitrary<unknown>> = {};
  for (const p of op.pathParams) pathModel[p.name] = valueOf(p.schema, { ...base, part: 'path', pointer: p.name, name: p.name });
  const queryModel: Record<string, fc.Arbitrary<unknown>> = {};
  // a cursor is one a list gave out: valid requests start at the first page
  for (const p of op.queryParams) if (p.name !== 'cursor') queryModel[p.name] = valueOf(p.schema, { ...base, part: 'query', pointer: p.name, name: p.name });
  const requiredQuery = op.queryParams.filter((p) => p.required).map((p) => p.name);
  const body = op.body ? valueOf(op.body.schema, { ...base, part: 'body' }) : fc.constant(undefined);
  return fc
    .record({
      path: fc.record(pathModel),
      query: fc.record(queryModel, { requiredKeys: requiredQuery as never[] }),
      body,
    })
    .map((d) => {
      const draft = clone(d as Draft);
      FIXUPS[op.id]?.(draft);
      return draft;
    });
}

// ---------------------------------------------------------------------------------------------
// Principals

/** The principal a valid request comes from. */
function homeOf(op: Operation): PrincipalName[] {
  if (op.id === 'resendVerificationEmail') return ['unverified'];
  if (OWN_PERSON_OPS.has(op.id)) return ['ownPerson'];
  if (op.open) return ['anonymous'];
  if (op.client) return ['bearer'];
  return op.viaKey ? ['owner', 'ownerKey'] : ['owner'];
}

/** Whether a request by this (non-home) principal must be refused, whatever else it carries. */
function refusedPrincipal(op: Operation, spec: Spec): boolean {
  const p = spec.principal;
  if (homeOf(op).includes(p) || op.open) return false;
  if (p === 'anonymous' || p === 'garbage') return true;
  if (op.client) return p !== 'bearer';
  if (p === 'bearer') return true;
  if (p === 'ownerKey' && !op.viaKey) return true;
  // A's account, addressed by someone with no role in it
  const account = spec.path.accountId;
  if ((p === 'outsider' || p === 'unverified') && account instanceof Ref && account.variant === 'own') return true;
  return false;
}

/**
 * Operations on a person's own password, email and second factor: each valid request comes from a
 * person of its own (Run.own), set up as the operation needs. They end other sessions, spend codes
 * and count wrong passwords against the person, which the shared principals must not suffer.
 */
const OWN_PERSON_OPS = new Set([
  'startTwoFactor',
  'confirmTwoFactor',
  'disableTwoFactor',
  'regenerateRecoveryCodes',
  'changePassword',
  'changeEmail',
  'completeTwoFactorSignIn',
  'getTwoFactorMethods',
  'startPasskeyRegistration',
  'addPasskey',
  'renamePasskey',
  'removePasskey',
  'signInWithPasskey',
]);

/** Signing in or out ends the session the request came with: such requests use a throwaway session. */
const THROWAWAY_SESSION = new Set(['signIn', 'signOut', 'signInWithPasskey']);

/**
 * Requests of one mode. Broken ones start with a mutation of `kind` (every kind that applies to the
 * operation gets its own runs, so none is left to chance) and may carry a second one of any kind.
 */
function specOf(op: Operation, mode: Mode, kind?: string): fc.Arbitrary<Spec> {
  const home = homeOf(op);
  const others = PRINCIPALS.filter((p) => !home.includes(p));
  const principal =
    mode === 'valid'
      ? fc.constantFrom(...home)
      : mode === 'foreign'
        ? fc.constantFrom(...others)
        : fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...home) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
  const valid = fc.tuple(draftOf(op), principal).map(
    ([d, p]): Spec => ({
      op: op.id,
      mode,
      principal: p,
      method: op.method,
      path: d.path,
      query: d.query,
      queryExtra: [],
      body: d.body,
      encoding: op.body?.encoding ?? 'none',
      mutations: [],
    }),
  );
  if (mode !== 'broken' || !kind) return valid;
  const first = MUTATIONS[kind]!;
  return valid
    .filter((spec) => first(op, spec, locationsOf(op, spec)) !== null)
    .chain((spec) => first(op, spec, locationsOf(op, spec))!)
    .chain((spec) => fc.oneof({ weight: 2, arbitrary: fc.constant(spec) }, { weight: 1, arbitrary: mutated(op, spec) }));
}

/** The kinds of mutation that apply to an operation (to some of its valid requests, as sampled). */
function kindsOf(op: Operation): string[] {
  const samples = fc.sample(specOf(op, 'broken'), { numRuns: 60, seed: seedOf(op.id, 'kinds') });
  return Object.keys(MUTATIONS).filter((kind) => !SKIP.has(kind) && samples.some((spec) => MUTATIONS[kind]!(op, spec, locationsOf(op, spec)) !== null));
}

// ---------------------------------------------------------------------------------------------
// Broken requests: mutations of a valid one

interface Loc {
  part: Part;
  keys: Array<string | number>;
  schema: Schema;
  nullable: boolean;
  required: boolean;
  value: unknown;
  /** `body.grants[0].role` */
  label: string;
}

function locationsOf(op: Operation, spec: Spec): Loc[] {
  const out: Loc[] = [];
  for (const p of op.pathParams) {
    const { schema, nullable } = nonNull(p.schema);
    out.push({ part: 'path', keys: [p.name], schema, nullable, required: true, value: spec.path[p.name], label: `path.${p.name}` });
  }
  for (const p of op.queryParams) {
    if (!(p.name in spec.query)) continue;
    const { schema, nullable } = nonNull(p.schema);
    out.push({ part: 'query', keys: [p.name], schema, nullable, required: !!p.required, value: spec.query[p.name], label: `query.${p.name}` });
  }
  const walk = (raw: Schema | undefined, value: unknown, keys: Array<string | number>, required: boolean) => {
    let { schema, nullable } = nonNull(raw);
    // an alternative of a oneOf: the one whose fixed values the value has (the token endpoint's grants)
    const alternatives = schema.oneOf ?? schema.anyOf;
    if (alternatives && isPlainObject(value)) {
      const match = alternatives.map(resolve).find((a) => Object.entries(a.properties ?? {}).every(([k, p]) => !resolve(p).enum || resolve(p).enum!.includes(value[k])));
      if (match) schema = match;
    }
    const label = `body${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
    out.push({ part: 'body', keys, schema, nullable, required, value, label });
    if (isPlainObject(value) && schema.properties) {
      const req = new Set(schema.required ?? []);
      for (const [k, v] of Object.entries(value)) if (schema.properties[k]) walk(schema.properties[k], v, [...keys, k], req.has(k));
    }
    if (Array.isArray(value) && schema.items) value.slice(0, 3).forEach((v, i) => walk(schema.items, v, [...keys, i], true));
  };
  if (op.body && spec.body !== undefined) walk(op.body.schema, spec.body, [], true);
  return out;
}

const keyOf = (loc: { part: Part; keys: Array<string | number> }) => `${loc.part}:${loc.keys.join('.')}`;

function withChange(spec: Spec, mutation: Mutation, change: (s: Spec) => void): Spec {
  const next: Spec = { ...clone(spec), queryExtra: [...spec.queryExtra], mutations: [...spec.mutations, mutation] };
  change(next);
  return next;
}

/** The mutation record of a change at `loc`. */
const at = (loc: Loc, what: string, must: Mutation['must'], tag: string): Mutation => ({ label: `${labelOf(loc)}: ${what}`, must, tag, at: keyOf(loc) });

function setAt(spec: Spec, loc: Loc, value: unknown): void {
  if (loc.part === 'path') spec.path[loc.keys[0] as string] = value;
  else if (loc.part === 'query') spec.query[loc.keys[0] as string] = value;
  else if (loc.keys.length === 0) spec.body = value;
  else {
    let node = spec.body as Record<string | number, unknown>;
    for (const k of loc.keys.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    node[loc.keys.at(-1)!] = value;
  }
}

function deleteAt(spec: Spec, loc: Loc): void {
  let node = spec.body as Record<string | number, unknown>;
  for (const k of loc.keys.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  delete node[loc.keys.at(-1)!];
}

const labelOf = (loc: Loc) => (loc.label === 'body' ? 'body' : loc.label);
const isIdRef = (v: unknown): v is Ref => v instanceof Ref && isIdKind(v.kind) && v.variant === 'own';
const isStringy = (loc: Loc) => loc.schema.type === 'string' && !isIdRef(loc.value) && !loc.schema.enum;

/** Characters that make trouble: NUL and other controls, lone surrogates, direction marks, zero-width, combining, emoji, … */
const ODD: Array<[string, string]> = [
  ['nul', '\u0000'],
  ['nul', 'a\u0000b'],
  ['control', '\u0001\u001b\u007f'],
  ['surrogate', '\ud800'],
  ['surrogate', '\udfff'],
  ['surrogate', 'x\ud83dy'],
  ['direction', '\u202e\u202d'],
  ['direction', '\u200f\u200e\u061c'],
  ['zero-width', '\u200b\u200c\u200d'],
  ['zero-width', '\ufeff'],
  ['noncharacter', '\uffff\ufffe'],
  ['replacement', '\ufffd'],
  ['combining', 'e' + '\u0301'.repeat(30)],
  ['emoji', '👩‍👩‍👧‍👦'],
  ['tags', '\u{e0041}\u{e007f}'],
  ['separator', '\u2028\u2029'],
  ['whitespace', '\r\n\t'],
  ['whitespace', '\u0085\u00a0\u3000'],
  ['case', 'ǅİıß'],
  ['math', '𝕏𝔂'],
  ['injection', "'; drop table users; --"],
  ['injection', '${7*7}{{7*7}}'],
  ['injection', '<script>alert(1)</script>'],
  ['injection', '%00%27'],
  ['injection', '\\u0000\\'],
  ['injection', '../../etc/passwd'],
];

const MALFORMED_IDS: Array<string | Big> = ['not-a-uuid', '', '123', '0193a4f27c1e7b3d9a452f6e8d1c0b7a', 'zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz', '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7', '０１９３a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a', "1' OR '1'='1", 'null', '{accountId}', '-1', new Big('a', 5000)];
/** Path segments no router should take for an id: longer than a parameter may be, or not valid URL encodings at all. */
const RAW_SEGMENTS = ['%', '%zz', '%E0%A4%A', '%00', 'a%2Fb', 'a/b', 'x'.repeat(101), 'x'.repeat(5000), '%F0%9F%98%80', '%ED%A0%80'];

type MutationKind = (op: Operation, spec: Spec, locs: Loc[]) => fc.Arbitrary<Spec> | null;

const pick = <T,>(items: T[]) => (items.length > 0 ? fc.constantFrom(...items) : null);

/** Applies the mutation `make` builds for one of `locs`, or null when none fits. */
function atOneOf(locs: Loc[], make: (loc: Loc) => fc.Arbitrary<Spec> | null): fc.Arbitrary<Spec> | null {
  const options = locs.map((loc) => make(loc)).filter((a): a is fc.Arbitrary<Spec> => a !== null);
  return options.length > 0 ? fc.oneof(...options) : null;
}

const MUTATIONS: Record<string, MutationKind> = {
  // a value of another JSON type (the query and the path are text: values no parser takes)
  wrongType: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part !== 'path' || l.schema.enum), (loc) => {
      if (spec.encoding === 'form' && loc.part === 'body' && loc.keys.length > 0) return null;
      let values: unknown[];
      if (loc.part === 'path') values = ['nope', 'NOT_FOUND', 'not found'];
      else if (loc.part === 'query') {
        if (loc.schema.type === 'integer' || loc.schema.type === 'number') {
          values = ['abc', '1.5', 'NaN', '', '1e9999', String((loc.schema.minimum ?? 0) - 1), String((loc.schema.maximum ?? 1e6) + 1)];
        } else if (loc.keys[0] === 'cascade') values = ['maybe', 'tru', '2', 'yes please'];
        else return null;
      } else if (loc.keys.length === 0) values = [[], 'text', 42, null, true];
      else {
        const type = loc.schema.type ?? (loc.schema.enum ? 'string' : 'string');
        values = {
          string: [42, true, [], {}, ['x']],
          integer: ['5', true, [], {}, 1.5],
          number: ['5', true, [], {}],
          boolean: ['true', 1, 'yes'],
          array: ['x', {}, 1],
          object: ['x', [], 1],
        }[type] ?? [42];
        if (!loc.nullable) values = [...values, null];
      }
      return fc.constantFrom(...values).map((v) => withChange(spec, at(loc, `${JSON.stringify(v)} (wrong type)`, true, 'type'), (s) => setAt(s, loc, v)));
    }),

  missing: (op, spec, locs) => {
    const options: fc.Arbitrary<Spec>[] = [];
    const required = locs.filter((l) => l.part === 'body' && l.keys.length > 0 && l.required && typeof l.keys.at(-1) === 'string');
    const one = pick(required);
    if (one) options.push(one.map((loc) => withChange(spec, at(loc, `missing`, true, 'missing'), (s) => deleteAt(s, loc))));
    // an update without a change
    if (op.method === 'PATCH' && isPlainObject(spec.body)) options.push(fc.constant(withChange(spec, { label: 'body: {} (no field)', must: true, tag: 'missing' }, (s) => (s.body = {}))));
    return options.length > 0 ? fc.oneof(...options) : null;
  },

  extraField: (op, spec, locs) => {
    const options: fc.Arbitrary<Spec>[] = [];
    const objects = locs.filter((l) => l.part === 'body' && isPlainObject(l.value) && l.schema.properties);
    const keys = ['extra', 'isAdmin', 'accountId', 'id', 'role', 'createdAt', 'constructor', 'toString', '', 'ñame', 'plan_id', '$where'];
    const values: unknown[] = ['x', 1, true, null, {}, [], { $gt: '' }];
    const target = pick(objects);
    if (target) {
      options.push(
        fc.tuple(target, fc.constantFrom(...keys), fc.constantFrom(...values)).filter(([loc, k]) => !(k in (loc.schema.properties ?? {}))).map(([loc, k, v]) =>
          withChange(spec, at(loc, `extra field ${JSON.stringify(k)}`, loc.schema.additionalProperties === false && spec.encoding === 'json', 'extra'), (s) => {
            const copy = { ...(loc.value as Record<string, unknown>), [k]: v };
            setAt(s, loc, copy);
          }),
        ),
      );
    }
    // the query schemas are strict wherever an operation has any (src/shared/organizations.ts), but
    // for the provider's redirect back, whose parameters the provider decides
    const declared = new Set(op.queryParams.map((p) => p.name));
    options.push(
      fc.tuple(fc.constantFrom('extra', 'accountId', 'offset', 'sort', '__proto__', 'q[]'), fc.constantFrom('1', 'x', '')).filter(([k]) => !declared.has(k)).map(([k, v]) =>
        withChange(spec, { label: `query: extra parameter ${k}=${v}`, must: op.queryParams.length > 0 && !OPEN_QUERIES.has(op.id), tag: 'extra' }, (s) => s.queryExtra.push([k, v])),
      ),
    );
    return fc.oneof(...options);
  },

  length: (_op, spec, locs) =>
    atOneOf(locs.filter(isStringy), (loc) => {
      const { minLength: min = 0, maxLength: max } = loc.schema;
      const cases: Array<[string, unknown, boolean]> = [];
      if (max !== undefined) {
        cases.push([`${max + 1} characters (max ${max})`, 'x'.repeat(max + 1), true]);
        cases.push([`${max + 3} characters (max ${max})`, 'é'.repeat(max + 3), true]);
        cases.push([`${max} characters (the max)`, 'k'.repeat(max), false]);
      }
      cases.push(['empty', '', min >= 1]);
      if (min > 1) cases.push([`${min - 1} characters (min ${min})`, 'a1'.repeat(min).slice(0, min - 1), true]);
      cases.push(['blank', ' '.repeat(Math.max(min, 1)), false]);
      return fc.constantFrom(...cases).map(([what, v, must]) => withChange(spec, at(loc, `${what}`, must, 'length'), (s) => setAt(s, loc, v)));
    }),

  huge: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part !== 'path' && isStringy(l)), (loc) =>
      fc.tuple(fc.integer({ min: 10_000, max: 60_000 }), fc.constantFrom('x', 'ab')).map(([n, unit]) => {
        const length = Math.floor(n / unit.length);
        const must = loc.schema.maxLength !== undefined && loc.schema.maxLength < length * unit.length;
        return withChange(spec, at(loc, `${length * unit.length} characters`, must, 'huge'), (s) => setAt(s, loc, new Big(unit, length)));
      }),
    ),

  unicode: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part !== 'path' && isStringy(l)), (loc) =>
      // several classes at once (shrinking finds the one that matters)
      fc.tuple(fc.uniqueArray(fc.constantFrom(...ODD.filter(([tag]) => !SKIP.has(tag))), { minLength: 1, maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true })).map(([picked, where]) => {
        const odd = picked.map(([, chars]) => chars).join('');
        const tags = picked.map(([tag]) => tag);
        return withChange(spec, at(loc, `${JSON.stringify(odd)} spliced in (${tags.join(', ')})`, false, tags.includes('nul') ? 'nul' : 'unicode'), (s) =>
          setAt(s, loc, new Splice(loc.value, odd, where, loc.schema.maxLength)),
        );
      }),
    ),

  badId: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => isIdRef(l.value)), (loc) => {
      const ref = loc.value as Ref;
      const options: fc.Arbitrary<Spec>[] = [];
      // B's ids are other ids for A's principals only: B's owner may well act on B
      if (spec.principal !== 'outsider') {
        options.push(fc.constant(withChange(spec, at(loc, `the other tenant's ${ref.kind}`, 'ifA', 'other-tenant'), (s) => setAt(s, loc, new Ref(ref.kind, 'other', ref.index)))));
      }
      options.push(
        fc
          .oneof(fc.uuid({ version: 7 }), fc.uuid({ version: 4 }), fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
          .map((uuid) => withChange(spec, at(loc, `${uuid}, an id of nothing`, true, 'unknown-id'), (s) => setAt(s, loc, new Ref(ref.kind, 'unknown', ref.index, uuid)))),
        fc.constantFrom(...MALFORMED_IDS.filter((v) => loc.part !== 'path' || typeof v === 'string')).map((v) => withChange(spec, at(loc, `${typeof v === 'string' ? JSON.stringify(v) : fc.stringify(v)}, not an id`, true, 'malformed-id'), (s) => setAt(s, loc, v))),
        fc.constantFrom('upper', 'braces', 'spaces', 'urn', 'trailing').map((how) =>
          withChange(spec, at(loc, `own id, ${how}`, how !== 'upper', 'malformed-id'), (s) => setAt(s, loc, new Reshape(ref, how as Reshape['how']))),
        ),
      );
      return fc.oneof(...options);
    }),

  // path segments no router should take for an id; some are not valid URL encodings at all
  rawPath: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part === 'path' && isIdRef(l.value)), (loc) =>
      fc.constantFrom(...RAW_SEGMENTS).map((v) => withChange(spec, at(loc, `raw segment ${JSON.stringify(v.length > 40 ? `${v.slice(0, 5)}… (${v.length})` : v)}`, v !== '%F0%9F%98%80', 'raw-path'), (s) => setAt(s, loc, new Raw(v)))),
    ),

  number: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part === 'body' && (l.schema.type === 'integer' || l.schema.type === 'number') && typeof l.value === 'number'), (loc) => {
      const { minimum: min, maximum: max } = loc.schema;
      const cases: Array<[unknown, boolean]> = [[-0, false], [2 ** 53 + 2, max !== undefined], [1e300, max !== undefined], [-1e300, min !== undefined]];
      if (min !== undefined) cases.push([min - 1, true], [min, false]);
      if (max !== undefined) cases.push([max + 1, true], [max, false]);
      if (loc.schema.type === 'integer') cases.push([1.5, true], [(min ?? 0) + 0.000001, true]);
      return fc.constantFrom(...cases).map(([v, must]) => withChange(spec, at(loc, `${String(v)}`, must, 'number'), (s) => setAt(s, loc, v)));
    }),

  enumValue: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.schema.enum && typeof l.value === 'string'), (loc) =>
      fc.constantFrom('nope', String(loc.value).toUpperCase() === loc.value ? String(loc.value).toLowerCase() + 'x' : String(loc.value).toUpperCase(), `${String(loc.value)} `, 'owner2').map((v) =>
        withChange(spec, at(loc, `${JSON.stringify(v)} (not in the enum)`, true, 'enum'), (s) => setAt(s, loc, v)),
      ),
    ),

  dateTime: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.schema.format === 'date-time' && typeof l.value === 'string'), (loc) =>
      fc.constantFrom('tomorrow', '2030-02-30T00:00:00Z', '2031-01-01', '2031-01-01T00:00:00', '2031-13-01T00:00:00Z', '2001-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '2031-01-01T25:00:00Z').map((v) =>
        withChange(spec, at(loc, `${v}`, true, 'date-time'), (s) => setAt(s, loc, v)),
      ),
    ),

  arrayBounds: (_op, spec, locs) =>
    atOneOf(locs.filter((l) => l.part === 'body' && Array.isArray(l.value) && l.schema.items), (loc) => {
      const list = loc.value as unknown[];
      const max = loc.schema.maxItems;
      const kind = ID_SOURCES[String(loc.keys.at(-1))];
      const sample = list[0] ?? (kind ? new Ref(kind) : 'x');
      const cases: Array<[string, unknown[], boolean]> = [['empty', [], false]];
      if (list.length > 0) cases.push(['an item twice', [...list, list[0]], false]);
      if (max !== undefined) cases.push([`${max + 1} items (max ${max})`, Array.from({ length: max + 1 }, () => sample), true]);
      return fc.constantFrom(...cases).map(([what, v, must]) => withChange(spec, at(loc, `${what}`, must, 'array'), (s) => setAt(s, loc, v)));
    }),

  contentType: (_op, spec) => {
    if (!UNSAFE.has(spec.method)) return null;
    if (spec.encoding === 'none') {
      // a body where the operation takes none
      return fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded').map((ct) =>
        withChange(spec, { label: `a body (${ct}) where none is taken`, must: false, tag: 'content-type' }, (s) => {
          s.body = { fuzz: 'x' };
          s.encoding = 'json';
          s.contentType = ct;
        }),
      );
    }
    const wrong: Array<[string | null, boolean]> =
      spec.encoding === 'json'
        ? [['text/plain', true], ['application/xml', true], ['multipart/form-data; boundary=fuzz', true], ['application/octet-stream', true], ['application/json-patch+json', true], ['application/jsonx', true], [null, true], ['APPLICATION/JSON', false], ['application/json; charset=iso-8859-1', false], ['application/json;charset=UTF-8', false]]
        : [['text/plain', true], ['multipart/form-data; boundary=fuzz', true], [null, true], ['application/x-www-form-urlencoded; charset=utf-8', false], ['APPLICATION/X-WWW-FORM-URLENCODED', false]];
    // the other encoding the server speaks is the likeliest to slip through: drawn more often
    const other: [string, boolean] = spec.encoding === 'json' ? ['application/x-www-form-urlencoded', true] : ['application/json', true];
    return fc
      .oneof({ weight: 1, arbitrary: fc.constantFrom(...wrong) }, { weight: 1, arbitrary: fc.constant(other) })
      .map(([ct, must]) => withChange(spec, { label: `content type ${ct ?? '(none)'}`, must, tag: 'content-type' }, (s) => (s.contentType = ct)));
  },

  brokenJson: (_op, spec) => {
    if (!UNSAFE.has(spec.method) || spec.encoding === 'form') return null;
    const bodiless = spec.encoding === 'none';
    const changes: Array<[string, PayloadChange, boolean]> = [
      ['truncated', { kind: 'truncate', at: 0.5 }, true],
      ['truncated early', { kind: 'truncate', at: 0.1 }, true],
      ['a trailing brace', { kind: 'append', text: '}' }, true],
      ['a trailing comma', { kind: 'append', text: ',' }, true],
      ['trailing text', { kind: 'append', text: ' x' }, true],
      ['a trailing NUL', { kind: 'append', text: '\u0000' }, true],
      ['a leading anti-hijacking prefix', { kind: 'prepend', text: ")]}'\n" }, true],
      ['a byte order mark', { kind: 'prepend', text: '\ufeff' }, false],
      ['single quotes', { kind: 'replace', text: "{'a': 1}" }, true],
      ['unquoted keys', { kind: 'replace', text: '{a: 1}' }, true],
      ['NaN', { kind: 'replace', text: '{"a": NaN}' }, true],
      ['a comment', { kind: 'replace', text: '{"a": 1 /* c */}' }, true],
      ['a raw control character', { kind: 'replace', text: '{"a": "\u0001"}' }, true],
      ['a bad escape', { kind: 'replace', text: '{"a": "\\x41"}' }, true],
      ['a leading zero', { kind: 'replace', text: '{"a": 01}' }, true],
      ['arrays nested 20000 deep', { kind: 'replace', text: '['.repeat(20_000) + ']'.repeat(20_000) }, true],
      ['objects nested 5000 deep', { kind: 'replace', text: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) }, true],
      ['a __proto__ member', { kind: 'inject', member: '"__proto__": {"isAdmin": true, "role": "owner"}' }, true],
      ['a constructor.prototype member', { kind: 'inject', member: '"constructor": {"prototype": {"isAdmin": true}}' }, true],
      ['a key twice', { kind: 'inject', member: '"role": "owner"' }, false],
      ['bytes that are not UTF-8', { kind: 'badBytes' }, false],
    ];
    return fc.constantFrom(...changes).map(([what, payload, must]) =>
      withChange(spec, { label: `JSON: ${what}`, must: must && !bodiless, tag: 'json' }, (s) => {
        if (s.encoding === 'none') {
          s.body = { fuzz: 'x' };
          s.encoding = 'json';
        }
        s.payload = payload;
      }),
    );
  },

  overLimit: (_op, spec) => {
    if (!UNSAFE.has(spec.method)) return null;
    const limit = spec.encoding === 'form' ? FORM_LIMIT : BODY_LIMIT;
    return fc
      .oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 4096 }) }, { weight: 1, arbitrary: fc.constant(0) })
      .map((over) =>
        withChange(spec, { label: over === 0 ? `a body of exactly ${limit} bytes` : `a body ${over} bytes over the ${limit}-byte limit`, must: over > 0 ? spec.encoding !== 'none' : spec.encoding === 'json', tag: 'limit' }, (s) => {
          if (s.encoding === 'none') {
            s.body = {};
            s.encoding = 'json';
          }
          s.payload = { kind: 'pad', bytes: limit + over };
        }),
      );
  },

  emptyBody: (op, spec) => {
    if (!UNSAFE.has(spec.method)) return null;
    const options: Array<[string, (s: Spec) => void, boolean]> = [
      ['an empty body (with a content type)', (s) => {
        if (s.encoding === 'none') s.encoding = 'json';
        s.payload = { kind: 'replace', text: '' };
      }, spec.encoding !== 'none'],
    ];
    if (op.body) options.push(['no body at all', (s) => {
      s.body = undefined;
      s.encoding = 'none';
    }, op.body.required]);
    return fc.constantFrom(...options).map(([what, change, must]) => withChange(spec, { label: what, must, tag: 'empty' }, change));
  },

  csrf: (op, spec) => {
    if (!UNSAFE.has(spec.method) || !op.path.startsWith('/api/v1/') || !['owner', 'orgViewer', 'outsider', 'anonymous', 'unverified', 'ownPerson'].includes(spec.principal)) return null;
    return fc.constantFrom('omit', 'garbage', 'foreign').map((how) => withChange(spec, { label: `CSRF token: ${how}`, must: true, tag: 'csrf' }, (s) => (s.csrf = how as Spec['csrf'])));
  },

  credential: (op, spec) =>
    fc
      .constantFrom<[string, 'authorization' | 'cookie', string | Big]>(
        ['an unknown access key', 'authorization', 'Bearer tsr_ak_dGhpcyBpcyBub3QgYSBrZXkgYXQgYWxsIG5vdCBhdCBhbGw_AAAAAA'],
        ['a malformed access key', 'authorization', 'Bearer tsr_ak_'],
        ['an unknown access token', 'authorization', 'Bearer tsr_at_nope'],
        ['an empty bearer', 'authorization', 'Bearer '],
        ['basic credentials', 'authorization', 'Basic dXNlcjpwYXNz'],
        ['a huge bearer', 'authorization', new Big('A', 9000)],
        ['an unknown session cookie', 'cookie', 'tessera_session=tsr_ses_bm9wZQ'],
        ['a malformed session cookie', 'cookie', 'tessera_session=%%%; tessera_csrf=%'],
      )
      .map(([what, header, value]) =>
        withChange(spec, { label: `credential: ${what}`, must: !op.open, tag: 'credential' }, (s) => {
          s.principal = 'garbage';
          s.credential = { header, value };
        }),
      ),

  wrongMethod: (op, spec) => {
    const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !op.methodsOfPath.includes(m));
    return pick(others)?.map((method) =>
      withChange(spec, { label: `method ${method} (the path takes ${op.methodsOfPath.join(', ')})`, must: true, tag: 'method' }, (s) => {
        s.method = method;
        if (method === 'GET') {
          s.body = undefined;
          s.encoding = 'none';
        }
      }),
    ) ?? null;
  },

  queryShape: (op, spec) => {
    if (op.queryParams.length === 0) return null;
    const names = op.queryParams.map((p) => p.name);
    const options: fc.Arbitrary<Spec>[] = [
      fc.constantFrom(...names).map((name) => withChange(spec, { label: `query: ${name} twice`, must: name !== 'cascade', tag: 'query' }, (s) => s.queryExtra.push([name, name === 'limit' ? '5' : name === 'cascade' ? 'true' : 'x'], [name, name === 'limit' ? '6' : name === 'cascade' ? 'false' : 'y']))),
    ];
    if (names.includes('cursor')) {
      options.push(
        fc.constantFrom('abc', 'eyJpZCI6IngifQ', '=', '%00', 'x'.repeat(400), '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a').map((cursor) =>
          withChange(spec, { label: `query.cursor: ${JSON.stringify(cursor.slice(0, 40))} (not one a list gave out)`, must: true, tag: 'cursor' }, (s) => (s.query.cursor = cursor)),
        ),
      );
    }
    return fc.oneof(...options);
  },
};

/** Kinds that find the most, drawn more often than the others as a second mutation. */
const WEIGHTS: Record<string, number> = { unicode: 3, badId: 2, wrongType: 2, length: 2 };

/** Kinds a second mutation may be of: ones at a location of their own, and credentials (never the payload twice). */
const SECOND = new Set(['wrongType', 'missing', 'extraField', 'length', 'huge', 'unicode', 'badId', 'number', 'enumValue', 'dateTime', 'arrayBounds', 'csrf', 'credential']);

/** A second mutation, at a location the first left alone, so it cannot undo it. */
function mutated(op: Operation, spec: Spec): fc.Arbitrary<Spec> {
  const changed = new Set(spec.mutations.map((m) => m.at));
  const locs = locationsOf(op, spec).filter((l) => !changed.has(keyOf(l)));
  const options = Object.entries(MUTATIONS)
    .filter(([kind]) => !SKIP.has(kind) && SECOND.has(kind))
    .map(([kind, make]) => ({ weight: WEIGHTS[kind] ?? 1, arbitrary: make(op, spec, locs) }))
    .filter((a): a is { weight: number; arbitrary: fc.Arbitrary<Spec> } => a.arbitrary !== null);
  return options.length > 0 ? fc.oneof(...options) : fc.constant(spec);
}

// ---------------------------------------------------------------------------------------------
// HTTP: raw requests through app.inject, sessions kept by hand

interface Answer {
  status: number;
  contentType: string;
  body: any;
  text: string;
}

class Session {
  readonly cookies = new Map<string, string>();
  csrf: string | null = null;
  email: string | null = null;
  readonly t: TestApp;
  readonly address: string;
  constructor(t: TestApp, address = nextAddress()) {
    this.t = t;
    this.address = address;
  }

  cookieHeader(): string | undefined {
    return this.cookies.size > 0 ? [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ') : undefined;
  }

  store(cookies: Array<{ name: string; value: string; maxAge?: number }>): void {
    for (const c of cookies) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  async request(method: string, url: string, json?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'tessera-fuzz/1' };
    if (UNSAFE.has(method) && url.startsWith('/api/v1/')) headers['x-csrf-token'] = await this.ensureCsrf();
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const response = await this.t.app.inject({ method: method as 'GET', url, headers, payload: json === undefined ? undefined : JSON.stringify(json), remoteAddress: this.address });
    this.store(response.cookies as Array<{ name: string; value: string; maxAge?: number }>);
    let body: any = null;
    try {
      body = response.body ? JSON.parse(response.body) : null;
    } catch {
      body = response.body;
    }
    return { status: response.statusCode, contentType: String(response.headers['content-type'] ?? ''), body, text: response.body };
  }

  async ensureCsrf(): Promise<string> {
    if (this.csrf === null) {
      const answer = await this.request('GET', '/api/v1/auth/csrf');
      assert.equal(answer.status, 200, `csrf: ${answer.text}`);
      this.csrf = answer.body.csrfToken;
    }
    return this.csrf!;
  }

  async signIn(email: string, password = STRONG_PASSWORD): Promise<this> {
    const answer = await this.request('POST', '/api/v1/auth/sign-in', { email, password });
    assert.equal(answer.status, 200, `sign-in of ${email}: ${answer.text}`);
    this.csrf = answer.body.csrfToken;
    this.email = email;
    return this;
  }

  async register(): Promise<this> {
    const email = uniqueEmail('fuzz-unverified');
    const answer = await this.request('POST', '/api/v1/auth/register', { name: 'Unverified Person', email, password: STRONG_PASSWORD, companyName: 'Unverified Ltd', country: 'GB' });
    assert.equal(answer.status, 201, `registration: ${answer.text}`);
    this.csrf = answer.body.csrfToken;
    this.email = email;
    return this;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The data of an event stream's first event, then the stream is let go. */
async function firstEvent(stream: NodeJS.ReadableStream & { destroy(): void }): Promise<string> {
  let received = '';
  for await (const chunk of stream) {
    received += Buffer.from(chunk as Buffer).toString('utf8');
    const event = /(?:^|\n)event: [^\n]+\ndata: ([^\n]*)\n\n/.exec(received);
    if (event) {
      stream.destroy();
      return event[1]!;
    }
  }
  return received;
}

// ---------------------------------------------------------------------------------------------
// The world: two tenants, A (whose principals fuzz) and B (whose ids are the other tenant's)

interface Tenant {
  sdk: TesseraClient;
  ownerEmail: string;
  ownerUserId: string;
  ids: Record<IdKind, string>;
  /** The owner, signed in to the portal. */
  session: Session;
  desk: TesseraDesktopClient;
  deskMemberId: string;
}

interface Victim {
  id: string;
  email?: string;
}

type VictimKind = 'member' | 'officeToken' | 'org' | 'group' | 'groupWithOrg' | 'device' | 'lease' | 'user' | 'invitation' | 'key' | 'identity' | 'verifyToken' | 'resetToken' | 'inviteToken' | 'loginToken' | 'tokenPair' | 'emailChangeToken';

interface World {
  t: TestApp;
  A: Tenant;
  B: Tenant;
  spareOrg: string;
  freeDevice: string;
  ownerKey: string;
  /** The client addresses of the owner key and of the desktop token (throttles count per address). */
  keyAddress: string;
  bearerAddress: string;
  orgViewer: Session;
  /** An account manager of A: signs in and enrolls PCs. */
  enrollerEmail: string;
  /** A team member of A with credentials (the password grant). */
  credsEmail: string;
  lookupToken: string;
  /** Victims not yet consumed, by kind: a refused request leaves its victim for the next one. */
  pools: Map<VictimKind, Victim[]>;
  /** What successful creations added, removed before the plan's limits are reached. */
  spares: { members: string[]; orgs: string[] };
  unverified: Array<{ session: Session; uses: number }>;
  digest: Digest | null;
  digestSql: string;
}

let counter = 0;
const next = (label: string) => `${label} ${++counter}`;

function desktopClient(t: TestApp): TesseraDesktopClient {
  return new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextAddress()) });
}

async function seedTenant(t: TestApp, label: 'A' | 'B'): Promise<Tenant & { spareOrg: string; freeDevice: string; enrollerEmail: string; credsEmail: string; orgViewerEmail: string; ownerKey: string; lookupEmail: string }> {
  const owner = await registerPerson(t, { name: `Owner ${label}`, companyName: `Fuzz ${label} Ltd`, ip: nextAddress() });
  const sdk = owner.client;
  const accountId = owner.account.id;
  const org = (await sdk.createOrganization(accountId, { name: `${label} main` })).id;
  const spareOrg = (await sdk.createOrganization(accountId, { name: `${label} spare` })).id;
  const group = (await sdk.createGroup(accountId, { name: `${label} group`, organizationIds: [org] })).id;
  const device = (await sdk.createDevice(accountId, org, { name: `${label} device`, kind: 'usb', identifier: `${label}-DEVICE` })).id;
  const freeDevice = (await sdk.createDevice(accountId, org, { name: `${label} free`, kind: 'usb', identifier: `${label}-FREE` })).id;
  const leased = (await sdk.createDevice(accountId, org, { name: `${label} leased`, kind: 'usb', identifier: `${label}-LEASED` })).id;
  const deskMember = await sdk.addTeamMember(accountId, { name: `${label} desk` });
  const desk = desktopClient(t);
  await desk.signInWithLoginToken(deskMember.firstToken.secret);
  const lease = (await desk.connect(leased)).leaseId;
  const office = await sdk.addTeamMember(accountId, { name: `${label} office` });
  const creds = await sdk.addTeamMember(accountId, { name: `${label} creds` });
  const credsEmail = uniqueEmail(`creds-${label}`);
  await sdk.setMemberCredentials(accountId, creds.member.id, { email: credsEmail, password: STRONG_PASSWORD });
  const viewer = await sdk.addAccountUser(accountId, { name: `${label} viewer`, email: uniqueEmail(`viewer-${label}`), password: STRONG_PASSWORD, role: 'viewer' });
  const orgViewerEmail = uniqueEmail(`orgviewer-${label}`);
  await sdk.addAccountUser(accountId, { name: `${label} org viewer`, email: orgViewerEmail, password: STRONG_PASSWORD, role: 'viewer', organizationId: org });
  const enrollerEmail = uniqueEmail(`enroller-${label}`);
  await sdk.addAccountUser(accountId, { name: `${label} manager`, email: enrollerEmail, password: STRONG_PASSWORD, role: 'manager' });
  const invitation = await sdk.createInvitation(accountId, { email: uniqueEmail(`pending-${label}`), role: 'viewer' });
  const lookupEmail = uniqueEmail(`lookup-${label}`);
  await sdk.createInvitation(accountId, { email: lookupEmail, role: 'viewer' });
  const key = await sdk.createAccessKey(accountId, { name: `${label} reader`, role: 'viewer', organizationId: org });
  const ownerKey = await sdk.createAccessKey(accountId, { name: `${label} owner key`, role: 'owner' });
  return {
    sdk,
    ownerEmail: owner.email,
    ownerUserId: owner.user.id,
    ids: {
      accountId,
      organizationId: org,
      groupId: group,
      deviceId: device,
      memberId: office.member.id,
      tokenId: office.firstToken.token.id,
      leaseId: lease,
      userId: viewer.user.id,
      invitationId: invitation.id,
      keyId: key.key.id,
      identityId: await seedLinkedIdentity(t, owner.user.id, owner.email),
      // the viewer's: the people who sign in here must keep signing in with their password alone
      passkeyId: await seedPasskey(t, viewer.user.id),
    },
    session: await new Session(t).signIn(owner.email),
    desk,
    deskMemberId: deskMember.member.id,
    spareOrg,
    freeDevice,
    enrollerEmail,
    credsEmail,
    orgViewerEmail,
    ownerKey: ownerKey.secret,
    lookupEmail,
  };
}

async function buildWorld(t: TestApp, digestSql: string): Promise<World> {
  const A = await seedTenant(t, 'A');
  const B = await seedTenant(t, 'B');
  return {
    t,
    A,
    B,
    spareOrg: A.spareOrg,
    freeDevice: A.freeDevice,
    ownerKey: A.ownerKey,
    keyAddress: nextAddress(),
    bearerAddress: nextAddress(),
    orgViewer: await new Session(t).signIn(A.orgViewerEmail),
    enrollerEmail: A.enrollerEmail,
    credsEmail: A.credsEmail,
    lookupToken: SmtpInbox.linkToken(await t.inbox.waitFor(A.lookupEmail, /invites you/)),
    pools: new Map(),
    spares: { members: [], orgs: [] },
    unverified: [],
    digest: null,
    digestSql,
  };
}

/** A person who just registered, with the token of the mail `subject` matches. */
async function freshPersonToken(w: World, reset: boolean): Promise<string> {
  const email = uniqueEmail(reset ? 'fuzz-reset' : 'fuzz-verify');
  const client = w.t.client({ ip: nextAddress() });
  await client.register({ name: 'Fresh Person', email, password: STRONG_PASSWORD, companyName: 'Fresh Ltd', country: 'GB' });
  if (!reset) return SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /Confirm your email/));
  await w.t.client({ ip: nextAddress() }).requestPasswordReset(email);
  return SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /Reset your/));
}

const VICTIMS: Record<VictimKind, (w: World) => Promise<Victim>> = {
  member: async (w) => ({ id: (await w.A.sdk.addTeamMember(w.A.ids.accountId, { name: next('Victim desk') })).member.id }),
  officeToken: async (w) => ({ id: (await w.A.sdk.createLoginToken(w.A.ids.accountId, w.A.ids.memberId, { label: next('Victim token') })).token.id }),
  org: async (w) => ({ id: (await w.A.sdk.createOrganization(w.A.ids.accountId, { name: next('Victim org') })).id }),
  group: async (w) => ({ id: (await w.A.sdk.createGroup(w.A.ids.accountId, { name: next('Victim group') })).id }),
  groupWithOrg: async (w) => ({ id: (await w.A.sdk.createGroup(w.A.ids.accountId, { name: next('Victim group'), organizationIds: [w.A.ids.organizationId] })).id }),
  device: async (w) => ({ id: (await w.A.sdk.createDevice(w.A.ids.accountId, w.A.ids.organizationId, { name: next('Victim device'), kind: 'usb', identifier: next('VICTIM') })).id }),
  lease: async (w) => {
    const device = await w.A.sdk.createDevice(w.A.ids.accountId, w.A.ids.organizationId, { name: next('Victim leased'), kind: 'usb', identifier: next('LEASED') });
    return { id: (await w.A.desk.connect(device.id)).leaseId };
  },
  user: async (w) => {
    const email = uniqueEmail('victim');
    const added = await w.A.sdk.addAccountUser(w.A.ids.accountId, { name: 'Victim User', email, password: STRONG_PASSWORD, role: 'viewer' });
    return { id: added.user.id, email };
  },
  invitation: async (w) => ({ id: (await w.A.sdk.createInvitation(w.A.ids.accountId, { email: uniqueEmail('victim-invited'), role: 'viewer' })).id }),
  key: async (w) => ({ id: (await w.A.sdk.createAccessKey(w.A.ids.accountId, { name: next('Victim key'), role: 'viewer' })).key.id }),
  // the owner's own: unlinking is the signed-in person's, whatever account
  identity: async (w) => ({ id: await seedLinkedIdentity(w.t, w.A.ownerUserId, w.A.ownerEmail) }),
  verifyToken: async (w) => ({ id: await freshPersonToken(w, false) }),
  resetToken: async (w) => ({ id: await freshPersonToken(w, true) }),
  inviteToken: async (w) => {
    const email = uniqueEmail('fuzz-invited');
    await w.A.sdk.createInvitation(w.A.ids.accountId, { email, role: 'viewer' });
    // any subject: it names the account, which the fuzzer renames with odd text (the test inbox does not decode RFC 2047)
    return { id: SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /./)) };
  },
  loginToken: async (w) => ({ id: (await w.A.sdk.createLoginToken(w.A.ids.accountId, w.A.deskMemberId, { label: next('Exchange') })).secret }),
  tokenPair: async (w) => {
    const issued = await w.A.sdk.createLoginToken(w.A.ids.accountId, w.A.deskMemberId, { label: next('Pair') });
    return { id: (await desktopClient(w.t).signInWithLoginToken(issued.secret)).refresh_token };
  },
  emailChangeToken: async (w) => {
    const session = await new Session(w.t).register();
    const newEmail = uniqueEmail('fuzz-moved');
    const asked = await session.request('PUT', '/api/v1/me/email', { password: STRONG_PASSWORD, email: newEmail });
    assert.equal(asked.status, 202, `email change: ${asked.text}`);
    return { id: SmtpInbox.linkToken(await w.t.inbox.waitFor(newEmail, /Confirm your new email/)) };
  },
};

/** A person of their own for one request of OWN_PERSON_OPS, set up as the operation needs. */
interface OwnPerson {
  session: Session;
  secret: string | null;
  recoveryCodes: string[];
  /** The authenticator holding the person's passkey (passkeyId), for the passkey operations. */
  authenticator: SoftwareAuthenticator;
  passkeyId: string | null;
}

const totpCode = (w: World, secret: string, steps = 0) => new OTPAuth.TOTP({ secret }).generate({ timestamp: w.t.clock.now().getTime() + steps * 30_000 });

/** Operations whose own person holds a passkey. */
const WITH_PASSKEY = new Set(['renamePasskey', 'removePasskey', 'signInWithPasskey']);

async function ownPersonFor(w: World, op: string): Promise<OwnPerson> {
  const session = await new Session(w.t).register();
  const authenticator = new SoftwareAuthenticator({ origin: PASSKEY_TEST_ORIGIN });
  if (WITH_PASSKEY.has(op)) {
    const options = await session.request('POST', '/api/v1/me/passkeys/options', { password: STRONG_PASSWORD });
    const added = await session.request('POST', '/api/v1/me/passkeys', { credential: authenticator.create(options.body) });
    assert.equal(added.status, 201, `passkey: ${added.text}`);
    // a passwordless sign-in comes from a browser signed out
    return { session: op === 'signInWithPasskey' ? new Session(w.t) : session, secret: null, recoveryCodes: [], authenticator, passkeyId: added.body.passkey.id };
  }
  const none = { authenticator, passkeyId: null };
  if (!['confirmTwoFactor', 'disableTwoFactor', 'regenerateRecoveryCodes', 'completeTwoFactorSignIn', 'getTwoFactorMethods'].includes(op)) return { session, secret: null, recoveryCodes: [], ...none };
  const started = await session.request('POST', '/api/v1/me/two-factor', { password: STRONG_PASSWORD });
  assert.equal(started.status, 201, `two-factor set-up: ${started.text}`);
  const secret: string = started.body.secret;
  if (op === 'confirmTwoFactor') return { session, secret, recoveryCodes: [], ...none };
  const confirmed = await session.request('POST', '/api/v1/me/two-factor/confirm', { code: totpCode(w, secret) });
  assert.equal(confirmed.status, 200, `two-factor confirmation: ${confirmed.text}`);
  if (op !== 'completeTwoFactorSignIn' && op !== 'getTwoFactorMethods') return { session, secret, recoveryCodes: confirmed.body.recoveryCodes, ...none };
  // a browser half-way through signing in: the password was right, the code is the request
  const pending = new Session(w.t);
  const answer = await pending.request('POST', '/api/v1/auth/sign-in', { email: session.email, password: STRONG_PASSWORD });
  assert.equal(answer.body?.twoFactorRequired, true, `password step: ${answer.text}`);
  pending.csrf = answer.body.csrfToken;
  return { session: pending, secret, recoveryCodes: confirmed.body.recoveryCodes, ...none };
}

/** Slots whose own id is a fresh victim: the call consumes or destroys it. */
const TARGETS: Record<string, VictimKind> = {
  'removeTeamMember path.memberId': 'member',
  'revokeLoginToken path.tokenId': 'officeToken',
  'deleteOrganization path.organizationId': 'org',
  'deleteGroup path.groupId': 'group',
  'addOrganizationToGroup path.groupId': 'group',
  'removeOrganizationFromGroup path.groupId': 'groupWithOrg',
  'deleteDevice path.deviceId': 'device',
  'closeConnection path.leaseId': 'lease',
  'clientCloseConnection path.leaseId': 'lease',
  'setAccountUserRoles path.userId': 'user',
  'removeAccountUser path.userId': 'user',
  'transferOwnership body.userId': 'user',
  'revokeInvitation path.invitationId': 'invitation',
  'revokeAccessKey path.keyId': 'key',
  'unlinkIdentity path.identityId': 'identity',
};

/** Secrets that are victims too: spent by a successful call. */
const SECRET_VICTIMS: Partial<Record<SecretKind, VictimKind>> = {
  verifyToken: 'verifyToken',
  resetToken: 'resetToken',
  inviteToken: 'inviteToken',
  loginToken: 'loginToken',
  refreshToken: 'tokenPair',
  revocableToken: 'tokenPair',
  emailChangeToken: 'emailChangeToken',
};

/** One request being sent: victims it took, and what they return to when it is refused. */
class Run {
  readonly taken: Array<{ kind: VictimKind; victim: Victim }> = [];
  readonly w: World;
  readonly op: Operation;
  readonly spec: Spec;
  constructor(w: World, op: Operation, spec: Spec) {
    this.w = w;
    this.op = op;
    this.spec = spec;
  }

  async victim(kind: VictimKind): Promise<Victim> {
    const pool = this.w.pools.get(kind) ?? [];
    this.w.pools.set(kind, pool);
    let victim = pool.pop();
    if (!victim) {
      // the setup writes: the baseline is taken after it (even if it fails half-way)
      this.w.digest = null;
      victim = await VICTIMS[kind](this.w);
    }
    this.taken.push({ kind, victim });
    return victim;
  }

  #own: OwnPerson | null = null;

  /** The person of its own an OWN_PERSON_OPS request comes from (or whose codes it carries). */
  async own(): Promise<OwnPerson> {
    if (!this.#own) {
      // the setup writes: the baseline is taken after it
      this.w.digest = null;
      this.#own = await ownPersonFor(this.w, this.op.id);
    }
    return this.#own;
  }

  /** A refused request spent nothing: its victims go back to their pools. */
  settle(succeeded: boolean): void {
    if (succeeded) return;
    for (const { kind, victim } of this.taken) this.w.pools.get(kind)!.push(victim);
  }

  async id(ref: Ref, slot: string): Promise<string> {
    const kind = ref.kind as IdKind;
    if (ref.variant === 'unknown') return ref.uuid;
    if (ref.variant === 'other') return this.w.B.ids[kind];
    // a passkey of the person the request comes from
    if (kind === 'passkeyId') return (await this.own()).passkeyId ?? this.w.A.ids.passkeyId;
    const target = TARGETS[`${this.op.id} ${slot}`];
    if (target) return (await this.victim(target)).id;
    if (this.op.id === 'clientOpenConnection' && kind === 'deviceId') return this.w.freeDevice;
    if (kind === 'organizationId' && ref.index % 2 === 1) return this.w.spareOrg;
    return this.w.A.ids[kind];
  }

  async secret(kind: SecretKind): Promise<unknown> {
    // wrong passwords are counted per email: a request with a changed field names nobody, so valid
    // ones are never throttled (changes to the whole request are refused before a password is checked)
    const nobody = this.spec.mutations.some((m) => m.at?.startsWith('body:'));
    switch (kind) {
      case 'signinEmail':
      case 'enrollerEmail':
        return nobody ? uniqueEmail('nobody') : this.w.enrollerEmail;
      case 'credsEmail':
        return nobody ? uniqueEmail('nobody') : this.w.credsEmail;
      case 'knownPassword':
        return STRONG_PASSWORD;
      // a shared principal's password must never change (the world signs in with it): only the
      // person of its own knows theirs; anyone else sending this request guesses wrong
      case 'ownPassword':
        return this.spec.principal === 'ownPerson' ? STRONG_PASSWORD : 'not their password 1';
      case 'freshEmail':
        return uniqueEmail('fuzz');
      case 'lookupToken':
        return this.w.lookupToken;
      // the enrolment's own step; an enrolled person's next step (enrolling spent this one)
      case 'pendingTotpCode':
        return totpCode(this.w, (await this.own()).secret!);
      case 'totpCode':
        return totpCode(this.w, (await this.own()).secret!, 1);
      case 'recoveryCode':
        return (await this.own()).recoveryCodes[0]!;
      // the browser's answers to options asked for just now, as the person whose request it is
      case 'passkeyRegistration': {
        const own = await this.own();
        const options = await own.session.request('POST', '/api/v1/me/passkeys/options', { password: STRONG_PASSWORD });
        return own.authenticator.create(options.body);
      }
      case 'passkeyAssertion': {
        const own = await this.own();
        const options = await new Session(this.w.t).request('POST', '/api/v1/auth/passkey/options');
        return own.authenticator.get(options.body);
      }
      default:
        return (await this.victim(SECRET_VICTIMS[kind]!)).id;
    }
  }

  /** The value with every symbol filled in; `slot` names where it sits (`body.grants[].groupId`). */
  async value(v: unknown, slot: string): Promise<unknown> {
    if (v instanceof Ref) return isIdKind(v.kind) ? this.id(v, slot) : this.secret(v.kind as SecretKind);
    if (v instanceof Unique) {
      const suffix = ` ${(++counter).toString(36)}`;
      let head = v.text.slice(0, Math.max(0, v.max - suffix.length));
      if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
      return `${head}${suffix}`;
    }
    if (v instanceof Big) return v.unit.repeat(v.length);
    if (v instanceof Splice) {
      let base = String(await this.value(v.inner, slot));
      const room = v.max === undefined ? base.length : Math.max(0, v.max - v.insert.length);
      base = base.slice(0, room);
      const at = Math.floor(v.at * base.length);
      const out = base.slice(0, at) + v.insert + base.slice(at);
      return v.max === undefined ? out : out.slice(0, Math.max(v.max, v.insert.length));
    }
    if (v instanceof Reshape) {
      const id = String(await this.value(v.inner, slot));
      return { upper: id.toUpperCase(), braces: `{${id}}`, spaces: ` ${id} `, urn: `urn:uuid:${id}`, trailing: `${id}x` }[v.how];
    }
    if (v instanceof Raw) return v;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const item of v) out.push(await this.value(item, `${slot}[]`));
      return out;
    }
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = await this.value(x, `${slot}.${k}`);
      return out;
    }
    return v;
  }
}

// ---------------------------------------------------------------------------------------------
// Building the request on the wire

interface Wire {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
  address: string;
  /** For the report. */
  principal: string;
}

/** Fills the payload to exactly `bytes` bytes with a JSON (or form) member. */
function padded(encoding: Spec['encoding'], bytes: number): string {
  if (encoding === 'form') {
    const head = 'grant_type=refresh_token&refresh_token=x&pad=';
    return head + 'x'.repeat(Math.max(0, bytes - head.length));
  }
  const head = '{"pad":"';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - 2)) + '"}';
}

function serialize(encoding: 'json' | 'form', body: unknown): string {
  if (encoding === 'json') return JSON.stringify(body) ?? '';
  const form = new URLSearchParams();
  if (isPlainObject(body)) for (const [k, v] of Object.entries(body)) form.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  else form.append('body', JSON.stringify(body));
  return form.toString();
}

async function principalHeaders(run: Run, method: string, url: string): Promise<{ address: string; headers: Record<string, string>; who: string }> {
  const { w, spec } = run;
  const csrfNeeded = UNSAFE.has(method) && url.startsWith('/api/v1/');
  const sessionHeaders = async (session: Session) => {
    const headers: Record<string, string> = {};
    if (csrfNeeded && spec.csrf !== 'omit') {
      const own = await session.ensureCsrf();
      headers['x-csrf-token'] = spec.csrf === 'garbage' ? 'garbage-token' : spec.csrf === 'foreign' ? await (session === w.B.session ? w.A.session : w.B.session).ensureCsrf() : own;
    }
    const cookie = session.cookieHeader();
    if (cookie) headers.cookie = cookie;
    return { address: session.address, headers, who: spec.principal };
  };
  const throwaway = THROWAWAY_SESSION.has(spec.op);
  // signing in and registering write (sessions, audit events): the baseline is taken after them
  if (throwaway || spec.principal === 'unverified') w.digest = null;
  switch (spec.principal) {
    case 'owner':
      return sessionHeaders(throwaway ? await new Session(w.t).signIn(w.A.ownerEmail) : w.A.session);
    case 'orgViewer':
      return sessionHeaders(throwaway ? await new Session(w.t).signIn(w.orgViewer.email!) : w.orgViewer);
    case 'outsider':
      return sessionHeaders(throwaway ? await new Session(w.t).signIn(w.B.ownerEmail) : w.B.session);
    case 'anonymous':
      return sessionHeaders(new Session(w.t));
    case 'ownPerson':
      return sessionHeaders((await run.own()).session);
    case 'unverified': {
      // resending is limited to 3 per person per 15 minutes: a person serves two requests
      let entry = w.unverified.find((u) => u.uses < 2);
      if (!entry) w.unverified.push((entry = { session: await new Session(w.t).register(), uses: 0 }));
      entry.uses += 1;
      return sessionHeaders(entry.session);
    }
    case 'ownerKey':
      return { address: w.keyAddress, headers: { authorization: `Bearer ${w.ownerKey}` }, who: 'ownerKey' };
    case 'bearer':
      return { address: w.bearerAddress, headers: { authorization: `Bearer ${w.A.desk.tokens!.access_token}` }, who: 'bearer' };
    case 'garbage': {
      const value = spec.credential!.value;
      return { address: nextAddress(), headers: { [spec.credential!.header]: value instanceof Big ? `Bearer ${value.unit.repeat(value.length)}` : value }, who: 'garbage' };
    }
  }
}

async function wireOf(run: Run): Promise<Wire> {
  const { op, spec } = run;
  let url = op.path;
  for (const p of op.pathParams) {
    const value = await run.value(spec.path[p.name], `path.${p.name}`);
    url = url.replace(`{${p.name}}`, value instanceof Raw ? value.text : encodeURIComponent(String(value)));
  }
  const query = new URLSearchParams();
  for (const [name, v] of Object.entries(spec.query)) {
    if (v === undefined) continue;
    const value = await run.value(v, `query.${name}`);
    query.append(name, typeof value === 'string' ? value : String(value));
  }
  for (const [name, value] of spec.queryExtra) query.append(name, value);
  if (query.size > 0) url += `?${query}`;

  let payload: string | Buffer | undefined;
  let contentType: string | null = null;
  if (spec.encoding !== 'none') {
    const body = await run.value(spec.body, 'body');
    const declared = spec.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    contentType = spec.contentType === undefined ? declared : spec.contentType;
    // the body as the (wrong) content type would carry it, where that is JSON or a form
    const as = contentType?.toLowerCase().startsWith('application/json') ? 'json' : contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') ? 'form' : spec.encoding;
    let written = serialize(as, body);
    const change = spec.payload;
    if (change?.kind === 'replace') written = change.text instanceof Big ? change.text.unit.repeat(change.text.length) : change.text;
    else if (change?.kind === 'truncate') written = written.slice(0, Math.max(1, Math.min(written.length - 1, Math.floor(written.length * change.at))));
    else if (change?.kind === 'append') written += change.text;
    else if (change?.kind === 'prepend') written = change.text + written;
    else if (change?.kind === 'inject') written = written.startsWith('{') && written !== '{}' ? `{${change.member},${written.slice(1)}` : `{${change.member}}`;
    else if (change?.kind === 'pad') written = padded(as, change.bytes);
    payload = written;
    if (change?.kind === 'badBytes') {
      const bytes = Buffer.from(written, 'utf8');
      const at = Math.max(0, bytes.indexOf(0x22) + 1);
      payload = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), bytes.subarray(at)]);
    }
  }
  const who = await principalHeaders(run, spec.method, url);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'tessera-fuzz/1', ...who.headers };
  if (contentType !== null && payload !== undefined) headers['content-type'] = contentType;
  return { method: spec.method, url, headers, payload, address: who.address, principal: who.who };
}

async function send(t: TestApp, wire: Wire): Promise<Answer> {
  const response = await t.app.inject({ method: wire.method as 'GET', url: wire.url, headers: wire.headers, payload: wire.payload, remoteAddress: wire.address, payloadAsStream: true });
  const contentType = String(response.headers['content-type'] ?? '');
  const received = contentType.startsWith('text/event-stream') ? await firstEvent(response.stream()) : await readAll(response.stream());
  let body: any = received;
  try {
    body = received ? JSON.parse(received) : null;
  } catch {
    // not JSON: kept as text for the report
  }
  return { status: response.statusCode, contentType, body, text: received };
}

// ---------------------------------------------------------------------------------------------
// "Unchanged": a digest of every table (row count and a sum of row hashes), one statement, the same on both backends

/** Tables a refused request may write, and why. */
const NOT_DIGESTED: Record<string, string> = {
  sign_in_throttle: 'counting refused attempts is what the throttle is for',
  tessera_migrations: 'the schema history',
};
/** Columns a refused request may write, and why. */
const VOLATILE: Record<string, string[]> = {
  sessions: ['last_seen_at'], // touched by any request of the session, at most once a minute
  access_keys: ['last_used_at'], // a key is stamped when it authenticates, whatever the request then does
};

async function digestSqlOf(t: TestApp): Promise<string> {
  const tables = await t.db.database.withSession((s) =>
    s.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name"),
  );
  return tables
    .map((r) => r.table_name)
    .filter((name) => !(name in NOT_DIGESTED))
    .map((name) => {
      // the row as text (without its volatile columns); hashes summed, so no sort is needed
      const row = VOLATILE[name] ? `(to_jsonb(x)${VOLATILE[name].map((c) => ` - '${c}'`).join('')})::text` : 'x::text';
      return `select '${name}' as t, count(*)::int as n, coalesce(sum(hashtextextended(${row}, 0)::numeric), 0)::text as h from ${name} x`;
    })
    .join('\nunion all\n');
}

type Digest = Map<string, { n: number; h: string }>;

async function digestOf(w: World): Promise<Digest> {
  const rows = await w.t.db.database.withSession((s) => s.query<{ t: string; n: number; h: string }>(w.digestSql));
  return new Map(rows.map((r) => [r.t, { n: Number(r.n), h: r.h }]));
}

function changesBetween(before: Digest, now: Digest): string[] {
  const out: string[] = [];
  for (const [table, was] of before) {
    const is = now.get(table);
    if (!is || is.h !== was.h) out.push(`${table} (${was.n} → ${is?.n ?? 0} rows)`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// After a success: keep the world usable

/** Removes what successful creations added, before the plan's limits (25 members, 20 organizations) are near. */
async function keepSpare(w: World, kind: 'members' | 'orgs', id: unknown): Promise<void> {
  if (typeof id !== 'string') return;
  const list = w.spares[kind];
  list.push(id);
  if (list.length < 6) return;
  for (const spare of list.splice(0)) {
    if (kind === 'members') await w.A.sdk.removeTeamMember(w.A.ids.accountId, spare).catch(() => undefined);
    else await w.A.sdk.deleteOrganization(w.A.ids.accountId, spare, { cascade: true }).catch(() => undefined);
  }
}

const AFTER_SUCCESS: Record<string, (w: World, answer: Answer, run: Run) => Promise<void>> = {
  clientOpenConnection: async (w, answer) => {
    if (typeof answer.body?.leaseId === 'string') await w.A.desk.disconnect(answer.body.leaseId);
  },
  addTeamMember: (w, answer) => keepSpare(w, 'members', answer.body?.member?.id),
  clientEnroll: (w, answer) => keepSpare(w, 'members', answer.body?.member?.id),
  createOrganization: (w, answer) => keepSpare(w, 'orgs', answer.body?.id),
  // the new owner hands ownership straight back, and leaves
  transferOwnership: async (w, _answer, run) => {
    const victim = run.taken.find((v) => v.kind === 'user')?.victim;
    assert.ok(victim?.email, 'ownership went to a victim of the fuzzer');
    const heir = await new Session(w.t).signIn(victim.email);
    const back = await heir.request('POST', `/api/v1/accounts/${w.A.ids.accountId}/ownership`, { userId: w.A.ownerUserId });
    assert.equal(back.status, 200, `ownership goes back: ${back.text}`);
    await w.A.sdk.removeAccountUser(w.A.ids.accountId, victim.id);
  },
};

// ---------------------------------------------------------------------------------------------
// The oracle

interface Stats {
  requests: number;
  byMode: Record<Mode, number>;
  byPrincipal: Record<string, number>;
  byClass: Record<string, number>;
  fiveXX: number;
  changedAfterRefusal: number;
  acceptedBroken: number;
  refusedValid: number;
  mutations: Record<string, number>;
  operations: Map<string, Record<Mode, number>>;
  /** Per operation: the kinds of mutation that apply, and those sent. */
  kinds: Map<string, { applicable: string[]; sent: Set<string> }>;
}

const shorten = (text: string, max = 400) => (text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text);

function notAProblem(op: Operation, answer: Answer): string | null {
  // RFC 6749 §5.2 / RFC 7009: the token and revocation endpoints answer in OAuth's own format
  if ((op.id === 'clientToken' || op.id === 'clientRevoke') && answer.contentType.startsWith('application/json')) {
    return typeof answer.body?.error === 'string' && typeof answer.body?.error_description === 'string' ? null : 'an OAuth error without error and error_description';
  }
  if (!answer.contentType.startsWith('application/problem+json')) return `not a problem document (content type "${answer.contentType}")`;
  const b = answer.body;
  if (typeof b?.type !== 'string' || typeof b?.title !== 'string' || b?.status !== answer.status) return 'a problem document without type, title, or status equal to the HTTP status';
  return null;
}

async function execute(w: World, op: Operation, spec: Spec, stats: Stats): Promise<void> {
  const run = new Run(w, op, spec);
  let wire: Wire;
  try {
    wire = await wireOf(run);
  } catch (error) {
    run.settle(false);
    throw error;
  }
  // the baseline: after any setup this request needed, just before it is sent
  w.digest ??= await digestOf(w);
  const before = w.digest;
  const answer = await send(w.t, wire);

  stats.requests += 1;
  stats.byMode[spec.mode] += 1;
  stats.byPrincipal[spec.principal] = (stats.byPrincipal[spec.principal] ?? 0) + 1;
  stats.byClass[`${Math.floor(answer.status / 100)}xx`] = (stats.byClass[`${Math.floor(answer.status / 100)}xx`] ?? 0) + 1;
  for (const m of spec.mutations) stats.mutations[m.tag] = (stats.mutations[m.tag] ?? 0) + 1;
  const counts = stats.operations.get(op.id) ?? { valid: 0, foreign: 0, broken: 0 };
  counts[spec.mode] += 1;
  stats.operations.set(op.id, counts);

  const mustReject =
    spec.mutations.some((m) => m.must === true || (m.must === 'ifA' && spec.principal !== 'outsider')) || refusedPrincipal(op, spec);
  const failures: string[] = [];
  // the OpenID Connect sign-in answers with redirects: to the provider, or back to the portal with its error
  const ok = (answer.status >= 200 && answer.status < 300) || (REDIRECTING_OPERATIONS.has(op.id) && answer.status === 302);
  if (answer.status >= 500) {
    stats.fiveXX += 1;
    failures.push(`a ${answer.status}`);
  }
  if (answer.status >= 400) {
    const why = notAProblem(op, answer);
    if (why) failures.push(`a ${answer.status} that is ${why}`);
    const now = await digestOf(w);
    const changed = changesBetween(before, now);
    if (changed.length > 0) {
      stats.changedAfterRefusal += 1;
      failures.push(`the database changed though the request was refused: ${changed.join(', ')}`);
      w.digest = now;
    }
  } else if (ok) {
    w.digest = null;
    if (mustReject) {
      stats.acceptedBroken += 1;
      failures.push(`a ${answer.status} for a request that can never be right`);
    }
  } else {
    failures.push(`a ${answer.status}, neither a success nor a client error`);
  }
  if (spec.mode === 'valid' && !ok) {
    stats.refusedValid += 1;
    failures.push(`a valid request by its home principal refused with ${answer.status}`);
  }
  run.settle(ok);
  if (ok && AFTER_SUCCESS[op.id]) {
    await AFTER_SUCCESS[op.id]!(w, answer, run);
    w.digest = null;
  }
  if (failures.length > 0) {
    const headers = Object.entries(wire.headers)
      .filter(([k]) => k !== 'accept' && k !== 'user-agent')
      .map(([k, v]) => `${k}: ${shorten(v, 60)}`)
      .join('; ');
    const payload = wire.payload === undefined ? '(none)' : shorten(Buffer.isBuffer(wire.payload) ? `<bytes> ${wire.payload.toString('latin1')}` : wire.payload, 300);
    throw new Error(
      [
        `${op.id}: ${failures.join('; ')}`,
        `  request: ${wire.method} ${shorten(wire.url, 200)} as ${wire.principal} (${spec.mode}${spec.mutations.length ? `: ${spec.mutations.map((m) => m.label).join(' + ')}` : ''})`,
        `  headers: ${headers || '(none)'}`,
        `  payload: ${payload}`,
        `  answer:  ${answer.status} ${answer.contentType} ${shorten(answer.text, 400)}`,
      ].join('\n'),
    );
  }
}

// ---------------------------------------------------------------------------------------------

/** A failure's cause, for grouping: what was wrong, with the status and the framework's error code if any. */
function causeOf(failure: string): string {
  const what = /\n\S+?: (.*)\n/.exec(failure)?.[1] ?? failure.split('\n')[1] ?? failure;
  const code = /"code":"(FST_[A-Z_]+)"/.exec(failure)?.[1];
  const problem = /answer: +\d+ \S+ \{"type":"[^"]*\/([a-z_]+)"/.exec(failure)?.[1];
  return [what.replace(/ \(\d+ → \d+ rows\)/g, ''), code, problem].filter(Boolean).join(' — ');
}

/** A seed per operation and mode, derived from the run's seed: one operation can be replayed alone. */
function seedOf(operationId: string, what: string): number {
  let hash = 0x811c9dc5;
  for (const c of `${operationId}/${what}`) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193);
  return (hash ^ SEED) | 0;
}

/** Runs per operation: valid ones, ones by another principal, and broken ones for each kind of mutation. */
const RUNS_BY_MODE: Record<Mode, number> = { valid: 2 * RUNS, foreign: RUNS, broken: RUNS };
/** Kinds with many cases get more runs. */
const RUNS_BY_KIND: Record<string, number> = { unicode: 3, badId: 2, contentType: 2, brokenJson: 2, wrongType: 2, length: 2 };

for (const backend of SUITE_BACKENDS) {
  describe(`bad input, generated: the OpenAPI-driven fuzzer (${backend})`, () => {
    let t: TestApp;
    let w: World;
    let operations: Operation[] = [];
    let all: Operation[] = [];
    const problems: string[] = [];
    const failures: string[] = [];
    let started = Date.now();
    const stats: Stats = {
      requests: 0,
      byMode: { valid: 0, foreign: 0, broken: 0 },
      byPrincipal: {},
      byClass: {},
      fiveXX: 0,
      changedAfterRefusal: 0,
      acceptedBroken: 0,
      refusedValid: 0,
      mutations: {},
      operations: new Map(),
      kinds: new Map(),
    };

    before(async () => {
      started = Date.now();
      t = await startTestApp(backend, oidcConfigOf(provider));
      const document = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as OpenApiDocument;
      all = operationsOf(document, problems);
      operations = ONLY ? all.filter((o) => ONLY.includes(o.id)) : all;
      // every id the document takes has a source in the world
      for (const op of all) {
        const base: Field = { op, part: 'path', pointer: '', name: '' };
        for (const p of [...op.pathParams, ...op.queryParams]) idKindOf({ ...base, part: p.in as Part, pointer: p.name, name: p.name }, nonNull(p.schema).schema, problems);
        const walk = (schema: Schema | undefined, f: Field): void => {
          const { schema: s } = nonNull(schema);
          idKindOf(f, s, problems);
          for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, child(f, k));
          if (s.items) walk(s.items, itemOf(f));
          for (const alternative of [...(s.oneOf ?? []), ...(s.anyOf ?? [])]) walk(alternative, f);
        };
        if (op.body) walk(op.body.schema, { ...base, part: 'body' });
      }
      w = await buildWorld(t, await digestSqlOf(t));
    });

    after(async () => {
      await t?.close();
      const covered = [...stats.operations.keys()].length;
      const byPrincipal = Object.entries(stats.byPrincipal).map(([p, n]) => `${p} ${n}`).join(', ');
      console.log(
        `# fuzz (${backend}): ${covered}/${all.length} operations, ${stats.requests} requests ` +
          `(valid ${stats.byMode.valid}, by another principal ${stats.byMode.foreign}, broken ${stats.byMode.broken}; ${byPrincipal}; ` +
          `${Object.entries(stats.byClass).sort().map(([c, n]) => `${c} ${n}`).join(', ')}), ` +
          `5xx: ${stats.fiveXX}, changes after a rejection: ${stats.changedAfterRefusal}, ` +
          `broken requests accepted: ${stats.acceptedBroken}, valid requests refused: ${stats.refusedValid}, ` +
          `seed ${SEED}, TESSERA_FUZZ_RUNS=${RUNS}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      console.log(`# fuzz (${backend}) mutations: ${Object.entries(stats.mutations).sort(([a], [b]) => a.localeCompare(b)).map(([tag, n]) => `${tag} ${n}`).join(', ')}`);
      if (failures.length > 0) console.log(`# fuzz (${backend}) failed with seed ${SEED}: rerun with TESSERA_FUZZ_SEED=${SEED} TESSERA_FUZZ_RUNS=${RUNS}`);
    });

    it('knows every operation of the document: a content type it can send, a source for every id', () => {
      assert.ok(all.length > 0, 'the document has operations');
      assert.deepEqual([...new Set(problems)], [], 'what the fuzzer cannot generate');
    });

    // the oracle is not blind: a write shows in the digest, and two digests of the same state are equal
    it('sees a write in the digest of the database', async () => {
      const before = await digestOf(w);
      assert.deepEqual(changesBetween(before, await digestOf(w)), [], 'the same state, the same digest');
      assert.ok((before.get('audit_events')?.n ?? 0) > 0 && (before.get('users')?.n ?? 0) > 0, 'the digest reads the seeded rows');
      await w.A.sdk.updateOrganization(w.A.ids.accountId, w.spareOrg, { description: next('Seen by the digest') });
      const changed = changesBetween(before, await digestOf(w));
      assert.ok(changed.some((c) => c.startsWith('organizations')) && changed.some((c) => c.startsWith('audit_events')), `a write shows: ${changed.join(', ')}`);
      w.digest = null;
    });

    it(`answers every request with a 2xx when valid or a 4xx problem document, never a 5xx, and changes nothing when it refuses (seed ${SEED})`, async () => {
      for (const op of operations) {
        const kinds = kindsOf(op);
        stats.kinds.set(op.id, { applicable: kinds, sent: new Set() });
        const checks: Array<{ mode: Mode; kind?: string }> = [{ mode: 'valid' }, { mode: 'foreign' }, ...kinds.map((kind) => ({ mode: 'broken' as const, kind }))];
        for (const { mode, kind } of checks) {
          const what = kind ? `${mode}/${kind}` : mode;
          const property = fc.asyncProperty(fc.limitShrink(specOf(op, mode, kind), MAX_SHRINKS), async (spec) => {
            if (kind) stats.kinds.get(op.id)!.sent.add(kind);
            await execute(w, op, spec, stats);
          });
          const details = await fc.check(property, { seed: seedOf(op.id, what), numRuns: RUNS_BY_MODE[mode] * (kind ? RUNS_BY_KIND[kind] ?? 1 : 1) });
          if (details.failed) {
            const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
            const report = `${error}\n${(fc.defaultReportMessage(details) ?? '').replace(/\n\nHint: .*$/s, '')}`;
            const failure = `${op.id} (${what}; run seed ${SEED}, seed of this check ${details.seed}, path "${details.counterexamplePath ?? ''}"):\n${report}`;
            failures.push(failure);
            console.log(`# fuzz (${backend}) FAILURE ${failure}`);
          }
        }
      }
      // one line per kind of failure first: a single cause often fails many operations
      const causes = new Map<string, string[]>();
      for (const failure of failures) {
        const cause = causeOf(failure);
        causes.set(cause, [...(causes.get(cause) ?? []), failure.split(' ')[0]!]);
      }
      const summary = [...causes].map(([cause, ops]) => `- ${cause}: ${ops.length} × (${[...new Set(ops)].join(', ')})`).join('\n');
      assert.equal(failures.length, 0, `${failures.length} failing check(s), seed ${SEED}. Causes:\n${summary}\n\n${failures.join('\n\n')}`);
    });

    it('sent every operation of the document valid requests, and broken ones of every kind that applies', () => {
      const missed = operations.flatMap((o) => {
        const counts = stats.operations.get(o.id);
        const kinds = stats.kinds.get(o.id);
        const gaps = [
          ...(!counts || counts.valid === 0 ? ['no valid request'] : []),
          ...(!kinds || kinds.applicable.length === 0 ? ['no kind of broken request applies'] : kinds.applicable.filter((k) => !kinds.sent.has(k)).map((k) => `no ${k} mutation`)),
        ];
        return gaps.map((gap) => `${o.id}: ${gap}`);
      });
      assert.deepEqual(missed, [], 'what the fuzzer did not send');
    });
  });
}
