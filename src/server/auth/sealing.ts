import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for the few secrets Tessera must be able to show again (login tokens). The key is
 * derived from the server key; the row's identity is bound in as associated data, so a sealed
 * value copied onto another row does not open.
 */
export interface Sealer {
  seal(plaintext: string, associatedData: string): Buffer;
  open(sealed: Uint8Array, associatedData: string): string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createSealer(serverSecret: Buffer): Sealer {
  const key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'tessera login-token sealing v1', 32));
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    open(sealed, associatedData) {
      const bytes = Buffer.from(sealed);
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}
