import { randomBytes } from 'node:crypto';
import { TesseraClient } from '../src/client/sdk.ts';
import { LOGIN_TOKEN_GRANT, type TokenResponse } from '../src/shared/client-api.ts';

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
  /** The account the registration created (the person owns it). */
  accountId: string;
  userId: string;
}

function cookieFrom(response: Response, name: string): string {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  const pair = line?.split(';')[0];
  if (!pair || pair === `${name}=`) throw new Error(`${response.url} answered without a ${name} cookie`);
  return pair;
}

export async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
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
  const registered = (await expectStatus(response, 201, 'POST /api/v1/auth/register')) as { account: { id: string } };
  const sessionCookie = cookieFrom(response, 'tessera_session');

  const me = (await expectStatus(
    await fetch(`${baseUrl}/api/v1/me`, { headers: { accept: 'application/json', cookie: sessionCookie } }),
    200,
    'GET /api/v1/me',
  )) as { user: { id: string; email: string } };
  if (me.user.email !== email) throw new Error(`GET /api/v1/me answered ${me.user.email}, not ${email}`);

  const client = new TesseraClient({ baseUrl, cookieJar: true });
  const signedIn = await client.signIn({ email, password });
  if (signedIn.user.email !== email) throw new Error(`sign-in through the SDK answered ${signedIn.user.email}, not ${email}`);
  return { email, password, sessionCookie, accountId: registered.account.id, userId: me.user.id };
}

/** Signs the person in again (plain fetch): a new session, so it sees accounts added since. */
export async function signInCookie(baseUrl: string, person: Person): Promise<string> {
  const csrf = await anonymousCsrf(baseUrl);
  const response = await fetch(`${baseUrl}/api/v1/auth/sign-in`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': csrf.token, cookie: csrf.cookie },
    body: JSON.stringify({ email: person.email, password: person.password }),
  });
  await expectStatus(response, 200, 'POST /api/v1/auth/sign-in');
  return cookieFrom(response, 'tessera_session');
}

/** A form body for POST /client/v1/token or /client/v1/revoke. */
export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export const FORM_HEADERS = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } as const;

/** POST /client/v1/token with a login token: a new desktop session and its first token pair. */
export async function exchangeLoginToken(baseUrl: string, loginToken: string): Promise<TokenResponse> {
  const response = await fetch(`${baseUrl}/client/v1/token`, {
    method: 'POST',
    headers: FORM_HEADERS,
    body: form({ grant_type: LOGIN_TOKEN_GRANT, login_token: loginToken }),
  });
  return (await expectStatus(response, 200, 'POST /client/v1/token (login token)')) as TokenResponse;
}

/**
 * A team member of the person's account with `count` login tokens (its first one and count − 1
 * more), as its desktop program would get them; checks that the first one signs in and that
 * GET /client/v1/me answers for it.
 */
export async function desktopMember(baseUrl: string, person: Person, count: number): Promise<{ memberId: string; loginTokens: string[] }> {
  const owner = new TesseraClient({ baseUrl, cookieJar: true });
  await owner.signIn({ email: person.email, password: person.password });
  const added = await owner.addTeamMember(person.accountId, { name: 'Bench Desktop' });
  const loginTokens = [added.firstToken.secret];
  for (let i = 1; i < count; i++) {
    loginTokens.push((await owner.createLoginToken(person.accountId, added.member.id, { label: `Bench ${i}` })).secret);
  }
  const pair = await exchangeLoginToken(baseUrl, loginTokens[0]!);
  const me = (await expectStatus(
    await fetch(`${baseUrl}/client/v1/me`, { headers: { accept: 'application/json', authorization: `Bearer ${pair.access_token}` } }),
    200,
    'GET /client/v1/me',
  )) as { member: { id: string } };
  if (me.member.id !== added.member.id) throw new Error(`GET /client/v1/me answered member ${me.member.id}, not ${added.member.id}`);
  return { memberId: added.member.id, loginTokens };
}

/** The account of the peer comparison (bench/peer.ts): its owner's session, its users' list and an access key. */
export interface PeerShapedAccount {
  accountId: string;
  /** `tessera_session=…` of the owner, signed in after the users were added. */
  ownerCookie: string;
  /** GET /api/v1/accounts/:a/users: every portal user of the account. */
  usersPath: string;
  /** GET /api/v1/accounts/:a: the account, read with the access key. */
  accountPath: string;
  /** `Bearer tsr_ak_…`: an access key of the owner role, like the peer's key of its owner. */
  keyAuthorization: string;
  users: number;
}

/**
 * A new person's account with `users` portal users in all (the owner and users − 1 viewers, each
 * added with a password, as Better Auth's members are signed up with one) and an owner access
 * key: the same shape as the peer's organization of `users` members and its owner's API key.
 * Checks the list holds them all and the key reads the account.
 */
export async function peerShapedAccount(baseUrl: string, users: number): Promise<PeerShapedAccount> {
  const owner = await registerPerson(baseUrl);
  const client = new TesseraClient({ baseUrl, cookieJar: true });
  await client.signIn({ email: owner.email, password: owner.password });
  const a = owner.accountId;
  let next = 1;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < users) {
        const n = next++;
        await client.addAccountUser(a, { name: `Bench User ${n}`, email: owner.email.replace(/^bench\./, `bench.user${n}.`), password: owner.password, role: 'viewer' });
      }
    }),
  );
  const key = await client.createAccessKey(a, { name: 'Bench reader', role: 'owner' });
  const ownerCookie = await signInCookie(baseUrl, owner);
  const usersPath = `/api/v1/accounts/${a}/users`;
  const accountPath = `/api/v1/accounts/${a}`;
  const listed = (await expectStatus(
    await fetch(`${baseUrl}${usersPath}`, { headers: { accept: 'application/json', cookie: ownerCookie } }),
    200,
    'GET …/users',
  )) as { items: unknown[] };
  if (listed.items.length !== users) throw new Error(`GET …/users listed ${listed.items.length} users, not ${users}`);
  const keyAuthorization = `Bearer ${key.secret}`;
  const account = (await expectStatus(
    await fetch(`${baseUrl}${accountPath}`, { headers: { accept: 'application/json', authorization: keyAuthorization } }),
    200,
    'GET /api/v1/accounts/:a with an access key',
  )) as { id: string };
  if (account.id !== a) throw new Error(`the access key read account ${account.id}, not ${a}`);
  return { accountId: a, ownerCookie, usersPath, accountPath, keyAuthorization, users };
}
