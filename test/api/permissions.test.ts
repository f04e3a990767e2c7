import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { TesseraClient } from '../../src/client/sdk.ts';
import { LOGIN_TOKEN_GRANT } from '../../src/shared/client-api.ts';
import { PROBLEM_TYPE_BASE } from '../../src/shared/problems.ts';
import { injectFetch, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { BACKENDS } from '../support/databases.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { Caller, nextAddress, type Answer } from '../support/caller.ts';
import * as OTPAuth from 'otpauth';
import { uuidv7 } from 'uuidv7';
import { oidcConfigOf, seedLinkedIdentity, startTestProvider, TEST_APP_REDIRECT_URI } from '../support/oidc-provider.ts';
import { PASSKEY_TEST_ORIGIN, SoftwareAuthenticator } from '../support/passkey-authenticator.ts';

/**
 * docs/permissions.md, executed: every operation of the OpenAPI document has a row, and every
 * operation is called as every principal of the table with a valid request, expecting the cell.
 */

// ---------------------------------------------------------------------------------------------
// The matrix, parsed from the document

const PRINCIPALS = [
  'owner',
  'account manager',
  'account viewer',
  'group manager',
  'group viewer',
  'org manager',
  'org viewer',
  'other-org manager',
  'outsider',
] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

const CELLS = ['✓', '403', '404', '401', 'public', 'signed in', 'client token'] as const;
type Cell = (typeof CELLS)[number];

/** How access keys fare on an operation (docs/permissions.md, "Access keys"). */
const KEY_CELLS = ['as role', 'people only', 'public', 'client token', '401'] as const;
type KeyCell = (typeof KEY_CELLS)[number];

/** The keys the matrix makes, each answering as the column of the same single role. */
const KEY_PRINCIPALS = {
  'owner key': 'owner',
  'account manager key': 'account manager',
  'account viewer key': 'account viewer',
  'group manager key': 'group manager',
  'org viewer key': 'org viewer',
  "outsider's key": 'outsider',
} as const satisfies Record<string, PrincipalName>;
type KeyPrincipalName = keyof typeof KEY_PRINCIPALS;

interface Row {
  operationId: string;
  /** "METHOD /path" as the OpenAPI document spells it. */
  request: string;
  cells: Record<PrincipalName, Cell>;
  key: KeyCell;
}

const MATRIX_FILE = new URL('../../docs/permissions.md', import.meta.url);

function parseMatrix(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const split = (line: string) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim().replace(/^`(.*)`$/, '$1'));
  const headerAt = lines.findIndex((line) => line.startsWith('|') && split(line)[0] === 'Operation');
  assert.ok(headerAt >= 0, 'docs/permissions.md has a table whose first column is "Operation"');
  const header = split(lines[headerAt]!);
  const column = (name: string) => {
    const at = header.indexOf(name);
    assert.ok(at >= 0, `the permission table has a column "${name}"`);
    return at;
  };
  const operationAt = 0;
  const requestAt = column('Request');
  const principalAt = Object.fromEntries(PRINCIPALS.map((p) => [p, column(p)])) as Record<PrincipalName, number>;
  const keyAt = column('access key');
  const rows: Row[] = [];
  for (const line of lines.slice(headerAt + 2)) {
    if (!line.startsWith('|')) break;
    const cells = split(line);
    const operationId = cells[operationAt]!;
    const key = cells[keyAt] as KeyCell;
    assert.ok(KEY_CELLS.includes(key), `${operationId} / access key: "${key}" is not one of ${KEY_CELLS.join(', ')}`);
    const row: Row = { operationId, request: cells[requestAt]!, cells: {} as Record<PrincipalName, Cell>, key };
    for (const p of PRINCIPALS) {
      const value = cells[principalAt[p]] as Cell;
      assert.ok(CELLS.includes(value), `${operationId} / ${p}: "${value}" is not one of ${CELLS.join(', ')}`);
      row.cells[p] = value;
    }
    assert.ok(!rows.some((r) => r.operationId === operationId), `${operationId} has one row only`);
    rows.push(row);
  }
  assert.ok(rows.length > 0, 'the permission table has rows');
  return rows;
}

const ROWS = parseMatrix(readFileSync(MATRIX_FILE, 'utf8'));

// ---------------------------------------------------------------------------------------------
// HTTP: each principal is a cookie jar of its own, talking to the app in-process

/** Who calls: a principal of the table, or nobody signed in. */
interface Who {
  label: PrincipalName | KeyPrincipalName | 'anonymous';
  caller: Caller;
  email: string | null;
  userId: string | null;
}

// ---------------------------------------------------------------------------------------------
// The world the principals live in

interface World {
  t: TestApp;
  owner: TesseraClient;
  accountId: string;
  ownerUserId: string;
  orgA: string;
  orgB: string;
  orgC: string;
  groupG: string;
  /** A device in A that the matrix reads, edits and (when refused) tries to delete. */
  deviceA: string;
  /** Team member whose desktop session supplies the bearer token, and who holds the open leases. */
  desk: TesseraDesktopClient;
  deskMemberId: string;
  /** Team member the member operations act on. */
  victimMemberId: string;
  victimTokenId: string;
  /** A login token of the victim that refused revocations aim at. */
  spareTokenId: string;
  /** Open connections to a device in A and a device in B. */
  leaseA: string;
  leaseB: string;
  /** A user of the account (viewer) that role changes and refused removals aim at. */
  spareUserId: string;
  spareUserEmail: string;
  /** A pending invitation of the account. */
  invitationId: string;
  /** Another account whose owner invites the principals (acceptInvitation) and whose link is looked up. */
  host: TesseraClient;
  hostAccountId: string;
  lookupToken: string;
  who: Record<PrincipalName, Who>;
  /** Access keys, each with a caller that sends it instead of a session. */
  keys: Record<KeyPrincipalName, Who>;
  ownerKeyId: string;
}

let sequence = 0;
const next = (label: string) => `${label} ${++sequence}`;

