import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import {
  AddedTeamMember,
  CreateLoginTokenBody,
  CreateTeamMemberBody,
  IssuedLoginToken,
  LoginTokenList,
  LoginTokenSecret,
  MemberCredentialsBody,
  MemberParams,
  TeamMember,
  TeamOverview,
  TokenParams,
  UpdateTeamMemberBody,
} from '../../../shared/team.ts';
import { requireAccountRole, requireUser } from '../../auth/authorize.ts';
import { changeContext } from '../../http/context.ts';
import { createLoginToken, listLoginTokens, revealLoginToken, revokeLoginToken } from './login-tokens.ts';
import { addMember, removeMember, removeMemberCredentials, setMemberCredentials, teamOverview, updateMember } from './members.ts';

const tags = ['Team members'];
const noContent = { 204: z.null().describe('Done') };

export const memberRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, sealer, clientSessions } = app.services;

  app.get('/accounts/:accountId/members', {
    schema: { tags, operationId: 'getTeam', summary: 'The team members of the account, with the plan they share', params: AccountParams, response: { 200: TeamOverview } },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'viewer');
    return teamOverview(database, request.params.accountId, clock.now());
  });

  app.post('/accounts/:accountId/members', {
    schema: {
      tags,
      operationId: 'addTeamMember',
      summary: 'Add a team member; its first login token is generated and returned once',
      params: AccountParams,
      body: CreateTeamMemberBody,
      response: { 201: AddedTeamMember },
    },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    const added = await addMember(database, sealer, changeContext(request, clock), request.params.accountId, request.body);
    return reply.code(201).send(added);
  });

  app.patch('/accounts/:accountId/members/:memberId', {
    schema: { tags, operationId: 'updateTeamMember', summary: 'Rename a member or change its connection limit', params: MemberParams, body: UpdateTeamMemberBody, response: { 200: TeamMember } },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    return updateMember(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
  });

  app.delete('/accounts/:accountId/members/:memberId', {
    schema: { tags, operationId: 'removeTeamMember', summary: 'Remove a member: its tokens stop working and its desktop sessions end', params: MemberParams, response: noContent },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    await removeMember(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId);
    return reply.code(204).send(null);
  });

  app.put('/accounts/:accountId/members/:memberId/credentials', {
    schema: {
      tags,
      operationId: 'setMemberCredentials',
      summary: "Set the email and password the member's desktop client may sign in with",
      params: MemberParams,
      body: MemberCredentialsBody,
      response: { 200: TeamMember },
    },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    return setMemberCredentials(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
  });

  app.delete('/accounts/:accountId/members/:memberId/credentials', {
    schema: { tags, operationId: 'removeMemberCredentials', summary: 'Remove the member credentials; sessions opened with them end', params: MemberParams, response: { 200: TeamMember } },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    return removeMemberCredentials(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId);
  });

  app.get('/accounts/:accountId/members/:memberId/tokens', {
    schema: { tags, operationId: 'listLoginTokens', summary: "The member's login tokens", params: MemberParams, response: { 200: LoginTokenList } },
  }, async (request) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'viewer');
    return { items: await listLoginTokens(database, request.params.accountId, request.params.memberId, clock.now()) };
  });

  app.post('/accounts/:accountId/members/:memberId/tokens', {
    schema: {
      tags,
      operationId: 'createLoginToken',
      summary: 'Add a login token (label, optional expiry)',
      params: MemberParams,
      body: CreateLoginTokenBody,
      response: { 201: IssuedLoginToken },
    },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    const issued = await createLoginToken(database, sealer, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
    return reply.code(201).send(issued);
  });

  app.get('/accounts/:accountId/members/:memberId/tokens/:tokenId/secret', {
    schema: { tags, operationId: 'revealLoginToken', summary: 'The login token itself again, to copy (owners; audited)', params: TokenParams, response: { 200: LoginTokenSecret } },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    const { accountId, memberId, tokenId } = request.params;
    reply.header('cache-control', 'no-store');
    return { secret: await revealLoginToken(database, sealer, changeContext(request, clock), accountId, memberId, tokenId) };
  });

  app.delete('/accounts/:accountId/members/:memberId/tokens/:tokenId', {
    schema: { tags, operationId: 'revokeLoginToken', summary: 'Revoke a login token: desktop sessions opened with it end at once', params: TokenParams, response: noContent },
  }, async (request, reply) => {
    requireAccountRole(requireUser(request), request.params.accountId, 'owner');
    const { accountId, memberId, tokenId } = request.params;
    await revokeLoginToken(database, clientSessions, changeContext(request, clock), accountId, memberId, tokenId);
    return reply.code(204).send(null);
  });
};
