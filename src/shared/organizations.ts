import { z } from 'zod';
import { Id } from './contracts.ts';

/** Organizations, groups of organizations and devices: contracts of /api/v1. */

const Name = (what: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, { message: `Enter a ${what}` })
    .max(max, { message: `A ${what} has at most ${max} characters` });

const Description = z.string().trim().max(1000, { message: 'At most 1000 characters' });

/** Keyset pagination: pass `nextCursor` back as `cursor` for the next page; `q` filters. */
export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
  q: z.string().trim().max(120).optional(),
});
export type PageQuery = z.output<typeof PageQuery>;

export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });

export const Organization = z
  .object({
    id: Id,
    name: z.string(),
    description: z.string(),
    deviceCount: z.number().int(),
    groupIds: z.array(Id),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Organization' });
export type Organization = z.infer<typeof Organization>;

export const OrganizationPage = pageOf(Organization, 'OrganizationPage');
export type OrganizationPage = z.infer<typeof OrganizationPage>;

export const CreateOrganizationBody = z.strictObject({ name: Name('name', 120), description: Description.optional() }).meta({ examples: [{ name: 'North Clinic', description: 'Our first customer in the north' }] });
export type CreateOrganizationBody = z.input<typeof CreateOrganizationBody>;

export const UpdateOrganizationBody = z
  .strictObject({ name: Name('name', 120).optional(), description: Description.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'Change at least one field', params: { code: 'empty_change' } }).meta({ examples: [{ description: 'Moved to the new building' }] });
export type UpdateOrganizationBody = z.input<typeof UpdateOrganizationBody>;

export const DeleteOrganizationQuery = z.strictObject({
  cascade: z.stringbool().default(false).describe('Also delete the devices it holds'),
});

export const SelectedOrganization = z
  .object({ organizationId: Id.nullable() })
  .meta({ id: 'SelectedOrganization', description: 'The organization the person works in, in this account' });
export type SelectedOrganization = z.infer<typeof SelectedOrganization>;
export const SelectOrganizationBody = z.strictObject({ organizationId: Id }).meta({ examples: [{ organizationId: '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a' }] });

export const OrganizationGroup = z
  .object({
    id: Id,
    name: z.string(),
    description: z.string(),
    organizationIds: z.array(Id),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'OrganizationGroup' });
export type OrganizationGroup = z.infer<typeof OrganizationGroup>;
export const OrganizationGroupList = z.object({ items: z.array(OrganizationGroup) }).meta({ id: 'OrganizationGroupList' });

export const CreateGroupBody = z.strictObject({
  name: Name('name', 120),
  description: Description.optional(),
  organizationIds: z.array(Id).max(1000).optional(),
}).meta({ examples: [{ name: 'EMEA customers', organizationIds: ['0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a', '0193a4f2-8d2f-7c4e-8b56-3a7f9e2d1c8b'] }] });
export type CreateGroupBody = z.input<typeof CreateGroupBody>;
export const UpdateGroupBody = z
  .strictObject({ name: Name('name', 120).optional(), description: Description.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'Change at least one field', params: { code: 'empty_change' } }).meta({ examples: [{ name: 'Europe and Middle East' }] });
export type UpdateGroupBody = z.input<typeof UpdateGroupBody>;

export const Device = z
  .object({
    id: Id,
    organizationId: Id,
    name: z.string(),
    kind: z.string(),
    identifier: z.string().describe('Unique within the account (serial number, MAC, …)'),
    notes: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Device' });
export type Device = z.infer<typeof Device>;
export const DevicePage = pageOf(Device, 'DevicePage');
export type DevicePage = z.infer<typeof DevicePage>;

export const CreateDeviceBody = z.strictObject({
  name: Name('name', 120),
  kind: Name('kind', 40),
  identifier: Name('identifier', 120),
  notes: Description.optional(),
}).meta({ examples: [{ name: 'Edge router', kind: 'Router', identifier: 'SN-1001', notes: 'Rack 2, top shelf' }] });
export type CreateDeviceBody = z.input<typeof CreateDeviceBody>;
export const UpdateDeviceBody = z
  .strictObject({
    name: Name('name', 120).optional(),
    kind: Name('kind', 40).optional(),
    identifier: Name('identifier', 120).optional(),
    notes: Description.optional(),
    organizationId: Id.optional().describe('Move the device to another organization of the account'),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'Change at least one field', params: { code: 'empty_change' } }).meta({ examples: [{ notes: 'Replaced the power supply' }, { organizationId: '0193a4f2-8d2f-7c4e-8b56-3a7f9e2d1c8b' }] });
export type UpdateDeviceBody = z.input<typeof UpdateDeviceBody>;

export const OrganizationParams = z.strictObject({ accountId: Id, organizationId: Id });
export const GroupParams = z.strictObject({ accountId: Id, groupId: Id });
export const GroupOrganizationParams = z.strictObject({ accountId: Id, groupId: Id, organizationId: Id });
export const DeviceParams = z.strictObject({ accountId: Id, deviceId: Id });
