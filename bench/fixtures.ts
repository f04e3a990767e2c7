import { randomBytes } from 'node:crypto';
import { TesseraClient } from '../src/client/sdk.ts';

/** A CSRF pair: the signed cookie (`tessera_csrf=…`) and the token for X-CSRF-Token. */
export interface Csrf {
  cookie: string;
  token: string;
}

export interface Person {
  email: string;
  password: string;
  /** `tessera_session=…`, ready for a Cookie header. */
  sessionCookie: string;
}

function cookieFrom(response: Response, name: string): string {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  const pair = line?.split(';')[0];
  if (!pair || pair === `${name}=`) throw new Error(`${response.url} answered without a ${name} cookie`);
  return pair;
}

async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`${what} answered ${response.status}, not ${status}: ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : null;
}

/** An anonymous CSRF pair, as the portal gets it before signing in. */
export async function anonymousCsrf(baseUrl: string): Promise<Csrf> {
  const response = await fetch(`${baseUrl}/api/v1/auth/csrf`, { headers: { accept: 'application/json' } });
  const { csrfToken } = (await expectStatus(response, 200, 'GET /api/v1/auth/csrf')) as { csrfToken: string };
  return { cookie: cookieFrom(response, 'tessera_csrf'), token: csrfToken };
}

/**
 * Registers a new person with plain fetch (the SDK keeps its cookies to itself), checks the
 * session with GET /me and the password with a sign-in through the SDK.
 */
export async function registerPerson(baseUrl: string): Promise<Person> {
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const email = `bench.${tag}@example.test`;
  const password = `Lantern-${randomBytes(6).toString('hex')}-42`;
  const csrf = await anonymousCsrf(baseUrl);
  const response = await fetch(`${baseUrl}/api/v1/auth/register`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': csrf.token, cookie: csrf.cookie },
    body: JSON.stringify({ name: 'Bench Person', email, password, companyName: 'Bench Works', country: 'DE' }),
  });
  await expectStatus(response, 201, 'POST /api/v1/auth/register');
  const sessionCookie = cookieFrom(response, 'tessera_session');

  const me = (await expectStatus(
    await fetch(`${baseUrl}/api/v1/me`, { headers: { accept: 'application/json', cookie: sessionCookie } }),
    200,
    'GET /api/v1/me',
  )) as { user: { email: string } };
  if (me.user.email !== email) throw new Error(`GET /api/v1/me answered ${me.user.email}, not ${email}`);

  const client = new TesseraClient({ baseUrl, cookieJar: true });
  const signedIn = await client.signIn({ email, password });
  if (signedIn.user.email !== email) throw new Error(`sign-in through the SDK answered ${signedIn.user.email}, not ${email}`);
  return { email, password, sessionCookie };
}
