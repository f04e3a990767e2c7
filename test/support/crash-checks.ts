import { createHash } from 'node:crypto';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import { planOf } from '../../src/server/domain/plans/catalog.ts';
import {
  invitationRevoked,
  leaseClosed,
  memberRemoved,
  refreshSession,
  sessionEnded,
  sessionGone,
  sessionRevoked,
  tokenGone,
  tokenRevoked,
  PASSWORD,
  type DesktopSession,
  type Expected,
  type Ledger,
  type Tenant,
} from './crash-load.ts';
import { mapLimit } from './server-process.ts';

/**
 * The checks of the crash suite, run after each kill: over SQL (every acknowledged write of the
 * whole run is stored, and the invariants hold across the database) and over HTTP (what the
 * killed server acknowledged is what the restarted one answers).
 *
 * Findings are collected, not thrown at the first, so a failure shows everything that went
 * wrong at once: `lost` are acknowledged writes that are missing or undone; `broken` are
 * invariants that do not hold (half-written entities, limits exceeded, states nobody asked for).
 */
export interface Findings {
  lost: string[];
  broken: string[];
}

export type Query = <R>(text: string) => Promise<R[]>;

/** Tokens are stored as the SHA-256 of the whole string (docs/team-members.md). */
const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Whether what is stored matches what the acknowledged writes imply ('unknown' accepts either). */
function agrees(expected: Expected, actual: boolean): boolean {
  return expected === 'unknown' || (expected === 'yes') === actual;
}

/** The company names the account may show: the last acknowledged one, or a later unacknowledged one. */
function allowedCompanyNames(tenant: Tenant): string[] {
  const lastAcked = tenant.updates.findLastIndex((u) => u.acknowledged);
  if (lastAcked === -1) return [tenant.companyName, ...tenant.updates.map((u) => u.companyName)];
  return tenant.updates.slice(lastAcked).map((u) => u.companyName);
}

/**
 * Rows the ledger does not know: only the one creation that had no answer when the server died
 * may have left one, and `fromPending` says whether a row can be that one.
 */
function extras(findings: Findings, tenant: Tenant, what: string, unknownIds: string[], fromPending: (id: string) => boolean = () => false): void {
  if (unknownIds.length > 1 || unknownIds.some((id) => !fromPending(id))) {
    findings.broken.push(`${tenant.label}: ${what} nobody had an answer for: ${unknownIds.join(', ')} (in flight at the kill: ${tenant.pending?.kind ?? 'nothing'})`);
  }
}

// --- SQL ------------------------------------------------------------------------------------

/**
 * Invariants, each a query for the rows that break it (so none is the answer). `now()` is the
 * check's own time: a lease counts while it is not closed and not expired.
 */