async function buildWorld(t: TestApp): Promise<World> {
  const owner = await registerPerson(t, { companyName: 'Matrix Holdings', ip: nextAddress() });
  const sdk = owner.client;
  const accountId = owner.account.id;
  const orgA = (await sdk.createOrganization(accountId, { name: 'A' })).id;
  const orgB = (await sdk.createOrganization(accountId, { name: 'B' })).id;
  const orgC = (await sdk.createOrganization(accountId, { name: 'C' })).id;
  const groupG = (await sdk.createGroup(accountId, { name: 'G', organizationIds: [orgA, orgC] })).id;
  const deviceA = (await sdk.createDevice(accountId, orgA, { name: 'Reader', kind: 'usb', identifier: 'A-READER' })).id;
  const leasedA = (await sdk.createDevice(accountId, orgA, { name: 'Leased A', kind: 'usb', identifier: 'A-LEASED' })).id;
  const leasedB = (await sdk.createDevice(accountId, orgB, { name: 'Leased B', kind: 'usb', identifier: 'B-LEASED' })).id;

  const scoped: Array<[PrincipalName, { role: 'manager' | 'viewer'; groupId?: string; organizationId?: string }]> = [
    ['account manager', { role: 'manager' }],
    ['account viewer', { role: 'viewer' }],
    ['group manager', { role: 'manager', groupId: groupG }],
    ['group viewer', { role: 'viewer', groupId: groupG }],
    ['org manager', { role: 'manager', organizationId: orgA }],
    ['org viewer', { role: 'viewer', organizationId: orgA }],
    ['other-org manager', { role: 'manager', organizationId: orgB }],
  ];
  const who = {} as Record<PrincipalName, Who>;
  who.owner = { label: 'owner', caller: await new Caller(t).signIn(owner.email), email: owner.email, userId: owner.user.id };
  for (const [label, scope] of scoped) {
    const email = uniqueEmail(label.replaceAll(' ', '-'));
    const added = await sdk.addAccountUser(accountId, { name: `The ${label}`, email, password: STRONG_PASSWORD, ...scope });
    who[label] = { label, caller: await new Caller(t).signIn(email), email, userId: added.user.id };
  }
  const outsider = await registerPerson(t, { companyName: 'Elsewhere Ltd', ip: nextAddress() });
  who.outsider = { label: 'outsider', caller: await new Caller(t).signIn(outsider.email), email: outsider.email, userId: outsider.user.id };

  const keyScopes: Array<[KeyPrincipalName, { role: 'owner' | 'manager' | 'viewer'; groupId?: string; organizationId?: string }]> = [
    ['owner key', { role: 'owner' }],
    ['account manager key', { role: 'manager' }],
    ['account viewer key', { role: 'viewer' }],
    ['group manager key', { role: 'manager', groupId: groupG }],
    ['org viewer key', { role: 'viewer', organizationId: orgA }],
  ];
  const keys = {} as Record<KeyPrincipalName, Who>;
  const keyWho = (label: KeyPrincipalName, secret: string): Who => ({ label, caller: new Caller(t, nextAddress(), { accessKey: secret }), email: null, userId: null });
  let ownerKeyId = '';
  for (const [label, scope] of keyScopes) {
    const issued = await sdk.createAccessKey(accountId, { name: label, ...scope });
    if (label === 'owner key') ownerKeyId = issued.key.id;
    keys[label] = keyWho(label, issued.secret);
  }
  keys["outsider's key"] = keyWho("outsider's key", (await outsider.client.createAccessKey(outsider.account.id, { name: 'Elsewhere', role: 'owner' })).secret);

  const deskMember = await sdk.addTeamMember(accountId, { name: 'Front desk' });
  const desk = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app) });
  await desk.signInWithLoginToken(deskMember.firstToken.secret);
  const leaseA = (await desk.connect(leasedA)).leaseId;
  const leaseB = (await desk.connect(leasedB)).leaseId;
  const victim = await sdk.addTeamMember(accountId, { name: 'Back office' });
  const spareToken = await sdk.createLoginToken(accountId, victim.member.id, { label: 'Spare' });

  const spareUserEmail = uniqueEmail('spare');
  const spareUser = await sdk.addAccountUser(accountId, { name: 'Spare User', email: spareUserEmail, password: STRONG_PASSWORD, role: 'viewer' });
  const invitation = await sdk.createInvitation(accountId, { email: uniqueEmail('pending'), role: 'viewer' });

  const host = await registerPerson(t, { name: 'Hostess', companyName: 'Host Co', ip: nextAddress() });
  const lookupEmail = uniqueEmail('lookup');
  await host.client.createInvitation(host.account.id, { email: lookupEmail, role: 'viewer' });
  const lookupToken = SmtpInbox.linkToken(await t.inbox.waitFor(lookupEmail, /invites you/));

  return {
    t,
    owner: sdk,
    accountId,
    ownerUserId: owner.user.id,
    orgA,
    orgB,
    orgC,
    groupG,
    deviceA,
    desk,
    deskMemberId: deskMember.member.id,
    victimMemberId: victim.member.id,
    victimTokenId: victim.firstToken.token.id,
    spareTokenId: spareToken.token.id,
    leaseA,
    leaseB,
    spareUserId: spareUser.user.id,
    spareUserEmail,
    invitationId: invitation.id,
    host: host.client,
    hostAccountId: host.account.id,
    lookupToken,
    who,
    keys,
    ownerKeyId,
  };
}

/** A person who just registered (signed out), with the emailed verification link's token. */
async function freshPerson(w: World): Promise<{ email: string; verifyToken: string }> {
  const email = uniqueEmail('fresh');
  await w.t.client({ ip: nextAddress() }).register({ name: 'Fresh Person', email, password: STRONG_PASSWORD, companyName: 'Fresh Ltd', country: 'GB' });
  const verifyToken = SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /Confirm your email/));
  return { email, verifyToken };
}

/**
 * A person of their own, signed in: sensitive changes end the person's other sessions, so they
 * act on a fresh person rather than on a principal whose session the matrix goes on using.
 */
