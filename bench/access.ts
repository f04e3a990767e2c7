import type { Request } from 'autocannon';
import { TesseraClient } from '../src/client/sdk.ts';
import { PLANS, DEFAULT_PLAN_ID } from '../src/server/domain/plans/catalog.ts';
import { expectStatus, registerPerson, signInCookie, type Person } from './fixtures.ts';

/**
 * Users and roles under load: the device list read by a manager whose only role is on a group
 * (authorization through a scoped grant) and with an owner access key, and enrollment from the
 * desktop installer.
 */

/** Devices in the organization of manager-devices: one full page of the list's default size. */
export const GROUP_DEVICES = 50;

export interface GroupManagerDevices {
  /** GET …/organizations/:o/devices?limit=50 of the organization in the group. */
  path: string;
  /** `tessera_session=…` of the account's owner and of the group manager. */
  ownerCookie: string;
  managerCookie: string;
  /** `Bearer tsr_ak_…`: an access key of the owner role on the whole account, like the owner's session. */
  ownerKeyAuthorization: string;
  accountId: string;
}

interface DevicePage {
  items: Array<{ id: string }>;
  nextCursor: string | null;
}

/**
 * A new account (its own owner, so the other scenarios' person is untouched) with an
 * organization of GROUP_DEVICES devices in a group, and a user whose only role is manager of that
 * group (no role on the whole account). Checks the manager reaches the organization through the
 * group alone: the same page as the owner's, and 404 for an organization outside the group.
 */
export async function groupManagerDevices(baseUrl: string): Promise<GroupManagerDevices> {
  const owner = await registerPerson(baseUrl);
  const client = new TesseraClient({ baseUrl, cookieJar: true });
  await client.signIn({ email: owner.email, password: owner.password });
  const a = owner.accountId;
  const branch = await client.createOrganization(a, { name: 'Bench Branch' });
  const outside = await client.createOrganization(a, { name: 'Bench Elsewhere' });
  for (let i = 0; i < GROUP_DEVICES; i++) {
    await client.createDevice(a, branch.id, { name: `Branch device ${String(i).padStart(3, '0')}`, kind: 'workstation', identifier: `bench-branch-${i}` });
  }
  const group = await client.createGroup(a, { name: 'Bench Region', organizationIds: [branch.id] });
  const manager: Person = { ...owner, email: owner.email.replace(/^bench\./, 'bench.manager.'), userId: '' };
  const added = await client.addAccountUser(a, { name: 'Bench Group Manager', email: manager.email, password: manager.password, role: 'manager', groupId: group.id });
  if (added.role !== null || added.grants.length !== 1 || added.grants[0]!.scope !== 'group') {
    throw new Error(`the group manager holds ${JSON.stringify({ role: added.role, grants: added.grants })}, not one group role alone`);
  }
  const ownerCookie = await signInCookie(baseUrl, owner);
  const managerCookie = await signInCookie(baseUrl, manager);
  const path = `/api/v1/accounts/${a}/organizations/${branch.id}/devices?limit=${GROUP_DEVICES}`;
  const get = async (cookie: string, p: string, status: number, who: string) =>
    expectStatus(await fetch(`${baseUrl}${p}`, { headers: { accept: 'application/json', cookie } }), status, `GET …/devices as the ${who}`);
  const asOwner = (await get(ownerCookie, path, 200, 'owner')) as DevicePage;
  const asManager = (await get(managerCookie, path, 200, 'group manager')) as DevicePage;
  if (asOwner.items.length !== GROUP_DEVICES || JSON.stringify(asOwner) !== JSON.stringify(asManager)) {
    throw new Error(`the owner and the group manager see different pages (${asOwner.items.length} and ${asManager.items.length} devices)`);
  }
  await get(managerCookie, `/api/v1/accounts/${a}/organizations/${outside.id}/devices`, 404, 'group manager, outside the group');
  const key = await client.createAccessKey(a, { name: 'Bench reader', role: 'owner' });
  const ownerKeyAuthorization = `Bearer ${key.secret}`;
  const asKey = (await expectStatus(await fetch(`${baseUrl}${path}`, { headers: { accept: 'application/json', authorization: ownerKeyAuthorization } }), 200, 'GET …/devices with an owner access key')) as DevicePage;
  if (JSON.stringify(asKey) !== JSON.stringify(asOwner)) throw new Error('the owner access key sees another page than the owner');
  return { path, ownerCookie, managerCookie, ownerKeyAuthorization, accountId: a };
}

