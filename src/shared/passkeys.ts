import { z } from 'zod';
import { CurrentPassword, Id } from './contracts.ts';

/**
 * Passkeys (WebAuthn): contracts shared by the server, the SDK and the portal. A passkey is a
 * second factor after the password and, on its own, a passwordless sign-in. See docs/passkeys.md.
 */

/** How many passkeys one person may hold. */
export const PASSKEY_LIMIT = 20;
/** Seconds a ceremony's challenge (and the browser's prompt) lasts. */
export const PASSKEY_CEREMONY_SECONDS = 300;

const Base64Url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, { message: 'Expected base64url' });

/** What an authenticator signs over: the challenge, origin and ceremony type, as JSON. */
const ClientDataJSON = Base64Url(4096);
/** A credential id is at most 1,023 bytes (WebAuthn Level 3). */
const CredentialId = Base64Url(1400);
const Transport = z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const Attachment = z.enum(['platform', 'cross-platform']);
/** What every credential the browser returns carries beside its response. */
const CredentialFields = { id: CredentialId, rawId: CredentialId, type: z.literal('public-key') };
const ExtensionFields = { authenticatorAttachment: Attachment.optional(), clientExtensionResults: z.record(z.string(), z.unknown()) };

/**
 * The browser's answer to `navigator.credentials.create()`, as `PublicKeyCredential.toJSON()`
 * (and @simplewebauthn/browser's startRegistration) writes it. Fields a browser adds beyond these
 * (publicKey, authenticatorData, …) are dropped: the attestation object carries them.
 */
export const RegistrationCredential = z
  .object({
    ...CredentialFields,
    response: z.object({
      clientDataJSON: ClientDataJSON,
      attestationObject: Base64Url(65_536),
      transports: z.array(Transport).max(8).optional(),
    }),
    ...ExtensionFields,
  })
  .describe('The new credential as the browser returned it');
export type RegistrationCredential = z.infer<typeof RegistrationCredential>;

/** The browser's answer to `navigator.credentials.get()`, as `PublicKeyCredential.toJSON()` writes it. */
export const AuthenticationCredential = z
  .object({
    ...CredentialFields,
    response: z.object({
      clientDataJSON: ClientDataJSON,
      authenticatorData: Base64Url(4096),
      signature: Base64Url(1024),
      userHandle: Base64Url(128).optional(),
    }),
    ...ExtensionFields,
  })
  .describe("The authenticator's signature over the challenge, as the browser returned it");
export type AuthenticationCredential = z.infer<typeof AuthenticationCredential>;

const EXAMPLE_REGISTRATION = {
  id: 'pY3m2tVQ5Qk0cR2xg8Zb1w',
  rawId: 'pY3m2tVQ5Qk0cR2xg8Zb1w',
  type: 'public-key',
  response: {
    clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiM3FtWSIsIm9yaWdpbiI6Imh0dHBzOi8vcG9ydGFsLmV4YW1wbGUuY29tIn0',
    attestationObject: 'o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF',
    transports: ['internal', 'hybrid'],
  },
  authenticatorAttachment: 'platform',
  clientExtensionResults: {},
} as const;

const EXAMPLE_ASSERTION = {
  id: 'pY3m2tVQ5Qk0cR2xg8Zb1w',
  rawId: 'pY3m2tVQ5Qk0cR2xg8Zb1w',
  type: 'public-key',
  response: {
    clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiM3FtWSIsIm9yaWdpbiI6Imh0dHBzOi8vcG9ydGFsLmV4YW1wbGUuY29tIn0',
    authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ',
    signature: 'MEUCIQDx3qG7m0Jx2b2mT6_0ex8Hh3kDcQ',
    userHandle: 'AZOsVmdQcJe4V7xJ3q8f0A',
  },
  authenticatorAttachment: 'platform',
  clientExtensionResults: {},
} as const;

