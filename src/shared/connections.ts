import { z } from 'zod';
import { Id } from './contracts.ts';

/** Connection leases: the desktop client's connections to devices, and the portal's view of them. */

export const ClientDevice = z
  .object({
    id: Id,
    organizationId: Id,
    name: z.string(),
    kind: z.string(),
    identifier: z.string(),
    available: z.boolean().describe('No live connection holds it'),
  })
  .meta({ id: 'ClientDevice' });
export type ClientDevice = z.infer<typeof ClientDevice>;
export const ClientDevicePage = z.object({ items: z.array(ClientDevice), nextCursor: z.string().nullable() }).meta({ id: 'ClientDevicePage' });
export type ClientDevicePage = z.infer<typeof ClientDevicePage>;

export const OpenConnectionBody = z.strictObject({ deviceId: Id }).meta({ examples: [{ deviceId: '0193a4f4-4d5e-7f60-9b72-8c9d0e1f2a3b' }] });
export type OpenConnectionBody = z.input<typeof OpenConnectionBody>;

export const Lease = z
  .object({
    leaseId: Id,
    deviceId: Id,
    expiresAt: z.iso.datetime(),
    ttlSeconds: z.number().int().describe('Renew before this many seconds pass, or the connection ends by itself'),
  })
  .meta({ id: 'Lease' });
export type Lease = z.infer<typeof Lease>;

export const LeaseParams = z.strictObject({ leaseId: Id });

export const OpenConnection = z
  .object({
    leaseId: Id,
    member: z.object({ id: Id, name: z.string() }),
    device: z.object({ id: Id, name: z.string(), organizationId: Id }),
    openedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'OpenConnection' });
export type OpenConnection = z.infer<typeof OpenConnection>;
export const OpenConnectionList = z.object({ items: z.array(OpenConnection) }).meta({ id: 'OpenConnectionList' });

export const ConnectionParams = z.strictObject({ accountId: Id, leaseId: Id });
