import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Account, AccountParams, CreateAccountBody, UpdateAccountBody } from '../../../shared/contracts.ts';
import { requireUser } from '../../auth/access.ts';
import { changeContext } from '../../http/context.ts';
import { fieldError, forbidden } from '../../http/errors.ts';
import { hasTwoFactor } from '../users/two-factor.ts';
import { createAccount, getAccount, updateAccount } from './accounts.ts';

export const accountRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, sessions, clientSessions, clock, plans } = app.services;

  app.post('/accounts', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Accounts'],
      operationId: 'createAccount',
      summary: 'Create another account; the caller becomes its owner',
      body: CreateAccountBody,
      response: { 201: Account },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const account = await createAccount(database, changeContext(request, clock), principal.user.id, request.body, plans.defaultId);
    await sessions.forgetEverywhere({ user: principal.user.id });
    return reply.code(201).send(account);
  });

  app.get('/accounts/:accountId', {
    config: { access: { scope: 'account', role: 'anyRole' } },
    schema: {
      tags: ['Accounts'],
      operationId: 'getAccount',
      summary: "The account's profile (any member)",
      params: AccountParams,
      response: { 200: Account },
    },
  }, async (request) => {
    return getAccount(database, request.params.accountId);
  });

  app.patch('/accounts/:accountId', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: {
      tags: ['Accounts'],
      operationId: 'updateAccount',
      summary: "Change the account's profile: company name, country, email notifications, the two-factor requirement (owners)",
      params: AccountParams,
      body: UpdateAccountBody,
      response: { 200: Account },
    },
  }, async (request) => {
    if (request.body.requireTwoFactor !== undefined) {
      // a security policy is set by a person: a leaked key must not be able to turn it off
      if (request.accessKey) throw forbidden('Access keys cannot change the two-factor requirement: an owner does, signed in to the portal.');
      // as GitHub asks of organization owners: one cannot require what one does not use
      if (request.body.requireTwoFactor && !(await hasTwoFactor(database.db, requireUser(request).user.id))) {
        throw fieldError('requireTwoFactor', 'own_two_factor_first', 'Set up two-factor sign-in for yourself first (Profile, Security).');
      }
    }
    const account = await updateAccount(database, changeContext(request, clock), request.params.accountId, request.body);
    await sessions.forgetEverywhere({ account: account.id });
    await clientSessions.forgetEverywhere({ account: account.id });
    return account;
  });
};
