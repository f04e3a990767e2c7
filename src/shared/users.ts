import { z } from 'zod';
import { Email, Id, Password, PersonName, Role, RoleGrant } from './contracts.ts';

/**
 * Portal users of an account and their roles, and invitations. A role applies on the whole
 * account, on a group of organizations, or on one organization; owners exist at account scope only.
 */

export const ScopedRole = z.enum(['manager', 'viewer']);
export type ScopedRole = z.infer<typeof ScopedRole>;

const scopeFields = {
  groupId: Id.optional().describe('Give the role on this group of organizations'),
  organizationId: Id.optional().describe('Give the role on this organization'),
};

type ScopeInput = { role: string; groupId?: string | undefined; organizationId?: string | undefined };

/** One scope at most; an owner holds the whole account. */
function checkScope(value: ScopeInput, ctx: z.RefinementCtx, path: Array<string | number> = []): void {
  if (value.groupId && value.organizationId) {
    ctx.addIssue({ code: 'custom', path: [...path, 'organizationId'], message: 'Choose a group or an organization, not both', params: { code: 'one_scope' } });
  }
  if (value.role === 'owner' && (value.groupId || value.organizationId)) {
    ctx.addIssue({ code: 'custom', path: [...path, 'role'], message: 'Owners hold the whole account; choose manager or viewer for a group or an organization', params: { code: 'owner_scope' } });
  }
}

/** A role to give: no group and no organization means the whole account. */
export const RoleAssignment = z.strictObject({ role: Role, ...scopeFields }).superRefine((v, ctx) => checkScope(v, ctx));
export type RoleAssignment = z.input<typeof RoleAssignment>;

export const ScopedGrantInput = z
  .strictObject({ role: ScopedRole, ...scopeFields })
  .superRefine((v, ctx) => {
    checkScope(v, ctx);
    if (!v.groupId && !v.organizationId) {
      ctx.addIssue({ code: 'custom', path: ['groupId'], message: 'Choose a group or an organization', params: { code: 'scope_required' } });
    }
  });

export const SetUserRolesBody = z.strictObject({
  role: Role.nullable().describe('The role on the whole account; null for roles on groups or organizations only'),
  grants: z.array(ScopedGrantInput).max(200).default([]).describe('Roles on groups and organizations'),
}).meta({ examples: [{ role: 'viewer', grants: [{ role: 'manager', groupId: '0193a4f3-1a2b-7c3d-8e4f-5a6b7c8d9e0f' }] }, { role: null, grants: [{ role: 'viewer', organizationId: '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a' }] }] });
export type SetUserRolesBody = z.input<typeof SetUserRolesBody>;

export const AccountUser = z
  .object({
    user: z.object({ id: Id, name: z.string(), email: z.string() }),
    /** The role on the whole account, or null. */
    role: Role.nullable(),
    /** Roles on groups and organizations. */
    grants: z.array(RoleGrant),
    joinedAt: z.iso.datetime(),
  })
  .meta({ id: 'AccountUser' });
export type AccountUser = z.infer<typeof AccountUser>;

export const AccountUserList = z.object({ items: z.array(AccountUser) }).meta({ id: 'AccountUserList' });
export type AccountUserList = z.infer<typeof AccountUserList>;

/** "Add user" from the portal: the person can sign in at once with this password. */
export const AddUserBody = z
  .strictObject({ name: PersonName, email: Email, password: Password, role: Role, ...scopeFields })
  .superRefine((v, ctx) => checkScope(v, ctx)).meta({ examples: [{ name: 'Grace Hopper', email: 'grace@example.com', password: 'amber tiles 73 north', role: 'manager', organizationId: '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a' }] });
export type AddUserBody = z.input<typeof AddUserBody>;

export const UserParams = z.object({ accountId: Id, userId: Id });

export const TransferOwnershipBody = z.strictObject({
  userId: Id.describe('The user who becomes an owner; the caller stays as a manager of the whole account'),
}).meta({ examples: [{ userId: '0193a4f1-2b3c-7d4e-9f50-6a7b8c9d0e1f' }] });

export const InvitationStatus = z.enum(['pending', 'expired']);

export const Invitation = z
  .object({
    id: Id,
    email: z.string(),
    grant: RoleGrant,
    invitedBy: z.object({ id: Id, name: z.string() }).nullable(),
    createdAt: z.iso.datetime(),
    sentAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    status: InvitationStatus,
  })
  .meta({ id: 'Invitation' });
export type Invitation = z.infer<typeof Invitation>;

export const InvitationList = z.object({ items: z.array(Invitation) }).meta({ id: 'InvitationList' });

export const CreateInvitationBody = z
  .strictObject({ email: Email, role: Role, ...scopeFields })
  .superRefine((v, ctx) => checkScope(v, ctx)).meta({ examples: [{ email: 'grace@example.com', role: 'manager', organizationId: '0193a4f2-7c1e-7b3d-9a45-2f6e8d1c0b7a' }, { email: 'charles@example.com', role: 'owner' }] });
export type CreateInvitationBody = z.input<typeof CreateInvitationBody>;

export const InvitationParams = z.object({ accountId: Id, invitationId: Id });

export const InvitationToken = z.string().min(1).max(200).describe('The secret from the invitation link');

/** What the invitation link shows before it is accepted. */
export const InvitationPreview = z
  .object({
    email: z.string(),
    accountName: z.string(),
    grant: RoleGrant,
    invitedBy: z.string().nullable(),
    expiresAt: z.iso.datetime(),
    /** True when this email already signs in to Tessera: accept after signing in. */
    existingUser: z.boolean(),
  })
  .meta({ id: 'InvitationPreview' });
export type InvitationPreview = z.infer<typeof InvitationPreview>;

export const InvitationLookupBody = z.strictObject({ token: InvitationToken }).meta({ examples: [{ token: 'tsr_inv_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }] });

/**
 * Accept an invitation: signed in as the invited email, the token alone; otherwise name and
 * password sign up a new person with the invited email.
 */
export const AcceptInvitationBody = z.strictObject({
  token: InvitationToken,
  name: PersonName.optional(),
  password: Password.optional(),
}).meta({ examples: [{ token: 'tsr_inv_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9', name: 'Grace Hopper', password: 'amber tiles 73 north' }, { token: 'tsr_inv_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }] });
export type AcceptInvitationBody = z.input<typeof AcceptInvitationBody>;

export const AcceptedInvitation = z
  .object({
    accountId: Id,
    user: z.object({ id: Id, name: z.string(), email: z.string() }),
    /** Present when accepting signed the person in (a new sign-up). */
    csrfToken: z.string().optional(),
  })
  .meta({ id: 'AcceptedInvitation' });
export type AcceptedInvitation = z.infer<typeof AcceptedInvitation>;
