import type { z } from 'zod';
import type {
  Account,
  CreateAccountBody,
  Me,
  PasswordResetConfirmBody,
  Registered,
  RegisterBody,
  SignedIn,
  SignInAnswer,
  SignInBody,
  UpdateAccountBody,
  User,
} from '../shared/contracts.ts';
import type {
  ChangeEmailBody,
  ChangePasswordBody,
  DisableTwoFactorBody,
  RecoveryCodes,
  TwoFactorEnrolment,
  TwoFactorMethods,
  TwoFactorSignInBody,
  TwoFactorStatus,
  UpdateMeBody,
} from '../shared/two-factor.ts';
import type { LinkedIdentities, OidcProviderInfo } from '../shared/oidc.ts';
import type { AddPasskeyBody, AuthenticationCredential, Passkey, PasskeyAdded, PasskeyCreationOptions, PasskeyList, PasskeyRequestOptions } from '../shared/passkeys.ts';
import type { FieldError, Problem } from '../shared/problems.ts';
import type {
  AddedTeamMember,
  CreateLoginTokenBody,
  CreateTeamMemberBody,
  IssuedLoginToken,
  LoginToken,
  MemberCredentialsBody,
  TeamMember,
  TeamOverview,
  UpdateTeamMemberBody,
} from '../shared/team.ts';
import type {
  CreateDeviceBody,
  CreateGroupBody,
  CreateOrganizationBody,
  Device,
  DevicePage,
  Organization,
  OrganizationGroup,
  OrganizationPage,
  PageQuery,
  UpdateDeviceBody,
  UpdateGroupBody,
  UpdateOrganizationBody,
} from '../shared/organizations.ts';
import type { OpenConnection } from '../shared/connections.ts';
import type {
  AcceptedInvitation,
  AcceptInvitationBody,
  AccountUser,
  AddUserBody,
  CreateInvitationBody,
  Invitation,
  InvitationPreview,
  SetUserRolesBody,
} from '../shared/users.ts';
import type { AuditEvent, AuditEventPage, AuditExportQuery, AuditSearchQuery } from '../shared/audit.ts';
import type { BillingDetails, BillingDetailsBody, BillingOverview, ChangePlanBody, Invoice, Plan, UsageDay, UsageHistory, UsageQuery } from '../shared/billing.ts';
import type { AccessKey, CreateAccessKeyBody, IssuedAccessKey } from '../shared/access-keys.ts';
import type { MemberPresence, PresenceList } from '../shared/presence.ts';

/** A problem document answered by the server, as a typed error. */
export class TesseraError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = 'TesseraError';
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
  /** `validation_failed`, `not_found`, … (the last segment of the problem type). */
  get code(): string {
    return this.problem.type.split('/').at(-1) ?? this.problem.type;
  }
  get fieldErrors(): FieldError[] {
    return this.problem.errors ?? [];
  }
}

/** signIn's answer when the password was right and a code of the second factor is due. */
export class TwoFactorRequired extends Error {
  constructor() {
    super('Finish signing in with your second factor: a code of your authenticator app, your passkey, or a recovery code.');
    this.name = 'TwoFactorRequired';
  }
}

export interface ClientOptions {
  /** Origin of the Tessera server; empty for same-origin use in the portal. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /**
   * Keep cookies between calls. Browsers keep them on their own; Node's fetch does not, so
   * programs that sign in as a person (tests, scripts) turn this on.
   */
  cookieJar?: boolean;
  /** Sent as User-Agent by programs (browsers send their own); it shows in the audit log. */
  userAgent?: string;
  /**
   * An access key (`tsr_ak_…`): every call authenticates with it as a bearer token, acting with the
   * key's role inside its scope. No session and no CSRF token are involved.
   */
  accessKey?: string;
}

/** A minimal cookie jar for one origin: enough for the session and CSRF cookies. */
class CookieJar {
  readonly #cookies = new Map<string, string>();
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

type Out<T extends z.ZodType> = z.output<T>;

/**
 * The typed client of Tessera's management API. The portal and the tests use it; types come from
 * the contracts the server validates with (src/shared/contracts.ts).
 */
export class TesseraClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #jar: CookieJar | null;
  readonly #userAgent: string | undefined;
  readonly #accessKey: string | undefined;
  #csrfToken: string | null = null;

