import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { SignedIn } from '../../shared/contracts.ts';
import { PasskeyRequestOptions, PasskeySignInBody } from '../../shared/passkeys.ts';
import { recordUserChange } from '../domain/audit/record.ts';
import { recordPasskeyUse } from '../domain/users/passkeys.ts';
import { findUserById } from '../domain/users/users.ts';
import { changeContext } from '../http/context.ts';
import { fieldError } from '../http/errors.ts';
import { linkPendingIdentity } from './oidc.ts';
import { PASSKEY_REFUSED, startPortalSession } from './routes.ts';
import { toUser } from './sessions.ts';
import { SIGN_IN_RULES, type ThrottleKey } from './throttle.ts';

/**
 * Passwordless sign-in with a passkey (docs/passkeys.md): the browser offers the passkeys it holds
 * for this site, the person unlocks one (PIN or biometrics: user verification is required), and
 * its signature opens a session. Possession and verification together stand in for the password
 * and the second factor, so no second step follows.
 */
export const passkeySignInRoutes: FastifyPluginAsyncZod = async (app) => {
  const services = app.services;
  const { database, sessions, throttle, clock, webauthn } = services;

  app.post('/auth/passkey/options', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'startPasskeySignIn',
      summary: 'Start a sign-in with a passkey: the options for navigator.credentials.get() (valid 5 minutes, once)',
      response: { 200: PasskeyRequestOptions },
    },
    // writes nothing (the challenge carries its own expiry under the server's MAC): no throttle needed
  }, async () => webauthn.authenticationOptions('sign_in', null));

  app.post('/auth/passkey/sign-in', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Sign-in'],
      operationId: 'signInWithPasskey',
      summary: "Sign in with a passkey: the browser's answer to the options of POST /auth/passkey/options; no password, no second step",
      body: PasskeySignInBody,
      response: { 200: SignedIn },
    },
  }, async (request, reply) => {
    // refusals count against the address like wrong passwords (a signature cannot be guessed,
    // but each attempt costs a lookup and a verification)
    const keys: ThrottleKey[] = [{ key: `sign-in:address:${request.ip}`, rule: SIGN_IN_RULES.address }];
    await throttle.check(keys);
    const context = changeContext(request, clock);
    const use = await webauthn.verifyAuthentication('sign_in', null, request.body.credential);
    const previous = request.principal;
    const signedIn = use && (await database.inSystem(async (tx) => {
      const user = await findUserById(tx, use.passkey.user_id);
      if (!user || !(await recordPasskeyUse(tx, use, context.now))) return null;
      // a new session id at every sign-in; the one the browser had (if any) ends
      if (previous) await sessions.revoke(tx, previous.sessionKey);
      const userContext = { ...context, actor: { type: 'user' as const, id: user.id } };
      await recordUserChange(tx, userContext, { userId: user.id, action: 'user.signed_in', after: { method: 'passkey', passkeyId: use.passkey.id } });
      // a passkey proves more than the password an identity waiting to be linked asks for
      await linkPendingIdentity(tx, request, reply, userContext, user.id);
      return { user, csrfToken: await startPortalSession(services, request, reply, tx, user.id) };
    }));
    if (!signedIn) {
      await throttle.fail(keys);
      throw fieldError('credential', 'invalid_passkey', PASSKEY_REFUSED);
    }
    if (previous) await sessions.forgetEverywhere({ session: previous.sessionKey });
    return { user: toUser(signedIn.user), csrfToken: signedIn.csrfToken };
  });
};
