import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CsrfToken,
  EmailTokenBody,
  Me,
  PasswordResetConfirmBody,
  PasswordResetRequestBody,
  Registered,
  RegisterBody,
  SignedIn,
  SignInAnswer,
  SignInBody,
} from '../../shared/contracts.ts';
import { EmailChangeTokenBody, TwoFactorMethods, TwoFactorSignInBody } from '../../shared/two-factor.ts';
import { insertAccountWithOwner } from '../domain/accounts/accounts.ts';
import { recordUserChange } from '../domain/audit/record.ts';
import { consumeEmailChangeToken, consumeEmailToken, findUserByEmail, findUserById, insertUser, issueEmailToken } from '../domain/users/users.ts';
import { hasAuthenticatorApp, hasTwoFactor, spendRecoveryCode, spendTotpCode } from '../domain/users/two-factor.ts';
import { passkeyDescriptors, recordPasskeyUse } from '../domain/users/passkeys.ts';
import { AppError, conflict, fieldError, uniqueClash } from '../http/errors.ts';
import { changeContext } from '../http/context.ts';
import { requireUser } from './access.ts';
import { linkPendingIdentity } from './oidc.ts';
import { clearPendingSignInCookie, clearSessionCookie, madeWithPassword, pendingSignInOf, PENDING_SIGN_IN_MS, setPendingSignInCookie, setSessionCookie } from './cookies.ts';
import { hashPassword, passwordPolicyErrors, verifyPassword } from './passwords.ts';
import { toUser } from './sessions.ts';
import { SIGN_IN_RULES, type ThrottleKey, type ThrottleRule } from './throttle.ts';
import type { Services } from '../services.ts';
import type { Tx } from '../db/database.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Password-reset requests and verification resends send mail: every request counts, per email and per address. */
export const RESET_RULES = {
  email: { limit: 3, windowMs: 15 * 60_000, blockMs: 15 * 60_000, maxBlockMs: 60 * 60_000 },
  address: { limit: 20, windowMs: 15 * 60_000, blockMs: 15 * 60_000, maxBlockMs: 60 * 60_000 },
};

/**
 * Registration tells a taken email by its 409 (on purpose: people who forgot they have an account
 * are told to sign in). Each such answer counts against the caller's address, so the answer can
 * tell a few emails apart but cannot be used to sweep a list of them.
 */
export const REGISTRATION_RULE: ThrottleRule = { limit: 20, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 };

/** Guessing emailed links (verification, password reset) is counted per client address, like every other guessable secret. */
export const EMAIL_LINK_RULE: ThrottleRule = { limit: 20, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 };

const noContent = { 204: z.null().describe('Done') };

const PENDING_SIGN_IN_GONE = 'Sign in with your password first: it waits 5 minutes for the second factor.';
/** Why a passkey's answer was not taken, whatever the reason: an expired or spent ceremony, another site, a bad signature. */
export const PASSKEY_REFUSED = 'This passkey was not accepted. Try again.';
const accepted = { 202: z.null().describe('Accepted') };

function assertPasswordPolicy(password: string, person: { email?: string; name?: string }): void {
  const errors = passwordPolicyErrors(password, person);
  if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
}

export async function sendEmailLink(services: Services, to: string, subject: string, intro: string, path: string, secret: string): Promise<void> {
  const link = `${services.publicUrl}${path}?token=${encodeURIComponent(secret)}`;
  await services.mailer.send({ to, subject, text: `${intro}\n\n${link}\n\nIf you did not ask for this, ignore this message.\n` });
}

/** Opens a portal session in the caller's transaction, sets its cookie, and returns a CSRF token bound to it. */
export async function startPortalSession(services: Services, request: FastifyRequest, reply: FastifyReply, tx: Tx, userId: string): Promise<string> {
  const { secret, key } = await services.sessions.create(tx, userId, { address: request.ip, userAgent: request.headers['user-agent'] ?? null });
  setSessionCookie(reply, secret, Math.floor(services.config.sessionMaxDays * 86_400));
  return reply.generateCsrf({ userInfo: key });
}

/**
 * Wrong second-factor codes are counted per person like wrong passwords per email (5, then 30 s
 * doubling), and per address together with password guesses.
 */
