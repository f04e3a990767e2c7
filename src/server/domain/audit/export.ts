import { Readable, Transform } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { AuditEvent, AuditExportFormat, AuditFilter } from '../../../shared/audit.ts';
import type { Database } from '../../db/database.ts';
import { positionOf, readAuditEvents, type AuditPosition } from './search.ts';

/**
 * Exporting an account's audit log as a stream: events are read newest first in batches by the
 * same keyset as the search, each batch in a short transaction of its own, and written as they
 * come. The stream is pulled, so a slow reader holds back the reading and memory stays at a
 * batch or two however long the log is.
 */

/** Events read per query; large enough that the per-query cost vanishes, small enough to hold. */
export const EXPORT_BATCH = 1000;

/** Every event of the account matching `filter` at the moment the export starts, newest first. */
async function* auditEventsOf(database: Database, accountId: string, filter: AuditFilter, startedAt: Date): AsyncGenerator<AuditEvent> {
  // Events written after the export began are left out: it shows the log as it stood then
  // (`to` is exclusive: the bound is the millisecond after the start).
  const end = new Date(startedAt.getTime() + 1);
  const to = filter.to && new Date(filter.to) < end ? filter.to : end.toISOString();
  const bounded = { ...filter, to };
  let after: AuditPosition | null = null;
  for (;;) {
    const batch = await database.inTenant(accountId, (tx) => readAuditEvents(tx, accountId, bounded, after, EXPORT_BATCH));
    yield* batch;
    if (batch.length < EXPORT_BATCH) return;
    after = positionOf(batch.at(-1)!);
  }
}

const CSV_COLUMNS = [
  'occurred_at',
  'action',
  'actor_type',
  'actor_id',
  'actor_name',
  'target_type',
  'target_id',
  'client_address',
  'user_agent',
  'request_id',
  'before',
  'after',
  'id',
] as const;

function csvRecord(event: AuditEvent): Record<(typeof CSV_COLUMNS)[number], string> {
  return {
    occurred_at: event.occurredAt,
    action: event.action,
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? '',
    actor_name: event.actor.name ?? '',
    target_type: event.target.type,
    target_id: event.target.id ?? '',
    client_address: event.clientAddress ?? '',
    user_agent: event.userAgent ?? '',
    request_id: event.requestId ?? '',
    before: event.before === undefined ? '' : JSON.stringify(event.before),
    after: event.after === undefined ? '' : JSON.stringify(event.after),
    id: event.id,
  };
}

export const EXPORT_MEDIA_TYPES: Record<AuditExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/jsonl; charset=utf-8',
};

/** The export as a byte stream in `format`; errors while reading end the stream with that error. */
export function exportAuditEvents(database: Database, accountId: string, filter: AuditFilter, format: AuditExportFormat, startedAt: Date): Readable {
  const events = Readable.from(auditEventsOf(database, accountId, filter, startedAt));
  const encoder: Transform =
    format === 'csv'
      ? // Names and user agents are user input: a cell starting with = + - @ is quoted as text,
        // so a spreadsheet never runs it as a formula.
        stringify({ header: true, columns: [...CSV_COLUMNS], escape_formulas: true })
      : new Transform({
          writableObjectMode: true,
          transform(event: AuditEvent, _encoding, done) {
            done(null, `${JSON.stringify(event)}\n`);
          },
        });
  const mapped = format === 'csv' ? events.map(csvRecord) : events;
  mapped.on('error', (error) => encoder.destroy(error));
  return mapped.pipe(encoder);
}
