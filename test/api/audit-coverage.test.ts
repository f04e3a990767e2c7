import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TesseraDesktopClient } from '../../src/client/desktop.ts';
import type { TesseraClient } from '../../src/client/sdk.ts';
import { ACCOUNT_AUDIT_ACTIONS } from '../../src/shared/audit.ts';
import { LOGIN_TOKEN_GRANT } from '../../src/shared/client-api.ts';
import { injectFetch, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { Caller, nextAddress, type Answer } from '../support/caller.ts';
import { BACKENDS } from '../support/databases.ts';
import { SmtpInbox } from '../support/smtp.ts';
import * as OTPAuth from 'otpauth';
import { oidcConfigOf, seedLinkedIdentity, startedAtProvider, startTestProvider, TEST_APP_REDIRECT_URI } from '../support/oidc-provider.ts';
import { PASSKEY_TEST_ORIGIN, SoftwareAuthenticator } from '../support/passkey-authenticator.ts';

// a real OpenID Connect provider, so the sign-ins with it can be audited (test/support/oidc-provider.ts)
const provider = await startTestProvider(TEST_APP_REDIRECT_URI);
after(() => provider.close());
let providerLogins = 0;

/** A person at the provider with this email (verified); their login there. */
function personAtProvider(email: string): string {
  providerLogins += 1;
  const login = `audited-${providerLogins}`;
  provider.addPerson(login, { email, emailVerified: true, name: 'Provider Person' });
  return login;
}

/** The provider's redirect back, answered in the browser that started the flow. */
async function answerCallback(t: TestApp, flow: { callbackPath: string; cookie: string }): Promise<{ answer: Answer; setCookies: Array<{ name: string; value: string }> }> {
  const response = await t.app.inject({ method: 'GET', url: flow.callbackPath, headers: { cookie: flow.cookie }, remoteAddress: nextAddress() });
  return { answer: { status: response.statusCode, contentType: String(response.headers['content-type'] ?? ''), body: response.body }, setCookies: response.cookies };
}

/**
 * Every change writes an audit event (docs/security-rules.md, rule 28). Every unsafe operation
 * (POST, PUT, PATCH, DELETE) of the OpenAPI document is declared below: either with the audit
 * actions one successful call commits, or in NOT_AUDITED with the reason it writes none. An
 * operation declared nowhere fails the walk, so a new operation has to say how it is audited.
 *
 * Each case is called once, with a valid request as the principal allowed to make it, and the
 * events it committed (the rows of audit_events and user_audit_events that were not there before
 * the call) must be exactly the declared actions: a missing event fails, and so does an extra one.
 * A case prepares what it needs first (a victim to delete, a link to use), outside the comparison.
 */

// ---------------------------------------------------------------------------------------------
// The world the calls act in

interface World {
  t: TestApp;
  /** The owner's SDK, for preparing; `owner` makes the calls under test, as raw HTTP. */
  sdk: TesseraClient;
  owner: Caller;
  ownerEmail: string;
  accountId: string;
  orgA: string;
  /** A team member signed in on a desktop, holding connections. */
  desk: TesseraDesktopClient;
  deskMemberId: string;
}

let sequence = 0;
const next = (label: string) => `${label} ${++sequence}`;

async function buildWorld(t: TestApp): Promise<World> {
  const person = await registerPerson(t, { companyName: 'Audited Ltd', ip: nextAddress() });
  const accountId = person.account.id;
  const orgA = (await person.client.createOrganization(accountId, { name: 'A' })).id;
  const deskMember = await person.client.addTeamMember(accountId, { name: 'Front desk' });
  const desk = new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(t.app, nextAddress()) });
  await desk.signInWithLoginToken(deskMember.firstToken.secret);
  return {
    t,
    sdk: person.client,
    owner: await new Caller(t).signIn(person.email),
    ownerEmail: person.email,
    accountId,
    orgA,
    desk,
    deskMemberId: deskMember.member.id,
  };
}

/** A person who registered and signed out, with the token of the first mail `subject` matches. */
async function freshPerson(w: World, mail: 'verify' | 'reset'): Promise<{ email: string; token: string }> {
  const email = uniqueEmail('fresh');
  const client = w.t.client({ ip: nextAddress() });
  await client.register({ name: 'Fresh Person', email, password: STRONG_PASSWORD, companyName: next('Fresh Ltd'), country: 'GB' });
  if (mail === 'reset') await client.requestPasswordReset(email);
  const subject = mail === 'verify' ? /Confirm your email/ : /Reset your Tessera password/;
  return { email, token: SmtpInbox.linkToken(await w.t.inbox.waitFor(email, subject)) };
}

