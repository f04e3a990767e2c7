import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import { ConnectionParams, OpenConnectionList } from '../../../shared/connections.ts';
import { requireAccountRole, requireUser } from '../../auth/authorize.ts';
import { changeContext } from '../../http/context.ts';
import { closeConnectionAsOwner, listOpenConnections } from './leases.ts';

export const connectionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock } = app.services;

  app.get('/accounts/:accountId/connections', {
    schema: {
      tags: ['Connections'],
      operationId: 'listOpenConnections',
      summary: 'Open connections of the account: who, which device, since when (owners and managers)',
      params: AccountParams,
      response: { 200: OpenConnectionList },
    },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'manager');
    return { items: await listOpenConnections(database, request.params.accountId, clock.now()) };
  });

  app.delete('/accounts/:accountId/connections/:leaseId', {
    schema: {
      tags: ['Connections'],
      operationId: 'closeConnection',
      summary: 'Close an open connection; its slot is free at once',
      params: ConnectionParams,
      response: { 204: z.null().describe('Closed') },
    },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'manager');
    await closeConnectionAsOwner(database, changeContext(request, clock), request.params.accountId, request.params.leaseId);
    return reply.code(204).send(null);
  });
};
