import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { TesseraError } from '../client/sdk.ts';
import type { AuthenticationCredential, PasskeyCreationOptions, PasskeyRequestOptions, RegistrationCredential } from '../shared/passkeys.ts';
import { FormProblemError, type FormProblem } from './forms.tsx';

/**
 * The browser's passkey prompts (WebAuthn), for the portal's forms. A prompt that gives no answer
 * throws a FormProblemError, so the form shows it in words like any other failure.
 *
 * The casts below sit at one seam: the server's options are what @simplewebauthn/server generated
 * for @simplewebauthn/browser, but the shared contracts type their enumerations as plain strings;
 * the browser's answers are checked against the contracts again by the server.
 */

/** Whether this browser can show a passkey prompt at all. */
export const passkeysSupported = browserSupportsWebAuthn();

/** Creates a passkey on this device (or a phone, a security key) with the options of the server. */
export async function createPasskey(options: PasskeyCreationOptions): Promise<RegistrationCredential> {
  try {
    const credential = await startRegistration({ optionsJSON: options as PublicKeyCredentialCreationOptionsJSON });
    return credential as RegistrationCredential;
  } catch (error) {
    throw new FormProblemError(promptProblem(error, 'create'));
  }
}

/** Signs the server's challenge with one of the person's passkeys. */
export async function signWithPasskey(options: PasskeyRequestOptions): Promise<AuthenticationCredential> {
  try {
    const credential = await startAuthentication({ optionsJSON: options as PublicKeyCredentialRequestOptionsJSON });
    return credential as AuthenticationCredential;
  } catch (error) {
    throw new FormProblemError(promptProblem(error, 'get'));
  }
}

/**
 * The server's answer to a passkey's credential, with a refusal (`invalid_passkey`: a lapsed or
 * spent ceremony, a passkey no longer on the account, another site) said in words that fit where
 * it happened, since the problem's own title speaks of invalid fields.
 */
export async function unlessRefused<T>(answer: Promise<T>, detail: string): Promise<T> {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof TesseraError && error.fieldErrors.some((e) => e.code === 'invalid_passkey')) {
      throw new FormProblemError({ title: 'This passkey was not accepted', detail });
    }
    throw error;
  }
}

/**
 * Why the prompt gave no passkey, in words. The browser says little on purpose: closing the prompt,
 * letting it time out and having no passkey for this site all read NotAllowedError, which is
 * therefore a notice, not an error.
 */
function promptProblem(error: unknown, ceremony: 'create' | 'get'): FormProblem {
  const name = error instanceof Error ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'AbortError':
      return {
        tone: 'notice',
        title: ceremony === 'create' ? 'No passkey was added' : 'No passkey was used',
        detail: 'The prompt was closed or timed out. Try again when you are ready.',
      };
    case 'InvalidStateError':
      return { title: 'This device already has a passkey for you', detail: 'It is in your list below; use another device or password manager to add one more.' };
    case 'SecurityError':
      return { title: 'The browser refused the passkey prompt', detail: 'Passkeys work only at the address Tessera is set up with. Open Tessera there and try again.' };
    case 'NotSupportedError':
      return { title: 'No passkey can be made here', detail: 'This browser or device cannot make a passkey Tessera accepts.' };
    default:
      return { title: 'The passkey prompt failed', detail: error instanceof Error ? error.message : undefined };
  }
}
