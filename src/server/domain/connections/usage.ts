import type { ClientPrincipal } from '../../client-api/sessions.ts';
import type { Clock } from '../../clock.ts';
import type { Database } from '../../db/database.ts';
import { connectionsInUse } from './leases.ts';

/**
 * Connections in use, as the client reads them about itself: counted at most once a second per
 * member and node, so a client polling /me costs no query (display only; limits are enforced
 * by the database when a connection opens).
 */
export class UsageSnapshots {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #snapshots = new Map<string, { at: number; value: Promise<{ account: number; member: number }> }>();

  constructor(database: Database, clock: Clock) {
    this.#database = database;
    this.#clock = clock;
  }

  get(principal: ClientPrincipal): Promise<{ account: number; member: number }> {
    const now = this.#clock.now();
    const known = this.#snapshots.get(principal.memberId);
    if (known && now.getTime() - known.at < 1000) return known.value;
    if (this.#snapshots.size > 50_000) this.#snapshots.clear();
    const value = this.#database.inTenant(principal.accountId, (tx) => connectionsInUse(tx, principal.accountId, principal.memberId, now));
    this.#snapshots.set(principal.memberId, { at: now.getTime(), value });
    value.catch(() => this.#snapshots.delete(principal.memberId));
    return value;
  }
}
