import countries from 'i18n-iso-countries';
import { z } from 'zod';

/**
 * API contracts shared by the server (validation, OpenAPI), the SDK and the portal.
 * Request bodies are strict: an unknown field is a field error, not silently dropped.
 */

export const Id = z.uuid().describe('Identifier (UUIDv7)');

export const Email = z
  .email({ message: 'Enter a valid email address' })
  .max(254, { message: 'An email address has at most 254 characters' })
  .describe('Email address');

export const PersonName = z
  .string()
  .trim()
  .min(1, { message: 'Enter a name' })
  .max(120, { message: 'A name has at most 120 characters' });

export const CompanyName = z
  .string()
  .trim()
  .min(1, { message: 'Enter a company name' })
  .max(160, { message: 'A company name has at most 160 characters' });

export const Country = z
  .string()
  .trim()
  .toUpperCase()
  .refine((code) => /^[A-Z]{2}$/.test(code) && countries.isValid(code), {
    message: 'Choose a country',
    params: { code: 'invalid_country' },
  })
  .describe('ISO 3166-1 alpha-2 country code')
  .meta({ example: 'DE' });

/** Password rules the server enforces; the blocklist check runs on the server only. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
export const Password = z
  .string()
  .min(PASSWORD_MIN_LENGTH, { message: `Use at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH, { message: `Use at most ${PASSWORD_MAX_LENGTH} characters` })
  .refine((p) => /\p{L}/u.test(p) && /\p{Nd}/u.test(p), {
    message: 'Mix letters and digits',
    params: { code: 'letters_and_digits' },
  });

export const Role = z.enum(['owner', 'manager', 'viewer']);
export type Role = z.infer<typeof Role>;

export const User = z
  .object({
    id: Id,
    email: Email,
    name: z.string(),
    emailVerified: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

export const Account = z
  .object({
    id: Id,
    companyName: z.string(),
    country: z.string().meta({ example: 'DE' }),
    emailNotifications: z.boolean(),
    /** Everyone in the account signs in with a second factor (docs/two-factor.md). */
    requireTwoFactor: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Account' });
export type Account = z.infer<typeof Account>;

/** Where a role applies, as the API answers it. */
export const RoleGrant = z
  .object({
    role: Role,
    scope: z.enum(['account', 'group', 'organization']),
    /** The group or organization; null at account scope. */
    scopeId: Id.nullable(),
    scopeName: z.string().nullable(),
  })
  .meta({ id: 'RoleGrant' });
export type RoleGrant = z.infer<typeof RoleGrant>;

export const AccountMembership = z
  .object({
    id: Id,
    companyName: z.string(),
    country: z.string(),
    /** The role on the whole account; null when the person holds roles only on groups or organizations. */
    role: Role.nullable(),
    /** Roles on groups and organizations. */
    grants: z.array(RoleGrant),
  })
  .meta({ id: 'AccountMembership' });
export type AccountMembership = z.infer<typeof AccountMembership>;

/** The person's second factor as each request sees it (docs/two-factor.md). */
export const MeTwoFactor = z.object({
  /** Sign-in asks this person for a code. */
  enabled: z.boolean(),
  /** An account of the person requires a second factor. */
  required: z.boolean(),
  /** Required but not set up: until it is, only enrolment, the profile and sign-out answer. */
  enrolmentPending: z.boolean(),
});

export const Me = z
  .object({ user: User, accounts: z.array(AccountMembership), twoFactor: MeTwoFactor })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;

export const CsrfToken = z.object({ csrfToken: z.string() }).meta({ id: 'CsrfToken' });

export const RegisterBody = z.strictObject({
  name: PersonName,
  email: Email,
  password: Password,
  companyName: CompanyName,
  country: Country,
}).meta({ examples: [{ name: 'Ada Lovelace', email: 'ada@example.com', password: 'quiet lake 42 morning', companyName: 'Analytical Engines Ltd', country: 'GB' }] });
export type RegisterBody = z.input<typeof RegisterBody>;

/** The password typed again before a sensitive change; checked, never stored. */
export const CurrentPassword = z.string().min(1, { message: 'Enter your password' }).max(PASSWORD_MAX_LENGTH);

export const SignInBody = z.strictObject({
  email: z.string().trim().min(1, { message: 'Enter your email' }).max(254),
  password: z.string().min(1, { message: 'Enter your password' }).max(PASSWORD_MAX_LENGTH),
}).meta({ examples: [{ email: 'ada@example.com', password: 'quiet lake 42 morning' }] });
export type SignInBody = z.input<typeof SignInBody>;

export const SignedIn = z
  .object({ user: User, csrfToken: z.string() })
  .meta({ id: 'SignedIn' });

/**
 * The password was right and the person has a second factor: no session yet. A short-lived
 * pending sign-in (a signed cookie) waits for POST /auth/sign-in/two-factor.
 */
export const TwoFactorChallenge = z
  .object({ twoFactorRequired: z.literal(true), csrfToken: z.string() })
  .meta({ id: 'TwoFactorChallenge' });

export const SignInAnswer = z.union([SignedIn, TwoFactorChallenge]).meta({ id: 'SignInAnswer' });
export type SignInAnswer = z.infer<typeof SignInAnswer>;

export const Registered = z
  .object({ user: User, account: Account, csrfToken: z.string() })
  .meta({ id: 'Registered' });

export const EmailTokenBody = z.strictObject({ token: z.string().min(1).max(200) }).meta({ examples: [{ token: 'tsr_ev_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }] });

export const PasswordResetRequestBody = z.strictObject({ email: Email }).meta({ examples: [{ email: 'ada@example.com' }] });

export const PasswordResetConfirmBody = z.strictObject({
  token: z.string().min(1).max(200),
  password: Password,
}).meta({ examples: [{ token: 'tsr_pr_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9', password: 'amber tiles 73 north' }] });
export type PasswordResetConfirmBody = z.input<typeof PasswordResetConfirmBody>;

export const CreateAccountBody = z.strictObject({ companyName: CompanyName, country: Country }).meta({ examples: [{ companyName: 'Engines Overseas GmbH', country: 'DE' }] });
export type CreateAccountBody = z.input<typeof CreateAccountBody>;

export const UpdateAccountBody = z
  .strictObject({
    companyName: CompanyName.optional(),
    country: Country.optional(),
    emailNotifications: z.boolean().optional(),
    requireTwoFactor: z.boolean().optional().describe('Require a second factor of everyone in the account; an owner turns it on in person, with a second factor of their own'),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'Change at least one field', params: { code: 'empty_change' } }).meta({ examples: [{ companyName: 'Analytical Engines Group', emailNotifications: true }, { requireTwoFactor: true }] });
export type UpdateAccountBody = z.input<typeof UpdateAccountBody>;

export const AccountParams = z.strictObject({ accountId: Id });

export const Health = z.object({ status: z.literal('ok') });
export const Readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  database: z.enum(['ok', 'unreachable']),
  migrations: z.enum(['applied', 'pending']),
});

export const ProblemDocument = z
  .object({
    type: z.string().meta({ example: '/api/v1/problems/validation_failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), code: z.string(), message: z.string() }))
      .optional()
      .describe('One entry per invalid field'),
    limit: z.enum(['account', 'member', 'device']).optional().describe('On a refused connection: the limit that was hit'),
    deviceCount: z.number().int().optional().describe('On a refused organization delete: the devices it still holds'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
