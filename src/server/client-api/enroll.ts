import type { EnrollBody, Enrolled } from '../../shared/client-api.ts';
import { hashPassword, passwordPolicyErrors, verifyPassword } from '../auth/passwords.ts';
import type { Sealer } from '../auth/sealing.ts';
import type { Database } from '../db/database.ts';
import { AppError, fieldError, uniqueClash } from '../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../domain/audit/record.ts';
import { insertMember } from '../domain/members/members.ts';
import type { PlanCatalog } from '../domain/plans/catalog.ts';
import { findUserByEmail } from '../domain/users/users.ts';
import type { ClientSessionStore } from './sessions.ts';

/** Wrong password, unknown person, or a person who may not add members: one answer for all. */
export const refusedEnrollment = () => new AppError('invalid_credentials', 'Email or password is incorrect, or this person may not add team members.');

/**
 * Creates a team member from a desktop installer, in one transaction: the member (within the
 * plan's limits), optional member credentials, its first login token, and a desktop session
 * opened with that token. The person must be an owner or manager of the whole account.
 */
export async function enroll(
  database: Database,
  sealer: Sealer,
  plans: PlanCatalog,
  store: ClientSessionStore,
  context: ChangeContext,
  body: EnrollBody,
  client: { address: string | null; userAgent: string | null },
): Promise<{ accountId: string; enrolled: Enrolled }> {
  const user = await findUserByEmail(database.db, body.email);
  const valid = await verifyPassword(user?.password_hash ?? null, body.password);
  if (!user || !valid) throw refusedEnrollment();
  const managed = await database.db
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', user.id)
    .where('role', 'in', ['owner', 'manager'])
    .execute();
  const accountIds = managed.map((m) => m.account_id);
  let accountId = body.accountId;
  if (accountId === undefined) {
    if (accountIds.length > 1) throw fieldError('accountId', 'choose_account', 'You manage several accounts: choose one');
    accountId = accountIds[0];
  }
  if (!accountId || !accountIds.includes(accountId)) throw refusedEnrollment();

  let credentials: { email: string; passwordHash: string } | undefined;
  if (body.memberEmail && body.memberPassword) {
    const errors = passwordPolicyErrors(body.memberPassword, { email: body.memberEmail, name: body.memberName }, 'memberPassword');
    if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
    credentials = { email: body.memberEmail, passwordHash: await hashPassword(body.memberPassword) };
  }
  const enrolledIn = accountId;
  const userContext: ChangeContext = { ...context, actor: { type: 'user', id: user.id } };
  return database
    .inTenant(enrolledIn, async (tx) => {
      const added = await insertMember(tx, sealer, plans, userContext, enrolledIn, { name: body.memberName, connectionLimit: body.connectionLimit }, credentials);
      const token = added.firstToken.token;
      const opened = await store.open(tx, { accountId: enrolledIn, memberId: added.member.id, loginTokenId: token.id, grant: 'login_token' }, client);
      await tx.updateTable('login_tokens').set({ last_used_at: context.now }).where('account_id', '=', enrolledIn).where('id', '=', token.id).execute();
      await recordAccountChange(tx, userContext, {
        accountId: enrolledIn,
        action: 'member.enrolled',
        target: { type: 'member', id: added.member.id },
        after: { clientSessionId: opened.sessionId, userAgent: client.userAgent },
      });
      return { accountId: enrolledIn, enrolled: { member: added.member, loginToken: added.firstToken.secret, tokens: opened.tokens } };
    })
    .catch(uniqueClash('memberEmail', 'already_used', 'Another team member already signs in with this email'));
}
