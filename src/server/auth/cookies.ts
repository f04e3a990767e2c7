import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'tessera_session';
export const CSRF_COOKIE = 'tessera_csrf';

/**
 * The flags of every cookie we set, the session and the CSRF secret alike: HttpOnly, SameSite=Lax,
 * and Secure whenever the request arrived over https. `secure: 'auto'` has @fastify/cookie decide
 * that per answer from `request.protocol`, which follows a trusted proxy's X-Forwarded-Proto
 * (TESSERA_TRUST_PROXY), so a cookie set over plain http still works in development.
 */
export const COOKIE_FLAGS = { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' } as const;

export function setSessionCookie(reply: FastifyReply, secret: string, maxAgeSeconds: number): void {
  reply.setCookie(SESSION_COOKIE, secret, { ...COOKIE_FLAGS, maxAge: maxAgeSeconds });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, COOKIE_FLAGS);
}

/**
 * A pending sign-in: the password was right, the second factor is still to come. The signed value
 * names the person and when it stops working; it is no session and opens nothing else.
 */
export const PENDING_SIGN_IN_COOKIE = 'tessera_pending_sign_in';
export const PENDING_SIGN_IN_MS = 5 * 60_000;

/** Binds a pending sign-in to the password it was made with: a password change in between voids it. */
function passwordStamp(passwordHash: string | null): string {
  return createHash('sha256').update(passwordHash ?? '').digest('base64url').slice(0, 16);
}

export function setPendingSignInCookie(reply: FastifyReply, user: { id: string; password_hash: string | null }, expiresAt: Date): void {
  const value = `${user.id}.${expiresAt.getTime()}.${passwordStamp(user.password_hash)}`;
  reply.setCookie(PENDING_SIGN_IN_COOKIE, value, { ...COOKIE_FLAGS, signed: true, maxAge: PENDING_SIGN_IN_MS / 1000 });
}

/** Whether a pending sign-in was made with the person's current password. */
export function madeWithPassword(pending: PendingSignIn, passwordHash: string | null): boolean {
  return pending.passwordStamp === passwordStamp(passwordHash);
}

export interface PendingSignIn {
  userId: string;
  passwordStamp: string;
}

export function clearPendingSignInCookie(reply: FastifyReply): void {
  reply.clearCookie(PENDING_SIGN_IN_COOKIE, COOKIE_FLAGS);
}

/** The pending sign-in the request carries, or null when there is none, it was forged, or it expired. */
export function pendingSignInOf(request: FastifyRequest, now: Date): PendingSignIn | null {
  const raw = request.cookies[PENDING_SIGN_IN_COOKIE];
  if (!raw) return null;
  const unsigned = request.unsignCookie(raw);
  if (!unsigned.valid || unsigned.value === null) return null;
  const [userId, expires, stamp] = unsigned.value.split('.');
  if (!userId || !stamp || !(Number(expires) > now.getTime())) return null;
  return { userId, passwordStamp: stamp };
}
