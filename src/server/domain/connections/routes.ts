import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import { ConnectionParams, OpenConnectionList } from '../../../shared/connections.ts';
import { accessOf, reachableOrganizations } from '../../auth/access.ts';
import { changeContext } from '../../http/context.ts';
import { closeConnectionAsOwner, listOpenConnections } from './leases.ts';

export const connectionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock } = app.services;

  app.get('/accounts/:accountId/connections', {
    config: { access: { scope: 'account', role: 'anyRole' } },
    schema: {
      tags: ['Connections'],
      operationId: 'listOpenConnections',
      summary: 'Open connections to the devices of the organizations the caller reaches: who, which device, since when',
      params: AccountParams,
      response: { 200: OpenConnectionList },
    },
  }, async (request) => {
    return { items: await listOpenConnections(database, request.params.accountId, clock.now(), reachableOrganizations(accessOf(request))) };
  });

  app.delete('/accounts/:accountId/connections/:leaseId', {
    config: { access: { scope: 'organization', role: 'manager', of: 'connection' } },
    schema: {
      tags: ['Connections'],
      operationId: 'closeConnection',
      summary: 'Close an open connection; its slot is free at once',
      params: ConnectionParams,
      response: { 204: z.null().describe('Closed') },
    },
  }, async (request, reply) => {
    await closeConnectionAsOwner(database, changeContext(request, clock), request.params.accountId, request.params.leaseId);
    return reply.code(204).send(null);
  });
};
