import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import {
  CreateGroupBody,
  CreateOrganizationBody,
  DeleteOrganizationQuery,
  GroupOrganizationParams,
  GroupParams,
  Organization,
  OrganizationGroup,
  OrganizationGroupList,
  OrganizationPage,
  OrganizationParams,
  PageQuery,
  SelectedOrganization,
  SelectOrganizationBody,
  UpdateGroupBody,
  UpdateOrganizationBody,
} from '../../../shared/organizations.ts';
import { accessOf, reachableOrganizations, requireOrganizationRole, requireUser, roleOn, visibleGroups } from '../../auth/access.ts';
import { changeContext } from '../../http/context.ts';
import { addToGroup, createGroup, deleteGroup, listGroups, removeFromGroup, updateGroup } from './groups.ts';
import {
  createOrganization,
  deleteOrganization,
  findOrganization,
  listOrganizations,
  selectedOrganization,
  selectOrganization,
  updateOrganization,
} from './organizations.ts';

const tags = ['Organizations'];
const noContent = { 204: z.null().describe('Done') };

export const organizationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock, sessions, accessKeys, plans } = app.services;
  // Sessions and access keys cache their reach (groups expanded to organizations), sessions also
  // the scope names shown with their roles: a change to either drops the account's cached
  // sessions and keys on every node.
  const reachChanged = async (accountId: string) => {
    await Promise.all([sessions.forgetEverywhere({ account: accountId }), accessKeys.forgetEverywhere({ account: accountId })]);
  };

  app.get('/accounts/:accountId/organizations', {
    config: { access: { scope: 'account', role: 'anyRole' } },
    schema: { tags, operationId: 'listOrganizations', summary: 'Organizations of the account, by name, a page at a time', params: AccountParams, querystring: PageQuery, response: { 200: OrganizationPage } },
  }, async (request) => {
    return listOrganizations(database, request.params.accountId, request.query, reachableOrganizations(accessOf(request)));
  });

  app.post('/accounts/:accountId/organizations', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: { tags, operationId: 'createOrganization', summary: "Create an organization (within the plan's organization limit)", params: AccountParams, body: CreateOrganizationBody, response: { 201: Organization } },
  }, async (request, reply) => {
    return reply.code(201).send(await createOrganization(database, plans, changeContext(request, clock), request.params.accountId, request.body));
  });

  app.get('/accounts/:accountId/organizations/:organizationId', {
    config: { access: { scope: 'organization', role: 'viewer', of: 'organization' } },
    schema: { tags, operationId: 'getOrganization', summary: 'One organization', params: OrganizationParams, response: { 200: Organization } },
  }, async (request) => {
    const { accountId, organizationId } = request.params;
    return database.inTenant(accountId, (tx) => findOrganization(tx, accountId, organizationId));
  });

  app.patch('/accounts/:accountId/organizations/:organizationId', {
    config: { access: { scope: 'organization', role: 'manager', of: 'organization' } },
    schema: { tags, operationId: 'updateOrganization', summary: 'Rename or describe an organization', params: OrganizationParams, body: UpdateOrganizationBody, response: { 200: Organization } },
  }, async (request) => {
    const { accountId, organizationId } = request.params;
    const organization = await updateOrganization(database, changeContext(request, clock), accountId, organizationId, request.body);
    await reachChanged(accountId);
    return organization;
  });

  app.delete('/accounts/:accountId/organizations/:organizationId', {
    config: { access: { scope: 'account', role: 'manager' } },
    schema: {
      tags,
      operationId: 'deleteOrganization',
      summary: 'Delete an organization; refused with 409 while it holds devices, unless cascade=true',
      params: OrganizationParams,
      querystring: DeleteOrganizationQuery,
      response: noContent,
    },
  }, async (request, reply) => {
    const { accountId, organizationId } = request.params;
    await deleteOrganization(database, changeContext(request, clock), accountId, organizationId, request.query.cascade);
    await reachChanged(accountId);
    return reply.code(204).send(null);
  });

  app.get('/accounts/:accountId/selected-organization', {
    config: { access: { scope: 'account', role: 'anyRole', people: true } },
    schema: { tags, operationId: 'getSelectedOrganization', summary: 'The organization the caller works in, in this account', params: AccountParams, response: { 200: SelectedOrganization } },
  }, async (request) => {
    const principal = requireUser(request);
    const selected = await selectedOrganization(database, request.params.accountId, principal.user.id);
    // a selection the person no longer reaches (a role was taken away) counts as none
    return { organizationId: selected && roleOn(accessOf(request), selected) ? selected : null };
  });

  app.put('/accounts/:accountId/selected-organization', {
    config: { access: { scope: 'account', role: 'anyRole', people: true } },
    schema: { tags, operationId: 'setSelectedOrganization', summary: '"Set Organization": the organization to work in, kept for the caller in this account', params: AccountParams, body: SelectOrganizationBody, response: { 200: SelectedOrganization } },
  }, async (request) => {
    const principal = requireUser(request);
    requireOrganizationRole(accessOf(request), request.body.organizationId, 'viewer');
    await selectOrganization(database, changeContext(request, clock), request.params.accountId, principal.user.id, request.body.organizationId);
    return { organizationId: request.body.organizationId };
  });

  app.get('/accounts/:accountId/groups', {
    config: { access: { scope: 'account', role: 'anyRole' } },
    schema: { tags: ['Groups'], operationId: 'listGroups', summary: 'Groups of organizations', params: AccountParams, response: { 200: OrganizationGroupList } },
  }, async (request) => {
    return { items: await listGroups(database, request.params.accountId, visibleGroups(accessOf(request))) };
  });

  app.post('/accounts/:accountId/groups', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: { tags: ['Groups'], operationId: 'createGroup', summary: 'Create a group, optionally with organizations', params: AccountParams, body: CreateGroupBody, response: { 201: OrganizationGroup } },
  }, async (request, reply) => {
    return reply.code(201).send(await createGroup(database, changeContext(request, clock), request.params.accountId, request.body));
  });

  app.patch('/accounts/:accountId/groups/:groupId', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: { tags: ['Groups'], operationId: 'updateGroup', summary: 'Rename or describe a group', params: GroupParams, body: UpdateGroupBody, response: { 200: OrganizationGroup } },
  }, async (request) => {
    const group = await updateGroup(database, changeContext(request, clock), request.params.accountId, request.params.groupId, request.body);
    await reachChanged(request.params.accountId);
    return group;
  });

  app.delete('/accounts/:accountId/groups/:groupId', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: { tags: ['Groups'], operationId: 'deleteGroup', summary: 'Delete a group (its organizations stay)', params: GroupParams, response: noContent },
  }, async (request, reply) => {
    await deleteGroup(database, changeContext(request, clock), request.params.accountId, request.params.groupId);
    await reachChanged(request.params.accountId);
    return reply.code(204).send(null);
  });

  app.put('/accounts/:accountId/groups/:groupId/organizations/:organizationId', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: { tags: ['Groups'], operationId: 'addOrganizationToGroup', summary: 'Put an organization in a group', params: GroupOrganizationParams, response: { 200: OrganizationGroup } },
  }, async (request) => {
    const { accountId, groupId, organizationId } = request.params;
    const group = await addToGroup(database, changeContext(request, clock), accountId, groupId, organizationId);
    await reachChanged(accountId);
    return group;
  });

  app.delete('/accounts/:accountId/groups/:groupId/organizations/:organizationId', {
    config: { access: { scope: 'account', role: 'owner' } },
    schema: { tags: ['Groups'], operationId: 'removeOrganizationFromGroup', summary: 'Take an organization out of a group', params: GroupOrganizationParams, response: { 200: OrganizationGroup } },
  }, async (request) => {
    const { accountId, groupId, organizationId } = request.params;
    const group = await removeFromGroup(database, changeContext(request, clock), accountId, groupId, organizationId);
    await reachChanged(accountId);
    return group;
  });
};
