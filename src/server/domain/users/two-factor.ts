import { hash, randomInt } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import type { Database, Tx } from '../../db/database.ts';
import type { Sealer } from '../../auth/sealing.ts';
import { conflict } from '../../http/errors.ts';
import { countPasskeys } from './passkeys.ts';
import { RECOVERY_CODE_COUNT, TOTP_DIGITS, TOTP_PERIOD_SECONDS, type TwoFactorEnrolment, type TwoFactorStatus } from '../../../shared/two-factor.ts';

/**
 * A person's second factor: a TOTP secret (RFC 6238: SHA-1, 6 digits, 30-second steps), sealed
 * with the server key because each code is checked against it, and ten single-use recovery codes
 * kept as SHA-256 hashes. See docs/two-factor.md.
 */

/** Codes of the step before and after now are accepted too: phone clocks drift. */
const STEP_WINDOW = 1;
/** 160 bits, as RFC 4226 recommends for HMAC-SHA-1. */
const SECRET_BYTES = 20;
const ISSUER = 'Tessera';
/** Crockford's base32 alphabet: no I, L, O or U to misread. */
const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** 16 characters of 5 bits: 80 random bits, too many to guess or to reverse from the hash. */
const RECOVERY_CODE_CHARS = 16;

/** The sealed secret opens only on its own row. */
const sealedFor = (userId: string) => `two-factor:${userId}`;

function totpOf(secret: string, email: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer: ISSUER, label: email, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret });
}

export async function twoFactorStatus(db: Database['db'] | Tx, userId: string, required: boolean): Promise<TwoFactorStatus> {
  const credential = await db.selectFrom('two_factor_credentials').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
  const left = await db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  const passkeys = await countPasskeys(db, userId);
  const app = credential?.confirmed_at != null;
  return {
    enabled: app || passkeys > 0,
    app,
    confirmedAt: credential?.confirmed_at?.toISOString() ?? null,
    passkeys,
    recoveryCodesLeft: Number(left.n),
    required,
  };
}

/**
 * Starts (or restarts) an enrolment: a new secret waits for its first code. A confirmed second
 * factor is not replaced behind the person's back: it must be turned off first.
 */
export async function startEnrolment(tx: Tx, sealer: Sealer, user: { id: string; email: string }, now: Date): Promise<TwoFactorEnrolment> {
  const existing = await tx.selectFrom('two_factor_credentials').select('confirmed_at').where('user_id', '=', user.id).forUpdate().executeTakeFirst();
  if (existing?.confirmed_at) throw conflict('Two-factor sign-in is already on. Turn it off first to set up another app.');
  const secret = new OTPAuth.Secret({ size: SECRET_BYTES }).base32;
  const sealed = sealer.seal(secret, sealedFor(user.id));
  await tx
    .insertInto('two_factor_credentials')
    .values({ user_id: user.id, secret_sealed: sealed, created_at: now, confirmed_at: null, last_used_step: null })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ secret_sealed: sealed, created_at: now, confirmed_at: null, last_used_step: null }))
    .execute();
  const otpauthUri = totpOf(secret, user.email).toString();
  return { secret, otpauthUri, qrSvg: await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
}

/**
 * Checks a code of the app and spends its step: the step must be later than the last one used,
 * so a code works once (and an older code never). `pending` checks the code of an enrolment that
 * waits for confirmation instead of an active second factor. The update is guarded by the step,
 * so of two requests racing with one code only one wins.
 */
export async function spendTotpCode(
  tx: Tx,
  sealer: Sealer,
  user: { id: string; email: string },
  code: string,
  now: Date,
  which: 'active' | 'pending' = 'active',
): Promise<boolean> {
  const row = await tx.selectFrom('two_factor_credentials').selectAll().where('user_id', '=', user.id).executeTakeFirst();
  if (!row || (which === 'active') !== (row.confirmed_at !== null)) return false;
  const totp = totpOf(sealer.open(row.secret_sealed, sealedFor(user.id)), user.email);
  const delta = totp.validate({ token: code, timestamp: now.getTime(), window: STEP_WINDOW });
  if (delta === null) return false;
  const step = Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS) + delta;
  const spent = await tx
    .updateTable('two_factor_credentials')
    .set({ last_used_step: step, ...(which === 'pending' ? { confirmed_at: now } : {}) })
    .where('user_id', '=', user.id)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .executeTakeFirst();
  return spent.numUpdatedRows > 0n;
}

function newRecoveryCode(): string {
  const chars = Array.from({ length: RECOVERY_CODE_CHARS }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** As typed: any case, with or without the dashes and spaces of the shown form. */
function recoveryCodeHash(code: string): Buffer {
  return hash('sha256', code.toLowerCase().replace(/[\s-]/g, ''), 'buffer');
}

/** Replaces the person's recovery codes with a new set; the codes are returned once, only hashes stay. */
export async function issueRecoveryCodes(tx: Tx, userId: string, now: Date): Promise<string[]> {
  await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await tx.insertInto('recovery_codes').values(codes.map((code) => ({ user_id: userId, code_hash: recoveryCodeHash(code), created_at: now }))).execute();
  return codes;
}

/** Spends a recovery code: found by its hash and deleted, so it works once. */
export async function spendRecoveryCode(tx: Tx, userId: string, code: string): Promise<boolean> {
  const spent = await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).where('code_hash', '=', recoveryCodeHash(code)).executeTakeFirst();
  return spent.numDeletedRows > 0n;
}

/** Whether the person's authenticator app is set up and confirmed. */
export async function hasAuthenticatorApp(db: Database['db'] | Tx, userId: string): Promise<boolean> {
  const row = await db.selectFrom('two_factor_credentials').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
  return row?.confirmed_at != null;
}

/** Whether the person has a second factor: a confirmed app or a passkey. */
export async function hasTwoFactor(db: Database['db'] | Tx, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('users as u')
    .select((eb) => [
      eb.exists(eb.selectFrom('two_factor_credentials as f').select('f.user_id').whereRef('f.user_id', '=', 'u.id').where('f.confirmed_at', 'is not', null)).as('app'),
      eb.exists(eb.selectFrom('passkeys as p').select('p.id').whereRef('p.user_id', '=', 'u.id')).as('passkey'),
    ])
    .where('u.id', '=', userId)
    .executeTakeFirst();
  return Boolean(row?.app) || Boolean(row?.passkey);
}

/** Turns the app off; the recovery codes go with the last second factor. */
export async function removeTwoFactor(tx: Tx, userId: string): Promise<void> {
  await tx.deleteFrom('two_factor_credentials').where('user_id', '=', userId).execute();
  await dropRecoveryCodesWithLastFactor(tx, userId);
}

/** Recovery codes stand in for a second factor: with none left (no app, no passkey), they go too. */
export async function dropRecoveryCodesWithLastFactor(tx: Tx, userId: string): Promise<void> {
  if (!(await hasTwoFactor(tx, userId))) await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
}
