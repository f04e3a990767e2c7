import { uuidv7 } from 'uuidv7';
import type { Clock } from '../clock.ts';
import type { Database, Tx } from '../db/database.ts';
import type { ClientGrant } from '../db/schema.ts';
import { NotifiedCache } from '../auth/notified-cache.ts';
import { generateSecret, hashSecret, isWellFormedSecret } from '../auth/secrets.ts';
import type { TokenResponse } from '../../shared/client-api.ts';
import { closeLeasesOf } from '../domain/connections/leases.ts';

/** A desktop client signed in as a team member, as every client request sees it. */
export interface ClientPrincipal {
  kind: 'member';
  accountId: string;
  memberId: string;
  sessionId: string;
  loginTokenId: string | null;
  grant: ClientGrant;
  sessionCreatedAt: Date;
  /** What the client reads about itself, as of resolving the token; every node drops it on change. */
  memberName: string;
  connectionLimit: number | null;
  companyName: string;
  planId: string;
}

/** What ended, so every node drops the access tokens it cached for it. */
export type ClientChange = { session: string } | { member: string } | { loginToken: string } | { account: string };

export interface ClientTokenPolicy {
  accessTtlMs: number;
  refreshTtlMs: number;
  /** A spent refresh token presented again within this time gets a new pair (the client lost the answer). */
  reuseGraceMs: number;
  cacheMs: number;
}

function matches(principal: ClientPrincipal, change: ClientChange): boolean {
  if ('session' in change) return principal.sessionId === change.session;
  if ('member' in change) return principal.memberId === change.member;
  if ('account' in change) return principal.accountId === change.account;
  return principal.loginTokenId === change.loginToken;
}

/**
 * Desktop sessions: opaque access tokens (short-lived) and rotating refresh tokens, both stored
 * as SHA-256. Access tokens resolve through a per-node cache that every node empties together
 * when a session, member or login token ends.
 */
export class ClientSessionStore {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #policy: ClientTokenPolicy;
  readonly #cache: NotifiedCache<ClientPrincipal, ClientChange>;

  constructor(database: Database, clock: Clock, policy: ClientTokenPolicy) {
    this.#database = database;
    this.#clock = clock;
    this.#policy = policy;
    this.#cache = new NotifiedCache({ database, channel: 'tessera_client_sessions', ttlMs: policy.cacheMs, limit: 50_000, matches });
  }

  get policy(): ClientTokenPolicy {
    return this.#policy;
  }

  start(): Promise<void> {
    return this.#cache.start();
  }

  stop(): Promise<void> {
    return this.#cache.stop();
  }

  /** Opens a desktop session inside the caller's (tenant) transaction and issues its first pair. */
  async open(
    tx: Tx,
    session: { accountId: string; memberId: string; loginTokenId: string | null; grant: ClientGrant },
    client: { address: string | null; userAgent: string | null },
  ): Promise<{ sessionId: string; tokens: TokenResponse }> {
    const now = this.#clock.now();
    const sessionId = uuidv7();
    await tx
      .insertInto('client_sessions')
      .values({
        account_id: session.accountId,
        id: sessionId,
        member_id: session.memberId,
        login_token_id: session.loginTokenId,
        grant_type: session.grant,
        created_at: now,
        refreshed_at: now,
        revoked_at: null,
        revoked_reason: null,
        client_address: client.address,
        user_agent: client.userAgent?.slice(0, 512) ?? null,
      })
      .execute();
    return { sessionId, tokens: await this.issuePair(tx, session.accountId, sessionId, now) };
  }

