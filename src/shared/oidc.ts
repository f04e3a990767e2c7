import { z } from 'zod';
import { Email, Id } from './contracts.ts';

/**
 * Sign-in with an OpenID Connect provider (Google by default): contracts shared by the server, the
 * SDK and the portal. See docs/oidc.md.
 */

export const OidcProviderInfo = z
  .object({
    /** A provider is configured: the portal shows "Sign in with <name>". */
    enabled: z.boolean(),
    name: z.string().nullable(),
  })
  .meta({ id: 'OidcProviderInfo', examples: [{ enabled: true, name: 'Google' }] });
export type OidcProviderInfo = z.infer<typeof OidcProviderInfo>;

export const LinkedIdentity = z
  .object({
    id: Id,
    issuer: z.string(),
    /** The verified email the provider gave when the identity was linked. */
    email: Email,
    linkedAt: z.iso.datetime(),
  })
  .meta({ id: 'LinkedIdentity' });
export type LinkedIdentity = z.infer<typeof LinkedIdentity>;

export const LinkedIdentities = z
  .object({
    items: z.array(LinkedIdentity),
    /** The person has a password: every identity can be unlinked. Without one, the last cannot. */
    hasPassword: z.boolean(),
  })
  .meta({ id: 'LinkedIdentities' });
export type LinkedIdentities = z.infer<typeof LinkedIdentities>;

/**
 * Why a sign-in with the provider ended on the sign-in page (`/sign-in?error=<code>`), and what the
 * portal tells the person. One list, so the server cannot send a code the portal cannot explain.
 */
export const OIDC_ERROR_MESSAGES = {
  state_mismatch: 'This sign-in could not be matched to this browser: it expired, was started elsewhere, or was tampered with. Start again.',
  code_rejected: 'The provider refused the sign-in code (it was already used or has expired). Start again.',
  nonce_mismatch: 'The identity token was not issued for this sign-in (its nonce does not match). Start again.',
  token_invalid: 'The identity token could not be verified. Start again; if it keeps failing, tell your administrator.',
  email_unverified: 'Your email address is not verified with the provider. Verify it there first, or sign in with your password.',
  email_missing: 'The provider did not share your email address, so we cannot sign you in with it.',
  provider_denied: 'The sign-in was cancelled at the provider.',
  provider_unavailable: 'The provider could not be reached. Try again in a moment.',
  link_password_required: 'An account with this email already exists. Sign in with your password once to link it; from then on the provider signs you in.',
  already_linked: 'This identity is already linked to another person.',
  registration_failed: 'We could not create your account with this email. Sign in, or reset your password.',
} as const;
export type OidcErrorCode = keyof typeof OIDC_ERROR_MESSAGES;

export function isOidcErrorCode(code: string | null): code is OidcErrorCode {
  return code !== null && Object.hasOwn(OIDC_ERROR_MESSAGES, code);
}