const INVARIANTS: Array<{ name: string; sql: string }> = [
  {
    name: 'every account has an owner',
    sql: `select 'account ' || a.account_id || ' has no owner' as problem from accounts a
           where not exists (select 1 from memberships m where m.account_id = a.account_id and m.role = 'owner')`,
  },
  {
    // A member, login token, desktop session, invitation, organization or device and its
    // creation audit event are one transaction: exactly one event per row, and an event's row
    // is there unless it went with its member (ON DELETE CASCADE on removal).
    name: 'every entity has exactly one creation audit event, and every such event its entity',
    sql: `with entities(account_id, kind, id) as (
            select account_id, 'member', id::text from team_members
            union all select account_id, 'login_token', id::text from login_tokens
            union all select account_id, 'client_session', id::text from client_sessions
            union all select account_id, 'invitation', id::text from invitations
            union all select account_id, 'organization', id::text from organizations
            union all select account_id, 'device', id::text from devices
          ), created as (
            select account_id, split_part(action, '.', 1) as kind, target_id as id,
                   case when action = 'member.created' then target_id else after->>'memberId' end as member_id, count(*)::int as n
              from audit_events
             where action in ('member.created', 'login_token.created', 'client_session.created', 'invitation.created', 'organization.created', 'device.created')
             group by 1, 2, 3, 4
          )
          select coalesce(e.kind, c.kind) || ' ' || coalesce(e.id, c.id) || ': ' ||
                 case when c.n is null then 'no creation audit event' when c.n > 1 then c.n || ' creation audit events' else 'an audit event but no row' end as problem
            from entities e full join created c on c.account_id = e.account_id and c.kind = e.kind and c.id = e.id
           where c.n is null or c.n > 1
              or (e.id is null and not (c.kind in ('member', 'login_token', 'client_session') and exists (
                    select 1 from audit_events d where d.account_id = c.account_id and d.action = 'member.deleted' and d.target_id = c.member_id)))`,
  },
  {
    name: 'a revoked login token, a revoked invitation or a removed member has exactly one audit event of it',
    sql: `select 'login token ' || t.id || ': revoked_at ' || coalesce(t.revoked_at::text, 'null') || ' with ' || count(e.id) || ' revocation events' as problem
            from login_tokens t left join audit_events e on e.account_id = t.account_id and e.action = 'login_token.revoked' and e.target_id = t.id::text
           group by t.account_id, t.id, t.revoked_at having (t.revoked_at is null and count(e.id) > 0) or (t.revoked_at is not null and count(e.id) <> 1)
          union all
          select 'invitation ' || i.id || ': revoked_at ' || coalesce(i.revoked_at::text, 'null') || ' with ' || count(e.id) || ' revocation events'
            from invitations i left join audit_events e on e.account_id = i.account_id and e.action = 'invitation.revoked' and e.target_id = i.id::text
           group by i.account_id, i.id, i.revoked_at having (i.revoked_at is null and count(e.id) > 0) or (i.revoked_at is not null and count(e.id) <> 1)
          union all
          select 'member ' || m.id || ' is still there after its member.deleted event'
            from audit_events e join team_members m on m.account_id = e.account_id and m.id::text = e.target_id where e.action = 'member.deleted'`,
  },
  {
    name: "a revoked login token's desktop sessions are revoked",
    sql: `select 'session ' || s.id || ' is live although its login token ' || t.id || ' is revoked' as problem
            from client_sessions s join login_tokens t on t.account_id = s.account_id and t.id = s.login_token_id
           where t.revoked_at is not null and s.revoked_at is null`,
  },
  {
    // A token family: access and refresh tokens are issued in pairs; at most one refresh token
    // can still be exchanged, and a live session has exactly one.
    name: 'token families: pairs, and one live refresh token per live session',
    sql: `select 'session ' || s.id || ' (' || case when s.revoked_at is null then 'live' else 'revoked' end || '): ' ||
                 count(t.token_hash) filter (where t.kind = 'access') || ' access, ' || count(t.token_hash) filter (where t.kind = 'refresh') || ' refresh tokens, ' ||
                 count(t.token_hash) filter (where t.kind = 'refresh' and t.used_at is null and t.expires_at > now()) || ' of them live' as problem
            from client_sessions s left join client_tokens t on t.account_id = s.account_id and t.session_id = s.id
           group by s.account_id, s.id, s.revoked_at
          having count(t.token_hash) filter (where t.kind = 'access') <> count(t.token_hash) filter (where t.kind = 'refresh')
              or count(t.token_hash) filter (where t.kind = 'refresh' and t.used_at is null and t.expires_at > now()) > 1
              or (s.revoked_at is null and count(t.token_hash) filter (where t.kind = 'refresh' and t.used_at is null and t.expires_at > now()) <> 1)`,
  },
  {
    name: 'a spent refresh token names the refresh token it was exchanged for, in its family',
    sql: `select 'refresh token ' || encode(t.token_hash, 'hex') || ' of session ' || t.session_id || ': ' ||
                 case when t.used_at is null then 'rotated but not spent' when t.rotated_to is null then 'spent but rotated to nothing' else 'rotated to a token outside its family' end as problem
            from client_tokens t
           where t.kind = 'refresh'
             and ((t.used_at is null) <> (t.rotated_to is null)
                  or (t.rotated_to is not null and not exists (
                        select 1 from client_tokens n where n.account_id = t.account_id and n.token_hash = t.rotated_to and n.session_id = t.session_id and n.kind = 'refresh')))`,
  },
  {
    // An open lease holds one row of each limit it counts against (migration 0004): its account
    // slot, its member slot when the member has a fixed limit, and the device.
    name: 'an open lease holds its slots and device, for a live member, device and session',
    sql: `select 'open lease ' || l.id || ': ' || p.problem as problem
            from connection_leases l
           cross join lateral (values
             (case when not exists (select 1 from team_members m where m.account_id = l.account_id and m.id = l.member_id) then 'its member is gone' end),
             (case when not exists (select 1 from devices d where d.account_id = l.account_id and d.id = l.device_id and d.lease_id = l.id) then 'its device does not hold it' end),
             (case when not exists (select 1 from account_slots s where s.account_id = l.account_id and s.slot = l.account_slot and s.lease_id = l.id) then 'its account slot does not hold it' end),
             (case when l.member_slot is not null and not exists (
                     select 1 from member_slots s where s.account_id = l.account_id and s.member_id = l.member_id and s.slot = l.member_slot and s.lease_id = l.id) then 'its member slot does not hold it' end),
             (case when l.member_slot is null and exists (
                     select 1 from team_members m where m.account_id = l.account_id and m.id = l.member_id and m.connection_limit is not null) then 'it holds no slot of its limited member' end),
             (case when not exists (select 1 from client_sessions c where c.account_id = l.account_id and c.id = l.client_session_id and c.revoked_at is null) then 'its desktop session is gone or revoked' end)
           ) as p(problem)
           where l.closed_at is null and l.expires_at > now() and p.problem is not null`,
  },
  {
    name: 'a held slot or device belongs to an open lease',
    sql: `select 'account slot ' || s.account_id || '/' || s.slot || ' is held by lease ' || s.lease_id || ', which is not open' as problem from account_slots s
           where s.lease_id is not null and s.expires_at > now()
             and not exists (select 1 from connection_leases l where l.account_id = s.account_id and l.id = s.lease_id and l.closed_at is null)
          union all
          select 'member slot ' || s.member_id || '/' || s.slot || ' is held by lease ' || s.lease_id || ', which is not open' from member_slots s
           where s.lease_id is not null and s.expires_at > now()
             and not exists (select 1 from connection_leases l where l.account_id = s.account_id and l.id = s.lease_id and l.closed_at is null)
          union all
          select 'device ' || d.id || ' is held by lease ' || d.lease_id || ', which is not open' from devices d
           where d.lease_id is not null and d.lease_expires_at > now()
             and not exists (select 1 from connection_leases l where l.account_id = d.account_id and l.id = d.lease_id and l.closed_at is null)`,
  },
  {
    name: 'a member with a fixed limit and a device hold no more open leases than allowed',
    sql: `select 'member ' || m.id || ': ' || count(*) || ' open leases, limit ' || m.connection_limit as problem
            from connection_leases l join team_members m on m.account_id = l.account_id and m.id = l.member_id
           where l.closed_at is null and l.expires_at > now() and m.connection_limit is not null
           group by m.account_id, m.id, m.connection_limit having count(*) > m.connection_limit
          union all
          select 'device ' || l.device_id || ': ' || count(*) || ' open leases'
            from connection_leases l where l.closed_at is null and l.expires_at > now()
           group by l.account_id, l.device_id having count(*) > 1`,
  },
];