async function ownPerson(w: World): Promise<{ caller: Caller; email: string }> {
  const email = uniqueEmail('own');
  await w.t.client({ ip: nextAddress() }).register({ name: 'Own Person', email, password: STRONG_PASSWORD, companyName: 'Own Ltd', country: 'GB' });
  return { caller: await new Caller(w.t).signIn(email), email };
}

/** The code an authenticator app shows, `steps` periods after now on the app's clock. */
function totpCode(w: World, secret: string, steps = 0): string {
  return new OTPAuth.TOTP({ secret }).generate({ timestamp: w.t.clock.now().getTime() + steps * 30_000 });
}

/** An own person with a second factor on; the enrolment spent the current step, so next codes are a step ahead. */
async function ownEnrolledPerson(w: World): Promise<{ caller: Caller; email: string; secret: string }> {
  const own = await ownPerson(w);
  const { secret } = (await own.caller.call('POST', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD } })).body;
  const confirmed = await own.caller.call('POST', '/api/v1/me/two-factor/confirm', { json: { code: totpCode(w, secret) } });
  assert.equal(confirmed.status, 200, `enrolment: ${JSON.stringify(confirmed.body)}`);
  return { ...own, secret };
}

/** An own person with a passkey (a second factor, so their password alone no longer signs in). */
async function ownPasskeyPerson(w: World): Promise<{ caller: Caller; email: string; authenticator: SoftwareAuthenticator; passkeyId: string }> {
  const own = await ownPerson(w);
  const authenticator = new SoftwareAuthenticator({ origin: PASSKEY_TEST_ORIGIN });
  const options = (await own.caller.call('POST', '/api/v1/me/passkeys/options', { json: { password: STRONG_PASSWORD } })).body;
  const added = await own.caller.call('POST', '/api/v1/me/passkeys', { json: { credential: authenticator.create(options) } });
  assert.equal(added.status, 201, `passkey: ${JSON.stringify(added.body)}`);
  return { ...own, authenticator, passkeyId: added.body.passkey.id };
}

/** The pending sign-in of an own person with a passkey, in a throwaway browser at the caller's address. */
async function pendingPasskeySignIn(w: World, who: Who): Promise<{ browser: Caller; own: Awaited<ReturnType<typeof ownPasskeyPerson>> }> {
  const own = await ownPasskeyPerson(w);
  const browser = new Caller(w.t, who.caller.address);
  await browser.call('POST', '/api/v1/auth/sign-in', { json: { email: own.email, password: STRONG_PASSWORD }, keepCookies: true });
  return { browser, own };
}

// ---------------------------------------------------------------------------------------------
// One valid request per operation. `allowed` says whether the cell expects success: destructive
// and consuming operations then get a fresh target, while refused calls aim at the shared ones
// (a refusal changes nothing, and one that wrongly succeeds fails its own cell first).

type Runner = (w: World, who: Who, allowed: boolean) => Promise<Answer>;

function accountUrl(w: World, rest = ''): string {
  return `/api/v1/accounts/${w.accountId}${rest}`;
}

/** A desktop session of the desk member on a fresh device of A, with an open lease. */
async function freshLease(w: World): Promise<string> {
  const device = await w.owner.createDevice(w.accountId, w.orgA, { name: next('Leased'), kind: 'usb', identifier: next('L') });
  return (await w.desk.connect(device.id)).leaseId;
}

/** A fresh login token of the desk member, exchanged for a token pair. */
async function freshTokenPair(w: World): Promise<{ access_token: string; refresh_token: string }> {
  const issued = await w.owner.createLoginToken(w.accountId, w.deskMemberId, { label: next('Pair') });
  const client = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(w.t.app) });
  return client.signInWithLoginToken(issued.secret);
}

function bearerOf(w: World): string {
  return w.desk.tokens!.access_token;
}