  /** A new access token and refresh token for a session; returns the pair and the refresh hash. */
  async issuePair(tx: Tx, accountId: string, sessionId: string, now: Date): Promise<TokenResponse & { refreshHash: Buffer }> {
    const access = generateSecret('tsr_at_');
    const refresh = generateSecret('tsr_rt_');
    const refreshHash = hashSecret(refresh);
    await tx
      .insertInto('client_tokens')
      .values([
        {
          account_id: accountId,
          token_hash: hashSecret(access),
          session_id: sessionId,
          kind: 'access',
          issued_at: now,
          expires_at: new Date(now.getTime() + this.#policy.accessTtlMs),
          used_at: null,
          rotated_to: null,
        },
        {
          account_id: accountId,
          token_hash: refreshHash,
          session_id: sessionId,
          kind: 'refresh',
          issued_at: now,
          expires_at: new Date(now.getTime() + this.#policy.refreshTtlMs),
          used_at: null,
          rotated_to: null,
        },
      ])
      .execute();
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: Math.floor(this.#policy.accessTtlMs / 1000),
      refresh_token: refresh,
      refreshHash,
    };
  }

  /** The principal behind an access token, or null when unknown, expired or revoked. */
  async resolve(accessToken: string | undefined): Promise<ClientPrincipal | null> {
    if (!accessToken?.startsWith('tsr_at_')) return null;
    const hash = hashSecret(accessToken);
    const key = hash.toString('hex');
    const now = this.#clock.now();
    const cached = this.#cache.get(key, now.getTime());
    if (cached) return cached;
    // the checksum spares the database a lookup of a mistyped or made-up token
    if (!isWellFormedSecret(accessToken, 'tsr_at_')) return null;
    const row = await this.#database.db
      .selectFrom('client_tokens as t')
      .innerJoin('client_sessions as s', (join) => join.onRef('s.account_id', '=', 't.account_id').onRef('s.id', '=', 't.session_id'))
      .innerJoin('team_members as m', (join) => join.onRef('m.account_id', '=', 's.account_id').onRef('m.id', '=', 's.member_id'))
      .innerJoin('accounts as a', 'a.account_id', 's.account_id')
      .select([
        's.account_id',
        's.member_id',
        's.id',
        's.login_token_id',
        's.grant_type',
        's.created_at',
        't.expires_at',
        'm.name',
        'm.connection_limit',
        'a.company_name',
        'a.plan_id',
      ])
      .where('t.token_hash', '=', hash)
      .where('t.kind', '=', 'access')
      .where('t.expires_at', '>', now)
      .where('s.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return null;
    const principal: ClientPrincipal = {
      kind: 'member',
      accountId: row.account_id,
      memberId: row.member_id,
      sessionId: row.id,
      loginTokenId: row.login_token_id,
      grant: row.grant_type,
      sessionCreatedAt: row.created_at,
      memberName: row.name,
      connectionLimit: row.connection_limit,
      companyName: row.company_name,
      planId: row.plan_id,
    };
    this.#cache.set(key, principal, now.getTime(), row.expires_at.getTime());
    return principal;
  }

  /** Call after a revocation commits: every node drops the access tokens it cached for it. */
  forgetEverywhere(change: ClientChange): Promise<void> {
    return this.#cache.forgetEverywhere(change);
  }
}

/**
 * Marks a member's desktop sessions revoked (all, or those of one login token, session or grant)
 * and closes the connections they held. Returns how many sessions ended.
 */
export async function revokeClientSessions(
  tx: Tx,
  where: { accountId: string; memberId?: string; loginTokenId?: string; sessionId?: string; grant?: ClientGrant },
  reason: string,
  now: Date,
): Promise<number> {
  let query = tx
    .updateTable('client_sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('account_id', '=', where.accountId)
    .where('revoked_at', 'is', null);
  if (where.memberId) query = query.where('member_id', '=', where.memberId);
  if (where.loginTokenId) query = query.where('login_token_id', '=', where.loginTokenId);
  if (where.sessionId) query = query.where('id', '=', where.sessionId);
  if (where.grant) query = query.where('grant_type', '=', where.grant);
  const ended = await query.returning('id').execute();
  await closeLeasesOf(tx, where.accountId, { sessionIds: ended.map((s) => s.id) }, now, reason);
  return ended.length;
}
