import { z } from 'zod';
import { Email, Id, Password } from './contracts.ts';
import { ConnectionLimit, MemberName, TeamMember } from './team.ts';

/**
 * The desktop client's API (/client/v1). The token endpoint speaks OAuth 2.0 (RFC 6749 §5):
 * form-encoded requests, `{ error, error_description }` errors.
 */

/** Our grant type for exchanging a login token (RFC 6749 §4.5 extension grant). */
export const LOGIN_TOKEN_GRANT = 'urn:tessera:params:oauth:grant-type:login-token';

export const TokenRequest = z.discriminatedUnion('grant_type', [
  z.object({ grant_type: z.literal(LOGIN_TOKEN_GRANT), login_token: z.string().min(1).max(200) }),
  z.object({ grant_type: z.literal('password'), username: z.string().min(1).max(254), password: z.string().min(1).max(256) }),
  z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(200) }),
]).meta({ examples: [{ grant_type: 'urn:tessera:params:oauth:grant-type:login-token', login_token: 'tsr_mt_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }, { grant_type: 'refresh_token', refresh_token: 'tsr_rt_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }, { grant_type: 'password', username: 'front.desk@example.com', password: 'amber tiles 73 north' }] });
export type TokenRequest = z.infer<typeof TokenRequest>;

export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().describe('Seconds the access token lives'),
    refresh_token: z.string(),
  })
  .meta({ id: 'TokenResponse' });
export type TokenResponse = z.infer<typeof TokenResponse>;

export const OAuthErrorCode = z.enum([
  'invalid_request',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_client',
  'too_many_requests',
]);
export const OAuthError = z
  .object({ error: OAuthErrorCode, error_description: z.string() })
  .meta({ id: 'OAuthError', description: 'RFC 6749 §5.2 error' });
export type OAuthError = z.infer<typeof OAuthError>;

export const RevokeRequest = z.object({
  token: z.string().min(1).max(200),
  token_type_hint: z.enum(['access_token', 'refresh_token']).optional(),
}).meta({ examples: [{ token: 'tsr_rt_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9', token_type_hint: 'refresh_token' }] });

export const ClientMe = z
  .object({
    member: z.object({ id: Id, name: z.string(), connectionLimit: z.number().int().nullable() }),
    account: z.object({ id: Id, companyName: z.string() }),
    connections: z.object({
      memberInUse: z.number().int(),
      memberLimit: z.number().int().nullable(),
      accountInUse: z.number().int(),
      accountAllowance: z.number().int(),
    }),
    session: z.object({ id: Id, grant: z.enum(['login_token', 'password']), createdAt: z.iso.datetime() }),
  })
  .meta({ id: 'ClientMe' });
export type ClientMe = z.infer<typeof ClientMe>;

/**
 * Enrollment from a desktop installer: an owner or manager of the whole account signs in with
 * their portal email and password and creates the member this PC will use.
 */
export const EnrollBody = z.strictObject({
  email: z.string().trim().min(1, { message: 'Enter your email' }).max(254),
  password: z.string().min(1, { message: 'Enter your password' }).max(256),
  accountId: Id.optional().describe('Needed when the person manages several accounts'),
  memberName: MemberName,
  connectionLimit: ConnectionLimit.optional(),
  memberEmail: Email.optional().describe('Member credentials: the email the member may sign in with'),
  memberPassword: Password.optional().describe('Member credentials: the password, with memberEmail'),
}).superRefine((body, ctx) => {
  if ((body.memberEmail === undefined) !== (body.memberPassword === undefined)) {
    const field = body.memberEmail === undefined ? 'memberEmail' : 'memberPassword';
    ctx.addIssue({ code: 'custom', path: [field], message: 'Give both the member email and password, or neither', params: { code: 'credentials_pair' } });
  }
}).meta({ examples: [{ email: 'ada@example.com', password: 'quiet lake 42 morning', memberName: 'Reception PC 3' }, { email: 'ada@example.com', password: 'quiet lake 42 morning', accountId: '0193a4f0-3c4d-7e5f-8a61-7b8c9d0e1f2a', memberName: 'Reception PC 4', connectionLimit: 1, memberEmail: 'reception4@example.com', memberPassword: 'amber tiles 73 north' }] });
export type EnrollBody = z.input<typeof EnrollBody>;

export const Enrolled = z
  .object({
    member: TeamMember,
    /** The member's first login token, to keep on this PC. */
    loginToken: z.string(),
    tokens: TokenResponse,
  })
  .meta({ id: 'Enrolled' });
export type Enrolled = z.infer<typeof Enrolled>;