/** The limits of each account's plan live in the plan catalog, not in SQL (the built-in one: the crash servers set no TESSERA_PLANS_FILE). */
async function planLimitProblems(query: Query): Promise<string[]> {
  const rows = await query<{ account_id: string; plan_id: string; members: number; open_leases: number }>(`
    select a.account_id::text, a.plan_id,
           (select count(*)::int from team_members m where m.account_id = a.account_id) as members,
           (select count(*)::int from connection_leases l where l.account_id = a.account_id and l.closed_at is null and l.expires_at > now()) as open_leases
      from accounts a`);
  const problems: string[] = [];
  for (const row of rows) {
    const plan = planOf(row.plan_id);
    if (row.open_leases > plan.connectionAllowance) problems.push(`account ${row.account_id}: ${row.open_leases} open leases, allowance ${plan.connectionAllowance}`);
    if (row.members > plan.memberLimit) problems.push(`account ${row.account_id}: ${row.members} members, limit ${plan.memberLimit}`);
  }
  return problems;
}

interface Stored {
  users: Map<string, { owner_of: string[] | null; memberships: number; registered_events: number }>;
  accounts: Map<string, { company_name: string; created_events: number; last_update: string | null }>;
  organizations: Map<string, { account_id: string }>;
  devices: Map<string, { account_id: string }>;
  members: Map<string, { account_id: string; name: string; connection_limit: number | null }>;
  tokens: Map<string, { account_id: string; member_id: string; revoked: boolean }>;
  sessions: Map<string, { account_id: string; login_token_id: string | null; revoked: boolean }>;
  clientTokens: Map<string, { session_id: string; kind: string; used: boolean; rotated_to: string | null }>;
  leases: Map<string, { account_id: string; member_id: string; device_id: string; closed: boolean }>;
  invitations: Map<string, { account_id: string; email: string; role: string; revoked: boolean }>;
}

