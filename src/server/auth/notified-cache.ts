import { sql } from 'kysely';
import type { Database } from '../db/database.ts';

/**
 * A per-node cache of resolved credentials (portal sessions, desktop access tokens) that every
 * node empties together: a change is announced with NOTIFY and each node drops the entries it
 * matches. The entry lifetime bounds staleness should a notification ever be lost.
 */
export class NotifiedCache<V, C> {
  readonly #database: Database;
  readonly #channel: string;
  readonly #ttlMs: number;
  readonly #limit: number;
  readonly #matches: (value: V, change: C) => boolean;
  readonly #entries = new Map<string, { value: V; freshUntil: number }>();
  #unlisten: (() => Promise<void>) | null = null;

  constructor(options: { database: Database; channel: string; ttlMs: number; limit?: number; matches: (value: V, change: C) => boolean }) {
    this.#database = options.database;
    this.#channel = options.channel;
    this.#ttlMs = options.ttlMs;
    this.#limit = options.limit ?? 10_000;
    this.#matches = options.matches;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#database.listen(
      this.#channel,
      (payload) => {
        try {
          this.forget(JSON.parse(payload) as C);
        } catch {
          this.#entries.clear();
        }
      },
      // the listening connection dropped and is back: any change announced meanwhile was missed
      () => this.#entries.clear(),
    );
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#entries.clear();
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.freshUntil > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  /** Keeps a value until the cache lifetime or `notAfter`, whichever comes first. */
  set(key: string, value: V, now: number, notAfter = Number.POSITIVE_INFINITY): void {
    if (this.#entries.size >= this.#limit) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, { value, freshUntil: Math.min(now + this.#ttlMs, notAfter) });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops this node's matching entries. */
  forget(change: C): void {
    for (const [key, entry] of this.#entries) {
      if (this.#matches(entry.value, change)) this.#entries.delete(key);
    }
  }

  /** Call after a change commits: drops this node's entries at once and tells the other nodes. */
  async forgetEverywhere(change: C): Promise<void> {
    this.forget(change);
    await sql`select pg_notify(${this.#channel}, ${JSON.stringify(change)})`.execute(this.#database.db);
  }
}
