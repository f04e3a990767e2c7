import { sql } from 'kysely';
import type { Database, Tx } from '../../db/database.ts';

/**
 * Retention of the audit log: events older than the configured number of days are deleted, in
 * small batches, each its own short transaction, so pruning a large backlog never holds a lock
 * (or, on PGlite, the one connection) for long. Account events are pruned account by account
 * through the (account_id, occurred_at) index: every query stays on one account, which is also
 * what a sharded database (docs/scaling.md) routes to one shard.
 */

export const PRUNE_BATCH = 5000;
/** Nodes sharing a database prune one at a time: a batch runs only under this advisory lock. */
export const PRUNE_LOCK_KEY = 0x7e55e2a;

export interface PruneResult {
  accountEvents: number;
  userEvents: number;
  /** False when another node was pruning at the same moment and this run gave way, or it was stopped. */
  completed: boolean;
}

/** Deletes up to PRUNE_BATCH rows per transaction while `batch` finds some; false if the lock was taken. */
async function inBatches(database: Database, batch: (tx: Tx) => Promise<number>, counted: (n: number) => void, signal: AbortSignal | undefined): Promise<boolean> {
  for (;;) {
    if (signal?.aborted) return false;
    const deleted = await database.inSystem(async (tx) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${PRUNE_LOCK_KEY}) as locked`.execute(tx);
      return rows[0]!.locked ? batch(tx) : null;
    });
    if (deleted === null) return false;
    counted(deleted);
    if (deleted < PRUNE_BATCH) return true;
  }
}

/** Deletes every audit event (account and personal) that happened before `cutoff`; `signal` stops it between batches. */
export async function pruneAuditLog(database: Database, cutoff: Date, signal?: AbortSignal): Promise<PruneResult> {
  const result: PruneResult = { accountEvents: 0, userEvents: 0, completed: true };
  const accounts = await database.db.selectFrom('accounts').select('account_id').orderBy('account_id').execute();
  for (const { account_id: accountId } of accounts) {
    const done = await inBatches(
      database,
      async (tx) => {
        const deleted = await sql`
          delete from audit_events
          where account_id = ${accountId}
            and id in (select id from audit_events where account_id = ${accountId} and occurred_at < ${cutoff} limit ${PRUNE_BATCH})`.execute(tx);
        return Number(deleted.numAffectedRows ?? 0);
      },
      (n) => (result.accountEvents += n),
      signal,
    );
    if (!done) return { ...result, completed: false };
  }
  const done = await inBatches(
    database,
    async (tx) => {
      const deleted = await sql`
        delete from user_audit_events
        where (user_id, id) in (select user_id, id from user_audit_events where occurred_at < ${cutoff} limit ${PRUNE_BATCH})`.execute(tx);
      return Number(deleted.numAffectedRows ?? 0);
    },
    (n) => (result.userEvents += n),
    signal,
  );
  return { ...result, completed: done };
}