async function readStored(query: Query): Promise<Stored> {
  // keyed by the first column; one query after the other (a pg.Client runs one at a time anyway)
  const keyed = async <R extends Record<string, unknown>>(text: string): Promise<Map<string, R>> =>
    new Map((await query<R>(text)).map((row) => [Object.values(row)[0] as string, row]));
  return {
    users: await keyed(`
      select u.email,
             array_agg(m.account_id::text) filter (where m.role = 'owner' and a.account_id is not null) as owner_of,
             count(m.account_id)::int as memberships,
             (select count(*)::int from user_audit_events e where e.user_id = u.id and e.action = 'user.registered') as registered_events
        from users u left join memberships m on m.user_id = u.id left join accounts a on a.account_id = m.account_id
       group by u.id, u.email`),
    accounts: await keyed(`
      select a.account_id::text, a.company_name,
             (select count(*)::int from audit_events e where e.account_id = a.account_id and e.action = 'account.created') as created_events,
             (select e.after->>'companyName' from audit_events e where e.account_id = a.account_id and e.action = 'account.updated'
               order by e.occurred_at desc, e.id desc limit 1) as last_update
        from accounts a`),
    organizations: await keyed('select id::text, account_id::text from organizations'),
    devices: await keyed('select id::text, account_id::text from devices'),
    members: await keyed('select id::text, account_id::text, name, connection_limit from team_members'),
    tokens: await keyed('select id::text, account_id::text, member_id::text, revoked_at is not null as revoked from login_tokens'),
    sessions: await keyed('select id::text, account_id::text, login_token_id::text, revoked_at is not null as revoked from client_sessions'),
    clientTokens: await keyed(`select encode(token_hash, 'hex') as hash, session_id::text, kind, used_at is not null as used, encode(rotated_to, 'hex') as rotated_to from client_tokens`),
    leases: await keyed('select id::text, account_id::text, member_id::text, device_id::text, closed_at is not null as closed from connection_leases'),
    invitations: await keyed('select id::text, account_id::text, email, role, revoked_at is not null as revoked from invitations'),
  };
}

/** Registrations: users, their accounts and memberships, as the previous version of this suite checked them. */
function checkPeople(findings: Findings, ledger: Ledger, stored: Stored): void {
  const attempted = new Set(ledger.tenants.map((t) => t.email));
  for (const [email, user] of stored.users) {
    if (!attempted.has(email)) findings.broken.push(`${email} is no person the test registered`);
    if ((user.owner_of?.length ?? 0) !== 1 || user.memberships !== 1) findings.broken.push(`${email} does not own exactly one existing account: ${JSON.stringify(user)}`);
    if (user.registered_events !== 1) findings.broken.push(`${email} has ${user.registered_events} user.registered audit events`);
  }
  for (const [accountId, account] of stored.accounts) {
    if (account.created_events !== 1) findings.broken.push(`account ${accountId} has ${account.created_events} account.created audit events`);
    // an update and its audit event are one transaction: the newest event shows the stored value
    if (account.last_update !== null && account.last_update !== account.company_name) {
      findings.broken.push(`account ${accountId} is named "${account.company_name}" but its newest account.updated event says "${account.last_update}"`);
    }
  }
  if (stored.accounts.size !== stored.users.size) findings.broken.push(`${stored.accounts.size} accounts for ${stored.users.size} people`);
}