const RUNNERS: Record<string, Runner> = {
  getProblemType: (_w, who) => who.caller.call('GET', '/api/v1/problems/not_found'),
  getCsrfToken: (_w, who) => who.caller.call('GET', '/api/v1/auth/csrf'),
  register: (_w, who) =>
    who.caller.call('POST', '/api/v1/auth/register', {
      json: { name: 'New Person', email: uniqueEmail('register'), password: STRONG_PASSWORD, companyName: 'New Ltd', country: 'GB' },
    }),
  // signing in ends the session the browser had: use a throwaway session of the same person
  signIn: async (w, who) => {
    const email = who.email ?? w.spareUserEmail;
    const throwaway = who.email ? await new Caller(w.t, who.caller.address).signIn(email) : new Caller(w.t);
    return throwaway.call('POST', '/api/v1/auth/sign-in', { json: { email, password: STRONG_PASSWORD } });
  },
  signOut: async (w, who) => {
    const throwaway = who.email ? await new Caller(w.t, who.caller.address).signIn(who.email) : who.caller;
    return throwaway.call('POST', '/api/v1/auth/sign-out');
  },
  getMe: (_w, who) => who.caller.call('GET', '/api/v1/me'),
  getOidcProvider: (_w, who) => who.caller.call('GET', '/api/v1/auth/oidc'),
  startOidcSignIn: (_w, who) => who.caller.call('GET', '/api/v1/auth/oidc/start'),
  // no flow was started in this browser: the answer is the redirect to the sign-in page with its error
  completeOidcSignIn: (_w, who) => who.caller.call('GET', '/api/v1/auth/oidc/callback?code=a-code&state=a-state'),
  listLinkedIdentities: (_w, who) => who.caller.call('GET', '/api/v1/me/identities'),
  // the caller's own identity
  unlinkIdentity: async (w, who) => {
    const identityId = who.userId ? await seedLinkedIdentity(w.t, who.userId) : uuidv7();
    return who.caller.call('DELETE', `/api/v1/me/identities/${identityId}`);
  },
  verifyEmail: async (w, who) => who.caller.call('POST', '/api/v1/auth/verify-email', { json: { token: (await freshPerson(w)).verifyToken } }),
  resendVerificationEmail: (_w, who) => who.caller.call('POST', '/api/v1/auth/verify-email/resend'),
  requestPasswordReset: (_w, who) => who.caller.call('POST', '/api/v1/auth/password-reset', { json: { email: who.email ?? uniqueEmail('nobody') } }),
  // the reset ends every session of the person reset: a fresh person's, never the caller's
  confirmPasswordReset: async (w, who) => {
    const { email } = await freshPerson(w);
    await w.t.client({ ip: nextAddress() }).requestPasswordReset(email);
    const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /Reset your/));
    return who.caller.call('POST', '/api/v1/auth/password-reset/confirm', { json: { token, password: 'another horse 43 battery' } });
  },
  // the second step needs the pending sign-in of the first: a throwaway browser at the caller's address
  completeTwoFactorSignIn: async (w, who) => {
    const own = await ownEnrolledPerson(w);
    const browser = new Caller(w.t, who.caller.address);
    await browser.call('POST', '/api/v1/auth/sign-in', { json: { email: own.email, password: STRONG_PASSWORD }, keepCookies: true });
    return browser.call('POST', '/api/v1/auth/sign-in/two-factor', { json: { code: totpCode(w, own.secret, 1) }, keepCookies: true });
  },
  getTwoFactorMethods: async (w, who) => (await pendingPasskeySignIn(w, who)).browser.call('POST', '/api/v1/auth/sign-in/two-factor/options', { keepCookies: true }),
  startPasskeySignIn: (_w, who) => who.caller.call('POST', '/api/v1/auth/passkey/options'),
  // signing in replaces the browser's session: a throwaway browser at the caller's address
  signInWithPasskey: async (w, who) => {
    const own = await ownPasskeyPerson(w);
    const browser = new Caller(w.t, who.caller.address);
    const options = (await browser.call('POST', '/api/v1/auth/passkey/options', { keepCookies: true })).body;
    return browser.call('POST', '/api/v1/auth/passkey/sign-in', { json: { credential: own.authenticator.get(options) }, keepCookies: true });
  },
  confirmEmailChange: async (w, who) => {
    const own = await ownPerson(w);
    const newEmail = uniqueEmail('moved');
    await own.caller.call('PUT', '/api/v1/me/email', { json: { password: STRONG_PASSWORD, email: newEmail } });
    const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(newEmail, /Confirm your new email/));
    return who.caller.call('POST', '/api/v1/auth/email-change/confirm', { json: { token } });
  },
  updateMe: (_w, who) => who.caller.call('PATCH', '/api/v1/me', { json: { name: `The ${who.label}` } }),
  changePassword: async (w, who) => {
    const caller = who.email ? (await ownPerson(w)).caller : who.caller;
    return caller.call('PUT', '/api/v1/me/password', { json: { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' } });
  },
  changeEmail: (_w, who) => who.caller.call('PUT', '/api/v1/me/email', { json: { password: STRONG_PASSWORD, email: uniqueEmail('new-address') } }),
  getTwoFactor: (_w, who) => who.caller.call('GET', '/api/v1/me/two-factor'),
  // an enrolment waiting for its code changes nothing until confirmed
  startTwoFactor: (_w, who) => who.caller.call('POST', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD } }),
  confirmTwoFactor: async (w, who) => {
    if (!who.email) return who.caller.call('POST', '/api/v1/me/two-factor/confirm', { json: { code: '123456' } });
    const own = await ownPerson(w);
    const { secret } = (await own.caller.call('POST', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD } })).body;
    return own.caller.call('POST', '/api/v1/me/two-factor/confirm', { json: { code: totpCode(w, secret) } });
  },
  disableTwoFactor: async (w, who) => {
    if (!who.email) return who.caller.call('DELETE', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD, code: '123456' } });
    const own = await ownEnrolledPerson(w);
    return own.caller.call('DELETE', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD, code: totpCode(w, own.secret, 1) } });
  },
  regenerateRecoveryCodes: async (w, who) => {
    const caller = who.email ? (await ownEnrolledPerson(w)).caller : who.caller;
    return caller.call('POST', '/api/v1/me/two-factor/recovery-codes', { json: { password: STRONG_PASSWORD } });
  },
  listPasskeys: (_w, who) => who.caller.call('GET', '/api/v1/me/passkeys'),
  startPasskeyRegistration: (_w, who) => who.caller.call('POST', '/api/v1/me/passkeys/options', { json: { password: STRONG_PASSWORD } }),
  // a passkey is a second factor: added to a person of its own, never to a principal the matrix signs in again
  addPasskey: async (w, who) => {
    const caller = who.email ? (await ownPerson(w)).caller : who.caller;
    const options = who.email ? (await caller.call('POST', '/api/v1/me/passkeys/options', { json: { password: STRONG_PASSWORD } })).body : null;
    const credential = new SoftwareAuthenticator({ origin: PASSKEY_TEST_ORIGIN }).create(options ?? { challenge: 'none', rp: { id: 'portal.test', name: 'Tessera' }, user: { id: 'AA', name: 'nobody', displayName: 'Nobody' }, pubKeyCredParams: [] });
    return caller.call('POST', '/api/v1/me/passkeys', { json: { credential } });
  },
  renamePasskey: async (w, who) => {
    if (!who.email) return who.caller.call('PATCH', `/api/v1/me/passkeys/${uuidv7()}`, { json: { name: 'Renamed' } });
    const own = await ownPasskeyPerson(w);
    return own.caller.call('PATCH', `/api/v1/me/passkeys/${own.passkeyId}`, { json: { name: 'Renamed' } });
  },
  removePasskey: async (w, who) => {
    if (!who.email) return who.caller.call('DELETE', `/api/v1/me/passkeys/${uuidv7()}`, { json: { password: STRONG_PASSWORD } });
    const own = await ownPasskeyPerson(w);
    return own.caller.call('DELETE', `/api/v1/me/passkeys/${own.passkeyId}`, { json: { password: STRONG_PASSWORD } });
  },
  createAccount: (_w, who) => who.caller.call('POST', '/api/v1/accounts', { json: { companyName: next('Second Co'), country: 'DE' } }),
  getAccount: (w, who) => who.caller.call('GET', accountUrl(w)),
  updateAccount: (w, who) => who.caller.call('PATCH', accountUrl(w), { json: { companyName: 'Matrix Holdings' } }),

  getTeam: (w, who) => who.caller.call('GET', accountUrl(w, '/members')),
  addTeamMember: (w, who) => who.caller.call('POST', accountUrl(w, '/members'), { json: { name: next('Added desk') } }),
  updateTeamMember: (w, who) => who.caller.call('PATCH', accountUrl(w, `/members/${w.victimMemberId}`), { json: { name: 'Back office' } }),
  removeTeamMember: async (w, who, allowed) => {
    const memberId = allowed ? (await w.owner.addTeamMember(w.accountId, { name: next('Doomed desk') })).member.id : w.victimMemberId;
    return who.caller.call('DELETE', accountUrl(w, `/members/${memberId}`));
  },
  setMemberCredentials: (w, who) =>
    who.caller.call('PUT', accountUrl(w, `/members/${w.victimMemberId}/credentials`), { json: { email: uniqueEmail('desk'), password: STRONG_PASSWORD } }),
  removeMemberCredentials: (w, who) => who.caller.call('DELETE', accountUrl(w, `/members/${w.victimMemberId}/credentials`)),
  listLoginTokens: (w, who) => who.caller.call('GET', accountUrl(w, `/members/${w.victimMemberId}/tokens`)),
  createLoginToken: (w, who) => who.caller.call('POST', accountUrl(w, `/members/${w.victimMemberId}/tokens`), { json: { label: next('Token') } }),
  revealLoginToken: (w, who) => who.caller.call('GET', accountUrl(w, `/members/${w.victimMemberId}/tokens/${w.victimTokenId}/secret`)),
  revokeLoginToken: async (w, who, allowed) => {
    const tokenId = allowed ? (await w.owner.createLoginToken(w.accountId, w.victimMemberId, { label: next('Doomed token') })).token.id : w.spareTokenId;
    return who.caller.call('DELETE', accountUrl(w, `/members/${w.victimMemberId}/tokens/${tokenId}`));
  },

  listPresence: (w, who) => who.caller.call('GET', accountUrl(w, '/presence')),
  streamPresence: (w, who) => who.caller.call('GET', accountUrl(w, '/presence/stream')),

  listOrganizations: (w, who) => who.caller.call('GET', accountUrl(w, '/organizations?limit=200')),
  createOrganization: (w, who) => who.caller.call('POST', accountUrl(w, '/organizations'), { json: { name: next('Org') } }),
  getOrganization: (w, who) => who.caller.call('GET', accountUrl(w, `/organizations/${w.orgA}`)),
  updateOrganization: (w, who) => who.caller.call('PATCH', accountUrl(w, `/organizations/${w.orgA}`), { json: { description: 'Our first customer' } }),
  // A holds devices, so deleting it would be a 409: an allowed call deletes an empty organization
  deleteOrganization: async (w, who, allowed) => {
    const organizationId = allowed ? (await w.owner.createOrganization(w.accountId, { name: next('Doomed org') })).id : w.orgA;
    return who.caller.call('DELETE', accountUrl(w, `/organizations/${organizationId}`));
  },
  getSelectedOrganization: (w, who) => who.caller.call('GET', accountUrl(w, '/selected-organization')),
  setSelectedOrganization: (w, who) => who.caller.call('PUT', accountUrl(w, '/selected-organization'), { json: { organizationId: w.orgA } }),
  listGroups: (w, who) => who.caller.call('GET', accountUrl(w, '/groups')),
  createGroup: (w, who) => who.caller.call('POST', accountUrl(w, '/groups'), { json: { name: next('Group') } }),
  updateGroup: (w, who) => who.caller.call('PATCH', accountUrl(w, `/groups/${w.groupG}`), { json: { description: 'A and C' } }),
  deleteGroup: async (w, who, allowed) => {
    const groupId = allowed ? (await w.owner.createGroup(w.accountId, { name: next('Doomed group') })).id : w.groupG;
    return who.caller.call('DELETE', accountUrl(w, `/groups/${groupId}`));
  },
  // refused calls aim at (G, A): already a member, so even a wrong success would change nothing
  addOrganizationToGroup: async (w, who, allowed) => {
    const groupId = allowed ? (await w.owner.createGroup(w.accountId, { name: next('Growing group') })).id : w.groupG;
    return who.caller.call('PUT', accountUrl(w, `/groups/${groupId}/organizations/${w.orgA}`));
  },
  removeOrganizationFromGroup: async (w, who, allowed) => {
    const groupId = allowed ? (await w.owner.createGroup(w.accountId, { name: next('Shrinking group'), organizationIds: [w.orgA] })).id : w.groupG;
    return who.caller.call('DELETE', accountUrl(w, `/groups/${groupId}/organizations/${w.orgA}`));
  },

  listDevices: (w, who) => who.caller.call('GET', accountUrl(w, `/organizations/${w.orgA}/devices`)),
  createDevice: (w, who) =>
    who.caller.call('POST', accountUrl(w, `/organizations/${w.orgA}/devices`), { json: { name: next('Device'), kind: 'usb', identifier: next('SN') } }),
  getDevice: (w, who) => who.caller.call('GET', accountUrl(w, `/devices/${w.deviceA}`)),
  updateDevice: (w, who) => who.caller.call('PATCH', accountUrl(w, `/devices/${w.deviceA}`), { json: { notes: 'On the second shelf' } }),
  deleteDevice: async (w, who, allowed) => {
    const deviceId = allowed ? (await w.owner.createDevice(w.accountId, w.orgA, { name: next('Doomed device'), kind: 'usb', identifier: next('X') })).id : w.deviceA;
    return who.caller.call('DELETE', accountUrl(w, `/devices/${deviceId}`));
  },
  listOpenConnections: (w, who) => who.caller.call('GET', accountUrl(w, '/connections')),
  closeConnection: async (w, who, allowed) => {
    const leaseId = allowed ? await freshLease(w) : w.leaseA;
    return who.caller.call('DELETE', accountUrl(w, `/connections/${leaseId}`));
  },

  listAccountUsers: (w, who) => who.caller.call('GET', accountUrl(w, '/users')),
  addAccountUser: (w, who) =>
    who.caller.call('POST', accountUrl(w, '/users'), { json: { name: 'Added User', email: uniqueEmail('added'), password: STRONG_PASSWORD, role: 'viewer' } }),
  setAccountUserRoles: (w, who) =>
    who.caller.call('PUT', accountUrl(w, `/users/${w.spareUserId}/roles`), { json: { role: 'viewer', grants: [{ role: 'manager', organizationId: w.orgB }] } }),
  removeAccountUser: async (w, who, allowed) => {
    const userId = allowed
      ? (await w.owner.addAccountUser(w.accountId, { name: 'Doomed User', email: uniqueEmail('doomed'), password: STRONG_PASSWORD, role: 'viewer' })).user.id
      : w.spareUserId;
    return who.caller.call('DELETE', accountUrl(w, `/users/${userId}`));
  },
  // A successful transfer leaves the owner a manager: the new owner hands ownership straight back.
  transferOwnership: async (w, who) => {
    const answer = await who.caller.call('POST', accountUrl(w, '/ownership'), { json: { userId: w.spareUserId } });
    if (answer.status === 200) {
      const spare = await new Caller(w.t).signIn(w.spareUserEmail);
      const back = await spare.call('POST', accountUrl(w, '/ownership'), { json: { userId: who.userId } });
      assert.equal(back.status, 200, 'ownership goes back');
      const demoted = await w.who.owner.caller.call('PUT', accountUrl(w, `/users/${w.spareUserId}/roles`), { json: { role: 'viewer', grants: [] } });
      assert.equal(demoted.status, 200, 'and the spare user is a viewer again');
    }
    return answer;
  },
  listInvitations: (w, who) => who.caller.call('GET', accountUrl(w, '/invitations')),
  createInvitation: (w, who) => who.caller.call('POST', accountUrl(w, '/invitations'), { json: { email: uniqueEmail('invited'), role: 'viewer' } }),
  resendInvitation: (w, who) => who.caller.call('POST', accountUrl(w, `/invitations/${w.invitationId}/resend`)),
  revokeInvitation: async (w, who, allowed) => {
    const invitationId = allowed ? (await w.owner.createInvitation(w.accountId, { email: uniqueEmail('doomed'), role: 'viewer' })).id : w.invitationId;
    return who.caller.call('DELETE', accountUrl(w, `/invitations/${invitationId}`));
  },
  listAccessKeys: (w, who) => who.caller.call('GET', accountUrl(w, '/access-keys')),
  createAccessKey: (w, who) => who.caller.call('POST', accountUrl(w, '/access-keys'), { json: { name: next('Key'), role: 'viewer' } }),
  // refused calls aim at the matrix's own owner key: a wrong success would break every later row
  revokeAccessKey: async (w, who, allowed) => {
    const keyId = allowed ? (await w.owner.createAccessKey(w.accountId, { name: next('Doomed key'), role: 'viewer' })).key.id : w.ownerKeyId;
    return who.caller.call('DELETE', accountUrl(w, `/access-keys/${keyId}`));
  },
  getBilling: (w, who) => who.caller.call('GET', accountUrl(w, '/billing')),
  // the plan it is on: allowed callers change nothing, so every later row sees the same account
  changePlan: (w, who) => who.caller.call('PUT', accountUrl(w, '/billing/plan'), { json: { planId: 'starter' } }),
  setBillingDetails: (w, who) =>
    who.caller.call('PUT', accountUrl(w, '/billing/details'), {
      json: { legalName: 'Matrix GmbH', addressLine1: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', country: 'DE', billingEmail: 'billing@matrix.example' },
    }),
  listInvoices: (w, who) => who.caller.call('GET', accountUrl(w, '/invoices')),
  getUsage: (w, who) => who.caller.call('GET', accountUrl(w, '/usage')),
  exportUsage: (w, who) => who.caller.call('GET', accountUrl(w, '/usage/export')),
  searchAuditEvents: (w, who) => who.caller.call('GET', accountUrl(w, '/audit-events?action=organization.*')),
  exportAuditEvents: (w, who) => who.caller.call('GET', accountUrl(w, '/audit-events/export?format=jsonl')),
  lookupInvitation: (w, who) => who.caller.call('POST', '/api/v1/invitations/lookup', { json: { token: w.lookupToken } }),
  // signed in, only the invited person may accept: each principal accepts an invitation of its own
  // (to another account, so the matrix's account keeps its users); nobody signed in signs up
  acceptInvitation: async (w, who) => {
    const email = who.email ?? uniqueEmail('signup');
    await w.host.createInvitation(w.hostAccountId, { email, role: 'viewer' });
    const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /invites you/));
    const body = who.email ? { token } : { token, name: 'Signed Up', password: STRONG_PASSWORD };
    return who.caller.call('POST', '/api/v1/invitations/accept', { json: body });
  },

  clientToken: async (w, who) => {
    const issued = await w.owner.createLoginToken(w.accountId, w.deskMemberId, { label: next('Exchange') });
    return who.caller.call('POST', '/client/v1/token', { form: { grant_type: LOGIN_TOKEN_GRANT, login_token: issued.secret } });
  },
  clientEnroll: (w, who) =>
    who.caller.call('POST', '/client/v1/enroll', {
      json: { email: who.email ?? uniqueEmail('nobody'), password: STRONG_PASSWORD, accountId: w.accountId, memberName: next('Enrolled PC') },
    }),
  clientRevoke: async (w, who) => who.caller.call('POST', '/client/v1/revoke', { form: { token: (await freshTokenPair(w)).refresh_token } }),
  // a portal session is no credential for the client API: these calls carry only the cookie
  clientMe: (_w, who) => who.caller.call('GET', '/client/v1/me'),
  clientListDevices: (_w, who) => who.caller.call('GET', '/client/v1/devices'),
  clientOpenConnection: (w, who) => who.caller.call('POST', '/client/v1/connections', { json: { deviceId: w.deviceA } }),
  clientRenewConnection: (w, who) => who.caller.call('POST', `/client/v1/connections/${w.leaseA}/renew`),
  clientCloseConnection: (w, who) => who.caller.call('DELETE', `/client/v1/connections/${w.leaseA}`),
  clientHeartbeat: (_w, who) => who.caller.call('POST', '/client/v1/presence', { json: { state: 'online' } }),
  clientListPresence: (_w, who) => who.caller.call('GET', '/client/v1/presence'),
  clientStreamPresence: (_w, who) => who.caller.call('GET', '/client/v1/presence/stream'),
  health: (_w, who) => who.caller.call('GET', '/healthz'),
  readiness: (_w, who) => who.caller.call('GET', '/readyz'),
};

