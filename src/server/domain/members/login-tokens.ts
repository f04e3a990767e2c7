import type { Selectable } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { CreateLoginTokenBody, IssuedLoginToken, LoginToken } from '../../../shared/team.ts';
import type { Sealer } from '../../auth/sealing.ts';
import { generateSecret, hashSecret } from '../../auth/secrets.ts';
import { revokeClientSessions, type ClientSessionStore } from '../../client-api/sessions.ts';
import type { Database, Tx } from '../../db/database.ts';
import type { LoginTokensTable } from '../../db/schema.ts';
import { conflict, fieldError, notFound } from '../../http/errors.ts';
import { recordAccountChange, type ChangeContext } from '../audit/record.ts';
import { lockMember } from './members.ts';

type LoginTokenRow = Selectable<LoginTokensTable>;

export function toLoginToken(row: LoginTokenRow, now: Date): LoginToken {
  const state = row.revoked_at ? 'revoked' : row.expires_at && row.expires_at <= now ? 'expired' : 'active';
  return {
    id: row.id,
    label: row.label,
    prefix: row.token_prefix,
    state,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** What the audit log keeps of a token: never the secret. */
function audited(token: LoginToken) {
  const { id, label, prefix, expiresAt } = token;
  return { id, label, prefix, expiresAt };
}

const sealedFor = (accountId: string, tokenId: string) => `login_token:${accountId}:${tokenId}`;

/** Issues a login token to a member, inside the caller's tenant transaction. */
export async function issueLoginToken(
  tx: Tx,
  sealer: Sealer,
  context: ChangeContext,
  member: { accountId: string; memberId: string },
  input: { label: string; expiresAt?: string | null | undefined },
): Promise<IssuedLoginToken> {
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt <= context.now) {
    throw fieldError('expiresAt', 'in_past', 'Choose a moment in the future');
  }
  const secret = generateSecret('tsr_mt_');
  const row: LoginTokenRow = {
    account_id: member.accountId,
    id: uuidv7(),
    member_id: member.memberId,
    label: input.label,
    token_hash: hashSecret(secret),
    token_sealed: Buffer.alloc(0),
    token_prefix: secret.slice(0, 'tsr_mt_'.length + 4),
    created_at: context.now,
    expires_at: expiresAt,
    last_used_at: null,
    revoked_at: null,
  };
  row.token_sealed = sealer.seal(secret, sealedFor(row.account_id, row.id));
  await tx.insertInto('login_tokens').values(row).execute();
  const token = toLoginToken(row, context.now);
  await recordAccountChange(tx, context, {
    accountId: member.accountId,
    action: 'login_token.created',
    target: { type: 'login_token', id: row.id },
    after: { memberId: member.memberId, ...audited(token) },
  });
  return { token, secret };
}

export async function createLoginToken(
  database: Database,
  sealer: Sealer,
  context: ChangeContext,
  accountId: string,
  memberId: string,
  body: CreateLoginTokenBody,
): Promise<IssuedLoginToken> {
  return database.inTenant(accountId, async (tx) => {
    await lockMember(tx, accountId, memberId);
    return issueLoginToken(tx, sealer, context, { accountId, memberId }, body);
  });
}

export async function listLoginTokens(database: Database, accountId: string, memberId: string, now: Date): Promise<LoginToken[]> {
  return database.inTenant(accountId, async (tx) => {
    const member = await tx.selectFrom('team_members').select('id').where('account_id', '=', accountId).where('id', '=', memberId).executeTakeFirst();
    if (!member) throw notFound('The team member');
    const rows = await tx
      .selectFrom('login_tokens')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('member_id', '=', memberId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => toLoginToken(row, now));
  });
}

async function findToken(tx: Tx, accountId: string, memberId: string, tokenId: string): Promise<LoginTokenRow> {
  const row = await tx
    .selectFrom('login_tokens')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('member_id', '=', memberId)
    .where('id', '=', tokenId)
    .executeTakeFirst();
  if (!row) throw notFound('The login token');
  return row;
}

/** The token itself again, so the owner can copy it; the reveal is audited. */
export async function revealLoginToken(database: Database, sealer: Sealer, context: ChangeContext, accountId: string, memberId: string, tokenId: string): Promise<string> {
  return database.inTenant(accountId, async (tx) => {
    const row = await findToken(tx, accountId, memberId, tokenId);
    const state = toLoginToken(row, context.now).state;
    if (state !== 'active') throw conflict(`This login token is ${state}; only active tokens can be copied.`);
    const secret = sealer.open(row.token_sealed, sealedFor(accountId, tokenId));
    await recordAccountChange(tx, context, {
      accountId,
      action: 'login_token.revealed',
      target: { type: 'login_token', id: tokenId },
      after: { memberId, prefix: row.token_prefix },
    });
    return secret;
  });
}

/** Revokes a token and ends every desktop session opened with it, on every node. */
export async function revokeLoginToken(
  database: Database,
  clientSessions: ClientSessionStore,
  context: ChangeContext,
  accountId: string,
  memberId: string,
  tokenId: string,
): Promise<void> {
  const revoked = await database.inTenant(accountId, async (tx) => {
    const row = await findToken(tx, accountId, memberId, tokenId);
    if (row.revoked_at) return false; // revoking twice changes nothing
    // a revoked token is never shown again, so its sealed copy goes
    await tx
      .updateTable('login_tokens')
      .set({ revoked_at: context.now, token_sealed: Buffer.alloc(0) })
      .where('account_id', '=', accountId)
      .where('id', '=', tokenId)
      .execute();
    const sessions = await revokeClientSessions(tx, { accountId, loginTokenId: tokenId }, 'login_token_revoked', context.now);
    await recordAccountChange(tx, context, {
      accountId,
      action: 'login_token.revoked',
      target: { type: 'login_token', id: tokenId },
      before: audited(toLoginToken(row, context.now)),
      after: { endedSessions: sessions },
    });
    return true;
  });
  if (revoked) await clientSessions.forgetEverywhere({ loginToken: tokenId });
}