function checkTenantInSql(findings: Findings, tenant: Tenant, stored: Stored): void {
  const accountId = tenant.accountId!;
  const { lost, broken } = findings;
  const who = tenant.label;
  const user = stored.users.get(tenant.email);
  const account = stored.accounts.get(accountId);
  if (!user?.owner_of?.includes(accountId)) lost.push(`${who}: ${tenant.email} is not stored as the owner of the account registered with it`);
  if (!account) return void lost.push(`${who}: the account of the acknowledged registration of ${tenant.email} is missing`);
  const names = allowedCompanyNames(tenant);
  if (!names.includes(account.company_name)) lost.push(`${who}: account is named "${account.company_name}", expected one of ${JSON.stringify(names)}`);

  const inAccount = <V extends { account_id: string }>(rows: Map<string, V>) => [...rows].filter(([, row]) => row.account_id === accountId).map(([id]) => id);
  if (tenant.organizationId && !stored.organizations.has(tenant.organizationId)) lost.push(`${who}: acknowledged organization ${tenant.organizationId} is missing`);
  for (const deviceId of tenant.devices) if (!stored.devices.has(deviceId)) lost.push(`${who}: acknowledged device ${deviceId} is missing`);
  const pending = tenant.pending;
  extras(findings, tenant, 'organizations', inAccount(stored.organizations).filter((id) => id !== tenant.organizationId), () => pending?.kind === 'organization');
  extras(findings, tenant, 'devices', inAccount(stored.devices).filter((id) => !tenant.devices.includes(id)), () => pending?.kind === 'device');

  for (const member of tenant.members) {
    const row = stored.members.get(member.id);
    const removed = memberRemoved(member);
    if (!agrees(removed, !row)) lost.push(`${who}: member ${member.id} is ${row ? 'still there after its acknowledged removal' : 'missing'}`);
    if (row && (row.name !== member.name || row.connection_limit !== member.connectionLimit)) broken.push(`${who}: member ${member.id} is stored as ${JSON.stringify(row)}`);
    for (const token of member.tokens) {
      const tokenRow = stored.tokens.get(token.id);
      if (!agrees(tokenGone(token), !tokenRow)) lost.push(`${who}: login token ${token.id} is ${tokenRow ? 'still there after its member was removed' : 'missing'}`);
      if (tokenRow && tokenRow.member_id !== member.id) broken.push(`${who}: login token ${token.id} belongs to member ${tokenRow.member_id}, not ${member.id}`);
      if (tokenRow && !agrees(tokenRevoked(token), tokenRow.revoked)) {
        (tokenRow.revoked ? broken : lost).push(`${who}: login token ${token.id} is ${tokenRow.revoked ? 'revoked, which nobody asked for' : 'not revoked after its acknowledged revocation'}`);
      }
    }
  }
  const knownMembers = new Set(tenant.members.map((m) => m.id));
  extras(findings, tenant, 'team members', inAccount(stored.members).filter((id) => !knownMembers.has(id)), () => pending?.kind === 'member');
  const knownTokens = new Set(tenant.members.flatMap((m) => m.tokens.map((t) => t.id)));
  // an unanswered member addition leaves its first token (of a member the ledger does not
  // know); an unanswered issue, a token of the member it was for
  const memberOfToken = (id: string) => stored.tokens.get(id)!.member_id;
  extras(findings, tenant, 'login tokens', inAccount(stored.tokens).filter((id) => !knownTokens.has(id)), (id) =>
    pending?.kind === 'member' ? !knownMembers.has(memberOfToken(id)) : pending?.kind === 'login token' && memberOfToken(id) === pending.member.id,
  );

  const knownSessions = new Set<string>();
  for (const session of tenant.sessions) {
    const gone = sessionGone(session);
    const first = stored.clientTokens.get(sha256(session.pairs[0]!.refresh));
    const sessionId = first?.session_id;
    const row = sessionId ? stored.sessions.get(sessionId) : undefined;
    if (sessionId) knownSessions.add(sessionId);
    if (!agrees(gone, !row)) lost.push(`${who}: desktop session of token ${session.token.id} is ${row ? 'still there after its member was removed' : 'missing'}`);
    if (!row) continue;
    if (row.login_token_id !== session.token.id) broken.push(`${who}: desktop session ${sessionId} was opened with ${row.login_token_id}, not ${session.token.id}`);
    if (!agrees(sessionRevoked(session), row.revoked)) {
      (row.revoked ? broken : lost).push(`${who}: desktop session ${sessionId} is ${row.revoked ? 'revoked, which nobody asked for' : 'live after its acknowledged revocation'}`);
    }
    session.pairs.forEach((pair, k) => {
      const refresh = stored.clientTokens.get(sha256(pair.refresh));
      const access = stored.clientTokens.get(sha256(pair.access));
      if (!refresh || !access || refresh.session_id !== sessionId || refresh.kind !== 'refresh' || access.session_id !== sessionId || access.kind !== 'access') {
        lost.push(`${who}: token pair ${k} of session ${sessionId} (acknowledged) is not stored in its family`);
        return;
      }
      const next = session.pairs[k + 1];
      if (next && (!refresh.used || refresh.rotated_to !== sha256(next.refresh))) {
        lost.push(`${who}: refresh ${k + 1} of session ${sessionId} was acknowledged, but the refresh token it spent is ${refresh.used ? 'rotated elsewhere' : 'unspent'}`);
      }
      // the family's newest acknowledged refresh token stays unspent unless a refresh of it was in flight
      if (!next && !session.refreshSent && refresh.used) broken.push(`${who}: the newest refresh token of session ${sessionId} is spent, though no refresh of it was sent`);
    });
  }
  extras(findings, tenant, 'desktop sessions', inAccount(stored.sessions).filter((id) => !knownSessions.has(id)), (id) =>
    pending?.kind === 'desktop sign-in' && stored.sessions.get(id)!.login_token_id === pending.token.id,
  );

  for (const lease of tenant.leases) {
    const row = stored.leases.get(lease.id);
    if (!row) {
      lost.push(`${who}: acknowledged lease ${lease.id} is missing`);
      continue;
    }
    if (row.device_id !== lease.deviceId || row.member_id !== lease.session.token.member.id) broken.push(`${who}: lease ${lease.id} is stored as ${JSON.stringify(row)}`);
    if (!agrees(leaseClosed(lease), row.closed)) {
      (row.closed ? broken : lost).push(`${who}: lease ${lease.id} is ${row.closed ? 'closed, which nobody asked for' : 'open after its acknowledged close'}`);
    }
  }
  const knownLeases = new Set(tenant.leases.map((l) => l.id));
  extras(findings, tenant, 'leases', inAccount(stored.leases).filter((id) => !knownLeases.has(id)), (id) =>
    pending?.kind === 'lease' && stored.leases.get(id)!.device_id === pending.deviceId,
  );

  for (const invitation of tenant.invitations) {
    const row = stored.invitations.get(invitation.id);
    if (!row) {
      lost.push(`${who}: acknowledged invitation ${invitation.id} is missing`);
      continue;
    }
    if (row.email !== invitation.email || row.role !== invitation.role) broken.push(`${who}: invitation ${invitation.id} is stored as ${JSON.stringify(row)}`);
    if (!agrees(invitationRevoked(invitation), row.revoked)) {
      (row.revoked ? broken : lost).push(`${who}: invitation ${invitation.id} is ${row.revoked ? 'revoked, which nobody asked for' : 'pending after its acknowledged revocation'}`);
    }
  }
  const knownInvitations = new Set(tenant.invitations.map((i) => i.id));
  extras(findings, tenant, 'invitations', inAccount(stored.invitations).filter((id) => !knownInvitations.has(id)), (id) =>
    pending?.kind === 'invitation' && stored.invitations.get(id)!.email === pending.email,
  );
}

