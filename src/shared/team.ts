import { z } from 'zod';
import { Plan } from './billing.ts';
import { Email, Id, Password } from './contracts.ts';

/**
 * Team members: sub-accounts used from the desktop client, never in the portal. Contracts of the
 * management API (/api/v1) for members, their login tokens and their optional credentials.
 */

export const MemberName = z
  .string()
  .trim()
  .min(1, { message: 'Enter a name' })
  .max(120, { message: 'A name has at most 120 characters' });

export const ConnectionLimit = z
  .number({ message: 'Enter a whole number of connections' })
  .int({ message: 'Enter a whole number of connections' })
  .min(1, { message: 'A fixed limit is at least 1 connection' })
  .max(100_000)
  .nullable()
  .describe('Fixed number of connections for this member; null shares the plan allowance');


export const TeamMember = z
  .object({
    id: Id,
    name: z.string(),
    connectionLimit: z.number().int().nullable(),
    connectionsInUse: z.number().int(),
    /** Email of the member credentials, when the owner set some. */
    credentialsEmail: z.string().nullable(),
    activeTokens: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'TeamMember' });
export type TeamMember = z.infer<typeof TeamMember>;

export const TeamOverview = z
  .object({
    plan: Plan,
    members: z.array(TeamMember),
    connectionsInUse: z.number().int(),
  })
  .meta({ id: 'TeamOverview' });
export type TeamOverview = z.infer<typeof TeamOverview>;

export const LoginTokenState = z.enum(['active', 'expired', 'revoked']);

export const LoginToken = z
  .object({
    id: Id,
    label: z.string(),
    /** The first characters, to tell tokens apart without revealing them. */
    prefix: z.string().meta({ example: 'tsr_mt_Xk3v' }),
    state: LoginTokenState,
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    expiresAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'LoginToken' });
export type LoginToken = z.infer<typeof LoginToken>;

export const IssuedLoginToken = z
  .object({ token: LoginToken, secret: z.string().describe('The login token itself: hand it to the member') })
  .meta({ id: 'IssuedLoginToken' });
export type IssuedLoginToken = z.infer<typeof IssuedLoginToken>;

export const AddedTeamMember = z
  .object({ member: TeamMember, firstToken: IssuedLoginToken })
  .meta({ id: 'AddedTeamMember' });
export type AddedTeamMember = z.infer<typeof AddedTeamMember>;

export const CreateTeamMemberBody = z.strictObject({
  name: MemberName,
  connectionLimit: ConnectionLimit.optional(),
}).meta({ examples: [{ name: 'Front desk', connectionLimit: 2 }, { name: 'Night shift' }] });
export type CreateTeamMemberBody = z.input<typeof CreateTeamMemberBody>;

export const UpdateTeamMemberBody = z
  .strictObject({ name: MemberName.optional(), connectionLimit: ConnectionLimit.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'Change at least one field', params: { code: 'empty_change' } }).meta({ examples: [{ connectionLimit: null }] });
export type UpdateTeamMemberBody = z.input<typeof UpdateTeamMemberBody>;

export const TokenLabel = z
  .string()
  .trim()
  .min(1, { message: 'Enter a label' })
  .max(80, { message: 'A label has at most 80 characters' });

export const CreateLoginTokenBody = z.strictObject({
  label: TokenLabel,
  expiresAt: z.iso.datetime({ offset: true, message: 'Enter a date and time' }).nullable().optional(),
}).meta({ examples: [{ label: 'Laptop', expiresAt: '2027-06-30T18:00:00Z' }] });
export type CreateLoginTokenBody = z.input<typeof CreateLoginTokenBody>;

export const MemberCredentialsBody = z.strictObject({ email: Email, password: Password }).meta({ examples: [{ email: 'front.desk@example.com', password: 'amber tiles 73 north' }] });
export type MemberCredentialsBody = z.input<typeof MemberCredentialsBody>;

export const LoginTokenList = z.object({ items: z.array(LoginToken) }).meta({ id: 'LoginTokenList' });
export const LoginTokenSecret = z.object({ secret: z.string() }).meta({ id: 'LoginTokenSecret' });

export const MemberParams = z.strictObject({ accountId: Id, memberId: Id });
export const TokenParams = z.strictObject({ accountId: Id, memberId: Id, tokenId: Id });
