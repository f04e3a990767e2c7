import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.ts';
import type { Database } from './db/database.ts';
import { pruneAuditLog } from './domain/audit/retention.ts';
import { rollUpUsage } from './domain/billing/usage.ts';

/**
 * Periodic work of a serving node, once right after the start and then every hour
 * (TESSERA_HOUSEKEEPING_MINUTES): the daily
 * usage roll-up of every account (idempotent: a node that runs it again writes the same rows)
 * and the audit log's retention (whose advisory lock lets one node prune at a time). Only a
 * serving process runs it (main.ts), never the test or benchmark apps, which call each step
 * directly.
 */

export interface HousekeepingOptions {
  database: Database;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Audit events older than this many days are deleted; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Minutes between runs; 0 runs nothing. */
  everyMinutes: number;
}

/** Starts the schedule; the returned function stops it, ending a run in progress after its current batch. */
export function startHousekeeping(options: HousekeepingOptions): () => Promise<void> {
  if (options.everyMinutes === 0) return async () => {};
  let running: Promise<void> = Promise.resolve();
  const stopping = new AbortController();
  const run = async () => {
    try {
      await rollUpUsage(options.database, options.clock.now(), stopping.signal);
    } catch (error) {
      if (!stopping.signal.aborted) options.log.error({ err: error }, 'usage roll-up failed');
    }
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
  const timer = setInterval(tick, options.everyMinutes * 60_000);
  timer.unref();
  return async () => {
    stopping.abort();
    clearInterval(timer);
    await running;
  };
}
