import type { OAuthError, TokenResponse } from '../../shared/client-api.ts';
import { verifyPassword } from '../auth/passwords.ts';
import { hashSecret, isWellFormedSecret } from '../auth/secrets.ts';
import type { Database, Tx } from '../db/database.ts';
import type { ClientGrant } from '../db/schema.ts';
import { recordAccountChange, type ChangeContext } from '../domain/audit/record.ts';
import { revokeClientSessions, type ClientSessionStore } from './sessions.ts';

/** An RFC 6749 §5.2 error answer of the token endpoint. */
export class OAuthFailure extends Error {
  readonly status: number;
  readonly error: OAuthError['error'];
  readonly headers: Record<string, string>;
  constructor(error: OAuthError['error'], description: string, status = 400, headers: Record<string, string> = {}) {
    super(description);
    this.error = error;
    this.status = status;
    this.headers = headers;
  }
}

const invalidGrant = (what: string) => new OAuthFailure('invalid_grant', `The ${what} is invalid, expired or revoked.`);

interface Client {
  address: string | null;
  userAgent: string | null;
}

async function openSession(
  database: Database,
  store: ClientSessionStore,
  context: ChangeContext,
  session: { accountId: string; memberId: string; loginTokenId: string | null; grant: ClientGrant },
  client: Client,
  before?: (tx: Tx) => Promise<void>,
): Promise<TokenResponse> {
  return database.inTenant(session.accountId, async (tx) => {
    await before?.(tx);
    const opened = await store.open(tx, session, client);
    await recordAccountChange(tx, { ...context, actor: { type: 'member', id: session.memberId } }, {
      accountId: session.accountId,
      action: 'client_session.created',
      target: { type: 'client_session', id: opened.sessionId },
      after: { memberId: session.memberId, grant: session.grant, loginTokenId: session.loginTokenId },
    });
    return opened.tokens;
  });
}

/** Login token → token pair. A token that is malformed, unknown, expired or revoked is refused alike. */
export async function exchangeLoginToken(database: Database, store: ClientSessionStore, context: ChangeContext, secret: string, client: Client): Promise<TokenResponse> {
  if (!isWellFormedSecret(secret, 'tsr_mt_')) throw invalidGrant('login token');
  const token = await database.db
    .selectFrom('login_tokens')
    .select(['account_id', 'id', 'member_id', 'expires_at', 'revoked_at'])
    .where('token_hash', '=', hashSecret(secret))
    .executeTakeFirst();
  if (!token || token.revoked_at || (token.expires_at && token.expires_at <= context.now)) throw invalidGrant('login token');
  const session = { accountId: token.account_id, memberId: token.member_id, loginTokenId: token.id, grant: 'login_token' as const };
  return openSession(database, store, context, session, client, async (tx) => {
    // re-checked under the row lock: a revocation committed meanwhile wins
    const live = await tx
      .updateTable('login_tokens')
      .set({ last_used_at: context.now })
      .where('account_id', '=', token.account_id)
      .where('id', '=', token.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(live.numUpdatedRows) !== 1) throw invalidGrant('login token');
  });
}

/** Member credentials → token pair. Portal passwords are not consulted: they never open a member session. */
export async function exchangePassword(database: Database, store: ClientSessionStore, context: ChangeContext, email: string, password: string, client: Client): Promise<TokenResponse> {
  const member = await database.db
    .selectFrom('team_members')
    .select(['account_id', 'id', 'credentials_password'])
    .where((eb) => eb(eb.fn('lower', ['credentials_email']), '=', email.toLowerCase()))
    .executeTakeFirst();
  const valid = await verifyPassword(member?.credentials_password ?? null, password);
  if (!member || !valid) throw new OAuthFailure('invalid_grant', 'The email or password is incorrect.');
  return openSession(database, store, context, { accountId: member.account_id, memberId: member.id, loginTokenId: null, grant: 'password' }, client);
}

/**
 * Refresh token → new pair; the old refresh token is spent. Presenting a spent one again revokes
 * the whole session (RFC 9700 §4.14.2), except within a short grace after its first use, for a
 * client whose answer was lost: it gets another pair, and the pair it lost stops working.
 */