async function freshDevice(w: World): Promise<string> {
  return (await w.sdk.createDevice(w.accountId, w.orgA, { name: next('Device'), kind: 'usb', identifier: next('SN') })).id;
}

async function memberWithCredentials(w: World): Promise<{ memberId: string; email: string; password: string }> {
  const memberId = (await w.sdk.addTeamMember(w.accountId, { name: next('Counter') })).member.id;
  const email = uniqueEmail('member');
  await w.sdk.setMemberCredentials(w.accountId, memberId, { email, password: 'member pass 9 word' });
  return { memberId, email, password: 'member pass 9 word' };
}

/** A fresh desktop session of the desk member: its token pair. */
async function freshTokenPair(w: World): Promise<{ access_token: string; refresh_token: string }> {
  const issued = await w.sdk.createLoginToken(w.accountId, w.deskMemberId, { label: next('Pair') });
  return new TesseraDesktopClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(w.t.app, nextAddress()) }).signInWithLoginToken(issued.secret);
}

/** A person of their own, signed in (sensitive changes end the person's other sessions). */
async function ownPerson(w: World): Promise<{ caller: Caller; email: string }> {
  const email = uniqueEmail('own');
  await w.t.client({ ip: nextAddress() }).register({ name: 'Own Person', email, password: STRONG_PASSWORD, companyName: next('Own Ltd'), country: 'GB' });
  return { caller: await new Caller(w.t).signIn(email), email };
}

/** The code an authenticator app shows, `steps` periods after now on the app's clock. */
const totpCode = (w: World, secret: string, steps = 0) => new OTPAuth.TOTP({ secret }).generate({ timestamp: w.t.clock.now().getTime() + steps * 30_000 });

/** An own person with a second factor on; the enrolment spent the current step, so later codes are a step ahead. */
async function ownEnrolledPerson(w: World): Promise<{ caller: Caller; email: string; secret: string }> {
  const own = await ownPerson(w);
  const { secret } = (await own.caller.call('POST', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD } })).body;
  assert.equal((await own.caller.call('POST', '/api/v1/me/two-factor/confirm', { json: { code: totpCode(w, secret) } })).status, 200);
  return { ...own, secret };
}

