import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccessKeyList, AccessKeyParams, CreateAccessKeyBody, IssuedAccessKey } from '../../../shared/access-keys.ts';
import { AccountParams } from '../../../shared/contracts.ts';
import { changeContext } from '../../http/context.ts';
import { createAccessKey, listAccessKeys, revokeAccessKey } from './access-keys.ts';

/** Owners manage keys from the portal; a key never makes, lists or revokes keys (people only). */
const ownersInPerson = { access: { scope: 'account', role: 'owner', people: true } } as const;

export const accessKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, accessKeys } = app.services;
  const tags = ['Access keys'];

  app.get('/accounts/:accountId/access-keys', {
    config: ownersInPerson,
    schema: { tags, operationId: 'listAccessKeys', summary: 'The access keys of the account (never their secrets)', params: AccountParams, response: { 200: AccessKeyList } },
  }, async (request) => ({ items: await listAccessKeys(database, request.params.accountId, clock.now()) }));

  app.post('/accounts/:accountId/access-keys', {
    config: ownersInPerson,
    schema: {
      tags,
      operationId: 'createAccessKey',
      summary: 'Make an access key with a role at one scope and an optional expiry; the secret is in this answer only',
      params: AccountParams,
      body: CreateAccessKeyBody,
      response: { 201: IssuedAccessKey },
    },
  }, async (request, reply) => reply.code(201).send(await createAccessKey(database, changeContext(request, clock), request.params.accountId, request.body)));

  app.delete('/accounts/:accountId/access-keys/:keyId', {
    config: ownersInPerson,
    schema: { tags, operationId: 'revokeAccessKey', summary: 'Revoke an access key: it stops working at once on every node', params: AccessKeyParams, response: { 204: z.null().describe('Done') } },
  }, async (request, reply) => {
    const { accountId, keyId } = request.params;
    await revokeAccessKey(database, changeContext(request, clock), accountId, keyId);
    await accessKeys.forgetEverywhere({ key: keyId });
    return reply.code(204).send(null);
  });
};
