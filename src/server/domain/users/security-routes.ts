import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { User } from '../../../shared/contracts.ts';
import {
  ChangeEmailBody,
  ChangePasswordBody,
  ConfirmTwoFactorBody,
  DisableTwoFactorBody,
  RecoveryCodes,
  RegenerateRecoveryCodesBody,
  StartTwoFactorBody,
  TwoFactorEnrolment,
  TwoFactorStatus,
  UpdateMeBody,
} from '../../../shared/two-factor.ts';
import { requireUser } from '../../auth/access.ts';
import { hashPassword, passwordPolicyErrors } from '../../auth/passwords.ts';
import { sendEmailLink, twoFactorThrottleKeys } from '../../auth/routes.ts';
import { toUser } from '../../auth/sessions.ts';
import type { ThrottleKey } from '../../auth/throttle.ts';
import { changeContext } from '../../http/context.ts';
import { AppError, conflict, fieldError } from '../../http/errors.ts';
import { recordUserChange } from '../audit/record.ts';
import { hasAuthenticatorApp, hasTwoFactor, issueRecoveryCodes, removeTwoFactor, spendRecoveryCode, spendTotpCode, startEnrolment, twoFactorStatus } from './two-factor.ts';
import { changeEndingOtherSessions, confirmPassword } from './reauthentication.ts';
import { findUserByEmail, findUserById, issueEmailChangeToken, type UserRow } from './users.ts';

const noContent = { 204: z.null().describe('Done') };

/**
 * The signed-in person's own security: name, password, email, and the second factor. Every
 * sensitive change asks for the password again (throttled like the sign-in form), ends the
 * person's other sessions and is audited on the person's log. See docs/two-factor.md.
 */