/** An own person with a passkey, and the authenticator holding it. */
async function ownPasskeyPerson(w: World): Promise<{ caller: Caller; email: string; authenticator: SoftwareAuthenticator; passkeyId: string }> {
  const own = await ownPerson(w);
  const authenticator = new SoftwareAuthenticator({ origin: PASSKEY_TEST_ORIGIN });
  const options = (await own.caller.call('POST', '/api/v1/me/passkeys/options', { json: { password: STRONG_PASSWORD } })).body;
  const added = await own.caller.call('POST', '/api/v1/me/passkeys', { json: { credential: authenticator.create(options) } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  return { ...own, authenticator, passkeyId: added.body.passkey.id };
}

// ---------------------------------------------------------------------------------------------
// The declarations

/** A call prepared to be made: what it sends, and the account its account events must be filed under. */
interface Call {
  send: () => Promise<Answer>;
  account?: string;
}

interface Case {
  /** What this case calls, when an operation has several (grants, signed in or not). */
  label?: string;
  /** The actions the call commits, exactly (audit_events and user_audit_events together). */
  actions: string[];
  /** Refused calls that still commit a change say their status (a 2xx is expected otherwise). */
  status?: number;
  /** Why a change commits no event; required when `actions` is empty. */
  why?: string;
  prepare: (w: World) => Promise<Call>;
}

const accountUrl = (w: World, rest = '') => `/api/v1/accounts/${w.accountId}${rest}`;
/** The owner's call on the world's account: its account events belong there. */
const asOwner = (w: World, method: string, rest: string, json?: unknown): Call => ({
  send: () => w.owner.call(method, accountUrl(w, rest), json === undefined ? {} : { json }),
  account: w.accountId,
});

const AUDITED: Record<string, Case[]> = {
  register: [{
    actions: ['user.registered', 'account.created', 'membership.created'],
    prepare: async (w) => ({
      send: () => new Caller(w.t).call('POST', '/api/v1/auth/register', {
        json: { name: 'New Person', email: uniqueEmail('register'), password: STRONG_PASSWORD, companyName: next('New Ltd'), country: 'GB' },
      }),
    }),
  }],
  signIn: [{
    actions: ['user.signed_in'],
    prepare: async (w) => ({ send: () => new Caller(w.t).call('POST', '/api/v1/auth/sign-in', { json: { email: w.ownerEmail, password: STRONG_PASSWORD } }) }),
  }, {
    label: 'with a provider identity waiting for the password',
    actions: ['user.identity_linked', 'user.signed_in'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      const { setCookies } = await answerCallback(w.t, await startedAtProvider(w.t.app, personAtProvider(own.email)));
      const pending = setCookies.find((c) => c.name === 'tessera_oidc_link_pending');
      assert.ok(pending, 'the link waiting for the password');
      const browser = new Caller(w.t);
      browser.setCookie(pending.name, pending.value);
      return { send: () => browser.call('POST', '/api/v1/auth/sign-in', { json: { email: own.email, password: STRONG_PASSWORD } }) };
    },
  }],
  unlinkIdentity: [{
    actions: ['user.identity_unlinked'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      const id = await seedLinkedIdentity(w.t, (await own.caller.call('GET', '/api/v1/me')).body.user.id, own.email);
      return { send: () => own.caller.call('DELETE', `/api/v1/me/identities/${id}`) };
    },
  }],
  signOut: [{
    actions: ['user.signed_out'],
    prepare: async (w) => {
      const throwaway = await new Caller(w.t).signIn(w.ownerEmail);
      return { send: () => throwaway.call('POST', '/api/v1/auth/sign-out') };
    },
  }],
  completeTwoFactorSignIn: [{
    actions: ['user.signed_in'],
    prepare: async (w) => {
      const own = await ownEnrolledPerson(w);
      const browser = new Caller(w.t);
      await browser.call('POST', '/api/v1/auth/sign-in', { json: { email: own.email, password: STRONG_PASSWORD }, keepCookies: true });
      return { send: () => browser.call('POST', '/api/v1/auth/sign-in/two-factor', { json: { code: totpCode(w, own.secret, 1) }, keepCookies: true }) };
    },
  }],
  signInWithPasskey: [{
    actions: ['user.signed_in'],
    prepare: async (w) => {
      const own = await ownPasskeyPerson(w);
      const browser = new Caller(w.t);
      const options = (await browser.call('POST', '/api/v1/auth/passkey/options', { keepCookies: true })).body;
      return { send: () => browser.call('POST', '/api/v1/auth/passkey/sign-in', { json: { credential: own.authenticator.get(options) }, keepCookies: true }) };
    },
  }],
  addPasskey: [{
    actions: ['user.passkey_added'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      const options = (await own.caller.call('POST', '/api/v1/me/passkeys/options', { json: { password: STRONG_PASSWORD } })).body;
      const credential = new SoftwareAuthenticator({ origin: PASSKEY_TEST_ORIGIN }).create(options);
      return { send: () => own.caller.call('POST', '/api/v1/me/passkeys', { json: { credential } }) };
    },
  }],
  renamePasskey: [{
    actions: ['user.passkey_renamed'],
    prepare: async (w) => {
      const own = await ownPasskeyPerson(w);
      return { send: () => own.caller.call('PATCH', `/api/v1/me/passkeys/${own.passkeyId}`, { json: { name: next('Key') } }) };
    },
  }],
  removePasskey: [{
    actions: ['user.passkey_removed'],
    prepare: async (w) => {
      const own = await ownPasskeyPerson(w);
      return { send: () => own.caller.call('DELETE', `/api/v1/me/passkeys/${own.passkeyId}`, { json: { password: STRONG_PASSWORD } }) };
    },
  }],
  updateMe: [{
    actions: ['user.name_changed'],
    prepare: async (w) => ({ send: () => w.owner.call('PATCH', '/api/v1/me', { json: { name: next('Owner') } }) }),
  }],
  changePassword: [{
    actions: ['user.password_changed'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      return { send: () => own.caller.call('PUT', '/api/v1/me/password', { json: { currentPassword: STRONG_PASSWORD, newPassword: 'amber tiles 73 north' } }) };
    },
  }],
  changeEmail: [{
    actions: ['user.email_change_requested'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      return { send: () => own.caller.call('PUT', '/api/v1/me/email', { json: { password: STRONG_PASSWORD, email: uniqueEmail('moved') } }) };
    },
  }],
  confirmEmailChange: [{
    actions: ['user.email_changed'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      const newEmail = uniqueEmail('moved');
      await own.caller.call('PUT', '/api/v1/me/email', { json: { password: STRONG_PASSWORD, email: newEmail } });
      const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(newEmail, /Confirm your new email/));
      return { send: () => own.caller.call('POST', '/api/v1/auth/email-change/confirm', { json: { token } }) };
    },
  }],
  confirmTwoFactor: [{
    actions: ['user.two_factor_enabled'],
    prepare: async (w) => {
      const own = await ownPerson(w);
      const { secret } = (await own.caller.call('POST', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD } })).body;
      return { send: () => own.caller.call('POST', '/api/v1/me/two-factor/confirm', { json: { code: totpCode(w, secret) } }) };
    },
  }],
  disableTwoFactor: [{
    actions: ['user.two_factor_disabled'],
    prepare: async (w) => {
      const own = await ownEnrolledPerson(w);
      return { send: () => own.caller.call('DELETE', '/api/v1/me/two-factor', { json: { password: STRONG_PASSWORD, code: totpCode(w, own.secret, 1) } }) };
    },
  }],
  regenerateRecoveryCodes: [{
    actions: ['user.recovery_codes_regenerated'],
    prepare: async (w) => {
      const own = await ownEnrolledPerson(w);
      return { send: () => own.caller.call('POST', '/api/v1/me/two-factor/recovery-codes', { json: { password: STRONG_PASSWORD } }) };
    },
  }],
  verifyEmail: [{
    actions: ['user.email_verified'],
    prepare: async (w) => {
      const { token } = await freshPerson(w, 'verify');
      return { send: () => new Caller(w.t).call('POST', '/api/v1/auth/verify-email', { json: { token } }) };
    },
  }],
  confirmPasswordReset: [{
    actions: ['user.password_reset'],
    prepare: async (w) => {
      const { token } = await freshPerson(w, 'reset');
      return { send: () => new Caller(w.t).call('POST', '/api/v1/auth/password-reset/confirm', { json: { token, password: 'another horse 43 battery' } }) };
    },
  }],
  createAccount: [{
    actions: ['account.created', 'membership.created'],
    prepare: async (w) => ({ send: () => w.owner.call('POST', '/api/v1/accounts', { json: { companyName: next('Second Co'), country: 'DE' } }) }),
  }],
  updateAccount: [{ actions: ['account.updated'], prepare: async (w) => asOwner(w, 'PATCH', '', { companyName: next('Audited Ltd') }) }],

  addTeamMember: [{ actions: ['member.created', 'login_token.created'], prepare: async (w) => asOwner(w, 'POST', '/members', { name: next('Desk') }) }],
  updateTeamMember: [{
    actions: ['member.updated'],
    prepare: async (w) => asOwner(w, 'PATCH', `/members/${w.deskMemberId}`, { name: next('Front desk') }),
  }],
  removeTeamMember: [{
    actions: ['member.deleted'],
    prepare: async (w) => asOwner(w, 'DELETE', `/members/${(await w.sdk.addTeamMember(w.accountId, { name: next('Doomed desk') })).member.id}`),
  }],
  setMemberCredentials: [{
    actions: ['member.credentials_set'],
    prepare: async (w) => {
      const memberId = (await w.sdk.addTeamMember(w.accountId, { name: next('Desk') })).member.id;
      return asOwner(w, 'PUT', `/members/${memberId}/credentials`, { email: uniqueEmail('desk'), password: STRONG_PASSWORD });
    },
  }],
  removeMemberCredentials: [{
    actions: ['member.credentials_removed'],
    prepare: async (w) => asOwner(w, 'DELETE', `/members/${(await memberWithCredentials(w)).memberId}/credentials`),
  }],
  createLoginToken: [{ actions: ['login_token.created'], prepare: async (w) => asOwner(w, 'POST', `/members/${w.deskMemberId}/tokens`, { label: next('Token') }) }],
  revokeLoginToken: [{
    actions: ['login_token.revoked'],
    prepare: async (w) => {
      const tokenId = (await w.sdk.createLoginToken(w.accountId, w.deskMemberId, { label: next('Doomed token') })).token.id;
      return asOwner(w, 'DELETE', `/members/${w.deskMemberId}/tokens/${tokenId}`);
    },
  }],

  createOrganization: [{ actions: ['organization.created'], prepare: async (w) => asOwner(w, 'POST', '/organizations', { name: next('Org') }) }],
  updateOrganization: [{ actions: ['organization.updated'], prepare: async (w) => asOwner(w, 'PATCH', `/organizations/${w.orgA}`, { description: next('Our first customer') }) }],
  deleteOrganization: [{
    actions: ['organization.deleted'],
    prepare: async (w) => asOwner(w, 'DELETE', `/organizations/${(await w.sdk.createOrganization(w.accountId, { name: next('Doomed org') })).id}`),
  }],
  setSelectedOrganization: [{ actions: ['organization.selected'], prepare: async (w) => asOwner(w, 'PUT', '/selected-organization', { organizationId: w.orgA }) }],
  createGroup: [{ actions: ['group.created'], prepare: async (w) => asOwner(w, 'POST', '/groups', { name: next('Group'), organizationIds: [w.orgA] }) }],
  updateGroup: [{
    actions: ['group.updated'],
    prepare: async (w) => asOwner(w, 'PATCH', `/groups/${(await w.sdk.createGroup(w.accountId, { name: next('Group') })).id}`, { description: 'Renamed' }),
  }],
  deleteGroup: [{
    actions: ['group.deleted'],
    prepare: async (w) => asOwner(w, 'DELETE', `/groups/${(await w.sdk.createGroup(w.accountId, { name: next('Doomed group') })).id}`),
  }],
  addOrganizationToGroup: [{
    actions: ['group.organization_added'],
    prepare: async (w) => asOwner(w, 'PUT', `/groups/${(await w.sdk.createGroup(w.accountId, { name: next('Growing group') })).id}/organizations/${w.orgA}`),
  }],
  removeOrganizationFromGroup: [{
    actions: ['group.organization_removed'],
    prepare: async (w) => {
      const groupId = (await w.sdk.createGroup(w.accountId, { name: next('Shrinking group'), organizationIds: [w.orgA] })).id;
      return asOwner(w, 'DELETE', `/groups/${groupId}/organizations/${w.orgA}`);
    },
  }],

  createDevice: [{
    actions: ['device.created'],
    prepare: async (w) => asOwner(w, 'POST', `/organizations/${w.orgA}/devices`, { name: next('Device'), kind: 'usb', identifier: next('SN') }),
  }],
  updateDevice: [{ actions: ['device.updated'], prepare: async (w) => asOwner(w, 'PATCH', `/devices/${await freshDevice(w)}`, { notes: 'On the second shelf' }) }],
  deleteDevice: [{ actions: ['device.deleted'], prepare: async (w) => asOwner(w, 'DELETE', `/devices/${await freshDevice(w)}`) }],
  closeConnection: [{
    actions: ['connection.closed'],
    prepare: async (w) => asOwner(w, 'DELETE', `/connections/${(await w.desk.connect(await freshDevice(w))).leaseId}`),
  }],

  addAccountUser: [{
    actions: ['user.added'],
    prepare: async (w) => asOwner(w, 'POST', '/users', { name: 'Added User', email: uniqueEmail('added'), password: STRONG_PASSWORD, role: 'viewer' }),
  }],
  setAccountUserRoles: [{
    actions: ['user.roles_changed'],
    prepare: async (w) => {
      const userId = (await w.sdk.addAccountUser(w.accountId, { name: 'Role User', email: uniqueEmail('roles'), password: STRONG_PASSWORD, role: 'viewer' })).user.id;
      return asOwner(w, 'PUT', `/users/${userId}/roles`, { role: 'viewer', grants: [{ role: 'manager', organizationId: w.orgA }] });
    },
  }],
  removeAccountUser: [{
    actions: ['user.removed'],
    prepare: async (w) => {
      const userId = (await w.sdk.addAccountUser(w.accountId, { name: 'Doomed User', email: uniqueEmail('doomed'), password: STRONG_PASSWORD, role: 'viewer' })).user.id;
      return asOwner(w, 'DELETE', `/users/${userId}`);
    },
  }],
  // in an account of its own, so the world's owner stays its owner
  transferOwnership: [{
    actions: ['account.ownership_transferred'],
    prepare: async (w) => {
      const accountId = (await w.sdk.createAccount({ companyName: next('Handed over Ltd'), country: 'GB' })).id;
      const userId = (await w.sdk.addAccountUser(accountId, { name: 'Heir', email: uniqueEmail('heir'), password: STRONG_PASSWORD, role: 'viewer' })).user.id;
      return { send: () => w.owner.call('POST', `/api/v1/accounts/${accountId}/ownership`, { json: { userId } }), account: accountId };
    },
  }],
  createInvitation: [{ actions: ['invitation.created'], prepare: async (w) => asOwner(w, 'POST', '/invitations', { email: uniqueEmail('invited'), role: 'viewer' }) }],
  resendInvitation: [{
    actions: ['invitation.resent'],
    prepare: async (w) => asOwner(w, 'POST', `/invitations/${(await w.sdk.createInvitation(w.accountId, { email: uniqueEmail('resent'), role: 'viewer' })).id}/resend`),
  }],
  revokeInvitation: [{
    actions: ['invitation.revoked'],
    prepare: async (w) => asOwner(w, 'DELETE', `/invitations/${(await w.sdk.createInvitation(w.accountId, { email: uniqueEmail('doomed'), role: 'viewer' })).id}`),
  }],
  acceptInvitation: [
    {
      label: 'signed in as the invited person',
      actions: ['invitation.accepted'],
      prepare: async (w) => {
        const email = uniqueEmail('joining');
        await w.t.client({ ip: nextAddress() }).register({ name: 'Joining Person', email, password: STRONG_PASSWORD, companyName: next('Own Ltd'), country: 'GB' });
        await w.sdk.createInvitation(w.accountId, { email, role: 'viewer' });
        const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /invites you/));
        const invited = await new Caller(w.t).signIn(email);
        return { send: () => invited.call('POST', '/api/v1/invitations/accept', { json: { token } }), account: w.accountId };
      },
    },
    {
      label: 'signing up',
      actions: ['user.registered', 'invitation.accepted'],
      prepare: async (w) => {
        const email = uniqueEmail('signup');
        await w.sdk.createInvitation(w.accountId, { email, role: 'viewer' });
        const token = SmtpInbox.linkToken(await w.t.inbox.waitFor(email, /invites you/));
        return { send: () => new Caller(w.t).call('POST', '/api/v1/invitations/accept', { json: { token, name: 'Signed Up', password: STRONG_PASSWORD } }), account: w.accountId };
      },
    },
  ],
  changePlan: [{ actions: ['account.plan_changed', 'invoice.issued'], prepare: async (w) => asOwner(w, 'PUT', '/billing/plan', { planId: (await w.sdk.getBilling(w.accountId)).plan.id === 'team' ? 'business' : 'team' }) }],
  setBillingDetails: [{
    actions: ['billing.details_updated'],
    prepare: async (w) => asOwner(w, 'PUT', '/billing/details', { legalName: next('Audited GmbH'), addressLine1: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', country: 'DE', billingEmail: 'billing@audited.example' }),
  }],
  createAccessKey: [{ actions: ['access_key.created'], prepare: async (w) => asOwner(w, 'POST', '/access-keys', { name: next('Key'), role: 'viewer' }) }],
  revokeAccessKey: [{
    actions: ['access_key.revoked'],
    prepare: async (w) => asOwner(w, 'DELETE', `/access-keys/${(await w.sdk.createAccessKey(w.accountId, { name: next('Doomed key'), role: 'viewer' })).key.id}`),
  }],

  clientToken: [
    {
      label: 'a login token',
      actions: ['client_session.created'],
      prepare: async (w) => {
        const issued = await w.sdk.createLoginToken(w.accountId, w.deskMemberId, { label: next('Exchange') });
        return { send: () => new Caller(w.t).call('POST', '/client/v1/token', { form: { grant_type: LOGIN_TOKEN_GRANT, login_token: issued.secret } }), account: w.accountId };
      },
    },
    {
      label: 'member credentials',
      actions: ['client_session.created'],
      prepare: async (w) => {
        const { email, password } = await memberWithCredentials(w);
        return { send: () => new Caller(w.t).call('POST', '/client/v1/token', { form: { grant_type: 'password', username: email, password } }), account: w.accountId };
      },
    },
    {
      label: 'a refresh token',
      actions: [],
      why: 'rotating the pair continues the session its creation audited (client_session.created); a reuse is audited, below',
      prepare: async (w) => {
        const { refresh_token } = await freshTokenPair(w);
        return { send: () => new Caller(w.t).call('POST', '/client/v1/token', { form: { grant_type: 'refresh_token', refresh_token } }) };
      },
    },
    {
      label: 'a spent refresh token after the grace',
      actions: ['client_session.revoked'],
      status: 400,
      prepare: async (w) => {
        const { refresh_token } = await freshTokenPair(w);
        const first = await new Caller(w.t).call('POST', '/client/v1/token', { form: { grant_type: 'refresh_token', refresh_token } });
        assert.equal(first.status, 200, 'the first use');
        w.t.clock.advance((w.t.app.services.config.clientRefreshGraceSeconds + 1) * 1000);
        return { send: () => new Caller(w.t).call('POST', '/client/v1/token', { form: { grant_type: 'refresh_token', refresh_token } }), account: w.accountId };
      },
    },
  ],
  clientEnroll: [{
    actions: ['member.created', 'login_token.created', 'member.enrolled'],
    prepare: async (w) => ({
      send: () => new Caller(w.t).call('POST', '/client/v1/enroll', { json: { email: w.ownerEmail, password: STRONG_PASSWORD, accountId: w.accountId, memberName: next('Enrolled PC') } }),
      account: w.accountId,
    }),
  }],
  clientRevoke: [{
    actions: ['client_session.ended'],
    prepare: async (w) => {
      const { refresh_token } = await freshTokenPair(w);
      return { send: () => new Caller(w.t).call('POST', '/client/v1/revoke', { form: { token: refresh_token } }), account: w.accountId };
    },
  }],
};

/** Reads that are audited all the same: showing a secret again is worth a record. */
const AUDITED_READS: Record<string, Case[]> = {
  completeOidcSignIn: [{
    label: 'a new person',
    actions: ['user.registered', 'account.created', 'membership.created', 'user.identity_linked', 'user.signed_in'],
    status: 302,
    prepare: async (w) => {
      const flow = await startedAtProvider(w.t.app, personAtProvider(uniqueEmail('provider')));
      return { send: async () => (await answerCallback(w.t, flow)).answer };
    },
  }, {
    label: 'a linked identity',
    actions: ['user.signed_in'],
    status: 302,
    prepare: async (w) => {
      const login = personAtProvider(uniqueEmail('provider'));
      await answerCallback(w.t, await startedAtProvider(w.t.app, login));
      const flow = await startedAtProvider(w.t.app, login);
      return { send: async () => (await answerCallback(w.t, flow)).answer };
    },
  }, {
    label: 'the email of a person with a password',
    actions: [],
    why: 'nothing is linked until the password is given; the password sign-in that follows links it (signIn: with a provider identity waiting)',
    status: 302,
    prepare: async (w) => {
      const flow = await startedAtProvider(w.t.app, personAtProvider((await ownPerson(w)).email));
      return { send: async () => (await answerCallback(w.t, flow)).answer };
    },
  }],
  revealLoginToken: [{
    actions: ['login_token.revealed'],
    prepare: async (w) => {
      const tokenId = (await w.sdk.createLoginToken(w.accountId, w.deskMemberId, { label: next('Shown') })).token.id;
      return asOwner(w, 'GET', `/members/${w.deskMemberId}/tokens/${tokenId}/secret`);
    },
  }],
};

/** Unsafe operations that commit no audit event, and why. */
const NOT_AUDITED: Record<string, string> = {
  lookupInvitation: 'a read: POST only so the link stays out of addresses and logs',
  startTwoFactor: 'a secret waiting for its first code changes nothing about how the person signs in; confirming it is audited (user.two_factor_enabled)',
  getTwoFactorMethods: 'starts a passkey ceremony, which writes nothing; its answer is audited (user.signed_in)',
  startPasskeySignIn: 'starts a passkey ceremony, which writes nothing; its answer is audited (user.signed_in)',
  startPasskeyRegistration: 'starts a passkey ceremony; the passkey it makes is audited when added (user.passkey_added)',
  requestPasswordReset: 'mails a link and changes nobody; using the link is audited (user.password_reset)',
  resendVerificationEmail: 'mails a link and changes nobody; using the link is audited (user.email_verified)',
  clientOpenConnection: 'connection_leases is the record of every lease (docs/connections.md); an owner closing one is audited',
  clientRenewConnection: 'extends a lease, whose row keeps its interval (docs/connections.md)',
  clientCloseConnection: "the member's own close ends its lease row (docs/connections.md); an owner closing one is audited",
  clientHeartbeat: 'presence, not a change of what the account holds (docs/presence.md)',
};

// ---------------------------------------------------------------------------------------------
// What a call committed

interface Committed {
  actions: string[];
  /** Accounts the new account events are filed under. */
  accounts: Set<string>;
}

async function eventIds(t: TestApp): Promise<Set<string>> {
  return t.db.database.inSystem(async (tx) => {
    const account = await tx.selectFrom('audit_events').select('id').execute();
    const user = await tx.selectFrom('user_audit_events').select('id').execute();
    return new Set([...account, ...user].map((r) => r.id));
  });
}

async function committedSince(t: TestApp, before: Set<string>): Promise<Committed> {
  return t.db.database.inSystem(async (tx) => {
    const account = (await tx.selectFrom('audit_events').select(['id', 'action', 'account_id']).execute()).filter((r) => !before.has(r.id));
    const user = (await tx.selectFrom('user_audit_events').select(['id', 'action']).execute()).filter((r) => !before.has(r.id));
    return { actions: [...account, ...user].map((r) => r.action).sort(), accounts: new Set(account.map((r) => r.account_id)) };
  });
}

/**
 * Every action the server writes: the catalog of the account log, and every `action: 'noun.verb'`
 * in the server's code (the person log, user_audit_events, has no catalog of its own).
 */
function actionsOfServer(): Set<string> {
  const root = new URL('../../src/server/', import.meta.url);
  const found = new Set<string>(ACCOUNT_AUDIT_ACTIONS);
  for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    for (const match of readFileSync(new URL(file, root), 'utf8').matchAll(/action: '([a-z_]+\.[a-z_]+)'/g)) found.add(match[1]!);
  }
  return found;
}

