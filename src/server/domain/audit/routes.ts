import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AuditEventPage, AuditExportQuery, AuditSearchQuery } from '../../../shared/audit.ts';
import { AccountParams } from '../../../shared/contracts.ts';
import type { AccessRule } from '../../auth/access.ts';
import { exportAuditEvents, EXPORT_MEDIA_TYPES } from './export.ts';
import { searchAuditEvents } from './search.ts';

const tags = ['Audit log'];
/** Owners read the whole log; an owner's access key may too (e.g. a nightly export to a SIEM). */
const auditReaders: AccessRule = { scope: 'account', role: 'owner' };

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock } = app.services;

  app.get('/accounts/:accountId/audit-events', {
    config: { access: auditReaders },
    schema: {
      tags,
      operationId: 'searchAuditEvents',
      summary: 'Search the audit log: newest first, by actor, action, target and time, a page at a time',
      params: AccountParams,
      querystring: AuditSearchQuery,
      response: { 200: AuditEventPage },
    },
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query;
    return searchAuditEvents(database, request.params.accountId, filter, { limit, cursor });
  });

  app.get('/accounts/:accountId/audit-events/export', {
    config: { access: auditReaders },
    schema: {
      tags,
      operationId: 'exportAuditEvents',
      summary: 'Export the audit log (or a search of it) as CSV or JSON Lines, streamed',
      description:
        'Every event matching the filters as the log stood when the export began, newest first. The answer is streamed: ' +
        'any number of events, without a page limit.',
      params: AccountParams,
      querystring: AuditExportQuery,
      response: {
        200: {
          description: 'The events, one per row or line',
          content: { 'text/csv': { schema: z.string() }, 'application/jsonl': { schema: z.string() } },
        },
      },
    },
  }, (request, reply) => {
    const { format, ...filter } = request.query;
    const startedAt = clock.now();
    const name = `audit-${request.params.accountId}-${startedAt.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z.${format}`;
    void reply
      .type(EXPORT_MEDIA_TYPES[format])
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store')
      // a stream is sent as it is, never through the serializer; the schema's string is the body's type
      .send(exportAuditEvents(database, request.params.accountId, filter, format, startedAt) as unknown as string);
  });
};
