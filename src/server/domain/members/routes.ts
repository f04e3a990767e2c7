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
import { actorName, changeContext } from '../../http/context.ts';
import { createLoginToken, listLoginTokens, revealLoginToken, revokeLoginToken } from './login-tokens.ts';
import { addMember, removeMember, removeMemberCredentials, setMemberCredentials, teamOverview, updateMember } from './members.ts';

const tags = ['Team members'];
const noContent = { 204: z.null().describe('Done') };

export const memberRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, sealer, clientSessions, plans, notifier } = app.services;

  app.get('/accounts/:accountId/members', {
    config: { access: { scope: 'account', role: 'viewer' } },
    schema: { tags, operationId: 'getTeam', summary: 'The team members of the account, with the plan they share', params: AccountParams, response: { 200: TeamOverview } },
  }, async (request) => {
    return teamOverview(database, plans, request.params.accountId, clock.now());
  });

  app.post('/accounts/:accountId/members', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: {
      tags,
      operationId: 'addTeamMember',
      summary: 'Add a team member; its first login token is generated and returned once',
      params: AccountParams,
      body: CreateTeamMemberBody,
      response: { 201: AddedTeamMember },
    },
  }, async (request, reply) => {
    const added = await addMember(database, sealer, plans, changeContext(request, clock), request.params.accountId, request.body);
    void notifier.notify(request.params.accountId, { kind: 'member_added', memberName: added.member.name, by: actorName(request) });
    return reply.code(201).send(added);
  });

  app.patch('/accounts/:accountId/members/:memberId', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'updateTeamMember', summary: 'Rename a member or change its connection limit', params: MemberParams, body: UpdateTeamMemberBody, response: { 200: TeamMember } },
  }, async (request) => {
    return updateMember(database, clientSessions, plans, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
  });

  app.delete('/accounts/:accountId/members/:memberId', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'removeTeamMember', summary: 'Remove a member: its tokens stop working and its desktop sessions end', params: MemberParams, response: noContent },
  }, async (request, reply) => {
    const removed = await removeMember(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId);
    void notifier.notify(request.params.accountId, { kind: 'member_removed', memberName: removed.name, by: actorName(request) });
    return reply.code(204).send(null);
  });

  app.put('/accounts/:accountId/members/:memberId/credentials', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: {
      tags,
      operationId: 'setMemberCredentials',
      summary: "Set the email and password the member's desktop client may sign in with",
      params: MemberParams,
      body: MemberCredentialsBody,
      response: { 200: TeamMember },
    },
  }, async (request) => {
    return setMemberCredentials(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
  });

  app.delete('/accounts/:accountId/members/:memberId/credentials', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'removeMemberCredentials', summary: 'Remove the member credentials; sessions opened with them end', params: MemberParams, response: { 200: TeamMember } },
  }, async (request) => {
    return removeMemberCredentials(database, clientSessions, changeContext(request, clock), request.params.accountId, request.params.memberId);
  });

  app.get('/accounts/:accountId/members/:memberId/tokens', {
    config: { access: { scope: 'account', role: 'viewer' } },
    schema: { tags, operationId: 'listLoginTokens', summary: "The member's login tokens", params: MemberParams, response: { 200: LoginTokenList } },
  }, async (request) => {
    return { items: await listLoginTokens(database, request.params.accountId, request.params.memberId, clock.now()) };
  });

  app.post('/accounts/:accountId/members/:memberId/tokens', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: {
      tags,
      operationId: 'createLoginToken',
      summary: 'Add a login token (label, optional expiry)',
      params: MemberParams,
      body: CreateLoginTokenBody,
      response: { 201: IssuedLoginToken },
    },
  }, async (request, reply) => {
    const issued = await createLoginToken(database, sealer, changeContext(request, clock), request.params.accountId, request.params.memberId, request.body);
    return reply.code(201).send(issued);
  });

  app.get('/accounts/:accountId/members/:memberId/tokens/:tokenId/secret', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'revealLoginToken', summary: 'The login token itself again, to copy (owners; audited)', params: TokenParams, response: { 200: LoginTokenSecret } },
  }, async (request, reply) => {
    const { accountId, memberId, tokenId } = request.params;
    reply.header('cache-control', 'no-store');
    return { secret: await revealLoginToken(database, sealer, changeContext(request, clock), accountId, memberId, tokenId) };
  });

  app.delete('/accounts/:accountId/members/:memberId/tokens/:tokenId', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'revokeLoginToken', summary: 'Revoke a login token: desktop sessions opened with it end at once', params: TokenParams, response: noContent },
  }, async (request, reply) => {
    const { accountId, memberId, tokenId } = request.params;
    await revokeLoginToken(database, clientSessions, changeContext(request, clock), accountId, memberId, tokenId);
    return reply.code(204).send(null);
  });
};
