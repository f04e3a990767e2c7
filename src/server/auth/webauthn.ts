import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransport,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import type { PasskeysTable } from '../db/schema.ts';
import {
  PASSKEY_CEREMONY_SECONDS,
  type AuthenticationCredential,
  type PasskeyCreationOptions,
  type PasskeyRequestOptions,
  type RegistrationCredential,
} from '../../shared/passkeys.ts';

/**
 * WebAuthn ceremonies for passkeys, with @simplewebauthn/server doing the cryptography: options
 * for the browser, then its answer verified against them. Each ceremony's challenge is a row of
 * `webauthn_challenges`, deleted when an answer arrives (whatever the answer), so an answer is
 * taken once, on any node, and only for the purpose and person the ceremony was started for.
 * See docs/passkeys.md.
 */

/** The site passkeys are bound to: browsers sign for this host and origin only. */
export interface RelyingParty {
  /** The host of TESSERA_PUBLIC_URL (a passkey made for it works on its subdomains' pages too). */
  id: string;
  /** The origin pages asking for a passkey must have. */
  origin: string;
  /** Shown by the browser and the password manager beside the passkey. */
  name: string;
}

export function relyingPartyOf(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { id: url.hostname, origin: url.origin, name: 'Tessera' };
}

export type CeremonyPurpose = 'register' | 'second_factor' | 'sign_in';

/** What a verified registration adds to `passkeys`. */
export interface NewCredential {
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  backedUp: boolean;
  aaguid: string;
}

type StoredPasskey = Pick<PasskeysTable, 'id' | 'user_id' | 'credential_id' | 'public_key' | 'sign_count' | 'transports'>;

/** A passkey's signature that checked out; recordPasskeyUse saves the counter it brought. */
export interface VerifiedUse {
  passkey: StoredPasskey;
  signCount: number;
  backedUp: boolean;
}

const CEREMONY_MS = PASSKEY_CEREMONY_SECONDS * 1000;

/**
 * COSE algorithms accepted for a passkey's key: EdDSA, ES256 (what nearly every passkey uses) and
 * RS256 (Windows Hello). Named here rather than left to the library's default, which probes the
 * runtime for the post-quantum ML-DSA (experimental in Node, with a warning in the log).
 */
const ALGORITHMS = [-8, -7, -257];

/**
 * The WebAuthn user handle: the person's id as 16 bytes. It names nobody outside Tessera (no
 * email), and a passwordless sign-in checks it against the passkey's owner.
 */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replaceAll('-', ''), 'hex'));
}

