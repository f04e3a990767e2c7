import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets handed to people and programs: a readable prefix, 256 random bits and a checksum,
 * e.g. `tsr_pr_4bX…q9_k3Zq1w`. The checksum lets a mistyped secret be refused without a database
 * lookup; the database keeps only the SHA-256 of the whole string.
 */
export type SecretPrefix = 'tsr_ev_' | 'tsr_pr_' | 'tsr_ec_' | 'tsr_ses_' | 'tsr_mt_' | 'tsr_at_' | 'tsr_rt_' | 'tsr_inv_' | 'tsr_ak_';

const BODY_BYTES = 32;
const BODY_CHARS = 43; // base64url of 32 bytes
const CHECKSUM_CHARS = 6;

function checksum(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, CHECKSUM_CHARS);
}

export function generateSecret(prefix: SecretPrefix): string {
  const body = `${prefix}${randomBytes(BODY_BYTES).toString('base64url')}`;
  return `${body}_${checksum(body)}`;
}

/** True when the secret has the prefix, the length and a matching checksum. */
export function isWellFormedSecret(secret: string, prefix: SecretPrefix): boolean {
  if (!secret.startsWith(prefix)) return false;
  // base64url may itself contain '_', so split by length, not by the separator
  if (secret.length !== prefix.length + BODY_CHARS + 1 + CHECKSUM_CHARS) return false;
  const body = secret.slice(0, prefix.length + BODY_CHARS);
  const sum = secret.slice(-CHECKSUM_CHARS);
  if (secret[body.length] !== '_') return false;
  return equalInConstantTime(sum, checksum(body));
}

/**
 * True when both strings are the same, in a time that does not depend on where they first differ,
 * so a guesser cannot learn a checksum a character at a time. Lengths are compared first (they are
 * public: a checksum has a fixed size), and in bytes, since timingSafeEqual throws on buffers of
 * different sizes — six characters of a caller's secret are not always six bytes.
 */
export function equalInConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}
