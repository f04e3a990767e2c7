import { LOGIN_TOKEN_GRANT, type ClientMe, type EnrollBody, type Enrolled, type OAuthError, type TokenResponse } from '../shared/client-api.ts';
import type { Problem } from '../shared/problems.ts';
import type { ClientDevicePage, Lease } from '../shared/connections.ts';
import type { HeartbeatAnswer, PresenceList, PresenceState, PresenceStreamEvent } from '../shared/presence.ts';
import { readEventStream } from './event-stream.ts';
import { TesseraError } from './sdk.ts';

/** An OAuth 2.0 error from the token endpoint (RFC 6749 §5.2). */
export class TesseraOAuthError extends Error {
  readonly status: number;
  readonly error: OAuthError['error'];
  constructor(status: number, body: OAuthError) {
    super(body.error_description);
    this.name = 'TesseraOAuthError';
    this.status = status;
    this.error = body.error;
  }
}

export interface DesktopClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  userAgent?: string;
  /** Called whenever a new token pair arrives, so the program can store the refresh token. */
  onTokens?: (tokens: TokenResponse) => void;
}

/**
 * The desktop program's side of Tessera (/client/v1): sign in with a login token or member
 * credentials, keep the token pair fresh, and call the client API.
 */
export class TesseraDesktopClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #options: DesktopClientOptions;
  #tokens: TokenResponse | null = null;

  constructor(options: DesktopClientOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#options = options;
  }

  get tokens(): TokenResponse | null {
    return this.#tokens;
  }

  /**
   * Resume with a refresh token stored earlier, and the access token too while it is still good
   * (saves a refresh; a stale one is refreshed on its first 401).
   */
  useRefreshToken(refreshToken: string, accessToken = ''): void {
    this.#tokens = { access_token: accessToken, token_type: 'Bearer', expires_in: 0, refresh_token: refreshToken };
  }

  signInWithLoginToken(loginToken: string): Promise<TokenResponse> {
    return this.#token({ grant_type: LOGIN_TOKEN_GRANT, login_token: loginToken });
  }

  signInWithPassword(email: string, password: string): Promise<TokenResponse> {
    return this.#token({ grant_type: 'password', username: email, password });
  }

  /**
   * Enrolls this PC (installer): an owner's or manager's portal email and password create a new
   * team member; the client is then signed in as that member. Keep `loginToken` to sign in again.
   */
  async enroll(body: EnrollBody): Promise<Enrolled> {
    const response = await this.#fetch(`${this.#baseUrl}/client/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...this.#agent() },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new TesseraError(data as Problem);
    const enrolled = data as Enrolled;
    this.#tokens = enrolled.tokens;
    this.#options.onTokens?.(this.#tokens);
    return enrolled;
  }

  refresh(): Promise<TokenResponse> {
    if (!this.#tokens) throw new Error('Sign in first');
    return this.#token({ grant_type: 'refresh_token', refresh_token: this.#tokens.refresh_token });
  }

  /** Ends this desktop session (RFC 7009). */
  async signOut(): Promise<void> {
    if (!this.#tokens) return;
    await this.#form('/client/v1/revoke', { token: this.#tokens.refresh_token, token_type_hint: 'refresh_token' });
    this.#tokens = null;
  }

  me(): Promise<ClientMe> {
    return this.#authorized('GET', '/client/v1/me');
  }

  devices(query: { limit?: number; cursor?: string; q?: string } = {}): Promise<ClientDevicePage> {
    const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return this.#authorized('GET', `/client/v1/devices${params.size ? `?${params}` : ''}`);
  }

  /** Opens a connection to a device; a refusal is a 409 TesseraError whose `problem.limit` names the limit hit. */
  connect(deviceId: string): Promise<Lease> {
    return this.#authorized('POST', '/client/v1/connections', { deviceId });
  }

  renew(leaseId: string): Promise<Lease> {
    return this.#authorized('POST', `/client/v1/connections/${encodeURIComponent(leaseId)}/renew`);
  }

  async disconnect(leaseId: string): Promise<void> {
    await this.#authorized('DELETE', `/client/v1/connections/${encodeURIComponent(leaseId)}`);
  }

  /** A heartbeat: online or away (repeat within the answer's `heartbeatSeconds`), or offline when quitting. */
  heartbeat(state: PresenceState): Promise<HeartbeatAnswer> {
    return this.#authorized('POST', '/client/v1/presence', { state });
  }

  /** The teammates' presence now. */
  presence(): Promise<PresenceList> {
    return this.#authorized('GET', '/client/v1/presence');
  }

  /**
   * The teammates' presence as it changes: a snapshot, then each change. Resolves when `signal`
   * aborts or the server ends the stream (a shutdown: call again to resume from a new snapshot).
   */
  async watchPresence(onEvent: (event: PresenceStreamEvent) => void, signal?: AbortSignal): Promise<void> {
    if (!this.#tokens) throw new Error('Sign in first');
    if (!this.#tokens.access_token) await this.refresh();
    const open = () =>
      this.#fetch(`${this.#baseUrl}/client/v1/presence/stream`, {
        headers: { authorization: `Bearer ${this.#tokens!.access_token}`, accept: 'text/event-stream', ...this.#agent() },
        signal: signal ?? null,
      });
    let response = await open();
    if (response.status === 401) {
      await this.refresh();
      response = await open();
    }
    if (!response.ok || !response.body) throw new TesseraError((await response.json()) as Problem);
    try {
      await readEventStream(response.body, (event, data) => {
        const parsed = JSON.parse(data);
        if (event === 'snapshot') onEvent({ type: 'snapshot', items: parsed.items, timeoutSeconds: parsed.timeoutSeconds });
        else if (event === 'presence') onEvent({ type: 'presence', member: parsed });
        else if (event === 'removed') onEvent({ type: 'removed', memberId: parsed.memberId });
      });
    } catch (error) {
      if (!signal?.aborted) throw error;
    }
  }

  async #token(form: Record<string, string>): Promise<TokenResponse> {
    const response = await this.#form('/client/v1/token', form);
    const body = (await response.json()) as TokenResponse | OAuthError;
    if (!response.ok) throw new TesseraOAuthError(response.status, body as OAuthError);
    this.#tokens = body as TokenResponse;
    this.#options.onTokens?.(this.#tokens);
    return this.#tokens;
  }

  #form(path: string, form: Record<string, string>): Promise<Response> {
    return this.#fetch(`${this.#baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...this.#agent() },
      body: new URLSearchParams(form).toString(),
    });
  }

  #agent(): Record<string, string> {
    return this.#options.userAgent ? { 'user-agent': this.#options.userAgent } : {};
  }

  /**
   * Calls with the access token; on 401 refreshes once and tries again. A session that ended
   * (revoked, member removed) surfaces as a 401 TesseraError.
   */
  async #authorized<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.#tokens) throw new Error('Sign in first');
    if (!this.#tokens.access_token) await this.refresh();
    let response = await this.#call(method, path, body);
    if (response.status === 401) {
      // the session was revoked or expired: one clear answer rather than the refresh's own
      const ended = () => {
        this.#tokens = null;
        return new TesseraError({
          type: '/api/v1/problems/unauthenticated',
          title: 'Sign in first',
          status: 401,
          detail: 'This desktop session has ended; sign in again.',
        });
      };
      // a call answered while this one was in flight may have found that out already and
      // dropped the tokens (refresh() would then throw its plain "Sign in first")
      if (!this.#tokens) throw ended();
      await this.refresh().catch((error: unknown) => {
        if (!(error instanceof TesseraOAuthError) || error.error !== 'invalid_grant') throw error;
        throw ended();
      });
      response = await this.#call(method, path, body);
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new TesseraError(data as Problem);
    return data as T;
  }

  #call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.#fetch(`${this.#baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#tokens!.access_token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...this.#agent(),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
  }
}
