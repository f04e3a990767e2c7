import { hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { FieldError } from '../../shared/problems.ts';

/** OWASP Password Storage Cheat Sheet: argon2id, 19 MiB memory, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = {
  algorithm: 2, // Algorithm.Argon2id (a const enum, which type stripping cannot read)
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Common passwords shipped with @zxcvbn-ts/language-common (about 49,000 entries). */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  (dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()),
);

export function commonPasswordCount(): number {
  return COMMON_PASSWORDS.size;
}

/**
 * The rules the shared contract cannot check on its own: the blocklist and the person's own
 * details. Length and the letters-and-digits mix are in the contract (src/shared/contracts.ts).
 */
export function passwordPolicyErrors(password: string, person: { email?: string; name?: string } = {}, field = 'password'): FieldError[] {
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) {
    return [{ field, code: 'common_password', message: 'This password is too common; choose another' }];
  }
  const localPart = person.email?.split('@')[0]?.toLowerCase();
  if ((localPart && localPart.length >= 4 && lowered.includes(localPart)) || lowered === person.email?.toLowerCase()) {
    return [{ field, code: 'contains_email', message: 'Do not use your email address in your password' }];
  }
  return [];
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (!storedHash) {
    // Spend the same time as a real check, so an unknown email cannot be told apart by timing.
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

const dummyHash = hash('tessera-timing-equalizer-0', ARGON2_OPTIONS);
