import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { TestApp } from './app.ts';
import type { AuthenticationCredential, PasskeyCreationOptions, PasskeyRequestOptions, RegistrationCredential } from '../../src/shared/passkeys.ts';

/**
 * A software passkey authenticator for the API suites: it answers the server's options the way a
 * browser and a platform authenticator would (WebAuthn Level 3, "none" attestation, ES256 keys),
 * so the server's real verification (@simplewebauthn/server) checks real signatures. The browser
 * suite uses Chromium's own virtual authenticator instead.
 */

/** The origin of the test app's TESSERA_PUBLIC_URL (test/support/app.ts), where its passkeys belong. */
export const PASSKEY_TEST_ORIGIN = 'http://portal.test';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface StoredCredential {
  id: string;
  privateKey: KeyObject;
  rpId: string;
  userHandle: string;
  signCount: number;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

function u32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
}

/** The public key as a COSE_Key map (EC2, ES256, P-256). */
function coseKeyOf(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]),
  );
}

export interface AuthenticatorOptions {
  /** The origin the "browser" reports in its client data. */
  origin: string;
  /** Whether the person unlocked the authenticator (PIN, biometrics); a passwordless sign-in needs it. */
  userVerified?: boolean;
  /** A synced passkey (backup eligible and backed up), as iCloud Keychain or Google Password Manager make. */
  synced?: boolean;
}

export class SoftwareAuthenticator {
  readonly credentials: StoredCredential[] = [];
  readonly #options: Required<AuthenticatorOptions>;

  constructor(options: AuthenticatorOptions) {
    this.#options = { userVerified: true, synced: false, ...options };
  }

  #flags(extra: number): number {
    const { userVerified, synced } = this.#options;
    return FLAG_UP | (userVerified ? FLAG_UV : 0) | (synced ? FLAG_BE | FLAG_BS : 0) | extra;
  }

  #clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin = this.#options.origin): string {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
  }

  /** navigator.credentials.create(): a new key pair for the site and person of the options. */
  create(options: PasskeyCreationOptions, overrides: { origin?: string; rpId?: string } = {}): RegistrationCredential {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rawId = randomBytes(16);
    const rpId = overrides.rpId ?? options.rp.id!;
    const credential: StoredCredential = { id: rawId.toString('base64url'), privateKey, rpId, userHandle: options.user.id, signCount: 0 };
    this.credentials.push(credential);
    const attestedData = Buffer.concat([Buffer.alloc(16), Buffer.from([0, rawId.length]), rawId, Buffer.from(coseKeyOf(publicKey))]);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.#flags(FLAG_AT)]), u32(0), attestedData]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]) as never);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.#clientData('webauthn.create', options.challenge, overrides.origin),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal', 'hybrid'],
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /**
   * navigator.credentials.get(): signs the options' challenge with a credential it holds for the
   * site (the one the options allow, else the newest), counting up its signature counter.
   */
  get(options: PasskeyRequestOptions, overrides: { origin?: string; credential?: StoredCredential; signCount?: number } = {}): AuthenticationCredential {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const credential =
      overrides.credential ??
      [...this.credentials].reverse().find((c) => c.rpId === options.rpId && (!allowed?.length || allowed.includes(c.id)));
    if (!credential) throw new Error('the authenticator holds no passkey for this site');
    credential.signCount = overrides.signCount ?? credential.signCount + 1;
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, overrides.origin);
    const authData = Buffer.concat([sha256(credential.rpId), Buffer.from([this.#flags(0)]), u32(credential.signCount)]);
    const signature = sign('sha256', Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]), credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }
}

/** A passkey row for a person, written straight into the table: an id the suites that walk ids can aim at. */
export async function seedPasskey(t: TestApp, userId: string): Promise<string> {
  const id = randomUUID();
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await t.db.database.db
    .insertInto('passkeys')
    .values({ id, user_id: userId, credential_id: randomBytes(16).toString('base64url'), public_key: coseKeyOf(publicKey), sign_count: 0, transports: ['internal'], backed_up: false, aaguid: '00000000-0000-0000-0000-000000000000', name: 'Seeded passkey', created_at: new Date(), last_used_at: null })
    .execute();
  return id;
}
