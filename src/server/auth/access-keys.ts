import type { Role } from '../../shared/contracts.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import type { ScopedRole } from '../db/schema.ts';
import type { AccountAccess } from './access.ts';
import { NotifiedCache } from './notified-cache.ts';

/** A program calling the management API with an access key, as every request sees it. */
export interface KeyPrincipal {
  kind: 'key';
  id: string;
  name: string;
  accountId: string;
  role: Role;
  /** The key's reach: its one account, with its role on the account or on a group or organization. */
  access: ReadonlyMap<string, AccountAccess>;
}

/** What changed, so every node drops what it cached: one key (revoked), or every key of an account (reach changed). */
export type KeyChange = { key: string } | { account: string };

/** last_used_at is written at most this often per key, not on every request. */
const TOUCH_EVERY_MS = 60_000;

interface Cached {
  principal: KeyPrincipal;
  lastUsedAt: number;
}

function matches(entry: Cached, change: KeyChange): boolean {
  return 'key' in change ? entry.principal.id === change.key : entry.principal.accountId === change.account;
}

export const ACCESS_KEY_PREFIX = 'tsr_ak_';

/**
 * Resolves access keys: the SHA-256 of the bearer secret finds the key, a per-node cache keeps the
 * resolved principal (its group expanded to organizations), and NOTIFY empties every node's cache
 * on revocation or when the account's reach changes; the cache lifetime bounds staleness should
 * a notification be lost. A key past its expiry stops at once: the cache never outlives it.
 */
export class AccessKeyStore {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #cache: NotifiedCache<Cached, KeyChange>;

  constructor(database: Database, clock: Clock, cacheMs: number) {
    this.#database = database;
    this.#clock = clock;
    this.#cache = new NotifiedCache({ database, channel: 'tessera_access_keys', ttlMs: cacheMs, matches });
  }

  start(): Promise<void> {
    return this.#cache.start();
  }

  stop(): Promise<void> {
    return this.#cache.stop();
  }

  /** The key's principal from the cache alone, or undefined when it must be read (`load`). */
  cached(secretHash: Buffer): KeyPrincipal | undefined {
    const now = this.#clock.now().getTime();
    const entry = this.#cache.get(secretHash.toString('hex'), now);
    return entry && now - entry.lastUsedAt < TOUCH_EVERY_MS ? entry.principal : undefined;
  }

  /**
   * Reads the key by the hash of its secret (the caller has checked the secret is well formed),
   * notes when it was used, and caches it; null when unknown, expired or revoked.
   */
  async load(secretHash: Buffer): Promise<KeyPrincipal | null> {
    const cacheKey = secretHash.toString('hex');
    const now = this.#clock.now();
    const row = await this.#database.db
      .selectFrom('access_keys')
      .select(['account_id', 'id', 'name', 'role', 'group_id', 'organization_id', 'expires_at', 'last_used_at'])
      .where('secret_hash', '=', secretHash)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    if (!row) {
      this.#cache.delete(cacheKey);
      return null;
    }
    let lastUsedAt = row.last_used_at?.getTime() ?? 0;
    if (now.getTime() - lastUsedAt >= TOUCH_EVERY_MS) {
      await this.#database.db.updateTable('access_keys').set({ last_used_at: now }).where('account_id', '=', row.account_id).where('id', '=', row.id).execute();
      lastUsedAt = now.getTime();
    }
    const scoped = row.role as ScopedRole;
    const organizations = new Map<string, ScopedRole>();
    const groups = new Map<string, ScopedRole>();
    if (row.organization_id) organizations.set(row.organization_id, scoped);
    if (row.group_id) {
      groups.set(row.group_id, scoped);
      const members = await this.#database.db
        .selectFrom('organization_group_members')
        .select('organization_id')
        .where('account_id', '=', row.account_id)
        .where('group_id', '=', row.group_id)
        .execute();
      for (const m of members) organizations.set(m.organization_id, scoped);
    }
    const accountRole = row.group_id || row.organization_id ? null : row.role;
    const principal: KeyPrincipal = {
      kind: 'key',
      id: row.id,
      name: row.name,
      accountId: row.account_id,
      role: row.role,
      access: new Map([[row.account_id, { accountId: row.account_id, accountRole, organizations, groups }]]),
    };
    this.#cache.set(cacheKey, { principal, lastUsedAt }, now.getTime(), row.expires_at?.getTime());
    return principal;
  }

  /** Call after a change commits: every node drops what it cached about it. */
  forgetEverywhere(change: KeyChange): Promise<void> {
    return this.#cache.forgetEverywhere(change);
  }
}
