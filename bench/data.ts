import { createHash, randomUUID } from 'node:crypto';
import { ACCOUNT_AUDIT_ACTIONS, type AccountAuditAction } from '../src/shared/audit.ts';
import type { Database, RawSession } from '../src/server/db/database.ts';
import { generateSecret, hashSecret } from '../src/server/auth/secrets.ts';
import { DEFAULT_PLAN_ID, planOf } from '../src/server/domain/plans/catalog.ts';

/**
 * Fixtures written straight into the server's tables with SQL, for the scenarios that need more
 * data than the HTTP API can create in a benchmark's time: a thousand signed-in desktop clients
 * on as many accounts, a hundred thousand accounts with a million expired leases, a hundred
 * thousand devices in one organization, five thousand signed-in team members in teams of 25 (the
 * plan's member limit; written directly, so the limit is kept by the fixture), a million audit
 * events of one account among a thousand accounts with a log. The harness connects as the tables' owner (postgres, or
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

/**
 * A year of one account's audit log: how often each action comes up among 1,000 events (roughly
 * what a team of desktop clients and a few administrators write: sessions and connections
 * dominate, changes to the account itself are rare). account.created and membership.created
 * happen once, when the account is registered (the registration wrote them); an action of the
 * catalog (ACCOUNT_AUDIT_ACTIONS) missing here is not written, a name here missing there neither.
 */
export const AUDIT_ACTION_WEIGHTS: Partial<Record<AccountAuditAction, number>> & Record<string, number> = {
  'account.created': 0,
  'account.updated': 3,
  'account.ownership_transferred': 1,
  'account.plan_changed': 1,
  'billing.details_updated': 1,
  'invoice.issued': 1,
  'membership.created': 0,
  'user.added': 4,
  'user.roles_changed': 6,
  'user.removed': 2,
  'invitation.created': 6,
  'invitation.resent': 3,
  'invitation.revoked': 2,
  'invitation.accepted': 4,
  'member.created': 15,
  'member.updated': 40,
  'member.deleted': 5,
  'member.enrolled': 15,
  'member.credentials_set': 8,
  'member.credentials_removed': 2,
  'login_token.created': 40,
  'login_token.revealed': 20,
  'login_token.revoked': 10,
  'client_session.created': 150,
  'client_session.ended': 140,
  'client_session.revoked': 10,
  'connection.closed': 200,
  'organization.created': 3,
  'organization.updated': 10,
  'organization.deleted': 1,
  'organization.selected': 60,
  'group.created': 3,
  'group.updated': 8,
  'group.deleted': 1,
  'group.organization_added': 8,
  'group.organization_removed': 4,
  'device.created': 30,
  'device.updated': 80,
  'device.deleted': 10,
  'access_key.created': 3,
  'access_key.revoked': 2,
};

/**
 * Distinct ids per target type in one account's log (people, members and keys double as the
 * actors): 300 actors (60 people, the first the owner; 200 team members; 40 access keys), and
 * targets from a handful (groups) to a million (connections, each closed once).
 */
export const AUDIT_ID_POOLS = {
  user: 60,
  member: 200,
  access_key: 40,
  invitation: 2000,
  login_token: 5000,
  client_session: 200_000,
  connection: 1_000_000,
  organization: 200,
  group: 50,
  device: 20_000,
  invoice: 12,
} as const;
/** Target types that are not the noun of the action. */
const AUDIT_TARGET_TYPES: Record<string, string> = {
  'account.ownership_transferred': 'user',
  'membership.created': 'user',
  'billing.details_updated': 'account',
};
/** Actions the system takes (no actor id); client sessions are opened and ended by team members. */
const AUDIT_SYSTEM_ACTIONS = ['connection.closed', 'invoice.issued'];
const AUDIT_MEMBER_ACTIONS = ['client_session.created', 'client_session.ended'];
const sqlList = (values: string[]) => `(${values.map((v) => `'${v}'`).join(', ')})`;
/** Of the actors, these still exist (their names resolve); the rest left or were deleted. */
const AUDIT_LIVE = { users: 59, memberships: 30, members: 10, accessKeys: 10 };
/**
 * The log spans this long, ending a minute before the fixture is written: a year, inside the
 * server's default retention (TESSERA_AUDIT_RETENTION_DAYS, 365), so a server that prunes would
 * still find every event the bench counts on.
 */