/** The same operations with the desk member's bearer token: what `client token` admits. */
const CLIENT_RUNNERS: Record<string, (w: World) => Promise<Answer>> = {
  clientMe: (w) => new Caller(w.t).call('GET', '/client/v1/me', { bearer: bearerOf(w) }),
  clientListDevices: (w) => new Caller(w.t).call('GET', '/client/v1/devices', { bearer: bearerOf(w) }),
  clientOpenConnection: async (w) => {
    const device = await w.owner.createDevice(w.accountId, w.orgA, { name: next('Free'), kind: 'usb', identifier: next('F') });
    const answer = await new Caller(w.t).call('POST', '/client/v1/connections', { json: { deviceId: device.id }, bearer: bearerOf(w) });
    if (answer.status === 201) await w.desk.disconnect(answer.body.leaseId);
    return answer;
  },
  clientRenewConnection: (w) => new Caller(w.t).call('POST', `/client/v1/connections/${w.leaseA}/renew`, { bearer: bearerOf(w) }),
  clientHeartbeat: (w) => new Caller(w.t).call('POST', '/client/v1/presence', { json: { state: 'online' }, bearer: bearerOf(w) }),
  clientListPresence: (w) => new Caller(w.t).call('GET', '/client/v1/presence', { bearer: bearerOf(w) }),
  clientStreamPresence: (w) => new Caller(w.t).call('GET', '/client/v1/presence/stream', { bearer: bearerOf(w) }),
  clientCloseConnection: async (w) => new Caller(w.t).call('DELETE', `/client/v1/connections/${await freshLease(w)}`, { bearer: bearerOf(w) }),
};

