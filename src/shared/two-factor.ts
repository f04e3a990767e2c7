import { z } from 'zod';
import { CurrentPassword, Email, Password, PersonName } from './contracts.ts';
import { AuthenticationCredential, EXAMPLE_ASSERTION, PasskeyRequestOptions } from './passkeys.ts';

/**
 * Two-factor sign-in (TOTP, RFC 6238) and the profile changes that ask for the password again:
 * contracts shared by the server, the SDK and the portal. See docs/two-factor.md.
 */

/** Digits of a code and seconds of a step, as authenticator apps expect them by default. */
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** How many recovery codes a person holds after enrolling or making a new set. */
export const RECOVERY_CODE_COUNT = 10;

/** Six digits, as the authenticator app shows them now. */
export const TotpCode = z
  .string()
  .trim()
  .refine((code) => new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code), { message: `Enter the ${TOTP_DIGITS}-digit code from your app`, params: { code: 'invalid_code' } })
  .describe('The current code of the authenticator app');

/** A recovery code as shown (xxxx-xxxx-xxxx-xxxx); case, spaces and dashes are ignored. */
export const RecoveryCode = z.string().trim().min(1, { message: 'Enter a recovery code' }).max(64).describe('One of the recovery codes shown at enrolment');

export const TwoFactorStatus = z
  .object({
    /** A second factor (the app or a passkey): a password sign-in asks for it. */
    enabled: z.boolean(),
    /** The authenticator app is set up and confirmed. */
    app: z.boolean(),
    confirmedAt: z.iso.datetime().nullable().describe("When the authenticator app was confirmed"),
    /** Passkeys the person holds; each is a second factor and a passwordless sign-in. */
    passkeys: z.number().int(),
    /** Recovery codes not used yet. */
    recoveryCodesLeft: z.number().int(),
    /** An account of the person requires two-factor sign-in. */
    required: z.boolean(),
  })
  .meta({ id: 'TwoFactorStatus' });
export type TwoFactorStatus = z.infer<typeof TwoFactorStatus>;

export const StartTwoFactorBody = z.strictObject({ password: CurrentPassword }).meta({ examples: [{ password: 'quiet lake 42 morning' }] });
export type StartTwoFactorBody = z.input<typeof StartTwoFactorBody>;

/** An enrolment waiting for its first code: what the authenticator app needs. */
export const TwoFactorEnrolment = z
  .object({
    /** The secret in base32, for typing into an app by hand. */
    secret: z.string(),
    /** otpauth://totp/… (the QR code's content). */
    otpauthUri: z.string(),
    /** The QR code of otpauthUri as an SVG document. */
    qrSvg: z.string(),
  })
  .meta({ id: 'TwoFactorEnrolment' });
export type TwoFactorEnrolment = z.infer<typeof TwoFactorEnrolment>;

export const ConfirmTwoFactorBody = z.strictObject({ code: TotpCode }).meta({ examples: [{ code: '492039' }] });
export type ConfirmTwoFactorBody = z.input<typeof ConfirmTwoFactorBody>;

/** Shown once: only hashes are kept. */
export const RecoveryCodes = z
  .object({ recoveryCodes: z.array(z.string()).describe('Single-use codes, shown this once') })
  .meta({ id: 'RecoveryCodes' });
export type RecoveryCodes = z.infer<typeof RecoveryCodes>;

/** Exactly one second factor of those given; `message` names them. */
function oneSecondFactor(message: string) {
  return (value: { code?: string | undefined; recoveryCode?: string | undefined; passkey?: unknown }, ctx: z.RefinementCtx): void => {
    const given = [value.code, value.recoveryCode, value.passkey].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', path: ['code'], message, params: { code: 'one_factor' } });
  };
}

export const DisableTwoFactorBody = z
  .strictObject({ password: CurrentPassword, code: TotpCode.optional(), recoveryCode: RecoveryCode.optional() })
  .superRefine(oneSecondFactor('Enter a code from your app or a recovery code'))
  .meta({ examples: [{ password: 'quiet lake 42 morning', code: '492039' }, { password: 'quiet lake 42 morning', recoveryCode: 'k7qm-2xpd-9ztw-4hcn' }] });
export type DisableTwoFactorBody = z.input<typeof DisableTwoFactorBody>;

export const RegenerateRecoveryCodesBody = z.strictObject({ password: CurrentPassword }).meta({ examples: [{ password: 'quiet lake 42 morning' }] });
export type RegenerateRecoveryCodesBody = z.input<typeof RegenerateRecoveryCodesBody>;

/** The second step of a sign-in: a code of the app, a recovery code, or a passkey's signature. */
export const TwoFactorSignInBody = z
  .strictObject({ code: TotpCode.optional(), recoveryCode: RecoveryCode.optional(), passkey: AuthenticationCredential.optional() })
  .superRefine(oneSecondFactor('Use one second factor: a code from your app, a recovery code or your passkey'))
  .meta({ examples: [{ code: '492039' }, { recoveryCode: 'k7qm-2xpd-9ztw-4hcn' }, { passkey: EXAMPLE_ASSERTION }] });
export type TwoFactorSignInBody = z.input<typeof TwoFactorSignInBody>;

export const ChangePasswordBody = z
  .strictObject({ currentPassword: CurrentPassword, newPassword: Password })
  .meta({ examples: [{ currentPassword: 'quiet lake 42 morning', newPassword: 'amber tiles 73 north' }] });
export type ChangePasswordBody = z.input<typeof ChangePasswordBody>;

export const ChangeEmailBody = z.strictObject({ password: CurrentPassword, email: Email }).meta({ examples: [{ password: 'quiet lake 42 morning', email: 'ada.lovelace@example.com' }] });
export type ChangeEmailBody = z.input<typeof ChangeEmailBody>;

export const UpdateMeBody = z.strictObject({ name: PersonName }).meta({ examples: [{ name: 'Augusta Ada King' }] });
export type UpdateMeBody = z.input<typeof UpdateMeBody>;

export const EmailChangeTokenBody = z.strictObject({ token: z.string().min(1).max(200) }).meta({ examples: [{ token: 'tsr_ec_9mQ2xkzQ0b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7_Ab3dE9' }] });

/** The second factors a pending sign-in can finish with, and the passkey ceremony when the person has one. */
export const TwoFactorMethods = z
  .object({
    methods: z.array(z.enum(['app', 'passkey', 'recovery_code'])),
    /** Options for `navigator.credentials.get()`, naming the person's passkeys; null without one. */
    passkey: PasskeyRequestOptions.nullable(),
  })
  .meta({ id: 'TwoFactorMethods' });
export type TwoFactorMethods = z.infer<typeof TwoFactorMethods>;
