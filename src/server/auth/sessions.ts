import type { Clock } from '../clock.ts';
import type { Database, Tx } from '../db/database.ts';
import { loadAccess, type AccountAccess } from './access.ts';
import type { AccountMembership, User } from '../../shared/contracts.ts';
import { NotifiedCache } from './notified-cache.ts';
import { generateSecret, hashSecret, isWellFormedSecret } from './secrets.ts';

/** A person signed in to the portal, as every request sees them. */
export interface PortalPrincipal {
  kind: 'user';
  /** Hex SHA-256 of the session secret; never the secret itself. */
  sessionKey: string;
  user: User;
  accounts: AccountMembership[];
  /** What the person reaches in each of their accounts (auth/access.ts decides with it). */
  access: ReadonlyMap<string, AccountAccess>;
  /** The second factor (docs/two-factor.md); `enrolmentPending` limits the session to enrolment. */
  twoFactor: { enabled: boolean; required: boolean; enrolmentPending: boolean };
}

/**
 * What changed, so every node drops what it cached about it: one session, everything of one
 * person, or everything that shows one account.
 */
export type SessionChange = { session: string } | { user: string } | { account: string };

/** last_seen_at is written at most this often per session, not on every request. */
const TOUCH_EVERY_MS = 60_000;

interface Cached {
  principal: PortalPrincipal;
  lastSeenAt: number;
}

function matches(entry: Cached, change: SessionChange): boolean {
  if ('session' in change) return entry.principal.sessionKey === change.session;
  if ('user' in change) return entry.principal.user.id === change.user;
  return entry.principal.access.has(change.account);
}

export interface SessionPolicy {
  idleMs: number;
  maxAgeMs: number;
  cacheMs: number;
}

export function toUser(row: { id: string; email: string; name: string; email_verified_at: Date | null; created_at: Date }): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.email_verified_at !== null,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Portal sessions: an opaque secret in a cookie, its hash in the database, and a small per-node
 * cache of resolved principals. Changes are announced with NOTIFY so other nodes drop their copy;
 * the cache lifetime bounds staleness if a notification is ever missed.
 */
export class SessionStore {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #policy: SessionPolicy;
  readonly #cache: NotifiedCache<Cached, SessionChange>;

  constructor(database: Database, clock: Clock, policy: SessionPolicy) {
    this.#database = database;
    this.#clock = clock;
    this.#policy = policy;
    this.#cache = new NotifiedCache({ database, channel: 'tessera_sessions', ttlMs: policy.cacheMs, matches });
  }

  start(): Promise<void> {
    return this.#cache.start();
  }

  stop(): Promise<void> {
    return this.#cache.stop();
  }

  /** Opens a session inside the caller's transaction; returns the secret for the cookie. */
  async create(tx: Tx, userId: string, client: { address: string | null; userAgent: string | null }): Promise<{ secret: string; key: string }> {
    const secret = generateSecret('tsr_ses_');
    const idHash = hashSecret(secret);
    const now = this.#clock.now();
    await tx
      .insertInto('sessions')
      .values({
        id_hash: idHash,
        user_id: userId,
        created_at: now,
        last_seen_at: now,
        expires_at: new Date(now.getTime() + this.#policy.maxAgeMs),
        client_address: client.address,
        user_agent: client.userAgent?.slice(0, 512) ?? null,
      })
      .execute();
    return { secret, key: idHash.toString('hex') };
  }

  /** The principal for a cookie value, or null when absent, malformed, expired or revoked. */
  async resolve(secret: string | undefined): Promise<PortalPrincipal | null> {
    if (!secret?.startsWith('tsr_ses_')) return null;
    const idHash = hashSecret(secret);
    const key = idHash.toString('hex');
    const now = this.#clock.now().getTime();
    const cached = this.#cache.get(key, now);
    if (cached && now - cached.lastSeenAt < TOUCH_EVERY_MS) return cached.principal;
    // the checksum spares the database a lookup of a mistyped or made-up cookie
    if (!isWellFormedSecret(secret, 'tsr_ses_')) return null;
    return this.#load(idHash, key, now);
  }

  async #load(idHash: Buffer, key: string, now: number): Promise<PortalPrincipal | null> {
    const idleCutoff = new Date(now - this.#policy.idleMs);
    const nowDate = new Date(now);
    const row = await this.#database.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .leftJoin('two_factor_credentials as f', 'f.user_id', 'u.id')
      .select(['u.id', 'u.email', 'u.name', 'u.email_verified_at', 'u.created_at', 's.last_seen_at', 'f.confirmed_at as two_factor_confirmed_at'])
      .select((eb) => eb.exists(eb.selectFrom('passkeys as p').select('p.id').whereRef('p.user_id', '=', 'u.id')).as('has_passkey'))
      .where('s.id_hash', '=', idHash)
      .where('s.expires_at', '>', nowDate)
      .where('s.last_seen_at', '>', idleCutoff)
      .executeTakeFirst();
    if (!row) {
      this.#cache.delete(key);
      return null;
    }
    let lastSeenAt = row.last_seen_at.getTime();
    if (now - lastSeenAt >= TOUCH_EVERY_MS) {
      await this.#database.db.updateTable('sessions').set({ last_seen_at: nowDate }).where('id_hash', '=', idHash).execute();
      lastSeenAt = now;
    }
    const { accounts, access, twoFactorRequired } = await loadAccess(this.#database.db, row.id);
    // a passkey is a second factor as much as the app is
    const enabled = row.two_factor_confirmed_at !== null || Boolean(row.has_passkey);
    const twoFactor = { enabled, required: twoFactorRequired, enrolmentPending: twoFactorRequired && !enabled };
    const principal: PortalPrincipal = { kind: 'user', sessionKey: key, user: toUser(row), accounts, access, twoFactor };
    this.#cache.set(key, { principal, lastSeenAt }, now);
    return principal;
  }

  /** Ends one session (sign-out); follow with forgetEverywhere once committed. */
  async revoke(tx: Tx, key: string): Promise<void> {
    await tx.deleteFrom('sessions').where('id_hash', '=', Buffer.from(key, 'hex')).execute();
  }

  /** Ends every session of a person, optionally keeping one; follow with forgetEverywhere. */
  async revokeAllOf(tx: Tx, userId: string, except?: string): Promise<void> {
    let query = tx.deleteFrom('sessions').where('user_id', '=', userId);
    if (except) query = query.where('id_hash', '!=', Buffer.from(except, 'hex'));
    await query.execute();
  }

  /** Call after a change commits: every node drops what it cached about it. */
  forgetEverywhere(change: SessionChange): Promise<void> {
    return this.#cache.forgetEverywhere(change);
  }
}