  constructor(options: ClientOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#jar = options.cookieJar ? new CookieJar() : null;
    this.#userAgent = options.userAgent;
    this.#accessKey = options.accessKey;
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const unsafe = method !== 'GET' && method !== 'HEAD';
    // a bearer key is no cookie: there is nothing for a CSRF token to protect
    if (!unsafe || this.#accessKey) return this.#send<T>(method, path, body, false);
    if (this.#csrfToken === null) await this.refreshCsrfToken();
    try {
      return await this.#send<T>(method, path, body, true);
    } catch (error) {
      // The token went stale (the session changed in another tab, the server key rotated):
      // fetch a fresh one and try once more.
      if (!(error instanceof TesseraError) || error.code !== 'csrf_failed') throw error;
      await this.refreshCsrfToken();
      return this.#send<T>(method, path, body, true);
    }
  }

  async #fetchApi(method: string, path: string, body: unknown, unsafe: boolean, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (unsafe && this.#csrfToken) headers['x-csrf-token'] = this.#csrfToken;
    if (this.#userAgent) headers['user-agent'] = this.#userAgent;
    if (this.#accessKey) headers.authorization = `Bearer ${this.#accessKey}`;
    const cookie = this.#jar?.header();
    if (cookie) headers.cookie = cookie;
    const response = await this.#fetch(`${this.#baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
    });
    this.#jar?.store(response);
    return response;
  }

  static async #problemOf(response: Response): Promise<TesseraError> {
    const text = await response.text();
    const data: unknown = text ? JSON.parse(text) : null;
    return new TesseraError(
      data && typeof data === 'object' && 'type' in data ? (data as Problem) : { type: 'about:blank', title: response.statusText, status: response.status },
    );
  }

