import type { Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { AcceptInvitationBody, CreateInvitationBody, Invitation, InvitationPreview } from '../../../shared/users.ts';
import type { User } from '../../../shared/contracts.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { InvitationsTable } from '../../db/schema.ts';
import { generateSecret, hashSecret, isWellFormedSecret } from '../../auth/secrets.ts';
import { hashPassword, passwordPolicyErrors } from '../../auth/passwords.ts';
import { AppError, conflict, forbidden, notFound, uniqueClash } from '../../http/errors.ts';
import { recordAccountChange, recordUserChange, type ChangeContext } from '../audit/record.ts';
import { findUserByEmail, insertUser, type UserRow } from '../users/users.ts';
import { assertScopeExists, describeScope, grantRole } from './grants.ts';

type InvitationRow = Selectable<InvitationsTable>;

/** A new link secret for an invitation; the caller mails it and stores only the hash. */
interface Issued {
  invitation: Invitation;
  secret: string;
  accountName: string;
}

const scopeOf = (row: InvitationRow) => ({ role: row.role, groupId: row.group_id ?? undefined, organizationId: row.organization_id ?? undefined });

async function toInvitation(tx: Tx, row: InvitationRow, now: Date): Promise<Invitation> {
  const inviter = row.invited_by ? await tx.selectFrom('users').select(['id', 'name']).where('id', '=', row.invited_by).executeTakeFirst() : undefined;
  return {
    id: row.id,
    email: row.email,
    grant: await describeScope(tx, row.account_id, scopeOf(row)),
    invitedBy: inviter ?? null,
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    status: row.expires_at > now ? 'pending' : 'expired',
  };
}

function pendingInvitation(tx: Tx, accountId: string, invitationId: string) {
  return tx
    .selectFrom('invitations')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', invitationId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null);
}

async function accountName(tx: Tx, accountId: string): Promise<string> {
  const row = await tx.selectFrom('accounts').select('company_name').where('account_id', '=', accountId).executeTakeFirstOrThrow();
  return row.company_name;
}

/** Invitations not yet accepted or revoked, newest first; expired ones show as such until resent or revoked. */
export async function listInvitations(database: Database, accountId: string, now: Date): Promise<Invitation[]> {
  return database.inTenant(accountId, async (tx) => {
    const rows = await tx
      .selectFrom('invitations')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return Promise.all(rows.map((row) => toInvitation(tx, row, now)));
  });
}

export async function createInvitation(database: Database, context: ChangeContext, accountId: string, body: CreateInvitationBody, ttlMs: number): Promise<Issued> {
  return database
    .inTenant(accountId, async (tx) => {
      await assertScopeExists(tx, accountId, body);
      const member = await tx
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select('u.id')
        .where('m.account_id', '=', accountId)
        .where((eb) => eb(eb.fn('lower', ['u.email']), '=', body.email.toLowerCase()))
        .executeTakeFirst();
      if (member) {
        throw conflict('This person is already a user of the account: change their roles instead.', [
          { field: 'email', code: 'already_member', message: 'Already a user of this account' },
        ]);
      }
      const secret = generateSecret('tsr_inv_');
      const row: InvitationRow = {
        account_id: accountId,
        id: uuidv7(),
        email: body.email,
        role: body.role,
        group_id: body.groupId ?? null,
        organization_id: body.organizationId ?? null,
        token_hash: hashSecret(secret),
        invited_by: context.actor.type === 'user' ? context.actor.id : null,
        created_at: context.now,
        sent_at: context.now,
        expires_at: new Date(context.now.getTime() + ttlMs),
        accepted_at: null,
        accepted_by: null,
        revoked_at: null,
      };
      await tx.insertInto('invitations').values(row).execute();
      const invitation = await toInvitation(tx, row, context.now);
      await recordAccountChange(tx, context, { accountId, action: 'invitation.created', target: { type: 'invitation', id: row.id }, after: invitation });
      return { invitation, secret, accountName: await accountName(tx, accountId) };
    })
    .catch(uniqueClash('email', 'already_invited', 'This email has a pending invitation; resend it instead', 'This email already has a pending invitation: resend or revoke it.'));
}

/** A new link and a new expiry; the earlier link stops working. */
export async function resendInvitation(database: Database, context: ChangeContext, accountId: string, invitationId: string, ttlMs: number): Promise<Issued> {
  return database.inTenant(accountId, async (tx) => {
    const secret = generateSecret('tsr_inv_');
    const row = await tx
      .updateTable('invitations')
      .set({ token_hash: hashSecret(secret), sent_at: context.now, expires_at: new Date(context.now.getTime() + ttlMs) })
      .where('account_id', '=', accountId)
      .where('id', '=', invitationId)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound('The invitation');
    const invitation = await toInvitation(tx, row, context.now);
    await recordAccountChange(tx, context, { accountId, action: 'invitation.resent', target: { type: 'invitation', id: row.id }, after: { expiresAt: invitation.expiresAt } });
    return { invitation, secret, accountName: await accountName(tx, accountId) };
  });
}

export async function revokeInvitation(database: Database, context: ChangeContext, accountId: string, invitationId: string): Promise<void> {
  await database.inTenant(accountId, async (tx) => {
    const row = await pendingInvitation(tx, accountId, invitationId).forUpdate().executeTakeFirst();
    if (!row) throw notFound('The invitation');
    await tx.updateTable('invitations').set({ revoked_at: context.now }).where('account_id', '=', accountId).where('id', '=', invitationId).execute();
    await recordAccountChange(tx, context, { accountId, action: 'invitation.revoked', target: { type: 'invitation', id: invitationId }, before: await toInvitation(tx, row, context.now) });
  });
}

/** The answer for a link that is malformed, unknown, used, revoked or expired: one message for all. */
export const invalidInvitation = () =>
  new AppError('validation_failed', 'This invitation link is invalid, used, revoked or expired. Ask for a new one.', {
    errors: [{ field: 'token', code: 'invalid_token', message: 'This invitation link is invalid, used, revoked or expired' }],
  });

/** The live invitation a link secret opens, or null. The link names no account: it is found by hash. */
export async function findInvitationByToken(database: Database, secret: string, now: Date): Promise<InvitationRow | null> {
  if (!isWellFormedSecret(secret, 'tsr_inv_')) return null;
  const row = await database.db.selectFrom('invitations').selectAll().where('token_hash', '=', hashSecret(secret)).executeTakeFirst();
  if (!row || row.accepted_at || row.revoked_at || row.expires_at <= now) return null;
  return row;
}

export async function previewInvitation(database: Database, row: InvitationRow): Promise<InvitationPreview> {
  return database.inTenant(row.account_id, async (tx) => {
    const invitation = await toInvitation(tx, row, new Date(0));
    return {
      email: row.email,
      accountName: await accountName(tx, row.account_id),
      grant: invitation.grant,
      invitedBy: invitation.invitedBy?.name ?? null,
      expiresAt: invitation.expiresAt,
      existingUser: (await findUserByEmail(tx, row.email)) !== undefined,
    };
  });
}

/**
 * Accepts an invitation. Signed in, the person must be the one invited (same email). Otherwise a
 * new person signs up with the invited email, confirmed by the link itself; an email that already
 * signs in to Tessera must sign in first. The link is spent in the same transaction.
 */
export async function acceptInvitation(
  database: Database,
  context: ChangeContext,
  row: InvitationRow,
  signedIn: User | null,
  body: AcceptInvitationBody,
  afterSignUp: (tx: Tx, user: UserRow) => Promise<string>,
): Promise<{ user: UserRow; csrfToken: string | undefined }> {
  if (signedIn && signedIn.email.toLowerCase() !== row.email.toLowerCase()) {
    throw forbidden(`This invitation is for ${row.email}; sign out and accept it as that person.`);
  }
  let passwordHash: string | null = null;
  if (!signedIn) {
    const errors = [
      ...(body.name ? [] : [{ field: 'name', code: 'required', message: 'Enter your name' }]),
      ...(body.password ? passwordPolicyErrors(body.password, { email: row.email, name: body.name }) : [{ field: 'password', code: 'required', message: 'Choose a password' }]),
    ];
    if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
    passwordHash = await hashPassword(body.password!);
  }
  return database
    .inSystem(async (tx) => {
      let user: UserRow | undefined;
      let csrfToken: string | undefined;
      if (signedIn) {
        user = await findUserByEmail(tx, signedIn.email);
      } else {
        if (await findUserByEmail(tx, row.email)) {
          throw conflict(`${row.email} already signs in to Tessera: sign in, then open the invitation link again.`, [
            { field: 'token', code: 'sign_in_required', message: 'Sign in as the invited person first' },
          ]);
        }
        user = await insertUser(tx, { name: body.name!, email: row.email, passwordHash: passwordHash! }, context.now);
        await tx.updateTable('users').set({ email_verified_at: context.now }).where('id', '=', user.id).execute();
        await recordUserChange(tx, { ...context, actor: { type: 'user', id: user.id } }, { userId: user.id, action: 'user.registered', after: { via: 'invitation' } });
        csrfToken = await afterSignUp(tx, user);
      }
      if (!user) throw invalidInvitation();
      // spent under the row lock: a second acceptance or a revocation at the same moment loses
      const spent = await tx
        .updateTable('invitations')
        .set({ accepted_at: context.now, accepted_by: user.id })
        .where('account_id', '=', row.account_id)
        .where('id', '=', row.id)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', context.now)
        .executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) throw invalidInvitation();
      await grantRole(tx, row.account_id, user.id, scopeOf(row), context.now);
      await recordAccountChange(tx, { ...context, actor: { type: 'user', id: user.id } }, {
        accountId: row.account_id,
        action: 'invitation.accepted',
        target: { type: 'invitation', id: row.id },
        after: { userId: user.id, grant: await describeScope(tx, row.account_id, scopeOf(row)) },
      });
      return { user, csrfToken };
    })
    .catch(uniqueClash('email', 'already_registered', 'This email already signs in to Tessera'));
}

