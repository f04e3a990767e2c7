import assert from 'node:assert/strict';
import { STRONG_PASSWORD, type TestApp } from './app.ts';

/**
 * A caller of the in-process app that speaks raw HTTP as a browser would: a cookie jar of its own,
 * the CSRF header on unsafe /api/v1 requests, a client address of its own. For suites that walk
 * the OpenAPI document and need status codes and bodies exactly as sent, not the SDK's view.
 */

export interface Answer {
  status: number;
  contentType: string;
  body: any;
}

let addressCounter = 0;
/** A client address of its own, so per-address throttles never couple two callers. */
export function nextAddress(): string {
  addressCounter += 1;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}

export class Caller {
  readonly #t: TestApp;
  readonly address: string;
  readonly #cookies = new Map<string, string>();
  #csrf: string | null = null;
  /** An access key sent on every call instead of a session (no cookies, no CSRF header). */
  readonly #accessKey: string | undefined;

  constructor(t: TestApp, address = nextAddress(), options: { accessKey?: string } = {}) {
    this.#t = t;
    this.address = address;
    this.#accessKey = options.accessKey;
  }

  /**
   * One request. Cookies the answer sets are kept only with `keepCookies` (sign-in), so a call
   * that starts another session (register) leaves this caller's own session in place.
   */
  async call(
    method: string,
    url: string,
    options: { json?: unknown; form?: Record<string, string>; bearer?: string; keepCookies?: boolean } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'tessera-tests/1' };
    let payload: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(options.form).toString();
    }
    const bearer = options.bearer ?? this.#accessKey;
    if (method !== 'GET' && url.startsWith('/api/v1/') && !this.#accessKey) {
      if (this.#csrf === null) await this.refreshCsrf();
      headers['x-csrf-token'] = this.#csrf!;
    }
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (this.#cookies.size > 0) headers.cookie = [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    // as a stream, so an event stream (which never ends) answers with its first event
    const response = await this.#t.app.inject({ method: method as 'GET', url, headers, payload, remoteAddress: this.address, payloadAsStream: true });
    if (options.keepCookies) this.#store(response.cookies);
    const contentType = String(response.headers['content-type'] ?? '');
    const text = contentType.startsWith('text/event-stream') ? await firstEvent(response.stream()) : await readAll(response.stream());
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (an HTML page, a plain-text answer): kept as text for the assertion to show
      body = text;
    }
    return { status: response.statusCode, contentType, body };
  }

  async refreshCsrf(): Promise<void> {
    const answer = await this.call('GET', '/api/v1/auth/csrf', { keepCookies: true });
    assert.equal(answer.status, 200);
    this.#csrf = answer.body.csrfToken;
  }

  async signIn(email: string, password = STRONG_PASSWORD): Promise<this> {
    const answer = await this.call('POST', '/api/v1/auth/sign-in', { json: { email, password }, keepCookies: true });
    assert.equal(answer.status, 200, `sign-in of ${email}: ${JSON.stringify(answer.body)}`);
    this.#csrf = answer.body.csrfToken;
    return this;
  }

  /** A cookie another answer set in this browser (the OpenID Connect flow's, set by a redirect). */
  setCookie(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  #store(cookies: Array<{ name: string; value: string; maxAge?: number; expires?: Date }>): void {
    for (const c of cookies) {
      const expired = c.value === '' || c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() < Date.now());
      if (expired) this.#cookies.delete(c.name);
      else this.#cookies.set(c.name, c.value);
    }
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The data of an event stream's first event (as JSON text), then the stream is let go. */
async function firstEvent(stream: NodeJS.ReadableStream & { destroy(): void }): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += Buffer.from(chunk as Buffer).toString('utf8');
    const event = /(?:^|\n)event: [^\n]+\ndata: ([^\n]*)\n\n/.exec(text);
    if (event) {
      stream.destroy();
      return event[1]!;
    }
  }
  return text;
}