export function twoFactorThrottleKeys(userId: string, address: string): ThrottleKey[] {
  return [
    { key: `two-factor:user:${userId}`, rule: SIGN_IN_RULES.email },
    { key: `sign-in:address:${address}`, rule: SIGN_IN_RULES.address },
  ];
}

export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const services = app.services;
  const { database, sessions, throttle, clock, plans, sealer, webauthn } = services;

  /**
   * Runs a link's use; a link that is invalid, used or expired counts against the caller's
   * address, and past the limit even a good link waits (429). A refused new password does not
   * count: the link itself was right.
   */
  async function countingBadLinks<T>(address: string, use: () => Promise<T>): Promise<T> {
    const keys: ThrottleKey[] = [{ key: `email-link:address:${address}`, rule: EMAIL_LINK_RULE }];
    await throttle.check(keys);
    try {
      return await use();
    } catch (error) {
      if (error instanceof AppError && error.errors?.some((e) => e.field === 'token' && e.code === 'invalid_token')) await throttle.fail(keys);
      throw error;
    }
  }

  const startSession = (request: FastifyRequest, reply: FastifyReply, tx: Tx, userId: string) => startPortalSession(services, request, reply, tx, userId);

  app.get('/auth/csrf', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'getCsrfToken',
      summary: 'A CSRF token for the portal; send it as X-CSRF-Token on every unsafe request',
      response: { 200: CsrfToken },
    },
  }, async (request, reply) => ({ csrfToken: reply.generateCsrf({ userInfo: request.principal?.sessionKey ?? 'anonymous' }) }));

  app.post('/auth/register', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'register',
      summary: 'Register: creates the person, their first account (they own it) and signs them in',
      body: RegisterBody,
      response: { 201: Registered },
    },
  }, async (request, reply) => {
    const body = request.body;
    const keys: ThrottleKey[] = [{ key: `register:address:${request.ip}`, rule: REGISTRATION_RULE }];
    await throttle.check(keys);
    assertPasswordPolicy(body.password, body);
    const context = changeContext(request, clock);
    // the unique index on the email decides, also between two registrations at the same moment
    const alreadyRegistered = uniqueClash('email', 'already_registered', 'This email is already registered', 'This email is already registered. Sign in, or reset your password.');
    const passwordHash = await hashPassword(body.password);
    const result = await database
      .inSystem(async (tx) => {
        const user = await insertUser(tx, { name: body.name, email: body.email, passwordHash }, context.now);
        const userContext = { ...context, actor: { type: 'user' as const, id: user.id } };
        const account = await insertAccountWithOwner(tx, userContext, user.id, { ...body, planId: plans.defaultId });
        await recordUserChange(tx, userContext, { userId: user.id, action: 'user.registered', after: toUser(user) });
        const verifySecret = await issueEmailToken(tx, user, 'verify_email', context.now);
        const csrfToken = await startSession(request, reply, tx, user.id);
        return { user, account, csrfToken, verifySecret };
      })
      .catch(alreadyRegistered)
      // only a taken email counts: new people registering from one office never wait
      .catch(async (error) => {
        if (error instanceof AppError && error.code === 'conflict') await throttle.fail(keys);
        throw error;
      });
    await sendEmailLink(services, result.user.email, 'Confirm your email address for Tessera',
      `Hello ${result.user.name},\n\nconfirm your email address by opening this link (valid for 48 hours):`,
      '/verify-email', result.verifySecret).catch((err) => request.log.error({ err }, 'verification mail failed'));
    reply.code(201);
    return { user: toUser(result.user), account: result.account, csrfToken: result.csrfToken };
  });

  app.post('/auth/sign-in', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'signIn',
      summary: 'Sign in with email and password; answers the same for an unknown email and a wrong password. With a second factor, no session yet: twoFactorRequired, then POST /auth/sign-in/two-factor',
      body: SignInBody,
      response: { 200: SignInAnswer },
    },
  }, async (request, reply) => {
    const email = request.body.email.toLowerCase();
    const keys: ThrottleKey[] = [
      { key: `sign-in:email:${email}`, rule: SIGN_IN_RULES.email },
      { key: `sign-in:address:${request.ip}`, rule: SIGN_IN_RULES.address },
    ];
    const counted = await throttle.check(keys);
    const user = await findUserByEmail(database.db, email);
    const valid = await verifyPassword(user?.password_hash ?? null, request.body.password);
    if (!user || !valid) {
      await throttle.fail(keys);
      throw new AppError('invalid_credentials', 'Email or password is incorrect.');
    }
    if (counted.has(keys[0]!.key)) await throttle.clear(keys[0]!.key);
    const context = { ...changeContext(request, clock), actor: { type: 'user' as const, id: user.id } };
    const previous = request.principal;
    if (await hasTwoFactor(database.db, user.id)) {
      // the password alone opens no session: the browser's earlier one ends, as at any sign-in,
      // and a pending sign-in bound to this person waits for the second factor
      if (previous) {
        await database.inSystem((tx) => sessions.revoke(tx, previous.sessionKey));
        await sessions.forgetEverywhere({ session: previous.sessionKey });
        clearSessionCookie(reply);
      }
      setPendingSignInCookie(reply, user, new Date(context.now.getTime() + PENDING_SIGN_IN_MS));
      return { twoFactorRequired: true as const, csrfToken: reply.generateCsrf({ userInfo: 'anonymous' }) };
    }
    const csrfToken = await database.inSystem(async (tx) => {
      // a new session id at every sign-in; the one the browser had (if any) ends
      if (previous) await sessions.revoke(tx, previous.sessionKey);
      await recordUserChange(tx, context, { userId: user.id, action: 'user.signed_in' });
      await linkPendingIdentity(tx, request, reply, context, user.id);
      return startSession(request, reply, tx, user.id);
    });
    if (previous) await sessions.forgetEverywhere({ session: previous.sessionKey });
    return { user: toUser(user), csrfToken };
  });

  app.post('/auth/sign-in/two-factor/options', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'getTwoFactorMethods',
      summary: 'What the second step of a pending sign-in accepts; with a passkey, the options for navigator.credentials.get()',
      response: { 200: TwoFactorMethods },
    },
  }, async (request) => {
    const pending = pendingSignInOf(request, clock.now());
    if (!pending) throw new AppError('unauthenticated', PENDING_SIGN_IN_GONE);
    const [app, passkeys, codes] = await Promise.all([
      hasAuthenticatorApp(database.db, pending.userId),
      passkeyDescriptors(database.db, pending.userId),
      database.db.selectFrom('recovery_codes').select('user_id').where('user_id', '=', pending.userId).limit(1).execute(),
    ]);
    const methods = [...(app ? ['app' as const] : []), ...(passkeys.length > 0 ? ['passkey' as const] : []), ...(codes.length > 0 ? ['recovery_code' as const] : [])];
    const passkey = passkeys.length > 0 ? await webauthn.authenticationOptions('second_factor', { id: pending.userId, passkeys }) : null;
    return { methods, passkey };
  });

  app.post('/auth/sign-in/two-factor', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'completeTwoFactorSignIn',
      summary: 'Second step of a sign-in: a code of the authenticator app, a recovery code (works once), or a passkey; opens the session',
      body: TwoFactorSignInBody,
      response: { 200: SignedIn },
    },
  }, async (request, reply) => {
    const context = changeContext(request, clock);
    const pending = pendingSignInOf(request, context.now);
    if (!pending) throw new AppError('unauthenticated', PENDING_SIGN_IN_GONE);
    const keys = twoFactorThrottleKeys(pending.userId, request.ip);
    const counted = await throttle.check(keys);
    const { code, recoveryCode, passkey } = request.body;
    // the passkey's challenge is spent outside the transaction: a refused answer spends it too
    const passkeyUse = passkey !== undefined ? await webauthn.verifyAuthentication('second_factor', pending.userId, passkey) : null;
    const previous = request.principal;
    const signedIn = await database.inSystem(async (tx) => {
      const user = await findUserById(tx, pending.userId);
      if (!user || !madeWithPassword(pending, user.password_hash)) return null;
      const spent =
        code !== undefined
          ? await spendTotpCode(tx, sealer, user, code, context.now)
          : recoveryCode !== undefined
            ? await spendRecoveryCode(tx, user.id, recoveryCode)
            : passkeyUse !== null && (await recordPasskeyUse(tx, passkeyUse, context.now));
      if (!spent) return null;
      if (previous) await sessions.revoke(tx, previous.sessionKey);
      await recordUserChange(tx, { ...context, actor: { type: 'user', id: user.id } }, {
        userId: user.id,
        action: 'user.signed_in',
        after: { secondFactor: code !== undefined ? 'totp' : recoveryCode !== undefined ? 'recovery_code' : 'passkey', ...(passkeyUse ? { passkeyId: passkeyUse.passkey.id } : {}) },
      });
      // the password step came first: an identity waiting for the password is linked with it
      await linkPendingIdentity(tx, request, reply, { ...context, actor: { type: 'user', id: user.id } }, user.id);
      return { user, csrfToken: await startSession(request, reply, tx, user.id) };
    });
    if (!signedIn) {
      await throttle.fail(keys);
      if (code !== undefined) throw fieldError('code', 'invalid_code', 'This code is not right, or was used already. Wait for the next one.');
      if (recoveryCode !== undefined) throw fieldError('recoveryCode', 'invalid_code', 'This recovery code is not right, or was used already.');
      throw fieldError('passkey', 'invalid_passkey', PASSKEY_REFUSED);
    }
    if (counted.has(keys[0]!.key)) await throttle.clear(keys[0]!.key);
    if (previous) await sessions.forgetEverywhere({ session: previous.sessionKey });
    clearPendingSignInCookie(reply);
    return { user: toUser(signedIn.user), csrfToken: signedIn.csrfToken };
  });

  app.post('/auth/sign-out', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: { tags: ['Sign-in'], operationId: 'signOut', summary: 'End this portal session', response: noContent },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    await database.inSystem(async (tx) => {
      await sessions.revoke(tx, principal.sessionKey);
      await recordUserChange(tx, context, { userId: principal.user.id, action: 'user.signed_out' });
    });
    await sessions.forgetEverywhere({ session: principal.sessionKey });
    clearSessionCookie(reply);
    return reply.code(204).send(null);
  });

  app.get('/me', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: {
      tags: ['Me'],
      operationId: 'getMe',
      summary: 'The signed-in person and the accounts they belong to, with their role in each',
      response: { 200: Me },
    },
  }, async (request) => {
    const principal = requireUser(request);
    return { user: principal.user, accounts: principal.accounts, twoFactor: principal.twoFactor };
  });

  app.post('/auth/verify-email', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'verifyEmail',
      summary: 'Confirm an email address with the emailed single-use token',
      body: EmailTokenBody,
      response: noContent,
    },
  }, async (request, reply) => {
    const context = changeContext(request, clock);
    const user = await countingBadLinks(request.ip, () => database.inSystem(async (tx) => {
      const user = await consumeEmailToken(tx, request.body.token, 'verify_email', context.now);
      if (!user.email_verified_at) {
        await tx.updateTable('users').set({ email_verified_at: context.now, updated_at: context.now }).where('id', '=', user.id).execute();
        await recordUserChange(tx, { ...context, actor: { type: 'user', id: user.id } }, { userId: user.id, action: 'user.email_verified', after: { email: user.email } });
      }
      return user;
    }));
    await sessions.forgetEverywhere({ user: user.id });
    return reply.code(204).send(null);
  });

  app.post('/auth/email-change/confirm', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'confirmEmailChange',
      summary: "Change the person's email to the new address the single-use link was mailed to; ends their other sessions",
      body: EmailChangeTokenBody,
      response: noContent,
    },
  }, async (request, reply) => {
    const context = changeContext(request, clock);
    const current = request.principal;
    const changed = await countingBadLinks(request.ip, () => database.inSystem(async (tx) => {
      const { user, newEmail } = await consumeEmailChangeToken(tx, request.body.token, context.now);
      await tx
        .updateTable('users')
        // the link reached the new inbox: the new address is proven
        .set({ email: newEmail, email_verified_at: context.now, updated_at: context.now })
        .where('id', '=', user.id)
        .execute()
        .catch(uniqueClash('token', 'already_registered', 'This address was registered by someone else meanwhile'));
      // every session but the one that opened the link, if it is the person's own
      await sessions.revokeAllOf(tx, user.id, current?.user.id === user.id ? current.sessionKey : undefined);
      await recordUserChange(tx, { ...context, actor: { type: 'user', id: user.id } }, {
        userId: user.id,
        action: 'user.email_changed',
        before: { email: user.email },
        after: { email: newEmail },
      });
      return { user, newEmail };
    }));
    await sessions.forgetEverywhere({ user: changed.user.id });
    // the old address hears of it, so a hijacked account does not change hands silently
    await services.mailer
      .send({
        to: changed.user.email,
        subject: 'Your Tessera email address was changed',
        text: `Hello ${changed.user.name},\n\nthe email address you sign in to Tessera with is now ${changed.newEmail}. If you did not do this, reset your password at once and tell your account owner.\n`,
      })
      .catch((err) => request.log.error({ err }, 'email change notice failed'));
    return reply.code(204).send(null);
  });

  app.post('/auth/verify-email/resend', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'resendVerificationEmail',
      summary: 'Send a new email-verification link to the signed-in person',
      response: accepted,
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    if (principal.user.emailVerified) throw conflict('Your email address is already confirmed.');
    const keys = [{ key: `verify:user:${principal.user.id}`, rule: RESET_RULES.email }];
    await throttle.check(keys);
    await throttle.fail(keys);
    const secret = await database.inSystem((tx) => issueEmailToken(tx, principal.user, 'verify_email', clock.now()));
    await sendEmailLink(services, principal.user.email, 'Confirm your email address for Tessera',
      `Hello ${principal.user.name},\n\nconfirm your email address by opening this link (valid for 48 hours):`, '/verify-email', secret);
    return reply.code(202).send(null);
  });

  app.post('/auth/password-reset', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'requestPasswordReset',
      summary: 'Email a password-reset link; answers the same whether or not the email is registered',
      body: PasswordResetRequestBody,
      response: accepted,
    },
  }, async (request, reply) => {
    const email = request.body.email.toLowerCase();
    const keys: ThrottleKey[] = [
      { key: `reset:email:${email}`, rule: RESET_RULES.email },
      { key: `reset:address:${request.ip}`, rule: RESET_RULES.address },
    ];
    await throttle.check(keys);
    await throttle.fail(keys); // every request counts: this sends mail
    const now = clock.now();
    const issued = await database.inSystem(async (tx) => {
      const user = await findUserByEmail(tx, email);
      return user ? { user, secret: await issueEmailToken(tx, user, 'reset_password', now) } : null;
    });
    if (issued) {
      await sendEmailLink(services, issued.user.email, 'Reset your Tessera password',
        `Hello ${issued.user.name},\n\nset a new password by opening this link (valid for one hour, once):`,
        '/reset-password', issued.secret).catch((err) => request.log.error({ err }, 'password reset mail failed'));
    }
    return reply.code(202).send(null);
  });

  app.post('/auth/password-reset/confirm', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'confirmPasswordReset',
      summary: 'Set a new password with an emailed reset token; ends every session of the person',
      body: PasswordResetConfirmBody,
      response: noContent,
    },
  }, async (request, reply) => {
    const context = changeContext(request, clock);
    const user = await countingBadLinks(request.ip, () => database.inSystem(async (tx) => {
      const user = await consumeEmailToken(tx, request.body.token, 'reset_password', context.now);
      // a rule failure here rolls the transaction back, so the link stays usable
      assertPasswordPolicy(request.body.password, user);
      const passwordHash = await hashPassword(request.body.password);
      await tx
        .updateTable('users')
        // the link reached the inbox, so the address is proven as well
        .set({ password_hash: passwordHash, updated_at: context.now, email_verified_at: user.email_verified_at ?? context.now })
        .where('id', '=', user.id)
        .execute();
      await sessions.revokeAllOf(tx, user.id);
      await recordUserChange(tx, { ...context, actor: { type: 'user', id: user.id } }, { userId: user.id, action: 'user.password_reset' });
      return user;
    }));
    await sessions.forgetEverywhere({ user: user.id });
    await throttle.clear(`sign-in:email:${user.email.toLowerCase()}`);
    return reply.code(204).send(null);
  });
};
