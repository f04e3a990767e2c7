import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransport,
} from '@simplewebauthn/server';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
 * for the browser, then its answer verified against them. A challenge carries what it was made
 * for (purpose, person, expiry) under a MAC with a key derived from the server key, so starting a
 * ceremony writes nothing; the first answer to it records it as spent, so an answer is taken
 * once, on any node, and only for the purpose and person the ceremony was started for.
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

const PURPOSES: CeremonyPurpose[] = ['register', 'second_factor', 'sign_in'];
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
/** nonce · expiry (ms, 8 bytes) · purpose (1) · person (16, zeros for none) · MAC */
const CHALLENGE_BYTES = NONCE_BYTES + 8 + 1 + 16 + MAC_BYTES;
const NOBODY = Buffer.alloc(16);

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
  readonly #challengeKey: Buffer;
  readonly rp: RelyingParty;

  /** `challengeKey`: 32 bytes derived from the server key, for the challenges' MAC. */
  constructor(database: Database, clock: Clock, rp: RelyingParty, challengeKey: Buffer) {
    this.#database = database;
    this.#clock = clock;
    this.rp = rp;
    this.#challengeKey = challengeKey;
  }

  /**
   * Options for creating a passkey for the person: a discoverable credential (so it can sign in
   * without an email), none of the person's own passkeys again, no attestation (which authenticator
   * it is does not change what it proves here, and asking would show people a privacy prompt).
   */
  async registrationOptions(user: { id: string; email: string; name: string }, existing: Array<{ credential_id: string; transports: string[] }>): Promise<PasskeyCreationOptions> {
    const options = await generateRegistrationOptions({
      challenge: this.#challenge('register', user.id),
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
      challenge: this.#challenge(purpose, user?.id ?? null),
      rpID: this.rp.id,
      timeout: CEREMONY_MS,
      userVerification: purpose === 'sign_in' ? 'required' : 'preferred',
      allowCredentials: user?.passkeys.map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })),
    });
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

  #mac(body: Buffer): Buffer {
    return createHmac('sha256', this.#challengeKey).update(body).digest();
  }

  /** A new challenge naming its purpose, person and expiry; nothing is stored. */
  #challenge(purpose: CeremonyPurpose, userId: string | null): Uint8Array<ArrayBuffer> {
    const expiry = Buffer.alloc(8);
    expiry.writeBigUInt64BE(BigInt(this.#clock.now().getTime() + CEREMONY_MS));
    const body = Buffer.concat([randomBytes(NONCE_BYTES), expiry, Buffer.from([PURPOSES.indexOf(purpose)]), userId ? Buffer.from(userHandleOf(userId)) : NOBODY]);
    return new Uint8Array(Buffer.concat([body, this.#mac(body)]));
  }

  /**
   * Spends a challenge: true when this server made it for this purpose and person, it has not
   * expired, and no answer spent it before (its hash inserted now, refused if already there).
   */
  async #spend(challenge: string, purpose: CeremonyPurpose, userId: string | null): Promise<boolean> {
    const bytes = Buffer.from(challenge, 'base64url');
    if (bytes.length !== CHALLENGE_BYTES) return false;
    const body = bytes.subarray(0, CHALLENGE_BYTES - MAC_BYTES);
    if (!timingSafeEqual(bytes.subarray(body.length), this.#mac(body))) return false;
    const expiresAt = Number(body.readBigUInt64BE(NONCE_BYTES));
    const person = body.subarray(NONCE_BYTES + 9);
    const now = this.#clock.now();
    if (expiresAt <= now.getTime() || body[NONCE_BYTES + 8] !== PURPOSES.indexOf(purpose)) return false;
    if (!person.equals(userId ? Buffer.from(userHandleOf(userId)) : NOBODY)) return false;
    const { db } = this.#database;
    // answers to ceremonies that have expired can never come back: their rows go as new ones come
    await db.deleteFrom('spent_webauthn_challenges').where('expires_at', '<=', now).execute();
    const spent = await db
      .insertInto('spent_webauthn_challenges')
      .values({ challenge_hash: createHash('sha256').update(bytes).digest(), expires_at: new Date(expiresAt) })
      .onConflict((oc) => oc.doNothing())
      .returning('expires_at')
      .executeTakeFirst();
    return spent !== undefined;
  }
}
