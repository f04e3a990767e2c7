import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { Health, Readiness } from '../../shared/contracts.ts';
import { migrationsApplied } from '../db/migrate.ts';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database } = app.services;
  let migrated = false;

  app.get('/healthz', {
    schema: { tags: ['Operations'], operationId: 'health', summary: 'The process is up', response: { 200: Health }, security: [] },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags: ['Operations'],
      operationId: 'readiness',
      summary: 'The database answers and every migration of this build is applied',
      response: { 200: Readiness, 503: Readiness },
      security: [],
    },
  }, async (_request, reply) => {
    let reachable = true;
    try {
      await sql`select 1`.execute(database.db);
      // once applied, migrations stay applied: stop asking
      migrated ||= await migrationsApplied(database);
    } catch {
      reachable = false;
    }
    const ready = reachable && migrated;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      database: reachable ? 'ok' : 'unreachable',
      migrations: migrated ? 'applied' : 'pending',
    });
  });
};