export async function refreshPair(database: Database, store: ClientSessionStore, context: ChangeContext, secret: string): Promise<TokenResponse> {
  if (!isWellFormedSecret(secret, 'tsr_rt_')) throw invalidGrant('refresh token');
  const hash = hashSecret(secret);
  const found = await database.db.selectFrom('client_tokens').select(['account_id']).where('token_hash', '=', hash).where('kind', '=', 'refresh').executeTakeFirst();
  if (!found) throw invalidGrant('refresh token');
  const outcome = await database.inTenant(found.account_id, async (tx) => {
    const token = await tx
      .selectFrom('client_tokens as t')
      .innerJoin('client_sessions as s', (join) => join.onRef('s.account_id', '=', 't.account_id').onRef('s.id', '=', 't.session_id'))
      .select(['t.session_id', 't.expires_at', 't.used_at', 't.rotated_to', 's.revoked_at', 's.member_id'])
      .where('t.account_id', '=', found.account_id)
      .where('t.token_hash', '=', hash)
      .forUpdate()
      .executeTakeFirst();
    if (!token || token.revoked_at || token.expires_at <= context.now) return { failure: invalidGrant('refresh token') };
    const reuse = token.used_at !== null;
    if (reuse && context.now.getTime() - token.used_at!.getTime() > store.policy.reuseGraceMs) {
      await revokeClientSessions(tx, { accountId: found.account_id, sessionId: token.session_id }, 'refresh_token_reuse', context.now);
      await recordAccountChange(tx, { ...context, actor: { type: 'system', id: null } }, {
        accountId: found.account_id,
        action: 'client_session.revoked',
        target: { type: 'client_session', id: token.session_id },
        after: { reason: 'refresh_token_reuse', memberId: token.member_id },
      });
      return { failure: invalidGrant('refresh token'), revokedSession: token.session_id };
    }
    if (reuse && token.rotated_to) {
      // the pair issued at first use was lost by the client: retire its refresh token (expired,
      // not spent, so presenting it is refused without counting as reuse)
      await tx.updateTable('client_tokens').set({ expires_at: context.now }).where('account_id', '=', found.account_id).where('token_hash', '=', token.rotated_to).where('used_at', 'is', null).execute();
    }
    const pair = await store.issuePair(tx, found.account_id, token.session_id, context.now);
    await tx
      .updateTable('client_tokens')
      .set({ used_at: reuse ? token.used_at : context.now, rotated_to: pair.refreshHash })
      .where('account_id', '=', found.account_id)
      .where('token_hash', '=', hash)
      .execute();
    await tx.updateTable('client_sessions').set({ refreshed_at: context.now }).where('account_id', '=', found.account_id).where('id', '=', token.session_id).execute();
    const { refreshHash: _hash, ...tokens } = pair;
    return { tokens };
  });
  if ('revokedSession' in outcome && outcome.revokedSession) await store.forgetEverywhere({ session: outcome.revokedSession });
  if ('failure' in outcome && outcome.failure) throw outcome.failure;
  return outcome.tokens!;
}

/** RFC 7009: ends the session of an access or refresh token. Unknown tokens are not an error. */
export async function revokeToken(database: Database, store: ClientSessionStore, context: ChangeContext, secret: string): Promise<void> {
  if (!isWellFormedSecret(secret, 'tsr_rt_') && !isWellFormedSecret(secret, 'tsr_at_')) return;
  const found = await database.db
    .selectFrom('client_tokens')
    .select(['account_id', 'session_id'])
    .where('token_hash', '=', hashSecret(secret))
    .executeTakeFirst();
  if (!found) return;
  const ended = await database.inTenant(found.account_id, async (tx) => {
    const count = await revokeClientSessions(tx, { accountId: found.account_id, sessionId: found.session_id }, 'signed_out', context.now);
    if (count > 0) {
      await recordAccountChange(tx, context, {
        accountId: found.account_id,
        action: 'client_session.ended',
        target: { type: 'client_session', id: found.session_id },
        after: { reason: 'signed_out' },
      });
    }
    return count;
  });
  if (ended > 0) await store.forgetEverywhere({ session: found.session_id });
}
