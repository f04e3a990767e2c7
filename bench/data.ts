import { randomUUID } from 'node:crypto';
import type { Database, RawSession } from '../src/server/db/database.ts';
import { generateSecret, hashSecret } from '../src/server/auth/secrets.ts';
import { DEFAULT_PLAN_ID, planOf } from '../src/server/domain/plans/catalog.ts';

/**
 * Fixtures written straight into the server's tables with SQL, for the scenarios that need more
 * data than the HTTP API can create in a benchmark's time: a thousand signed-in desktop clients
 * on as many accounts, a hundred thousand accounts with a million expired leases, a hundred
 * thousand devices in one organization, five thousand signed-in team members in teams of 25 (the
 * plan's member limit; written directly, so the limit is kept by the fixture). The harness connects as the tables' owner (postgres, or
 * PGlite's superuser), so row-level security does not apply to these inserts; every row is one
 * the API could have written (foreign keys hold, one owner per account, tokens stored as SHA-256).
 */

/** A desktop client signed in as a team member, with one device of its own to connect to. */
export interface LeaseIdentity {
  accountId: string;
  memberId: string;
  deviceId: string;
  accessToken: string;
}

/** The statements of one fixture, on one connection (temporary tables live as long as it does). */
async function run(session: RawSession, statements: Array<[string, unknown[]?]>): Promise<void> {
  for (const [text, params] of statements) await session.query(text, params ?? []);
}

/**
 * `count` accounts, each with an owner (a person of its own), a team member, an organization with
 * one device, a desktop session of the member whose access token is returned (valid for
 * `tokenTtlMs`; the password grant, so no login token needs sealing), and its free slot rows 1..allowance
 * (as the first connection of an account creates them: these accounts have connected before).
 */
export async function insertClientAccounts(database: Database, count: number, now: Date, tokenTtlMs: number): Promise<LeaseIdentity[]> {
  const rows = Array.from({ length: count }, () => ({
    accountId: randomUUID(),
    userId: randomUUID(),
    memberId: randomUUID(),
    organizationId: randomUUID(),
    deviceId: randomUUID(),
    sessionId: randomUUID(),
    accessToken: generateSecret('tsr_at_'),
  }));
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((r) => r[key]);
  const expires = new Date(now.getTime() + tokenTtlMs);
  await database.withSession((session) =>
    run(session, [
      ['begin'],
      [
        `create temp table bench_clients on commit drop as
           select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::bytea[])
             with ordinality as t(account_id, user_id, member_id, organization_id, device_id, session_id, token_hash, n)`,
        [column('accountId'), column('userId'), column('memberId'), column('organizationId'), column('deviceId'), column('sessionId'), rows.map((r) => hashSecret(r.accessToken))],
      ],
      ...clientAccountStatements('bench_clients', now),
      [
        `insert into account_slots (account_id, slot) select account_id, s from bench_clients cross join generate_series(1, $1::int) s`,
        [planOf(DEFAULT_PLAN_ID).connectionAllowance],
      ],
      ...signedInStatements('bench_clients', now, expires),
      ['commit'],
    ]),
  );
  return rows.map((r) => ({ accountId: r.accountId, memberId: r.memberId, deviceId: r.deviceId, accessToken: r.accessToken }));
}

/** A desktop session and its access token (hash in `token_hash`) for each row of `table`. */
function signedInStatements(table: string, now: Date, expires: Date): Array<[string, unknown[]]> {
  return [
    [
      `insert into client_sessions (account_id, id, member_id, login_token_id, grant_type, created_at, refreshed_at)
         select account_id, session_id, member_id, null, 'password', $1, $1 from ${table}`,
      [now],
    ],
    [
      `insert into client_tokens (account_id, token_hash, session_id, kind, issued_at, expires_at)
         select account_id, token_hash, session_id, 'access', $1, $2 from ${table}`,
      [now, expires],
    ],
  ];
}