const describeCase = (c: Case) => `${c.label ? `${c.label}: ` : ''}${c.actions.length > 0 ? c.actions.join(' + ') : 'none'}`;

// ---------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  describe(`every change commits its audit event (${backend})`, () => {
    let t: TestApp;
    let w: World;
    before(async () => {
      t = await startTestApp(backend, oidcConfigOf(provider));
      w = await buildWorld(t);
    });
    after(() => t.close());

    it('declares every unsafe operation of the OpenAPI document: its audit actions, or why it writes none', async () => {
      const document = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId?: string }>> };
      const unsafe: string[] = [];
      const all = new Set<string>();
      for (const item of Object.values(document.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          if (!operation?.operationId) continue;
          all.add(operation.operationId);
          if (['post', 'put', 'patch', 'delete'].includes(method)) unsafe.push(operation.operationId);
        }
      }
      assert.ok(unsafe.length > 30, `found ${unsafe.length} unsafe operations`);
      assert.deepEqual(unsafe.filter((id) => !AUDITED[id] && !NOT_AUDITED[id]), [], 'unsafe operations that declare neither their audit actions nor why they have none');
      assert.deepEqual(unsafe.filter((id) => AUDITED[id] && NOT_AUDITED[id]), [], 'operations declared both ways');
      const declared = [...Object.keys(AUDITED), ...Object.keys(NOT_AUDITED), ...Object.keys(AUDITED_READS)];
      assert.deepEqual(declared.filter((id) => !all.has(id)), [], 'declarations naming no operation of the document');
      const quiet = Object.entries({ ...AUDITED, ...AUDITED_READS }).flatMap(([id, cases]) => cases.filter((c) => c.actions.length === 0 && !c.why).map(() => id));
      assert.deepEqual(quiet, [], 'cases that expect no event must say why');
    });

    it('asserts every audit action the server writes', () => {
      const asserted = new Set(Object.values({ ...AUDITED, ...AUDITED_READS }).flatMap((cases) => cases.flatMap((c) => c.actions)));
      const written = actionsOfServer();
      assert.ok(written.size > 30, `found ${written.size} actions in src/server`);
      assert.deepEqual([...written].filter((a) => !asserted.has(a)).sort(), [], 'actions written by the code that no case here expects');
      assert.deepEqual([...asserted].filter((a) => !written.has(a)).sort(), [], 'actions expected here that the code never writes');
    });

    for (const [operationId, cases] of Object.entries({ ...AUDITED, ...AUDITED_READS })) {
      it(`${operationId} commits ${cases.map(describeCase).join('; ')}`, async () => {
        for (const c of cases) {
          const call = await c.prepare(w);
          const before = await eventIds(t);
          const answer = await call.send();
          const what = `${operationId}${c.label ? ` (${c.label})` : ''}`;
          if (c.status) assert.equal(answer.status, c.status, `${what}: ${JSON.stringify(answer.body)}`);
          else assert.ok(answer.status >= 200 && answer.status < 300, `${what} answered ${answer.status} ${JSON.stringify(answer.body)}`);
          const committed = await committedSince(t, before);
          assert.deepEqual(committed.actions, [...c.actions].sort(), `${what}: the audit events it committed`);
          if (call.account) assert.deepEqual([...committed.accounts], committed.accounts.size > 0 ? [call.account] : [], `${what}: filed under the account it changed`);
        }
      });
    }
  });
}