// ---------------------------------------------------------------------------------------------
// Checking answers

const PROBLEM_CODE: Record<number, string[]> = { 401: ['unauthenticated', 'invalid_credentials'], 403: ['forbidden'], 404: ['not_found'] };

/** Why the answer does not match the expectation, or null when it does. */
function mismatch(answer: Answer, expected: 'success' | 401 | 403 | 404): string | null {
  const shown = `${answer.status} ${answer.body?.type ?? ''} ${answer.body?.detail ?? answer.body?.error ?? ''}`.trim();
  // the OpenID Connect sign-in answers with redirects (to the provider, back to the portal)
  if (expected === 'success') return (answer.status >= 200 && answer.status < 300) || answer.status === 302 ? null : `expected 2xx or 302, got ${shown}`;
  if (answer.status !== expected) return `expected ${expected}, got ${shown}`;
  if (!answer.contentType.startsWith('application/problem+json')) return `expected a problem document, got ${answer.contentType}`;
  const codes = PROBLEM_CODE[expected]!;
  if (!codes.some((code) => answer.body?.type === `${PROBLEM_TYPE_BASE}${code}`) || answer.body?.status !== expected) {
    return `expected a ${codes.join('/')} problem, got ${JSON.stringify(answer.body)}`;
  }
  return null;
}

