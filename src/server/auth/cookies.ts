import type { FastifyReply } from 'fastify';

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