/** The enrolling owner and the accounts enrollments are spread over. */
export interface EnrollFixture {
  email: string;
  password: string;
  accountIds: string[];
  /** Team members the accounts can still take (the plan's limit, less the check's enrollment). */
  capacity: number;
}

/**
 * Every enrollment creates a team member, and the plan caps an account at memberLimit (25) of
 * them. The plan catalog is code, not configuration (src/server/domain/plans/catalog.ts), and
 * deleting members during the run would put other work into the measurement, so one owner gets
 * `accounts` accounts (created through the API, like any owner of several customers would) and
 * the enrollments go round robin over them, naming the account with `accountId` as an installer
 * must for a person who manages several. That makes the server's list of the person's managed
 * accounts as long as `accounts` (a few hundred ids from one index): small next to the hash and
 * the writes of an enrollment, and said in the report.
 */
export async function enrollFixture(baseUrl: string, accounts: number): Promise<EnrollFixture> {
  const owner = await registerPerson(baseUrl);
  const client = new TesseraClient({ baseUrl, cookieJar: true });
  await client.signIn({ email: owner.email, password: owner.password });
  const accountIds = [owner.accountId];
  let left = accounts - 1;
  await Promise.all(
    Array.from({ length: Math.min(8, left) }, async () => {
      while (left > 0) {
        left -= 1;
        accountIds.push((await client.createAccount({ companyName: `Bench Customer ${accountIds.length}`, country: 'DE' })).id);
      }
    }),
  );
  // one enrollment to check: 201, and the access token it answers works
  const response = await fetch(`${baseUrl}/client/v1/enroll`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ email: owner.email, password: owner.password, accountId: accountIds[0], memberName: 'Bench PC check' }),
  });
  const enrolled = (await expectStatus(response, 201, 'POST /client/v1/enroll')) as { member: { id: string }; tokens: { access_token: string } };
  const me = (await expectStatus(
    await fetch(`${baseUrl}/client/v1/me`, { headers: { accept: 'application/json', authorization: `Bearer ${enrolled.tokens.access_token}` } }),
    200,
    'GET /client/v1/me after enrolling',
  )) as { member: { id: string } };
  if (me.member.id !== enrolled.member.id) throw new Error(`GET /client/v1/me answered member ${me.member.id}, not the enrolled ${enrolled.member.id}`);
  const memberLimit = PLANS[DEFAULT_PLAN_ID]!.memberLimit;
  return { email: owner.email, password: owner.password, accountIds, capacity: accountIds.length * memberLimit - 1 };
}

/**
 * Enrollment bodies with the owner's right password and no member credentials (so one argon2
 * hash each, like a sign-in), each request naming the next account (round robin) and a new PC.
 * Only failures count against the sign-in throttle, and none of these fails, so the throttle
 * never blocks them, as with the sign-in scenario.
 */
export class Enrollments {
  readonly #fixture: EnrollFixture;
  #next = 0;
  /** Enrollments answered 201, warm-up included. */
  enrolled = 0;

  constructor(fixture: EnrollFixture) {
    this.#fixture = fixture;
  }

  requests(): Request[] {
    const { email, password, accountIds } = this.#fixture;
    return [
      {
        setupRequest: (request) => {
          const n = this.#next++;
          return { ...request, body: JSON.stringify({ email, password, accountId: accountIds[n % accountIds.length], memberName: `Bench PC ${n}` }) };
        },
        onResponse: (status) => {
          if (status === 201) this.enrolled += 1;
        },
      },
    ];
  }
}

/** Accounts enough for every enrollment the machine could do in `seconds`: at most one per argon2 hash. */
export function accountsFor(limitPerSec: number, seconds: number): number {
  const memberLimit = PLANS[DEFAULT_PLAN_ID]!.memberLimit;
  // the argon2 limit is a ceiling (cores × the fastest single-core hash); 20 % over it covers a
  // reference timed on a busy machine. Running past the capacity would answer 409 and fail the run.
  return Math.ceil((limitPerSec * seconds * 1.2) / memberLimit) + 1;
}