/** Owner, account, membership, team member, organization and device for each row of `table`. */
function clientAccountStatements(table: string, now: Date, company = 'Bench Tenant'): Array<[string, unknown[]]> {
  return [
    [`insert into users (id, email, name, created_at, updated_at)
        select user_id, 'bench.owner.' || account_id || '@example.test', 'Bench Owner ' || n, $1, $1 from ${table}`, [now]],
    [`insert into accounts (account_id, company_name, country, created_at, updated_at)
        select account_id, $2 || ' ' || n, 'DE', $1, $1 from ${table}`, [now, company]],
    [`insert into memberships (account_id, user_id, role, created_at) select account_id, user_id, 'owner', $1 from ${table}`, [now]],
    [`insert into team_members (account_id, id, name, created_at, updated_at) select account_id, member_id, 'Bench Desktop ' || n, $1, $1 from ${table}`, [now]],
    [`insert into organizations (account_id, id, name, created_at, updated_at) select account_id, organization_id, 'Bench Site', $1, $1 from ${table}`, [now]],
    [`insert into devices (account_id, id, organization_id, name, kind, identifier, created_at, updated_at)
        select account_id, device_id, organization_id, 'Bench Device ' || n, 'workstation', 'bench-device-' || n, $1, $1 from ${table}`, [now]],
  ];
}

/**
 * Grows the database to `totalAccounts` accounts shaped like insertClientAccounts' (owner,
 * member, organization, device; no desktop session) and gives every account of `identities` and
 * of the new ones `leasesPerAccount` expired leases (never closed: the client went away), the
 * newest of which still sits in the account's slot rows and on its device, as a vanished client
 * leaves them. Answers how many accounts and expired leases it added.
 */
export async function growLeaseData(
  database: Database,
  identities: LeaseIdentity[],
  options: { totalAccounts: number; leasesPerAccount: number; now: Date },
): Promise<{ accounts: number; leases: number }> {
  const { now, leasesPerAccount } = options;
  const extra = Math.max(0, options.totalAccounts - identities.length);
  const tables = ['users', 'accounts', 'memberships', 'team_members', 'organizations', 'devices', 'connection_leases', 'account_slots'];
  let leases = 0;
  await database.withSession(async (session) => {
    await run(session, [
      ['begin'],
      [
        `create temp table bench_grown on commit drop as
           select g as n, gen_random_uuid() as account_id, gen_random_uuid() as user_id, gen_random_uuid() as member_id,
                  gen_random_uuid() as organization_id, gen_random_uuid() as device_id
             from generate_series(1, $1::int) g`,
        [extra],
      ],
      ...clientAccountStatements('bench_grown', now, 'Bench Grown'),
      // the accounts whose clients the harness drives get their expired leases too
      [
        `create temp table bench_expiring on commit drop as
           select account_id, member_id, device_id from bench_grown
           union all
           select * from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as t(account_id, member_id, device_id)`,
        [identities.map((i) => i.accountId), identities.map((i) => i.memberId), identities.map((i) => i.deviceId)],
      ],
      // lease k of an account: opened (30 days − k hours) ago, expired a minute later
      [
        `insert into connection_leases (account_id, id, member_id, device_id, client_session_id, account_slot, member_slot,
                                        opened_at, renewed_at, expires_at)
           select e.account_id, gen_random_uuid(), e.member_id, e.device_id, null, k, null, t.opened, t.opened, t.opened + interval '60 seconds'
             from bench_expiring e cross join generate_series(1, $1::int) k
             cross join lateral (select $2::timestamptz - interval '30 days' + make_interval(hours => k) as opened) t`,
        [leasesPerAccount, now],
      ],
      // the new accounts' slots and devices still name their newest expired lease
      [
        `insert into account_slots (account_id, slot, lease_id, expires_at)
           select l.account_id, l.account_slot, l.id, l.expires_at
             from connection_leases l join bench_grown g on g.account_id = l.account_id`,
      ],
      [
        `update devices d set lease_id = l.id, lease_expires_at = l.expires_at
           from connection_leases l join bench_grown g on g.account_id = l.account_id
          where d.account_id = l.account_id and d.id = l.device_id and l.account_slot = $1::int`,
        [leasesPerAccount],
      ],
      ['commit'],
    ]);
    leases = (extra + identities.length) * leasesPerAccount;
    // as autovacuum would have left them: visibility map set, statistics current
    for (const table of tables) await session.query(`vacuum (analyze) ${table}`);
  });
  return { accounts: extra, leases };
}