const AUDIT_SPAN_MS = 360 * 24 * 3600_000;
/** Events a statement inserts for the big account (progress is reported after each). */
const AUDIT_CHUNK = 100_000;

/** What the audit log fixture wrote, and how many events each search shape of the bench matches. */
export interface AuditFixture {
  accountId: string;
  /** Events written into the account by SQL. */
  seeded: number;
  /** Events the account held before (its registration and whatever the bench did through the API). */
  existing: number;
  /** Accounts holding audit events: the account and the others written with it. */
  accounts: number;
  eventsPerOtherAccount: number;
  /** A device of the account with events, for the targetId search. */
  targetId: string;
  /** A day of the log (UTC), for the time range search. */
  day: { from: string; to: string };
  /** Events of the account each filter matches. */
  matching: { action: number; group: number; actor: number; target: number; day: number };
  seedMs: number;
}

/**
 * The id of the k-th person, member, key or other target of an account's log, as the SQL derives
 * it (auditIdSql): an md5 made a valid version-4 uuid (the API's ids are checked as uuids).
 */
export function auditId(accountId: string, kind: keyof typeof AUDIT_ID_POOLS, k: number): string {
  const hex = createHash('md5').update(`${accountId}:${kind}:${k}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** auditId in SQL, of text expressions. */
function auditIdSql(account: string, kind: string, k: string): string {
  const hex = `md5(${account}::text || ':' || ${kind} || ':' || ${k})`;
  return `(substr(${hex}, 1, 12) || '4' || substr(${hex}, 14, 3) || '8' || substr(${hex}, 18))::uuid`;
}

/**
 * INSERT … SELECT of audit events from `source`, a query of (account_id, owner_id, g, k): event g
 * (1-based) of the account at an even pace over the span, with millisecond precision (as the
 * server writes them), its action, actor, target and the rest derived from hashes of k (so a run
 * writes the same log every time). $1 the weighted actions, $2 the start, $3 seconds between
 * events; the source's own parameters from $4. Each layer is fenced (offset 0) so that its
 * columns are computed once a row, not again wherever the next layer names them.
 */
function auditEventsInsert(source: string): string {
  const h = (seed: number) => `(hashint8extended(s.k, ${seed}) & 2147483647)`;
  const pool = `case b.target_type ${Object.entries(AUDIT_ID_POOLS).map(([kind, n]) => `when '${kind}' then ${n}`).join(' ')} else 1 end`;
  // person 0 is the owner; every other id is an md5 of the account, the kind and the number
  const idOf = (kind: string, k: string) => `case when ${kind} = 'user' and ${k} = 0 then c.owner_id else ${auditIdSql('c.account_id', kind, k)} end`;
  const label = `initcap(replace(c.target_type, '_', ' ')) || ' ' || c.target_k`;
  const created = `('created', 'added', 'enrolled', 'accepted', 'selected', 'revealed', 'resent', 'issued', 'credentials_set', 'organization_added')`;
  const ended = `('deleted', 'removed', 'revoked', 'ended', 'closed', 'credentials_removed', 'organization_removed')`;
  return `
    insert into audit_events (account_id, id, occurred_at, actor_type, actor_id, action, target_type, target_id,
                              before, after, client_address, user_agent, request_id)
    select c.account_id, gen_random_uuid(), c.occurred_at, c.actor_type,
           case when c.actor_type = 'system' then null else ${idOf('c.actor_type', 'c.actor_k')} end,
           c.action, c.target_type,
           case when c.target_type = 'account' then c.account_id::text else (${idOf('c.target_type', 'c.target_k')})::text end,
           case when c.verb in ${created} then null
                when c.verb in ${ended} then jsonb_build_object('name', ${label})
                else jsonb_build_object('name', ${label} || ' (before)') end,
           case when c.verb in ${ended} then null else jsonb_build_object('name', ${label}) end,
           case when c.actor_type = 'system' then null else '198.51.100.' || (1 + c.h5 % 254) end,
           case c.actor_type when 'system' then null
                when 'member' then 'TesseraDesktop/3.4.1 (Windows NT 10.0; Win64; x64)'
                when 'access_key' then 'siem-sync/2.1'
                else (array['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
                            'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
                            'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0'])[1 + c.h5 % 3] end,
           case when c.actor_type = 'system' then null else substr(md5(c.k::text), 1, 20) end
      from (
        select b.*, b.h2 % ${pool} as target_k
          from (
            select a.*, split_part(a.action, '.', 2) as verb,
                   case ${Object.entries(AUDIT_TARGET_TYPES).map(([action, type]) => `when a.action = '${action}' then '${type}'`).join(' ')}
                        else split_part(a.action, '.', 1) end as target_type,
                   case when a.action in ${sqlList(AUDIT_SYSTEM_ACTIONS)} then 'system'
                        when a.action in ${sqlList(AUDIT_MEMBER_ACTIONS)} then 'member'
                        when a.h3 % 100 < 80 then 'user'
                        else 'access_key' end as actor_type,
                   -- a fifth of the people's changes are the owner's
                   case when a.action in ${sqlList(AUDIT_MEMBER_ACTIONS)} then a.h4 % ${AUDIT_ID_POOLS.member}
                        when a.h3 % 100 < 20 then 0
                        when a.h3 % 100 < 80 then 1 + a.h4 % ${AUDIT_ID_POOLS.user - 1}
                        else a.h4 % ${AUDIT_ID_POOLS.access_key} end as actor_k
              from (
                select s.account_id, s.owner_id, s.k,
                       ($1::text[])[1 + ${h(1)} % cardinality($1::text[])] as action,
                       ${h(2)} as h2, ${h(3)} as h3, ${h(4)} as h4, ${h(5)} as h5,
                       date_trunc('milliseconds', $2::timestamptz + make_interval(secs => (s.g - 1 + ${h(6)} % 1000000 / 1000000.0) * $3::float8)) as occurred_at
                  from (${source}) s
                offset 0
              ) a
            offset 0
          ) b
        offset 0
      ) c`;
}

/**
 * The audit log of `accountId` (owned by `ownerUserId`) grown by `events` events over the last
 * 360 days, and `otherAccounts` more accounts (an owner, member, organization and device each, like
 * insertClientAccounts' without a desktop session) with `eventsPerOtherAccount` events each. The
 * account also gets the people (59 besides the owner, 30 of them still members of it), team
 * members (10) and access keys (10) whose names the search joins; the other actors are gone, as
 * a year of comings and goings leaves them. `progress` hears of every 100,000 events.
 */
export async function insertAuditLog(
  database: Database,
  options: { accountId: string; ownerUserId: string; events: number; otherAccounts: number; eventsPerOtherAccount: number; now: Date },
  progress: (message: string) => void,
): Promise<AuditFixture> {
  const { accountId, ownerUserId, events, now } = options;
  const from = performance.now();
  const actions = ACCOUNT_AUDIT_ACTIONS.flatMap((action) => Array<string>(AUDIT_ACTION_WEIGHTS[action] ?? 0).fill(action));
  const start = new Date(now.getTime() - 60_000 - AUDIT_SPAN_MS);
  // the ids of the account's people, members and keys as the SQL derives them (auditId)
  const people = Array.from({ length: AUDIT_LIVE.users }, (_, i) => auditId(accountId, 'user', i + 1));
  const members = Array.from({ length: AUDIT_LIVE.members }, (_, i) => auditId(accountId, 'member', i));
  const keys = Array.from({ length: AUDIT_LIVE.accessKeys }, (_, i) => auditId(accountId, 'access_key', i));
  let existing = 0;
  await database.withSession(async (session) => {
    existing = Number((await session.query<{ n: string }>('select count(*) as n from audit_events where account_id = $1', [accountId]))[0]!.n);
    await run(session, [
      ['begin'],
      [
        `insert into users (id, email, name, created_at, updated_at)
           select id, 'bench.audit.' || id || '@example.test', 'Bench Auditor ' || n, $2, $2 from unnest($1::uuid[]) with ordinality as t(id, n)`,
        [people, now],
      ],
      [
        `insert into memberships (account_id, user_id, role, created_at)
           select $1, id, case when n <= 10 then 'manager' else 'viewer' end, $3 from unnest($2::uuid[]) with ordinality as t(id, n)`,
        [accountId, people.slice(0, AUDIT_LIVE.memberships), now],
      ],
      [
        `insert into team_members (account_id, id, name, created_at, updated_at)
           select $1, id, 'Bench Audit Desktop ' || n, $3, $3 from unnest($2::uuid[]) with ordinality as t(id, n)`,
        [accountId, members, now],
      ],
      [
        `insert into access_keys (account_id, id, name, role, secret_hash, prefix, created_by, created_at)
           select $1, id, 'Bench SIEM key ' || n, 'viewer', sha256(convert_to(id::text, 'UTF8')), 'tsr_ak_' || substr(md5(id::text), 1, 4), $3, $4
             from unnest($2::uuid[]) with ordinality as t(id, n)`,
        [accountId, keys, ownerUserId, now],
      ],
      [
        `create temp table bench_audit_accounts on commit drop as
           select g as n, gen_random_uuid() as account_id, gen_random_uuid() as user_id, gen_random_uuid() as member_id,
                  gen_random_uuid() as organization_id, gen_random_uuid() as device_id
             from generate_series(1, $1::int) g`,
        [options.otherAccounts],
      ],
      ...clientAccountStatements('bench_audit_accounts', now, 'Bench Audit'),
      [
        auditEventsInsert('select t.account_id, t.user_id as owner_id, g, t.n * 1000003 + g as k from bench_audit_accounts t cross join generate_series(1, $4::int) g'),
        [actions, start, AUDIT_SPAN_MS / 1000 / Math.max(1, options.eventsPerOtherAccount), options.eventsPerOtherAccount],
      ],
      ['commit'],
    ]);
    progress(`audit log: ${options.otherAccounts.toLocaleString('en-US')} other accounts with ${options.eventsPerOtherAccount} events each written (${((performance.now() - from) / 1000).toFixed(1)} s)`);
    for (let done = 0; done < events; done += AUDIT_CHUNK) {
      const to = Math.min(events, done + AUDIT_CHUNK);
      await session.query(auditEventsInsert('select $4::uuid as account_id, $5::uuid as owner_id, g, g as k from generate_series($6::bigint, $7::bigint) g'), [
        actions,
        start,
        AUDIT_SPAN_MS / 1000 / events,
        accountId,
        ownerUserId,
        done + 1,
        to,
      ]);
      progress(`audit log: ${to.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} events of the account written (${((performance.now() - from) / 1000).toFixed(1)} s)`);
    }
    // as autovacuum would have left them: visibility map set, statistics current
    for (const table of ['audit_events', 'users', 'memberships', 'team_members', 'access_keys', 'accounts']) await session.query(`vacuum (analyze) ${table}`);
    progress(`audit log: vacuumed and analyzed (${((performance.now() - from) / 1000).toFixed(1)} s)`);
  });
  const seedMs = performance.now() - from;

  // what the searches of the bench will find
  const count = async (where: string, params: unknown[]) =>
    Number((await database.withSession((s) => s.query<{ n: string }>(`select count(*) as n from audit_events where account_id = $1 and ${where}`, [accountId, ...params])))[0]!.n);
  let targetId = '';
  let target = 0;
  for (let k = 7; target === 0; k++) {
    targetId = auditId(accountId, 'device', k);
    target = await count(`target_type = 'device' and target_id = $2`, [targetId]);
    if (k > 1000) throw new Error('no device of the audit log fixture has an event');
  }
  // a day in the middle of the log (UTC midnight to midnight)
  const dayStart = new Date(Math.floor((now.getTime() - AUDIT_SPAN_MS / 2) / 86_400_000) * 86_400_000);
  const day = { from: dayStart.toISOString(), to: new Date(dayStart.getTime() + 86_400_000).toISOString() };
  const group = ACCOUNT_AUDIT_ACTIONS.filter((a) => a.startsWith('member.'));
  const matching = {
    action: await count(`action = 'member.updated'`, []),
    group: await count(`action = any($2::text[])`, [group]),
    actor: await count(`actor_id = $2`, [ownerUserId]),
    target,
    day: await count(`occurred_at >= $2 and occurred_at < $3`, [day.from, day.to]),
  };
  return {
    accountId,
    seeded: events,
    existing,
    accounts: options.otherAccounts + 1,
    eventsPerOtherAccount: options.eventsPerOtherAccount,
    targetId,
    day,
    matching,
    seedMs,
  };
}
