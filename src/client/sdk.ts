import type { z } from 'zod';
import type {
  Account,
  CreateAccountBody,
  Me,
  PasswordResetConfirmBody,
  Registered,
  RegisterBody,
  SignedIn,
  SignInBody,
  UpdateAccountBody,
  User,
} from '../shared/contracts.ts';
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
  #csrfToken: string | null = null;

  constructor(options: ClientOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#jar = options.cookieJar ? new CookieJar() : null;
    this.#userAgent = options.userAgent;
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const unsafe = method !== 'GET' && method !== 'HEAD';
    if (!unsafe) return this.#send<T>(method, path, body, false);
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

  async #send<T>(method: string, path: string, body: unknown, unsafe: boolean): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (unsafe && this.#csrfToken) headers['x-csrf-token'] = this.#csrfToken;
    if (this.#userAgent) headers['user-agent'] = this.#userAgent;
    const cookie = this.#jar?.header();
    if (cookie) headers.cookie = cookie;
    const response = await this.#fetch(`${this.#baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
    });
    this.#jar?.store(response);
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      throw new TesseraError(
        data && typeof data === 'object' && 'type' in data
          ? (data as Problem)
          : { type: 'about:blank', title: response.statusText, status: response.status },
      );
    }
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
  signIn(body: SignInBody): Promise<Out<typeof SignedIn>> {
    return this.#request('POST', '/auth/sign-in', body);
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
    return this.#request('GET', `${memberPath(accountId)}`);
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
}

function memberPath(accountId: string, memberId?: string): string {
  const base = `/accounts/${encodeURIComponent(accountId)}/members`;
  return memberId ? `${base}/${encodeURIComponent(memberId)}` : base;
}

export type { Account, Me, User, TeamMember, TeamOverview, LoginToken, IssuedLoginToken, AddedTeamMember };