/** Every acknowledged write of the run is stored, nothing else changed, and every invariant holds. */
export async function checkOverSql(query: Query, ledger: Ledger): Promise<Findings> {
  const findings: Findings = { lost: [], broken: [] };
  for (const invariant of INVARIANTS) {
    const rows = await query<{ problem: string }>(invariant.sql);
    for (const row of rows) findings.broken.push(`${invariant.name}: ${row.problem}`);
  }
  findings.broken.push(...(await planLimitProblems(query)));
  const stored = await readStored(query);
  checkPeople(findings, ledger, stored);
  for (const tenant of ledger.tenants) if (tenant.accountId) checkTenantInSql(findings, tenant, stored);
  return findings;
}

// --- HTTP -----------------------------------------------------------------------------------

/** A lease or access token this close to its expiry is not judged: it may end during the check. */
const EXPIRY_MARGIN_MS = 5_000;

async function meStatus(baseUrl: string, accessToken: string): Promise<number> {
  const response = await fetch(`${baseUrl}/client/v1/me`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  await response.arrayBuffer();
  return response.status;
}

let reuseChecks = 0;

/**
 * Presents the family's first refresh token, spent by an acknowledged refresh before the kill,
 * again: refused, and the whole session revoked (RFC 9700 §4.14.2; the crash servers run with no
 * reuse grace). Every refused exchange counts against the client address, so each check comes
 * from an address of its own (the crash servers trust X-Forwarded-For).
 */
async function presentSpentRefreshToken(baseUrl: string, session: DesktopSession): Promise<{ status: number; error: unknown }> {
  const n = reuseChecks++;
  session.reuse = 'sent';
  const response = await fetch(`${baseUrl}/client/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'x-forwarded-for': `198.18.${(n >> 8) & 255}.${n & 255}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.pairs[0]!.refresh }).toString(),
  });
  const body = (await response.json()) as { error?: unknown };
  session.reuse = response.status === 400 ? 'acked' : null;
  return { status: response.status, error: body.error };
}