  async #send<T>(method: string, path: string, body: unknown, unsafe: boolean): Promise<T> {
    const response = await this.#fetchApi(method, path, body, unsafe);
    if (!response.ok) throw await TesseraClient.#problemOf(response);
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (data && typeof data === 'object' && 'csrfToken' in data) this.#csrfToken = (data as { csrfToken: string }).csrfToken;
    return data as T;
  }

  async refreshCsrfToken(): Promise<string> {
    const { csrfToken } = await this.#send<{ csrfToken: string }>('GET', '/auth/csrf', undefined, false);
    return csrfToken;
  }

  register(body: RegisterBody): Promise<Out<typeof Registered>> {
    return this.#request('POST', '/auth/register', body);
  }
  /**
   * Signs in with email and password. When the person has a second factor the password opens no
   * session: this throws TwoFactorRequired (a program that ignores it cannot go on as if signed
   * in); follow with completeTwoFactorSignIn within 5 minutes.
   */
  async signIn(body: SignInBody): Promise<Out<typeof SignedIn>> {
    const answer = await this.#request<SignInAnswer>('POST', '/auth/sign-in', body);
    if ('twoFactorRequired' in answer) throw new TwoFactorRequired();
    return answer;
  }
  /**
   * What the second step of a pending sign-in accepts, and (when the person has a passkey) the
   * options to pass to `navigator.credentials.get()` for it.
   */
  getTwoFactorMethods(): Promise<TwoFactorMethods> {
    return this.#request('POST', '/auth/sign-in/two-factor/options');
  }
  /**
   * The second step of a sign-in: `{ code }` of the app, `{ recoveryCode }` (works once), or
   * `{ passkey }`, the browser's answer to the options of getTwoFactorMethods.
   */
  completeTwoFactorSignIn(body: TwoFactorSignInBody): Promise<Out<typeof SignedIn>> {
    return this.#request('POST', '/auth/sign-in/two-factor', body);
  }
  /** Options for `navigator.credentials.get()` to sign in with a passkey alone (any of the browser's). */
  startPasskeySignIn(): Promise<PasskeyRequestOptions> {
    return this.#request('POST', '/auth/passkey/options');
  }
  /** Signs in with the browser's answer to the options of startPasskeySignIn: no password, no second step. */
  signInWithPasskey(credential: AuthenticationCredential): Promise<Out<typeof SignedIn>> {
    return this.#request('POST', '/auth/passkey/sign-in', { credential });
  }
  listPasskeys(): Promise<PasskeyList> {
    return this.#request('GET', '/me/passkeys');
  }
  /** The password first; answers the options to pass to `navigator.credentials.create()`. */
  startPasskeyRegistration(password: string): Promise<PasskeyCreationOptions> {
    return this.#request('POST', '/me/passkeys/options', { password });
  }
  /** Adds the passkey the browser created; ends your other sessions. The first second factor comes with recovery codes. */
  addPasskey(body: AddPasskeyBody): Promise<PasskeyAdded> {
    return this.#request('POST', '/me/passkeys', body);
  }
  renamePasskey(passkeyId: string, name: string): Promise<Passkey> {
    return this.#request('PATCH', `/me/passkeys/${encodeURIComponent(passkeyId)}`, { name });
  }
  /** The password first; ends your other sessions. */
  async removePasskey(passkeyId: string, password: string): Promise<void> {
    await this.#request('DELETE', `/me/passkeys/${encodeURIComponent(passkeyId)}`, { password });
  }
  updateMe(body: UpdateMeBody): Promise<User> {
    return this.#request('PATCH', '/me', body);
  }
  /** Ends your other sessions. */
  async changePassword(body: ChangePasswordBody): Promise<void> {
    await this.#request('PUT', '/me/password', body);
  }
  /** Mails a link to the new address; the email changes when it is opened (confirmEmailChange). */
  async changeEmail(body: ChangeEmailBody): Promise<void> {
    await this.#request('PUT', '/me/email', body);
  }
  async confirmEmailChange(token: string): Promise<void> {
    await this.#request('POST', '/auth/email-change/confirm', { token });
  }
  /** Whether sign-in with an OpenID Connect provider is on, and its name; the flow itself runs in the browser (GET /auth/oidc/start). */
  getOidcProvider(): Promise<OidcProviderInfo> {
    return this.#request('GET', '/auth/oidc');
  }
  listLinkedIdentities(): Promise<LinkedIdentities> {
    return this.#request('GET', '/me/identities');
  }
  /** Refused (409) when it is the only way left to sign in (no password). */
  async unlinkIdentity(identityId: string): Promise<void> {
    await this.#request('DELETE', `/me/identities/${encodeURIComponent(identityId)}`);
  }
  getTwoFactor(): Promise<TwoFactorStatus> {
    return this.#request('GET', '/me/two-factor');
  }
  /** The secret, its otpauth:// URI and QR code; nothing is on until confirmTwoFactor. */
  startTwoFactor(password: string): Promise<TwoFactorEnrolment> {
    return this.#request('POST', '/me/two-factor', { password });
  }
  /** Turns the second factor on; the recovery codes are shown this once. */
  confirmTwoFactor(code: string): Promise<RecoveryCodes> {
    return this.#request('POST', '/me/two-factor/confirm', { code });
  }
  async disableTwoFactor(body: DisableTwoFactorBody): Promise<void> {
    await this.#request('DELETE', '/me/two-factor', body);
  }
  regenerateRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return this.#request('POST', '/me/two-factor/recovery-codes', { password });
  }
  async signOut(): Promise<void> {
    await this.#request('POST', '/auth/sign-out');
    this.#csrfToken = null;
  }
  me(): Promise<Me> {
    return this.#request('GET', '/me');
  }
  async verifyEmail(token: string): Promise<void> {
    await this.#request('POST', '/auth/verify-email', { token });
  }
  async resendVerificationEmail(): Promise<void> {
    await this.#request('POST', '/auth/verify-email/resend');
  }
  async requestPasswordReset(email: string): Promise<void> {
    await this.#request('POST', '/auth/password-reset', { email });
  }
  async confirmPasswordReset(body: PasswordResetConfirmBody): Promise<void> {
    await this.#request('POST', '/auth/password-reset/confirm', body);
  }
  createAccount(body: CreateAccountBody): Promise<Account> {
    return this.#request('POST', '/accounts', body);
  }
  getAccount(accountId: string): Promise<Account> {
    return this.#request('GET', `/accounts/${encodeURIComponent(accountId)}`);
  }
  updateAccount(accountId: string, patch: UpdateAccountBody): Promise<Account> {
    return this.#request('PATCH', `/accounts/${encodeURIComponent(accountId)}`, patch);
  }

  // Team members and their login tokens

  getTeam(accountId: string): Promise<TeamOverview> {
    return this.#request('GET', memberPath(accountId));
  }
  addTeamMember(accountId: string, body: CreateTeamMemberBody): Promise<AddedTeamMember> {
    return this.#request('POST', memberPath(accountId), body);
  }
  updateTeamMember(accountId: string, memberId: string, patch: UpdateTeamMemberBody): Promise<TeamMember> {
    return this.#request('PATCH', memberPath(accountId, memberId), patch);
  }
  async removeTeamMember(accountId: string, memberId: string): Promise<void> {
    await this.#request('DELETE', memberPath(accountId, memberId));
  }
  setMemberCredentials(accountId: string, memberId: string, body: MemberCredentialsBody): Promise<TeamMember> {
    return this.#request('PUT', `${memberPath(accountId, memberId)}/credentials`, body);
  }
  removeMemberCredentials(accountId: string, memberId: string): Promise<TeamMember> {
    return this.#request('DELETE', `${memberPath(accountId, memberId)}/credentials`);
  }
  async listLoginTokens(accountId: string, memberId: string): Promise<LoginToken[]> {
    return (await this.#request<{ items: LoginToken[] }>('GET', `${memberPath(accountId, memberId)}/tokens`)).items;
  }
  createLoginToken(accountId: string, memberId: string, body: CreateLoginTokenBody): Promise<IssuedLoginToken> {
    return this.#request('POST', `${memberPath(accountId, memberId)}/tokens`, body);
  }
  /** The login token itself again, for copying (owners; recorded in the audit log). */
  async revealLoginToken(accountId: string, memberId: string, tokenId: string): Promise<string> {
    const path = `${memberPath(accountId, memberId)}/tokens/${encodeURIComponent(tokenId)}/secret`;
    return (await this.#request<{ secret: string }>('GET', path)).secret;
  }
  async revokeLoginToken(accountId: string, memberId: string, tokenId: string): Promise<void> {
    await this.#request('DELETE', `${memberPath(accountId, memberId)}/tokens/${encodeURIComponent(tokenId)}`);
  }

  // Organizations, groups and devices

  listOrganizations(accountId: string, query: Partial<PageQuery> = {}): Promise<OrganizationPage> {
    return this.#request('GET', `${accountPath(accountId)}/organizations${queryString(query)}`);
  }
  createOrganization(accountId: string, body: CreateOrganizationBody): Promise<Organization> {
    return this.#request('POST', `${accountPath(accountId)}/organizations`, body);
  }
  getOrganization(accountId: string, organizationId: string): Promise<Organization> {
    return this.#request('GET', `${accountPath(accountId)}/organizations/${encodeURIComponent(organizationId)}`);
  }
  updateOrganization(accountId: string, organizationId: string, patch: UpdateOrganizationBody): Promise<Organization> {
    return this.#request('PATCH', `${accountPath(accountId)}/organizations/${encodeURIComponent(organizationId)}`, patch);
  }
  /** Refused with 409 while the organization holds devices, unless `cascade` deletes them too. */
  async deleteOrganization(accountId: string, organizationId: string, options: { cascade?: boolean } = {}): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/organizations/${encodeURIComponent(organizationId)}${options.cascade ? '?cascade=true' : ''}`);
  }
  async getSelectedOrganization(accountId: string): Promise<string | null> {
    return (await this.#request<{ organizationId: string | null }>('GET', `${accountPath(accountId)}/selected-organization`)).organizationId;
  }
  async setSelectedOrganization(accountId: string, organizationId: string): Promise<void> {
    await this.#request('PUT', `${accountPath(accountId)}/selected-organization`, { organizationId });
  }
  async listGroups(accountId: string): Promise<OrganizationGroup[]> {
    return (await this.#request<{ items: OrganizationGroup[] }>('GET', `${accountPath(accountId)}/groups`)).items;
  }
  createGroup(accountId: string, body: CreateGroupBody): Promise<OrganizationGroup> {
    return this.#request('POST', `${accountPath(accountId)}/groups`, body);
  }
  updateGroup(accountId: string, groupId: string, patch: UpdateGroupBody): Promise<OrganizationGroup> {
    return this.#request('PATCH', `${accountPath(accountId)}/groups/${encodeURIComponent(groupId)}`, patch);
  }
  async deleteGroup(accountId: string, groupId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/groups/${encodeURIComponent(groupId)}`);
  }
  addOrganizationToGroup(accountId: string, groupId: string, organizationId: string): Promise<OrganizationGroup> {
    return this.#request('PUT', `${accountPath(accountId)}/groups/${encodeURIComponent(groupId)}/organizations/${encodeURIComponent(organizationId)}`);
  }
  removeOrganizationFromGroup(accountId: string, groupId: string, organizationId: string): Promise<OrganizationGroup> {
    return this.#request('DELETE', `${accountPath(accountId)}/groups/${encodeURIComponent(groupId)}/organizations/${encodeURIComponent(organizationId)}`);
  }
  listDevices(accountId: string, organizationId: string, query: Partial<PageQuery> = {}): Promise<DevicePage> {
    return this.#request('GET', `${accountPath(accountId)}/organizations/${encodeURIComponent(organizationId)}/devices${queryString(query)}`);
  }
  createDevice(accountId: string, organizationId: string, body: CreateDeviceBody): Promise<Device> {
    return this.#request('POST', `${accountPath(accountId)}/organizations/${encodeURIComponent(organizationId)}/devices`, body);
  }
  getDevice(accountId: string, deviceId: string): Promise<Device> {
    return this.#request('GET', `${accountPath(accountId)}/devices/${encodeURIComponent(deviceId)}`);
  }
  updateDevice(accountId: string, deviceId: string, patch: UpdateDeviceBody): Promise<Device> {
    return this.#request('PATCH', `${accountPath(accountId)}/devices/${encodeURIComponent(deviceId)}`, patch);
  }
  async deleteDevice(accountId: string, deviceId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/devices/${encodeURIComponent(deviceId)}`);
  }
  async listOpenConnections(accountId: string): Promise<OpenConnection[]> {
    return (await this.#request<{ items: OpenConnection[] }>('GET', `${accountPath(accountId)}/connections`)).items;
  }
  async closeConnection(accountId: string, leaseId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/connections/${encodeURIComponent(leaseId)}`);
  }

  // Users, roles and invitations (owners)

  async listAccountUsers(accountId: string): Promise<AccountUser[]> {
    return (await this.#request<{ items: AccountUser[] }>('GET', `${accountPath(accountId)}/users`)).items;
  }
  addAccountUser(accountId: string, body: AddUserBody): Promise<AccountUser> {
    return this.#request('POST', `${accountPath(accountId)}/users`, body);
  }
  setAccountUserRoles(accountId: string, userId: string, body: SetUserRolesBody): Promise<AccountUser> {
    return this.#request('PUT', `${accountPath(accountId)}/users/${encodeURIComponent(userId)}/roles`, body);
  }
  async removeAccountUser(accountId: string, userId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/users/${encodeURIComponent(userId)}`);
  }
  transferOwnership(accountId: string, userId: string): Promise<AccountUser> {
    return this.#request('POST', `${accountPath(accountId)}/ownership`, { userId });
  }
  async listInvitations(accountId: string): Promise<Invitation[]> {
    return (await this.#request<{ items: Invitation[] }>('GET', `${accountPath(accountId)}/invitations`)).items;
  }
  createInvitation(accountId: string, body: CreateInvitationBody): Promise<Invitation> {
    return this.#request('POST', `${accountPath(accountId)}/invitations`, body);
  }
  resendInvitation(accountId: string, invitationId: string): Promise<Invitation> {
    return this.#request('POST', `${accountPath(accountId)}/invitations/${encodeURIComponent(invitationId)}/resend`);
  }
  async revokeInvitation(accountId: string, invitationId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/invitations/${encodeURIComponent(invitationId)}`);
  }
  lookupInvitation(token: string): Promise<InvitationPreview> {
    return this.#request('POST', '/invitations/lookup', { token });
  }
  /** A sign-up starts a session; its CSRF token replaces the anonymous one like at sign-in. */
  acceptInvitation(body: AcceptInvitationBody): Promise<AcceptedInvitation> {
    return this.#request('POST', '/invitations/accept', body);
  }

  // Presence of the team (a role on the whole account)

  listPresence(accountId: string): Promise<PresenceList> {
    return this.#request('GET', `${accountPath(accountId)}/presence`);
  }
  /** The address of the presence stream, for the browser's EventSource (which sends the cookie itself). */
  presenceStreamUrl(accountId: string): string {
    return `${this.#baseUrl}/api/v1${accountPath(accountId)}/presence/stream`;
  }

  // Access keys (owners, signed in: a key never manages keys)

  async listAccessKeys(accountId: string): Promise<AccessKey[]> {
    return (await this.#request<{ items: AccessKey[] }>('GET', `${accountPath(accountId)}/access-keys`)).items;
  }
  createAccessKey(accountId: string, body: CreateAccessKeyBody): Promise<IssuedAccessKey> {
    return this.#request('POST', `${accountPath(accountId)}/access-keys`, body);
  }
  async revokeAccessKey(accountId: string, keyId: string): Promise<void> {
    await this.#request('DELETE', `${accountPath(accountId)}/access-keys/${encodeURIComponent(keyId)}`);
  }

  // Billing (owners, in person)

  getBilling(accountId: string): Promise<BillingOverview> {
    return this.#request('GET', `${accountPath(accountId)}/billing`);
  }
  /** Changes the plan at once; a downgrade below what the account uses answers 409 naming what to remove. */
  changePlan(accountId: string, planId: string): Promise<BillingOverview> {
    return this.#request('PUT', `${accountPath(accountId)}/billing/plan`, { planId } satisfies ChangePlanBody);
  }
  setBillingDetails(accountId: string, body: BillingDetailsBody): Promise<BillingDetails> {
    return this.#request('PUT', `${accountPath(accountId)}/billing/details`, body);
  }
  async listInvoices(accountId: string): Promise<Invoice[]> {
    return (await this.#request<{ items: Invoice[] }>('GET', `${accountPath(accountId)}/invoices`)).items;
  }
  /** Daily usage (UTC days, both ends included; the last 30 days by default). */
  getUsage(accountId: string, query: UsageQuery = {}): Promise<UsageHistory> {
    return this.#request('GET', `${accountPath(accountId)}/usage${queryString(query)}`);
  }
  /** The address of the same days as CSV, for a download link. */
  usageExportUrl(accountId: string, query: UsageQuery = {}): string {
    return `${this.#baseUrl}/api/v1${accountPath(accountId)}/usage/export${queryString(query)}`;
  }

  // Audit log (owners)

  /** A page of the log, newest first; pass `nextCursor` back as `cursor` for the next. */
  searchAuditEvents(accountId: string, query: AuditSearchQuery = {}): Promise<AuditEventPage> {
    return this.#request('GET', `${accountPath(accountId)}/audit-events${auditQueryString(query)}`);
  }
  /** The export as a stream of bytes (CSV or JSON Lines), read as the server writes it. */
  async exportAuditEvents(accountId: string, query: AuditExportQuery = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.#fetchApi('GET', `${accountPath(accountId)}/audit-events/export${auditQueryString(query)}`, undefined, false, '*/*');
    if (!response.ok || !response.body) throw await TesseraClient.#problemOf(response);
    return response.body;
  }
  /** The export's address, for a download link in the browser (which sends the cookie itself). */
  auditExportUrl(accountId: string, query: AuditExportQuery = {}): string {
    return `${this.#baseUrl}/api/v1${accountPath(accountId)}/audit-events/export${auditQueryString(query)}`;
  }
}

function auditQueryString(query: AuditSearchQuery | AuditExportQuery): string {
  return queryString(query as Record<string, string | number | undefined>);
}

function accountPath(accountId: string): string {
  return `/accounts/${encodeURIComponent(accountId)}`;
}

function queryString(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function memberPath(accountId: string, memberId?: string): string {
  const base = `${accountPath(accountId)}/members`;
  return memberId ? `${base}/${encodeURIComponent(memberId)}` : base;
}

export type { Account, Me, User, TeamMember, TeamOverview, LoginToken, IssuedLoginToken, AddedTeamMember };
export type { Organization, OrganizationPage, OrganizationGroup, Device, DevicePage, OpenConnection };
export type { AccountUser, Invitation, InvitationPreview, AcceptedInvitation };
export type { AccessKey, IssuedAccessKey };
export type { AuditEvent, AuditEventPage, AuditSearchQuery, AuditExportQuery };
export type { BillingDetails, BillingDetailsBody, BillingOverview, Invoice, Plan, UsageDay, UsageHistory };
export type { MemberPresence, PresenceList };