export const securityRoutes: FastifyPluginAsyncZod = async (app) => {
  const services = app.services;
  const { database, sessions, throttle, clock, sealer } = services;

  /** A code of the app or a recovery code, counted per person and address like at sign-in. */
  async function withSecondFactor<T>(request: FastifyRequest, user: UserRow, field: 'code' | 'recoveryCode', change: () => Promise<T | null>): Promise<T> {
    const keys = twoFactorThrottleKeys(user.id, request.ip);
    const counted = await throttle.check(keys);
    const result = await change();
    if (result === null) {
      await throttle.fail(keys);
      throw fieldError(field, 'invalid_code', field === 'code' ? 'This code is not right, or was used already' : 'This recovery code is not right, or was used already');
    }
    if (counted.has(keys[0]!.key)) await throttle.clear(keys[0]!.key);
    return result;
  }

  app.patch('/me', {
    config: { access: { scope: 'signedIn' } },
    schema: { tags: ['Me'], operationId: 'updateMe', summary: 'Change your name', body: UpdateMeBody, response: { 200: User } },
  }, async (request) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    const user = await database.inSystem(async (tx) => {
      const row = await tx
        .updateTable('users')
        .set({ name: request.body.name, updated_at: context.now })
        .where('id', '=', principal.user.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordUserChange(tx, context, { userId: row.id, action: 'user.name_changed', before: { name: principal.user.name }, after: { name: row.name } });
      return row;
    });
    await sessions.forgetEverywhere({ user: user.id });
    return toUser(user);
  });

  app.put('/me/password', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'changePassword',
      summary: 'Change your password: the current one first; ends your other sessions',
      body: ChangePasswordBody,
      response: noContent,
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.currentPassword, 'currentPassword');
    const errors = passwordPolicyErrors(request.body.newPassword, user).map((e) => ({ ...e, field: 'newPassword' }));
    if (errors.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors });
    const passwordHash = await hashPassword(request.body.newPassword);
    const context = changeContext(request, clock);
    await changeEndingOtherSessions(services, principal, async (tx) => {
      await tx.updateTable('users').set({ password_hash: passwordHash, updated_at: context.now }).where('id', '=', user.id).execute();
      await recordUserChange(tx, context, { userId: user.id, action: 'user.password_changed' });
      return true;
    });
    return reply.code(204).send(null);
  });

  app.put('/me/email', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'changeEmail',
      summary: 'Change your email: the password first; the new address gets a link, and the change happens when it is opened',
      body: ChangeEmailBody,
      response: { 202: z.null().describe('Accepted: a link went to the new address') },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.password, 'password');
    const newEmail = request.body.email;
    if (newEmail.toLowerCase() === user.email.toLowerCase()) throw fieldError('email', 'same_email', 'This is already your email address');
    // a mail a person asks for: counted like verification resends (3 per person per 15 minutes)
    const keys: ThrottleKey[] = [{ key: `email-change:user:${user.id}`, rule: { limit: 3, windowMs: 15 * 60_000, blockMs: 15 * 60_000, maxBlockMs: 60 * 60_000 } }];
    await throttle.check(keys);
    const context = changeContext(request, clock);
    const secret = await database.inSystem(async (tx) => {
      if (await findUserByEmail(tx, newEmail)) {
        throw conflict('This email is already registered.', [{ field: 'email', code: 'already_registered', message: 'This email is already registered' }]);
      }
      const token = await issueEmailChangeToken(tx, user, newEmail, context.now);
      await recordUserChange(tx, context, { userId: user.id, action: 'user.email_change_requested', after: { email: newEmail } });
      return token;
    });
    await throttle.fail(keys);
    await sendEmailLink(services, newEmail, 'Confirm your new email address for Tessera',
      `Hello ${user.name},\n\nopen this link (valid for 24 hours, once) to sign in to Tessera with this address from now on:`, '/confirm-email-change', secret);
    return reply.code(202).send(null);
  });

  app.get('/me/two-factor', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: { tags: ['Me'], operationId: 'getTwoFactor', summary: 'Your second factor: on or off, recovery codes left, and whether an account requires it', response: { 200: TwoFactorStatus } },
  }, async (request) => {
    const principal = requireUser(request);
    return twoFactorStatus(database.db, principal.user.id, principal.twoFactor.required);
  });

  app.post('/me/two-factor', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: {
      tags: ['Me'],
      operationId: 'startTwoFactor',
      summary: 'Set up two-factor sign-in: the password first; answers the secret, its otpauth URI and QR code. Nothing changes until a code confirms it',
      body: StartTwoFactorBody,
      response: { 201: TwoFactorEnrolment },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.password, 'password');
    const enrolment = await database.inSystem((tx) => startEnrolment(tx, sealer, user, clock.now()));
    return reply.code(201).send(enrolment);
  });

  app.post('/me/two-factor/confirm', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: {
      tags: ['Me'],
      operationId: 'confirmTwoFactor',
      summary: 'Turn two-factor sign-in on with a first code of the app; answers the recovery codes once and ends your other sessions',
      body: ConfirmTwoFactorBody,
      response: { 200: RecoveryCodes },
    },
  }, async (request) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    const pending = await database.db.selectFrom('two_factor_credentials').select('confirmed_at').where('user_id', '=', principal.user.id).executeTakeFirst();
    if (!pending || pending.confirmed_at) throw conflict(pending ? 'Two-factor sign-in is already on.' : 'Start the set-up first: there is no secret waiting for a code.');
    const user = (await findUserById(database.db, principal.user.id))!;
    const recoveryCodes = await withSecondFactor(request, user, 'code', () => changeEndingOtherSessions(services, principal, async (tx) => {
      if (!(await spendTotpCode(tx, sealer, user, request.body.code, context.now, 'pending'))) return null;
      const codes = await issueRecoveryCodes(tx, user.id, context.now);
      await recordUserChange(tx, context, { userId: user.id, action: 'user.two_factor_enabled' });
      return codes;
    }));
    return { recoveryCodes };
  });

  app.delete('/me/two-factor', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'disableTwoFactor',
      summary: 'Turn two-factor sign-in off: the password and a code (or a recovery code); ends your other sessions',
      body: DisableTwoFactorBody,
      response: noContent,
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.password, 'password');
    if (!(await hasAuthenticatorApp(database.db, user.id))) throw conflict('The authenticator app is off already.');
    const { code, recoveryCode } = request.body;
    const context = changeContext(request, clock);
    await withSecondFactor(request, user, code !== undefined ? 'code' : 'recoveryCode', () => changeEndingOtherSessions(services, principal, async (tx) => {
      const spent = code !== undefined ? await spendTotpCode(tx, sealer, user, code, context.now) : await spendRecoveryCode(tx, user.id, recoveryCode!);
      if (!spent) return null;
      await removeTwoFactor(tx, user.id);
      await recordUserChange(tx, context, { userId: user.id, action: 'user.two_factor_disabled' });
      return true;
    }));
    return reply.code(204).send(null);
  });

  app.post('/me/two-factor/recovery-codes', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'regenerateRecoveryCodes',
      summary: 'A new set of recovery codes: the password first; the old codes stop working and your other sessions end',
      body: RegenerateRecoveryCodesBody,
      response: { 200: RecoveryCodes },
    },
  }, async (request) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.password, 'password');
    if (!(await hasTwoFactor(database.db, user.id))) throw conflict('Turn two-factor sign-in on first.');
    const context = changeContext(request, clock);
    const recoveryCodes = await changeEndingOtherSessions(services, principal, async (tx) => {
      const codes = await issueRecoveryCodes(tx, user.id, context.now);
      await recordUserChange(tx, context, { userId: user.id, action: 'user.recovery_codes_regenerated' });
      return codes;
    });
    return { recoveryCodes: recoveryCodes! };
  });
};
