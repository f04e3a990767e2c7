import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CreateDeviceBody, Device, DevicePage, DeviceParams, OrganizationParams, PageQuery, UpdateDeviceBody } from '../../../shared/organizations.ts';
import { accessOf, requireOrganizationRole } from '../../auth/access.ts';
import { changeContext } from '../../http/context.ts';
import { createDevice, deleteDevice, getDevice, listDevices, updateDevice } from './devices.ts';

const tags = ['Devices'];

export const deviceRoutes: FastifyPluginAsyncZod = async (app) => {
  const { database, clock } = app.services;

  app.get('/accounts/:accountId/organizations/:organizationId/devices', {
    config: { access: { scope: 'organization', role: 'viewer', of: 'organization' } },
    schema: { tags, operationId: 'listDevices', summary: "An organization's devices by name, a page at a time; q matches name or identifier", params: OrganizationParams, querystring: PageQuery, response: { 200: DevicePage } },
  }, async (request) => {
    const { accountId, organizationId } = request.params;
    return listDevices(database, accountId, organizationId, request.query);
  });

  app.post('/accounts/:accountId/organizations/:organizationId/devices', {
    config: { access: { scope: 'organization', role: 'manager', of: 'organization' } },
    schema: { tags, operationId: 'createDevice', summary: 'Add a device to an organization', params: OrganizationParams, body: CreateDeviceBody, response: { 201: Device } },
  }, async (request, reply) => {
    const { accountId, organizationId } = request.params;
    return reply.code(201).send(await createDevice(database, changeContext(request, clock), accountId, organizationId, request.body));
  });

  app.get('/accounts/:accountId/devices/:deviceId', {
    config: { access: { scope: 'organization', role: 'viewer', of: 'device' } },
    schema: { tags, operationId: 'getDevice', summary: 'One device', params: DeviceParams, response: { 200: Device } },
  }, async (request) => {
    return getDevice(database, request.params.accountId, request.params.deviceId);
  });

  app.patch('/accounts/:accountId/devices/:deviceId', {
    config: { access: { scope: 'organization', role: 'manager', of: 'device' } },
    schema: { tags, operationId: 'updateDevice', summary: 'Edit a device, or move it to another organization', params: DeviceParams, body: UpdateDeviceBody, response: { 200: Device } },
  }, async (request) => {
    const target = request.body.organizationId;
    // moving needs the manager role on the receiving organization too; one out of reach reads as unknown
    if (target) requireOrganizationRole(accessOf(request), target, 'manager', 'organizationId');
    return updateDevice(database, changeContext(request, clock), request.params.accountId, request.params.deviceId, request.body);
  });

  app.delete('/accounts/:accountId/devices/:deviceId', {
    config: { access: { scope: 'organization', role: 'manager', of: 'device' } },
    schema: { tags, operationId: 'deleteDevice', summary: 'Remove a device', params: DeviceParams, response: { 204: z.null().describe('Done') } },
  }, async (request, reply) => {
    await deleteDevice(database, changeContext(request, clock), request.params.accountId, request.params.deviceId);
    return reply.code(204).send(null);
  });
};