function expectationOf(cell: Cell): 'success' | 401 | 403 | 404 {
  switch (cell) {
    case '✓':
    case 'public':
    case 'signed in':
      return 'success';
    case 'client token':
    case '401':
      return 401;
    case '403':
      return 403;
    case '404':
      return 404;
  }
}

/** What an access key should get on a row: its role's column, or the key column's own answer. */
function keyExpectation(row: Row, key: KeyPrincipalName): { cell: string; expected: 'success' | 401 | 403 | 404 } {
  switch (row.key) {
    case 'as role': {
      const cell = row.cells[KEY_PRINCIPALS[key]];
      assert.ok(cell === '✓' || cell === '403' || cell === '404', `${row.operationId}: "as role" needs a role cell, not "${cell}"`);
      return { cell, expected: expectationOf(cell) };
    }
    case 'people only':
      return { cell: row.key, expected: 403 };
    case 'public':
      return { cell: row.key, expected: 'success' };
    case 'client token':
    case '401':
      return { cell: row.key, expected: 401 };
  }
}

interface OpenApiOperation {
  operationId: string;
  request: string;
}

function operationsOf(document: { paths: Record<string, Record<string, { operationId?: string }>> }): OpenApiOperation[] {
  const found: OpenApiOperation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation && typeof operation === 'object' && operation.operationId) found.push({ operationId: operation.operationId, request: `${method.toUpperCase()} ${path}` });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

// a real OpenID Connect provider, so the sign-in operations with it are on (test/support/oidc-provider.ts)
const provider = await startTestProvider(TEST_APP_REDIRECT_URI);
after(() => provider.close());

