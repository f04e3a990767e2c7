import type { FastifyRequest } from 'fastify';
import { verifyPassword } from '../../auth/passwords.ts';
import type { PortalPrincipal } from '../../auth/sessions.ts';
import { SIGN_IN_RULES, type ThrottleKey } from '../../auth/throttle.ts';
import type { Tx } from '../../db/database.ts';
import { fieldError } from '../../http/errors.ts';
import type { Services } from '../../services.ts';
import { findUserById, type UserRow } from './users.ts';

/**
 * What every sensitive change to a person's own sign-in shares (password, email, second factors,
 * passkeys): the password typed again, and the person's other sessions ended with the change.
 */

/**
 * The password typed again, counted on the same keys as the sign-in form: a stolen session
 * cannot be used to guess the password faster than the sign-in page could.
 */
export async function confirmPassword(services: Services, request: FastifyRequest, principal: PortalPrincipal, password: string, field: string): Promise<UserRow> {
  const { throttle, database } = services;
  const keys: ThrottleKey[] = [
    { key: `sign-in:email:${principal.user.email.toLowerCase()}`, rule: SIGN_IN_RULES.email },
    { key: `sign-in:address:${request.ip}`, rule: SIGN_IN_RULES.address },
  ];
  const counted = await throttle.check(keys);
  const user = await findUserById(database.db, principal.user.id);
  if (!user || !(await verifyPassword(user.password_hash, password))) {
    await throttle.fail(keys);
    throw fieldError(field, 'incorrect_password', 'This is not your current password');
  }
  if (counted.has(keys[0]!.key)) await throttle.clear(keys[0]!.key);
  return user;
}

/**
 * Runs a sensitive change in one transaction that also ends the person's other sessions. A
 * change that answers null did not happen (a wrong code): nothing is written, no session ends.
 */
export async function changeEndingOtherSessions<T>(services: Services, principal: PortalPrincipal, change: (tx: Tx) => Promise<T | null>): Promise<T | null> {
  const { database, sessions } = services;
  const result = await database.inSystem(async (tx) => {
    const value = await change(tx);
    if (value !== null) await sessions.revokeAllOf(tx, principal.user.id, principal.sessionKey);
    return value;
  });
  if (result !== null) await sessions.forgetEverywhere({ user: principal.user.id });
  return result;
}
