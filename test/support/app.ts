import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import type { PaymentProvider } from '../../src/server/domain/billing/provider.ts';
import { ManualClock } from '../../src/server/clock.ts';
import { parseConfig, type ConfigInput } from '../../src/server/config.ts';
import assert from 'node:assert/strict';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { openTestDatabase, type Backend, type TestDatabase } from './databases.ts';
import { SmtpInbox } from './smtp.ts';

export interface TestApp {
  backend: Backend;
  app: FastifyInstance;
  db: TestDatabase;
  clock: ManualClock;
  inbox: SmtpInbox;
  /** A new SDK client with its own cookie jar, wired to the app in-process. */
  client(options?: { ip?: string }): TesseraClient;
  close(): Promise<void>;
}

/** fetch() answered by app.inject: the SDK talks to the app with no socket in between. */
export function injectFetch(app: FastifyInstance, ip = '127.0.0.1'): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input.toString() : input.url);
    const response = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers: init?.headers as Record<string, string>,
      payload: (init?.body as string | null) ?? undefined,
      remoteAddress: ip,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, String(v));
      else if (value !== undefined) headers.set(name, String(value));
    }
    return new Response(response.statusCode === 204 ? null : response.body, { status: response.statusCode, headers });
  }) as typeof fetch;
}

let counter = 0;
/** A unique email for this test process. */
export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}.${process.pid}.${counter}.${randomBytes(2).toString('hex')}@example.test`;
}

export async function startTestApp(backend: Backend, overrides: ConfigInput = {}, extra: { paymentProvider?: PaymentProvider } = {}): Promise<TestApp> {
  const db = await openTestDatabase(backend);
  const inbox = new SmtpInbox();
  await inbox.start();
  const clock = new ManualClock();
  const config = parseConfig({ logLevel: 'silent', smtpUrl: inbox.url, webDir: '', publicUrl: 'http://portal.test', ...overrides });
  const app = await buildApp({
    config,
    database: db.database,
    secret: randomBytes(32),
    clock,
    ...extra,
  });
  await app.ready();
  return {
    backend,
    app,
    db,
    clock,
    inbox,
    client: (options = {}) => new TesseraClient({ baseUrl: 'http://tessera.test', fetch: injectFetch(app, options.ip), cookieJar: true, userAgent: 'tessera-tests/1' }),
    async close() {
      await app.close();
      await db.close();
      await inbox.stop();
    },
  };
}

export const STRONG_PASSWORD = 'correct horse 42 battery';

/** Registers a new person with their first account; returns the signed-in client and ids. */
export async function registerPerson(t: TestApp, overrides: Partial<{ name: string; email: string; companyName: string; country: string; ip: string }> = {}) {
  const client = t.client({ ip: overrides.ip });
  const email = overrides.email ?? uniqueEmail();
  const registered = await client.register({
    name: overrides.name ?? 'Ada Lovelace',
    email,
    password: STRONG_PASSWORD,
    companyName: overrides.companyName ?? 'Analytical Engines Ltd',
    country: overrides.country ?? 'GB',
  });
  return { client, email, user: registered.user, account: registered.account };
}

/** The problem a call answered with; fails the test when the call succeeds. */
export async function problemOf(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TesseraError) return error;
    throw error;
  }
  assert.fail('expected a problem answer');
}