for (const backend of BACKENDS) {
  describe(`the permission matrix of docs/permissions.md holds (${backend})`, () => {
    let t: TestApp;
    let w: World;
    let checked = 0;
    const started = Date.now();
    before(async () => {
      t = await startTestApp(backend, oidcConfigOf(provider));
      w = await buildWorld(t);
    });
    after(async () => {
      await t?.close();
      console.log(`# permissions (${backend}): ${checked} principal cells checked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });

    it('has one row for every operation of the OpenAPI document, and none for operations that are gone', async () => {
      const document = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
      const operations = operationsOf(document);
      assert.ok(operations.length > 0);
      const documented = new Map(ROWS.map((r) => [r.operationId, r]));
      const missing = operations.filter((o) => !documented.has(o.operationId)).map((o) => `${o.operationId} (${o.request})`);
      assert.deepEqual(missing, [], 'operations without a row in docs/permissions.md');
      const existing = new Set(operations.map((o) => o.operationId));
      assert.deepEqual(ROWS.filter((r) => !existing.has(r.operationId)).map((r) => r.operationId), [], 'rows naming no operation of the document');
      const moved = operations.filter((o) => documented.get(o.operationId)!.request !== o.request).map((o) => `${o.operationId}: ${o.request}`);
      assert.deepEqual(moved, [], 'rows whose Request column differs from the document');
      assert.deepEqual(ROWS.filter((r) => !RUNNERS[r.operationId]).map((r) => r.operationId), [], 'rows this test has no request for');
    });

    it('filters the lists of organizations, groups and open connections to what the caller reaches', async () => {
      const ids = async (p: PrincipalName, path: string) => {
        const answer = await w.who[p].caller.call('GET', accountUrl(w, path));
        assert.equal(answer.status, 200, `${p} lists ${path}`);
        return new Set<string>(answer.body.items.map((item: { id?: string; leaseId?: string }) => item.id ?? item.leaseId));
      };
      const { orgA, orgB, orgC, groupG, leaseA, leaseB } = w;
      for (const p of ['owner', 'account manager', 'account viewer'] as const) {
        assert.deepEqual(await ids(p, '/organizations?limit=200'), new Set([orgA, orgB, orgC]), `${p} sees every organization`);
        assert.deepEqual(await ids(p, '/groups'), new Set([groupG]), `${p} sees every group`);
        assert.deepEqual(await ids(p, '/connections'), new Set([leaseA, leaseB]), `${p} sees every open connection`);
      }
      for (const p of ['group manager', 'group viewer'] as const) {
        assert.deepEqual(await ids(p, '/organizations?limit=200'), new Set([orgA, orgC]), `${p} sees the organizations of G`);
        assert.deepEqual(await ids(p, '/groups'), new Set([groupG]), `${p} sees G`);
        assert.deepEqual(await ids(p, '/connections'), new Set([leaseA]), `${p} sees connections to devices of G's organizations`);
      }
      for (const p of ['org manager', 'org viewer'] as const) {
        assert.deepEqual(await ids(p, '/organizations?limit=200'), new Set([orgA]), `${p} sees only A`);
        assert.deepEqual(await ids(p, '/groups'), new Set(), `${p} sees no group`);
        assert.deepEqual(await ids(p, '/connections'), new Set([leaseA]), `${p} sees only connections to A's devices`);
      }
      assert.deepEqual(await ids('other-org manager', '/organizations?limit=200'), new Set([orgB]), 'the other-org manager sees only B');
      assert.deepEqual(await ids('other-org manager', '/groups'), new Set(), 'the other-org manager sees no group');
      assert.deepEqual(await ids('other-org manager', '/connections'), new Set([leaseB]), "the other-org manager sees only B's connections");
      // keys are filtered like people with the same role
      const keyIds = async (k: KeyPrincipalName, path: string) => {
        const answer = await w.keys[k].caller.call('GET', accountUrl(w, path));
        assert.equal(answer.status, 200, `${k} lists ${path}`);
        return new Set<string>(answer.body.items.map((item: { id?: string; leaseId?: string }) => item.id ?? item.leaseId));
      };
      assert.deepEqual(await keyIds('account viewer key', '/organizations?limit=200'), new Set([orgA, orgB, orgC]));
      assert.deepEqual(await keyIds('group manager key', '/organizations?limit=200'), new Set([orgA, orgC]), 'a key on G sees the organizations of G');
      assert.deepEqual(await keyIds('group manager key', '/connections'), new Set([leaseA]));
      assert.deepEqual(await keyIds('org viewer key', '/organizations?limit=200'), new Set([orgA]), 'a key on A sees only A');
      assert.deepEqual(await keyIds('org viewer key', '/groups'), new Set());
      // the search and the keyset pages stay inside the filter
      const searched = await w.who['org viewer'].caller.call('GET', accountUrl(w, '/organizations?q=B'));
      assert.deepEqual(searched.body.items, [], 'a search never reaches past the filter');
    });

    for (const row of ROWS) {
      it(`${row.operationId}: ${PRINCIPALS.map((p) => `${p} ${row.cells[p]}`).join(', ')}; access keys ${row.key}`, async () => {
        const run = RUNNERS[row.operationId];
        assert.ok(run, `no request for ${row.operationId}`);
        const failures: string[] = [];
        for (const p of PRINCIPALS) {
          const cell = row.cells[p];
          const expected = expectationOf(cell);
          const answer = await run(w, w.who[p], cell === '✓');
          checked += 1;
          const why = mismatch(answer, expected);
          if (why) failures.push(`${p} (${cell}): ${why}`);
        }
        // access keys, each as its role's column or as the key column says
        for (const key of Object.keys(KEY_PRINCIPALS) as KeyPrincipalName[]) {
          const { cell, expected } = keyExpectation(row, key);
          const answer = await run(w, w.keys[key], cell === '✓' || cell === 'public');
          checked += 1;
          const why = mismatch(answer, expected);
          if (why) failures.push(`${key} (${cell}): ${why}`);
        }
        // nobody signed in: public operations answer, every other one is a 401
        const cells = new Set(PRINCIPALS.map((p) => row.cells[p]));
        const anonymous: Who = { label: 'anonymous', caller: new Caller(t), email: null, userId: null };
        const anonymousExpected = cells.has('public') ? 'success' : 401;
        const anonymousWhy = mismatch(await run(w, anonymous, cells.has('public')), anonymousExpected);
        if (anonymousWhy) failures.push(`anonymous: ${anonymousWhy}`);
        // the bearer token of a team member is what client-token operations admit
        if (cells.has('client token')) {
          const client = CLIENT_RUNNERS[row.operationId];
          assert.ok(client, `no bearer request for ${row.operationId}`);
          const why = mismatch(await client(w), 'success');
          if (why) failures.push(`team member bearer token: ${why}`);
        }
        assert.deepEqual(failures, [], `${row.operationId} answers differ from docs/permissions.md`);
      });
    }
  });
}
