import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.ts';
import { nextAddress } from './caller.ts';

/**
 * A browser, as the portal's API sees one, over raw HTTP (inject): it keeps cookies (set and
 * cleared as answers say), sends the CSRF token on unsafe requests, takes a new token from any
 * answer that carries one, and comes from an address of its own. Cookies, headers and problem
 * documents show exactly as sent. A path under /api/ is sent as it is; any other is under /api/v1.
 */
export class Browser {
  readonly cookies = new Map<string, string>();
  #csrf: string | null = null;
  readonly t: TestApp;
  readonly ip: string;

  constructor(t: TestApp, ip = nextAddress()) {
    this.t = t;
    this.ip = ip;
  }

  async send(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<LightMyRequestResponse> {
    if (method !== 'GET' && this.#csrf === null) await this.refreshCsrf();
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await this.t.app.inject({
      method,
      url: url.startsWith('/api/') ? url : `/api/v1${url}`,
      payload,
      remoteAddress: this.ip,
      headers: { ...(cookie ? { cookie } : {}), ...(method !== 'GET' ? { 'x-csrf-token': this.#csrf! } : {}) },
    });
    for (const c of response.cookies) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const body = response.statusCode < 300 && response.body ? (response.json() as { csrfToken?: string } | null) : null;
    if (body?.csrfToken) this.#csrf = body.csrfToken;
    return response;
  }

  async refreshCsrf(): Promise<void> {
    this.#csrf = (await this.send('GET', '/auth/csrf')).json().csrfToken;
  }

  /** Another browser holding the same cookies from now on (a copied cookie), from another address. */
  clone(): this {
    const copy = new (this.constructor as new (t: TestApp) => this)(this.t);
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }
}

export function assertStatus(response: LightMyRequestResponse, status: number, what: string): void {
  assert.equal(response.statusCode, status, `${what}: ${response.body}`);
}

/** A problem document with exactly one field error. */
export function assertFieldError(response: LightMyRequestResponse, status: number, field: string, code: string, what: string): void {
  assertStatus(response, status, what);
  assert.ok(response.headers['content-type']?.toString().startsWith('application/problem+json'), `${what}: a problem document`);
  assert.deepEqual(response.json().errors?.map((e: { field: string; code: string }) => [e.field, e.code]), [[field, code]], what);
}

/** 429 with a Retry-After. */
export function assertBlocked(response: LightMyRequestResponse, what: string): void {
  assertStatus(response, 429, what);
  assert.equal(response.json().type, '/api/v1/problems/rate_limited', what);
  assert.ok(Number(response.headers['retry-after']) > 0, `${what}: Retry-After`);
}