/**
 * An account owned by `ownerUserId` with one organization holding `count` devices, named in an
 * order unrelated to the order they were written in (so pages read rows scattered over the table).
 */
export async function insertDeviceFleet(database: Database, ownerUserId: string, count: number, now: Date): Promise<{ accountId: string; organizationId: string }> {
  const accountId = randomUUID();
  const organizationId = randomUUID();
  await database.withSession(async (session) => {
    await run(session, [
      ['begin'],
      [`insert into accounts (account_id, company_name, country, created_at, updated_at) values ($1, 'Bench Fleet Services', 'DE', $2, $2)`, [accountId, now]],
      [`insert into memberships (account_id, user_id, role, created_at) values ($1, $2, 'owner', $3)`, [accountId, ownerUserId, now]],
      [`insert into organizations (account_id, id, name, created_at, updated_at) values ($1, $2, 'Bench Fleet', $3, $3)`, [accountId, organizationId, now]],
      [
        `insert into devices (account_id, id, organization_id, name, kind, identifier, created_at, updated_at)
           select $1, gen_random_uuid(), $2, 'Workstation ' || substr(md5(g::text), 1, 10), 'workstation', 'fleet-' || g, $3, $3
             from generate_series(1, $4::int) g`,
        [accountId, organizationId, now, count],
      ],
      ['commit'],
    ]);
    await session.query('vacuum (analyze) devices');
  });
  return { accountId, organizationId };
}

/** A desktop client signed in as a team member, for the presence scenarios. */
export interface TeamMemberIdentity {
  accountId: string;
  memberId: string;
  accessToken: string;
}

/**
 * `members` team members spread over accounts of `membersPerAccount` each (the plan's member
 * limit; the last account may hold fewer), every account with an owner of its own, every member
 * with a desktop session (password grant) whose access token is returned, valid for `tokenTtlMs`.
 * Members come in account order: members 0..membersPerAccount−1 share the first account.
 */
export async function insertTeamAccounts(
  database: Database,
  options: { members: number; membersPerAccount: number; now: Date; tokenTtlMs: number },
): Promise<TeamMemberIdentity[]> {
  const { members, membersPerAccount, now } = options;
  const accounts = Array.from({ length: Math.ceil(members / membersPerAccount) }, () => ({ accountId: randomUUID(), userId: randomUUID() }));
  const rows = Array.from({ length: members }, (_, i) => ({
    accountId: accounts[Math.floor(i / membersPerAccount)]!.accountId,
    memberId: randomUUID(),
    sessionId: randomUUID(),
    accessToken: generateSecret('tsr_at_'),
  }));
  const expires = new Date(now.getTime() + options.tokenTtlMs);
  await database.withSession((session) =>
    run(session, [
      ['begin'],
      [
        `create temp table bench_team_accounts on commit drop as
           select * from unnest($1::uuid[], $2::uuid[]) with ordinality as t(account_id, user_id, n)`,
        [accounts.map((a) => a.accountId), accounts.map((a) => a.userId)],
      ],
      [
        `create temp table bench_team_members on commit drop as
           select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[]) with ordinality as t(account_id, member_id, session_id, token_hash, n)`,
        [rows.map((r) => r.accountId), rows.map((r) => r.memberId), rows.map((r) => r.sessionId), rows.map((r) => hashSecret(r.accessToken))],
      ],
      [`insert into users (id, email, name, created_at, updated_at)
          select user_id, 'bench.team.' || account_id || '@example.test', 'Bench Team Owner ' || n, $1, $1 from bench_team_accounts`, [now]],
      [`insert into accounts (account_id, company_name, country, created_at, updated_at)
          select account_id, 'Bench Team ' || n, 'DE', $1, $1 from bench_team_accounts`, [now]],
      [`insert into memberships (account_id, user_id, role, created_at) select account_id, user_id, 'owner', $1 from bench_team_accounts`, [now]],
      [`insert into team_members (account_id, id, name, created_at, updated_at)
          select account_id, member_id, 'Bench Teammate ' || n, $1, $1 from bench_team_members`, [now]],
      ...signedInStatements('bench_team_members', now, expires),
      ['commit'],
    ]),
  );
  return rows.map((r) => ({ accountId: r.accountId, memberId: r.memberId, accessToken: r.accessToken }));
}