async function checkTenantOverHttp(baseUrl: string, ledger: Ledger, tenant: Tenant, findings: Findings, exerciseTokenFamilies: boolean): Promise<void> {
  const accountId = tenant.accountId!;
  const { lost, broken } = findings;
  const { pending, label: who } = tenant;
  const owner = new TesseraClient({ baseUrl, cookieJar: true });
  try {
    await owner.signIn({ email: tenant.email, password: PASSWORD });
  } catch (error) {
    return void lost.push(`${who}: acknowledged registration of ${tenant.email} cannot sign in: ${(error as Error).message}`);
  }
  const me = await owner.me();
  const roles = JSON.stringify(me.accounts.map((a) => ({ id: a.id, role: a.role })));
  if (roles !== JSON.stringify([{ id: accountId, role: 'owner' }])) broken.push(`${who}: ${tenant.email} should own exactly ${accountId}, has ${roles}`);
  const account = await owner.getAccount(accountId);
  const names = allowedCompanyNames(tenant);
  if (!names.includes(account.companyName)) lost.push(`${who}: account shows "${account.companyName}", expected one of ${JSON.stringify(names)}`);

  const team = await owner.getTeam(accountId);
  const listed = new Map(team.members.map((m) => [m.id, m]));
  for (const member of tenant.members) {
    const shown = listed.get(member.id);
    if (!agrees(memberRemoved(member), !shown)) lost.push(`${who}: member ${member.id} is ${shown ? 'listed after its acknowledged removal' : 'not listed'}`);
    if (!shown) continue;
    if (shown.name !== member.name || shown.connectionLimit !== member.connectionLimit) broken.push(`${who}: member ${member.id} is listed as ${JSON.stringify(shown)}`);
    const tokens = new Map((await owner.listLoginTokens(accountId, member.id)).map((t) => [t.id, t]));
    for (const token of member.tokens) {
      const state = tokens.get(token.id)?.state;
      if (!state) lost.push(`${who}: acknowledged login token ${token.id} is not listed`);
      else if (!agrees(tokenRevoked(token), state === 'revoked')) (state === 'revoked' ? broken : lost).push(`${who}: login token ${token.id} is listed ${state}`);
    }
    extras(findings, tenant, `login tokens of member ${member.id}`, [...tokens.keys()].filter((id) => !member.tokens.some((t) => t.id === id)), () =>
      pending?.kind === 'login token' && pending.member === member,
    );
  }
  extras(findings, tenant, 'team members', [...listed.keys()].filter((id) => !tenant.members.some((m) => m.id === id)), () => pending?.kind === 'member');

  const now = Date.now();
  const open = new Map((await owner.listOpenConnections(accountId)).map((c) => [c.leaseId, c]));
  for (const lease of tenant.leases) {
    const closed = leaseClosed(lease);
    if (closed === 'yes' && open.has(lease.id)) lost.push(`${who}: lease ${lease.id} is listed open after its acknowledged close`);
    if (closed === 'no' && lease.expiresAt - now > EXPIRY_MARGIN_MS && !open.has(lease.id)) lost.push(`${who}: acknowledged lease ${lease.id} is not listed open`);
  }
  extras(findings, tenant, 'open connections', [...open.keys()].filter((id) => !tenant.leases.some((l) => l.id === id)), (id) =>
    pending?.kind === 'lease' && open.get(id)!.device.id === pending.deviceId,
  );

  const invitations = new Map((await owner.listInvitations(accountId)).map((i) => [i.id, i]));
  for (const invitation of tenant.invitations) {
    const shown = invitations.get(invitation.id);
    if (!agrees(invitationRevoked(invitation), !shown)) lost.push(`${who}: invitation ${invitation.id} is ${shown ? 'pending after its acknowledged revocation' : 'not listed'}`);
    if (shown && shown.email !== invitation.email) broken.push(`${who}: invitation ${invitation.id} is listed for ${shown.email}`);
  }
  extras(findings, tenant, 'invitations', [...invitations.keys()].filter((id) => !tenant.invitations.some((i) => i.id === id)), (id) =>
    pending?.kind === 'invitation' && invitations.get(id)!.email === pending.email,
  );

  let reused = false;
  for (const session of tenant.sessions) {
    const last = session.pairs.at(-1)!;
    if (last.accessExpiresAt - Date.now() < EXPIRY_MARGIN_MS) continue;
    const ended = sessionEnded(session);
    const status = await meStatus(baseUrl, last.access);
    if (!agrees(ended, status === 401) || (status !== 200 && status !== 401)) {
      lost.push(`${who}: the newest access token of a desktop session of ${session.token.id} answers ${status}, though the session ${ended === 'yes' ? 'was revoked' : 'is live'}`);
    }
    if (!exerciseTokenFamilies || ended !== 'no') continue;
    if (!reused && session.pairs.length >= 2) {
      // An acknowledged refresh spent the family's first refresh token: presented again, it is
      // refused and ends the session. (Once per account: each refusal is a counted failure.)
      reused = true;
      const reuse = await presentSpentRefreshToken(baseUrl, session);
      if (reuse.status !== 400 || reuse.error !== 'invalid_grant') lost.push(`${who}: a refresh token spent by an acknowledged refresh was accepted again: ${reuse.status} ${String(reuse.error)}`);
      else if ((await meStatus(baseUrl, last.access)) !== 401) lost.push(`${who}: the reuse of a spent refresh token did not end its session`);
      else ledger.families.reusesRefused += 1;
      continue;
    }
    // The family's head survived: the newest acknowledged refresh token still rotates. (Not
    // when a refresh of it was in flight: that one may have been spent.)
    if (!session.refreshSent) {
      await refreshSession(baseUrl, session).then(
        () => void (ledger.families.rotations += 1),
        (error: unknown) => void lost.push(`${who}: the newest refresh token of a live desktop session of ${session.token.id} no longer rotates: ${(error as Error).message}`),
      );
    }
  }
}

/**
 * What the restarted server answers for the given tenants: their owner signs in, and every
 * acknowledged member, token, connection, invitation, profile change and desktop session shows as
 * acknowledged. With `exerciseTokenFamilies`, per account one spent refresh token is presented
 * again (refused, its session revoked) and every other live session refreshes once; the ledger
 * records both, as writes of the check.
 */
export async function checkOverHttp(baseUrl: string, ledger: Ledger, tenants: Tenant[], exerciseTokenFamilies: boolean): Promise<Findings> {
  const findings: Findings = { lost: [], broken: [] };
  await mapLimit(tenants.filter((t) => t.accountId), 4, async (tenant) => {
    try {
      await checkTenantOverHttp(baseUrl, ledger, tenant, findings, exerciseTokenFamilies);
    } catch (error) {
      if (!(error instanceof TesseraError)) throw error;
      findings.broken.push(`${tenant.label}: the check's request failed: ${error.status} ${error.message}`);
    }
  });
  return findings;
}
