import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.ts';
import type { Database } from './db/database.ts';
import { pruneAuditLog } from './domain/audit/retention.ts';

/**
 * Periodic work of a serving node: today, the audit log's retention. It runs once right after
 * the start and then every hour; several nodes may run it, and the prune's advisory lock lets
 * only one work at a time. Only a serving process runs it (main.ts), never the test or
 * benchmark apps, which call the prune directly.
 */

const EVERY_MS = 3600_000;

export interface HousekeepingOptions {
  database: Database;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Audit events older than this many days are deleted; 0 keeps them forever. */
  auditRetentionDays: number;
}

/** Starts the schedule; the returned function stops it, ending a run in progress after its current batch. */
export function startHousekeeping(options: HousekeepingOptions): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const stopping = new AbortController();
  const run = async () => {
    if (options.auditRetentionDays === 0) return;
    const cutoff = new Date(options.clock.now().getTime() - options.auditRetentionDays * 86_400_000);
    try {
      const result = await pruneAuditLog(options.database, cutoff, stopping.signal);
      if (result.accountEvents + result.userEvents > 0) options.log.info({ ...result, cutoff }, 'audit events past their retention deleted');
    } catch (error) {
      // the next run tries again; a failing prune must not take the node down
      if (!stopping.signal.aborted) options.log.error({ err: error }, 'audit retention failed');
    }
  };
  const tick = () => {
    running = running.then(run);
  };
  tick();
  const timer = setInterval(tick, EVERY_MS);
  timer.unref();
  return async () => {
    stopping.abort();
    clearInterval(timer);
    await running;
  };
}
