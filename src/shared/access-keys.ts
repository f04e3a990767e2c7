import { z } from 'zod';
import { Id, Role, RoleGrant } from './contracts.ts';

/**
 * Access keys: a program's credential for the management API, with one role at one scope. The
 * secret (`tsr_ak_…`) is shown once, in the answer that creates the key.
 */

export const AccessKeyName = z
  .string()
  .trim()
  .min(1, { message: 'Enter a name' })
  .max(80, { message: 'A name has at most 80 characters' });

export const CreateAccessKeyBody = z
  .strictObject({
    name: AccessKeyName.describe('What the key is for, e.g. "Billing export"; unique in the account'),
    role: Role,
    groupId: Id.optional().describe('Give the role on this group of organizations only'),
    organizationId: Id.optional().describe('Give the role on this organization only'),
    expiresAt: z.iso.datetime({ offset: true, message: 'Enter a date and time' }).nullable().optional().describe('When the key stops working; never when absent'),
  })
  .superRefine((v, ctx) => {
    if (v.groupId && v.organizationId) {
      ctx.addIssue({ code: 'custom', path: ['organizationId'], message: 'Choose a group or an organization, not both', params: { code: 'one_scope' } });
    }
    if (v.role === 'owner' && (v.groupId || v.organizationId)) {
      ctx.addIssue({ code: 'custom', path: ['role'], message: 'Owner keys hold the whole account; choose manager or viewer for a group or an organization', params: { code: 'owner_scope' } });
    }
  }).meta({ examples: [{ name: 'Nightly export', role: 'viewer', organizationId: '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a', expiresAt: '2027-12-31T23:59:59Z' }, { name: 'Provisioning', role: 'manager' }] });
export type CreateAccessKeyBody = z.input<typeof CreateAccessKeyBody>;

export const AccessKey = z
  .object({
    id: Id,
    name: z.string(),
    /** The first characters of the secret, to recognise it. */
    prefix: z.string(),
    grant: RoleGrant,
    createdBy: z.object({ id: Id, name: z.string() }).nullable(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable().describe('Updated at most once a minute'),
    expiresAt: z.iso.datetime().nullable(),
    status: z.enum(['active', 'expired']),
  })
  .meta({ id: 'AccessKey' });
export type AccessKey = z.infer<typeof AccessKey>;

export const AccessKeyList = z.object({ items: z.array(AccessKey) }).meta({ id: 'AccessKeyList' });

export const IssuedAccessKey = z
  .object({ key: AccessKey, secret: z.string().describe('The secret, shown this once: send it as `Authorization: Bearer <secret>`') })
  .meta({ id: 'IssuedAccessKey' });
export type IssuedAccessKey = z.infer<typeof IssuedAccessKey>;

export const AccessKeyParams = z.object({ accountId: Id, keyId: Id });