const CredentialDescriptor = z.object({ id: CredentialId, type: z.literal('public-key'), transports: z.array(z.string()).optional() });

/** Options for `navigator.credentials.create()` (PublicKeyCredentialCreationOptionsJSON). */
export const PasskeyCreationOptions = z
  .looseObject({
    challenge: z.string(),
    rp: z.object({ id: z.string().optional(), name: z.string() }),
    user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
    pubKeyCredParams: z.array(z.object({ alg: z.number().int(), type: z.literal('public-key') })),
    timeout: z.number().int().optional(),
    excludeCredentials: z.array(CredentialDescriptor).optional(),
    authenticatorSelection: z.looseObject({}).optional(),
    attestation: z.string().optional(),
    extensions: z.looseObject({}).optional(),
    hints: z.array(z.string()).optional(),
  })
  .meta({ id: 'PasskeyCreationOptions' });
export type PasskeyCreationOptions = z.infer<typeof PasskeyCreationOptions>;

/** Options for `navigator.credentials.get()` (PublicKeyCredentialRequestOptionsJSON). */
export const PasskeyRequestOptions = z
  .looseObject({
    challenge: z.string(),
    rpId: z.string().optional(),
    timeout: z.number().int().optional(),
    allowCredentials: z.array(CredentialDescriptor).optional(),
    userVerification: z.string().optional(),
    extensions: z.looseObject({}).optional(),
    hints: z.array(z.string()).optional(),
  })
  .meta({ id: 'PasskeyRequestOptions' });
export type PasskeyRequestOptions = z.infer<typeof PasskeyRequestOptions>;

export const PasskeyName = z.string().trim().min(1, { message: 'Give the passkey a name' }).max(80).describe('A name to tell your passkeys apart');

export const Passkey = z
  .object({
    id: Id,
    name: z.string(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    /** Synced by its provider to other devices (iCloud Keychain, Google Password Manager, …), as the authenticator says. */
    synced: z.boolean(),
  })
  .meta({ id: 'Passkey' });
export type Passkey = z.infer<typeof Passkey>;

export const PasskeyList = z.object({ items: z.array(Passkey) }).meta({ id: 'PasskeyList' });
export type PasskeyList = z.infer<typeof PasskeyList>;

export const PasskeyOptionsBody = z.strictObject({ password: CurrentPassword }).meta({ examples: [{ password: 'quiet lake 42 morning' }] });
export type PasskeyOptionsBody = z.input<typeof PasskeyOptionsBody>;

export const AddPasskeyBody = z
  .strictObject({ name: PasskeyName.optional(), credential: RegistrationCredential })
  .meta({ examples: [{ name: 'Work laptop', credential: EXAMPLE_REGISTRATION }] });
export type AddPasskeyBody = z.input<typeof AddPasskeyBody>;

/** A passkey added; the recovery codes come with the first second factor only, shown this once. */
export const PasskeyAdded = z
  .object({ passkey: Passkey, recoveryCodes: z.array(z.string()).nullable().describe('Single-use codes, shown this once; null when the person had a second factor already') })
  .meta({ id: 'PasskeyAdded' });
export type PasskeyAdded = z.infer<typeof PasskeyAdded>;

export const RenamePasskeyBody = z.strictObject({ name: PasskeyName }).meta({ examples: [{ name: 'Phone' }] });
export type RenamePasskeyBody = z.input<typeof RenamePasskeyBody>;

export const RemovePasskeyBody = z.strictObject({ password: CurrentPassword }).meta({ examples: [{ password: 'quiet lake 42 morning' }] });
export type RemovePasskeyBody = z.input<typeof RemovePasskeyBody>;

export const PasskeySignInBody = z.strictObject({ credential: AuthenticationCredential }).meta({ examples: [{ credential: EXAMPLE_ASSERTION }] });
export type PasskeySignInBody = z.input<typeof PasskeySignInBody>;

export { EXAMPLE_ASSERTION };
