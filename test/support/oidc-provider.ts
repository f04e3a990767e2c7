import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import Provider from 'oidc-provider';
import { uuidv7 } from 'uuidv7';
import type { TestApp } from './app.ts';

/**
 * A real OpenID Connect provider (`oidc-provider`) on a free local port, as the issuer the app
 * signs people in with: discovery, the authorization endpoint with its login and consent pages
 * (the package's development interactions), the token endpoint, signed ID tokens and JWKS. Only the
 * people are ours: their subject is the login typed on the provider's page (any password works).
 */

export interface ProviderPerson {
  email: string;
  emailVerified: boolean;
  name: string;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Adds (or replaces) the person signing in with this login. */
  addPerson(subject: string, person: ProviderPerson): void;
  close(): Promise<void>;
}

/** The app's configuration for this provider, under the name the portal shows. */
export function oidcConfigOf(provider: TestProvider, name = 'Google') {
  return { oidcIssuer: provider.issuer, oidcClientId: provider.clientId, oidcClientSecret: provider.clientSecret, oidcName: name };
}

/** The redirect URI of the test app (startTestApp's public URL). */
export const TEST_APP_REDIRECT_URI = 'http://portal.test/api/v1/auth/oidc/callback';

export async function startTestProvider(redirectUri: string): Promise<TestProvider> {
  const people = new Map<string, ProviderPerson>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'tessera-portal';
  const clientSecret = 'a-client-secret-of-the-test-provider';
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    // every client must send a PKCE S256 challenge, as Google accepts and we always do
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['cookie key of the test provider, not a secret'] },
    async findAccount(_ctx, subject) {
      const person = people.get(subject);
      if (!person) return undefined;
      return {
        accountId: subject,
        claims: async () => ({ sub: subject, email: person.email, email_verified: person.emailVerified, name: person.name }),
      };
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    addPerson: (subject, person) => people.set(subject, person),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * What a browser does at the provider, over HTTP: opens the authorization URL, types the login on
 * the login page, presses Continue on the consent page, and answers the URL the provider sends it
 * back to (the app's callback, with code and state).
 */
export async function signInAtProvider(authorizationUrl: string, login: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = new URL(authorizationUrl);
  let form: Record<string, string> | null = null;
  for (let step = 0; step < 10; step += 1) {
    const response: Response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.split('=');
      cookies.set(name!.trim(), value.join('='));
    }
    form = null;
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      if (next.origin !== new URL(authorizationUrl).origin) return next;
      url = next;
      continue;
    }
    const page = await response.text();
    assert.equal(response.status, 200, `the provider answered ${response.status}: ${page.slice(0, 500)}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    if (prompt === 'login') form = { prompt, login, password: 'any password works here' };
    else if (prompt === 'consent') form = { prompt };
    else assert.fail(`an unexpected page at the provider: ${page.slice(0, 500)}`);
  }
  assert.fail('the provider never sent the browser back');
}

/**
 * A sign-in started in the in-process app by a browser holding `cookie`, and finished at the
 * provider as `login`: the callback path to answer, and the browser's cookies (now with the flow's).
 */
export async function startedAtProvider(app: FastifyInstance, login: string, options: { cookie?: string; start?: string; address?: string } = {}): Promise<{ callbackPath: string; cookie: string }> {
  const started = await app.inject({ method: 'GET', url: options.start ?? '/api/v1/auth/oidc/start', headers: options.cookie ? { cookie: options.cookie } : {}, remoteAddress: options.address });
  assert.equal(started.statusCode, 302, started.body);
  const flow = started.cookies.find((c) => c.name === 'tessera_oidc_flow');
  assert.ok(flow, 'the flow cookie');
  const callback = await signInAtProvider(String(started.headers.location), login);
  return { callbackPath: callback.pathname + callback.search, cookie: [options.cookie, `${flow.name}=${flow.value}`].filter(Boolean).join('; ') };
}

/**
 * A linked identity of the person, as the sign-in flow writes it, for the suites that walk every
 * operation (they need one to unlink); test/api/oidc.test.ts drives the flow itself.
 */
export async function seedLinkedIdentity(t: TestApp, userId: string, email = 'seeded@example.test'): Promise<string> {
  const id = uuidv7();
  await t.db.database.inSystem((tx) => tx.insertInto('linked_identities').values({ id, user_id: userId, issuer: 'https://issuer.test', subject: id, email, linked_at: new Date() }).execute());
  return id;
}