/** The challenge the browser signed over, from its client data; null when that cannot be read. */
function challengeOf(clientDataJSON: string): string | null {
  try {
    const clientData: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (clientData as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && challenge.length > 0 ? challenge : null;
  } catch {
    return null;
  }
}

export class WebAuthnCeremonies {
  readonly #database: Database;
  readonly #clock: Clock;
  readonly rp: RelyingParty;

  constructor(database: Database, clock: Clock, rp: RelyingParty) {
    this.#database = database;
    this.#clock = clock;
    this.rp = rp;
  }

  /**
   * Options for creating a passkey for the person: a discoverable credential (so it can sign in
   * without an email), none of the person's own passkeys again, no attestation (which authenticator
   * it is does not change what it proves here, and asking would show people a privacy prompt).
   */
  async registrationOptions(user: { id: string; email: string; name: string }, existing: Array<{ credential_id: string; transports: string[] }>): Promise<PasskeyCreationOptions> {
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userID: userHandleOf(user.id),
      userName: user.email,
      userDisplayName: user.name,
      timeout: CEREMONY_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    await this.#keep(options.challenge, 'register', user.id);
    return options as PasskeyCreationOptions;
  }

  /** The new credential, when the browser's answer is to this person's registration ceremony and checks out; null otherwise. */
  async verifyRegistration(userId: string, credential: RegistrationCredential): Promise<NewCredential | null> {
    const challenge = challengeOf(credential.response.clientDataJSON);
    if (!challenge || !(await this.#spend(challenge, 'register', userId))) return null;
    try {
      const { verified, registrationInfo } = await verifyRegistrationResponse({
        response: credential,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: false,
        supportedAlgorithmIDs: ALGORITHMS,
      });
      if (!verified) return null;
      return {
        credentialId: registrationInfo.credential.id,
        publicKey: registrationInfo.credential.publicKey,
        signCount: registrationInfo.credential.counter,
        transports: credential.response.transports ?? [],
        backedUp: registrationInfo.credentialBackedUp,
        aaguid: registrationInfo.aaguid,
      };
    } catch {
      // the library throws on every malformed or mismatching answer: all of them are "not accepted"
      return null;
    }
  }

  /**
   * Options for signing with a passkey. As a second factor they name the person's passkeys; for a
   * passwordless sign-in they name none (the browser offers the ones it holds for this site) and
   * ask for user verification (PIN or biometrics), which stands in for the password.
   */
  async authenticationOptions(purpose: 'second_factor' | 'sign_in', user: { id: string; passkeys: Array<{ credential_id: string; transports: string[] }> } | null): Promise<PasskeyRequestOptions> {
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      timeout: CEREMONY_MS,
      userVerification: purpose === 'sign_in' ? 'required' : 'preferred',
      allowCredentials: user?.passkeys.map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })),
    });
    await this.#keep(options.challenge, purpose, user?.id ?? null);
    return options as PasskeyRequestOptions;
  }

  /**
   * The passkey that signed, when the answer is to a ceremony of this purpose (and person, for a
   * second factor), the signature checks out with the stored public key, and the authenticator's
   * counter moved forward (a counter going back means a cloned authenticator); null otherwise.
   */
  async verifyAuthentication(purpose: 'second_factor' | 'sign_in', userId: string | null, credential: AuthenticationCredential): Promise<VerifiedUse | null> {
    const challenge = challengeOf(credential.response.clientDataJSON);
    if (!challenge || !(await this.#spend(challenge, purpose, userId))) return null;
    const passkey = await this.#database.db
      .selectFrom('passkeys')
      .select(['id', 'user_id', 'credential_id', 'public_key', 'sign_count', 'transports'])
      .where('credential_id', '=', credential.id)
      .executeTakeFirst();
    if (!passkey || (userId !== null && passkey.user_id !== userId)) return null;
    const handle = credential.response.userHandle;
    if (handle !== undefined && handle !== Buffer.from(userHandleOf(passkey.user_id)).toString('base64url')) return null;
    try {
      const { verified, authenticationInfo } = await verifyAuthenticationResponse({
        response: credential,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        credential: {
          id: passkey.credential_id,
          publicKey: new Uint8Array(passkey.public_key),
          counter: Number(passkey.sign_count),
          transports: passkey.transports as AuthenticatorTransport[],
        },
        requireUserVerification: purpose === 'sign_in',
      });
      if (!verified) return null;
      return { passkey, signCount: authenticationInfo.newCounter, backedUp: authenticationInfo.credentialBackedUp };
    } catch {
      return null;
    }
  }

  async #keep(challenge: string, purpose: CeremonyPurpose, userId: string | null): Promise<void> {
    const now = this.#clock.now();
    const { db } = this.#database;
    // ceremonies the browser never finished go as new ones start: the table holds minutes of them
    await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).execute();
    await db.insertInto('webauthn_challenges').values({ challenge, purpose, user_id: userId, expires_at: new Date(now.getTime() + CEREMONY_MS) }).execute();
  }

  /** Deletes the challenge; true when it existed for this purpose and person and had not expired. */
  async #spend(challenge: string, purpose: CeremonyPurpose, userId: string | null): Promise<boolean> {
    const spent = await this.#database.db
      .deleteFrom('webauthn_challenges')
      .where('challenge', '=', challenge)
      .where('purpose', '=', purpose)
      .where((eb) => (userId === null ? eb('user_id', 'is', null) : eb('user_id', '=', userId)))
      .where('expires_at', '>', this.#clock.now())
      .executeTakeFirst();
    return spent.numDeletedRows > 0n;
  }
}
