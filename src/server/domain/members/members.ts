import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type {
  AddedTeamMember,
  CreateTeamMemberBody,
  MemberCredentialsBody,
  TeamMember,
  TeamOverview,
  UpdateTeamMemberBody,
} from '../../../shared/team.ts';
import type { Plan } from '../../../shared/billing.ts';
import { hashPassword, passwordPolicyErrors } from '../../auth/passwords.ts';
import type { Sealer } from '../../auth/sealing.ts';
import { revokeClientSessions, type ClientSessionStore } from '../../client-api/sessions.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { TeamMembersTable } from '../../db/schema.ts';
import { AppError, conflict, fieldError, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import type { PlanCatalog } from '../plans/catalog.ts';
import { issueLoginToken } from './login-tokens.ts';
import { closeLeasesOf, connectionsByMember } from '../connections/leases.ts';

type MemberRow = Selectable<TeamMembersTable>;

function toTeamMember(row: MemberRow, activeTokens: number, connectionsInUse = 0): TeamMember {
  return {
    id: row.id,
    name: row.name,
    connectionLimit: row.connection_limit,
    connectionsInUse,
    credentialsEmail: row.credentials_email,
    activeTokens,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** What the audit log keeps of a member: never the password hash. */
function audited(member: TeamMember) {
  const { id, name, connectionLimit, credentialsEmail } = member;
  return { id, name, connectionLimit, credentialsEmail };
}

async function accountPlan(tx: Tx, plans: PlanCatalog, accountId: string, lock: boolean): Promise<Plan> {
  let query = tx.selectFrom('accounts').select('plan_id').where('account_id', '=', accountId);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('The account');
  return plans.of(row.plan_id);
}

function assertWithinAllowance(limit: number | null | undefined, plan: Plan): void {
  if (limit != null && limit > plan.connectionAllowance) {
    throw fieldError(
      'connectionLimit',
      'above_allowance',
      `At most ${plan.connectionAllowance}: the ${plan.name} plan allows ${plan.connectionAllowance} connections for the whole account`,
    );
  }
}

/** The member row, locked for the rest of the transaction; 404 when not in this account. */
export async function lockMember(tx: Tx, accountId: string, memberId: string): Promise<MemberRow> {
  const row = await tx
    .selectFrom('team_members')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', memberId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound('The team member');
  return row;
}

async function activeTokenCount(tx: Tx, accountId: string, memberId: string, now: Date): Promise<number> {
  const row = await tx
    .selectFrom('login_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('member_id', '=', memberId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function teamOverview(database: Database, plans: PlanCatalog, accountId: string, now: Date): Promise<TeamOverview> {
  return database.inTenant(accountId, async (tx) => {
    const plan = await accountPlan(tx, plans, accountId, false);
    const rows = await tx
      .selectFrom('team_members as m')
      .selectAll('m')
      .select((eb) =>
        eb
          .selectFrom('login_tokens as t')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('t.account_id', '=', 'm.account_id')
          .whereRef('t.member_id', '=', 'm.id')
          .where('t.revoked_at', 'is', null)
          .where((w) => w.or([w('t.expires_at', 'is', null), w('t.expires_at', '>', now)]))
          .as('active_tokens'),
      )
      .where('m.account_id', '=', accountId)
      .orderBy('m.created_at')
      .orderBy('m.id')
      .execute();
    const inUse = await connectionsByMember(tx, accountId, now);
    return {
      plan,
      members: rows.map((row) => toTeamMember(row, Number(row.active_tokens ?? 0), inUse.get(row.id) ?? 0)),
      connectionsInUse: [...inUse.values()].reduce((sum, n) => sum + n, 0),
    };
  });
}

/**
 * Adds a member and its first login token inside the caller's transaction; the member limit of the
 * plan holds under concurrency. Credentials, when given, arrive already hashed; a clash of their
 * email with another member's fails on the unique index (SQLSTATE 23505) for the caller to name.
 */
export async function insertMember(
  tx: Tx,
  sealer: Sealer,
  plans: PlanCatalog,
  context: ChangeContext,
  accountId: string,
  body: CreateTeamMemberBody,
  credentials?: { email: string; passwordHash: string },
): Promise<AddedTeamMember> {
  // the account row lock serializes concurrent additions, so the count below stays true
  const plan = await accountPlan(tx, plans, accountId, true);
  assertWithinAllowance(body.connectionLimit, plan);
  const { n } = await tx
    .selectFrom('team_members')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  if (n >= plan.memberLimit) {
    throw conflict(`The ${plan.name} plan allows ${plan.memberLimit} team members; remove one before adding another.`);
  }
  const row: MemberRow = {
    account_id: accountId,
    id: uuidv7(),
    name: body.name,
    connection_limit: body.connectionLimit ?? null,
    credentials_email: credentials?.email ?? null,
    credentials_password: credentials?.passwordHash ?? null,
    created_at: context.now,
    updated_at: context.now,
  };
  await tx.insertInto('team_members').values(row).execute();
  await recordAccountChange(tx, context, {
    accountId,
    action: 'member.created',
    target: { type: 'member', id: row.id },
    after: audited(toTeamMember(row, 0)),
  });
  const firstToken = await issueLoginToken(tx, sealer, context, { accountId, memberId: row.id }, { label: 'First token' });
  return { member: toTeamMember(row, 1), firstToken };
}

export async function addMember(database: Database, sealer: Sealer, plans: PlanCatalog, context: ChangeContext, accountId: string, body: CreateTeamMemberBody): Promise<AddedTeamMember> {
  return database.inTenant(accountId, (tx) => insertMember(tx, sealer, plans, context, accountId, body));
}

export async function updateMember(
  database: Database,
  clientSessions: ClientSessionStore,
  plans: PlanCatalog,
  context: ChangeContext,
  accountId: string,
  memberId: string,
  patch: UpdateTeamMemberBody,
): Promise<TeamMember> {
  const member = await database.inTenant(accountId, async (tx) => {
    const before = await lockMember(tx, accountId, memberId);
    if (patch.connectionLimit !== undefined) assertWithinAllowance(patch.connectionLimit, await accountPlan(tx, plans, accountId, false));
    const row = await tx
      .updateTable('team_members')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.connectionLimit !== undefined ? { connection_limit: patch.connectionLimit } : {}),
        updated_at: context.now,
      })
      .where('account_id', '=', accountId)
      .where('id', '=', memberId)
      .returningAll()
      .executeTakeFirstOrThrow();
    const tokens = await activeTokenCount(tx, accountId, memberId, context.now);
    const after = toTeamMember(row, tokens);
    await recordAccountChange(tx, context, {
      accountId,
      action: 'member.updated',
      target: { type: 'member', id: memberId },
      before: audited(toTeamMember(before, tokens)),
      after: audited(after),
    });
    return after;
  });
  // desktop clients read their name and limit from the cached session: drop it everywhere
  await clientSessions.forgetEverywhere({ member: memberId });
  return member;
}

/** Removes a member: its tokens stop working and its desktop sessions end on every node. */
/** Removes a member with its tokens, sessions and connections; answers the member as it was. */
export async function removeMember(database: Database, clientSessions: ClientSessionStore, context: ChangeContext, accountId: string, memberId: string): Promise<TeamMember> {
  const removed = await database.inTenant(accountId, async (tx) => {
    const before = await lockMember(tx, accountId, memberId);
    await closeLeasesOf(tx, accountId, { memberId }, context.now, 'member_removed');
    // tokens, sessions and their access tokens go with the member (ON DELETE CASCADE)
    await tx.deleteFrom('team_members').where('account_id', '=', accountId).where('id', '=', memberId).execute();
    await recordAccountChange(tx, context, {
      accountId,
      action: 'member.deleted',
      target: { type: 'member', id: memberId },
      before: audited(toTeamMember(before, 0)),
    });
    return toTeamMember(before, 0);
  });
  await clientSessions.forgetEverywhere({ member: memberId });
  return removed;
}

/**
 * Sets (or replaces) the email and password a member's desktop client may sign in with.
 * Sessions opened with the previous credentials end.
 */
export async function setMemberCredentials(
  database: Database,
  clientSessions: ClientSessionStore,
  context: ChangeContext,
  accountId: string,
  memberId: string,
  body: MemberCredentialsBody,
): Promise<TeamMember> {
  const errors = passwordPolicyErrors(body.password, { email: body.email });
  if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
  const passwordHash = await hashPassword(body.password);
  const member = await database
    .inTenant(accountId, async (tx) => {
      const before = await lockMember(tx, accountId, memberId);
      const row = await tx
        .updateTable('team_members')
        .set({ credentials_email: body.email, credentials_password: passwordHash, updated_at: context.now })
        .where('account_id', '=', accountId)
        .where('id', '=', memberId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await revokeClientSessions(tx, { accountId, memberId, grant: 'password' }, 'credentials_changed', context.now);
      const tokens = await activeTokenCount(tx, accountId, memberId, context.now);
      await recordAccountChange(tx, context, {
        accountId,
        action: 'member.credentials_set',
        target: { type: 'member', id: memberId },
        before: { credentialsEmail: before.credentials_email },
        after: { credentialsEmail: row.credentials_email },
      });
      return toTeamMember(row, tokens);
    })
    .catch(uniqueClash('email', 'already_used', 'Another team member already signs in with this email'));
  await clientSessions.forgetEverywhere({ member: memberId });
  return member;
}

export async function removeMemberCredentials(
  database: Database,
  clientSessions: ClientSessionStore,
  context: ChangeContext,
  accountId: string,
  memberId: string,
): Promise<TeamMember> {
  const member = await database.inTenant(accountId, async (tx) => {
    const before = await lockMember(tx, accountId, memberId);
    const row = await tx
      .updateTable('team_members')
      .set({ credentials_email: null, credentials_password: null, updated_at: context.now })
      .where('account_id', '=', accountId)
      .where('id', '=', memberId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await revokeClientSessions(tx, { accountId, memberId, grant: 'password' }, 'credentials_removed', context.now);
    if (before.credentials_email !== null) {
      await recordAccountChange(tx, context, {
        accountId,
        action: 'member.credentials_removed',
        target: { type: 'member', id: memberId },
        before: { credentialsEmail: before.credentials_email },
      });
    }
    return toTeamMember(row, await activeTokenCount(tx, accountId, memberId, context.now));
  });
  await clientSessions.forgetEverywhere({ member: memberId });
  return member;
}
