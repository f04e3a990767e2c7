import type { Request } from 'autocannon';
import { LOGIN_TOKEN_GRANT } from '../src/shared/client-api.ts';
import { exchangeLoginToken, form, FORM_HEADERS } from './fixtures.ts';

/**
 * The desktop client API under load (/client/v1): what the scenarios need beyond a fixed
 * request, and the revocation propagation between two nodes on one PostgreSQL database.
 */

/** Each request exchanges the next login token of the list (round robin): one new session each. */
export function loginTokenExchanges(loginTokens: string[]): Request[] {
  let next = 0;
  const bodies = loginTokens.map((token) => form({ grant_type: LOGIN_TOKEN_GRANT, login_token: token }));
  return [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length]! }) }];
}

/**
 * Desktop sessions that keep rotating their token pair. A refresh token is single use (its
 * second use revokes the session), so every request takes a refresh token nobody has sent yet
 * from the pool and its answer puts the new one back: each connection carries one session's
 * chain of refreshes. A connection holds one token while its request is in flight; a request cut
 * off when autocannon stops (end of warm-up or run) loses its chain, so the pool starts with a
 * few sessions per connection. Nothing is ever sent twice.
 */
export class RefreshPool {
  readonly #baseUrl: string;
  readonly #loginToken: string;
  readonly #tokens: string[] = [];
  /** Requests sent with an empty pool (a bogus token, answered 400: the run fails). */
  starved = 0;

  constructor(baseUrl: string, loginToken: string) {
    this.#baseUrl = baseUrl;
    this.#loginToken = loginToken;
  }

  get size(): number {
    return this.#tokens.length;
  }

  /** Opens sessions (login-token exchanges, 8 at a time) until the pool holds `count` refresh tokens. */
  async fill(count: number): Promise<void> {
    const missing = Math.max(0, count - this.#tokens.length);
    let left = missing;
    await Promise.all(
      Array.from({ length: Math.min(8, missing) }, async () => {
        while (left > 0) {
          left -= 1;
          this.#tokens.push((await exchangeLoginToken(this.#baseUrl, this.#loginToken)).refresh_token);
        }
      }),
    );
  }

  requests(): Request[] {
    return [
      {
        setupRequest: (request) => {
          const token = this.#tokens.shift();
          if (token === undefined) this.starved += 1;
          return { ...request, body: form({ grant_type: 'refresh_token', refresh_token: token ?? 'tsr_rt_the_pool_ran_dry' }) };
        },
        onResponse: (status, body) => {
          if (status === 200) this.#tokens.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
        },
      },
    ];
  }
}

export interface Summary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  const mean = sorted.length ? sorted.reduce((sum, v) => sum + v, 0) / sorted.length : NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), mean };
}

export interface PropagationResult {
  scenario: string;
  /** Revocations measured (after `warmup` unmeasured ones). */
  revocations: number;
  warmup: number;
  /** Node B's TESSERA_CLIENT_TOKEN_CACHE_SECONDS: without the NOTIFY it would answer 200 this long. */
  nodeBCacheSeconds: number;
  /** Revoke request sent to node A → node B's first 401 arrived. */
  fromSentMs: Summary;
  /** Node A answered the revocation → node B's first 401 (negative: node B refused first). */
  afterAnswerMs: Summary;
  /** Node A's answer time for POST /client/v1/revoke. */
  revokeMs: Summary;
  /** GET /client/v1/me polls of node B per revocation (one answers 401; the rest 200). */
  pollsMean: number;
  /** Revocations node B had not noticed by the deadline, unexpected answers. */
  failures: string[];
}

export const PROPAGATION_SCENARIO = 'Revocation node A → node B';

async function status(url: string, init: RequestInit): Promise<number> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.status;
}

/**
 * `count` times: a desktop client signs in on node A (a new session), node B resolves and caches
 * its access token (GET /client/v1/me → 200), then node A revokes the session (RFC 7009, the
 * desktop sign-out) while node B is polled back to back until it answers 401.
 */
export async function measurePropagation(options: {
  nodeA: string;
  nodeB: string;
  loginToken: string;
  count: number;
  warmup: number;
  nodeBCacheSeconds: number;
  timeoutMs: number;
}): Promise<PropagationResult> {
  const fromSent: number[] = [];
  const afterAnswer: number[] = [];
  const revoke: number[] = [];
  const failures: string[] = [];
  let polls = 0;
  for (let i = 0; i < options.warmup + options.count; i++) {
    const measured = i >= options.warmup;
    const pair = await exchangeLoginToken(options.nodeA, options.loginToken);
    const me = `${options.nodeB}/client/v1/me`;
    const bearer = { headers: { accept: 'application/json', authorization: `Bearer ${pair.access_token}` } };
    const warm = await status(me, bearer);
    if (warm !== 200) {
      failures.push(`revocation ${i}: node B answered ${warm} before the revocation`);
      continue;
    }
    const sent = performance.now();
    let answered = NaN;
    const revoked = status(`${options.nodeA}/client/v1/revoke`, {
      method: 'POST',
      headers: FORM_HEADERS,
      body: form({ token: pair.refresh_token, token_type_hint: 'refresh_token' }),
    }).then((code) => {
      answered = performance.now();
      return code;
    });
    let refusedAt = NaN;
    let n = 0;
    while (performance.now() - sent < options.timeoutMs) {
      const code = await status(me, bearer);
      n += 1;
      if (code === 401) {
        refusedAt = performance.now();
        break;
      }
      if (code !== 200) {
        failures.push(`revocation ${i}: node B answered ${code} while polled`);
        break;
      }
    }
    const revokeStatus = await revoked;
    if (revokeStatus !== 200) failures.push(`revocation ${i}: node A answered ${revokeStatus} to POST /client/v1/revoke`);
    if (!Number.isFinite(refusedAt)) {
      failures.push(`revocation ${i}: node B still accepted the access token ${options.timeoutMs} ms after the revocation was sent`);
      continue;
    }
    if (!measured) continue;
    polls += n;
    fromSent.push(refusedAt - sent);
    afterAnswer.push(refusedAt - answered);
    revoke.push(answered - sent);
  }
  return {
    scenario: PROPAGATION_SCENARIO,
    revocations: fromSent.length,
    warmup: options.warmup,
    nodeBCacheSeconds: options.nodeBCacheSeconds,
    fromSentMs: summarize(fromSent),
    afterAnswerMs: summarize(afterAnswer),
    revokeMs: summarize(revoke),
    pollsMean: fromSent.length ? polls / fromSent.length : NaN,
    failures,
  };
}
