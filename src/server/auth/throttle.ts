import { sql } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { AppError } from '../http/errors.ts';

export interface ThrottleRule {
  /** Failures allowed inside the window before attempts are refused. */
  limit: number;
  windowMs: number;
  /** First refusal lasts this long, doubling with every further failure up to maxBlockMs. */
  blockMs: number;
  maxBlockMs: number;
}

export const SIGN_IN_RULES = {
  email: { limit: 5, windowMs: 15 * 60_000, blockMs: 30_000, maxBlockMs: 15 * 60_000 },
  address: { limit: 50, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 },
} satisfies Record<string, ThrottleRule>;

export type ThrottleKey = { key: string; rule: ThrottleRule };

/**
 * Guessing is counted in the database, so every node sees the same count. A key is a normalized
 * email or a client address; an unknown email is counted exactly like a known one.
 */
export class Throttle {
  readonly #database: Database;
  readonly #clock: Clock;

  constructor(database: Database, clock: Clock) {
    this.#database = database;
    this.#clock = clock;
  }

  /**
   * Refuses with 429 and Retry-After while any key is blocked; otherwise returns the keys that
   * have failures on record (so a success clears only what exists).
   */
  async check(keys: ThrottleKey[]): Promise<Set<string>> {
    const now = this.#clock.now();
    const rows = await this.#database.db
      .selectFrom('sign_in_throttle')
      .select(['key', 'blocked_until'])
      .where('key', 'in', keys.map((k) => k.key))
      .execute();
    const until = Math.max(0, ...rows.map((r) => r.blocked_until?.getTime() ?? 0));
    if (until > now.getTime()) {
      const seconds = Math.ceil((until - now.getTime()) / 1000);
      throw new AppError('rate_limited', `Too many attempts. Try again in ${seconds} seconds.`, {
        headers: { 'retry-after': String(seconds) },
      });
    }
    return new Set(rows.map((r) => r.key));
  }

  async fail(keys: ThrottleKey[]): Promise<void> {
    const now = this.#clock.now();
    for (const { key, rule } of keys) {
      const windowStart = new Date(now.getTime() - rule.windowMs);
      // failures counts within the window; the block doubles with each failure past the limit.
      await sql`
        insert into sign_in_throttle as t (key, failures, window_start, blocked_until)
        values (${key}, 1, ${now}, null)
        on conflict (key) do update set
          failures = case when t.window_start < ${windowStart} then 1 else t.failures + 1 end,
          window_start = case when t.window_start < ${windowStart} then ${now} else t.window_start end,
          blocked_until = case
            when t.window_start >= ${windowStart} and t.failures + 1 >= ${rule.limit}
            then ${now}::timestamptz + least(
              ${rule.maxBlockMs}::bigint,
              ${rule.blockMs}::bigint * power(2, t.failures + 1 - ${rule.limit})::bigint
            ) * interval '1 millisecond'
            else t.blocked_until
          end`.execute(this.#database.db);
    }
  }

  async clear(key: string): Promise<void> {
    await this.#database.db.deleteFrom('sign_in_throttle').where('key', '=', key).execute();
  }
}
