import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Id } from '../../../shared/contracts.ts';
import {
  AddPasskeyBody,
  Passkey,
  PasskeyAdded,
  PasskeyCreationOptions,
  PasskeyList,
  PasskeyOptionsBody,
  RemovePasskeyBody,
  RenamePasskeyBody,
} from '../../../shared/passkeys.ts';
import { requireUser } from '../../auth/access.ts';
import { PASSKEY_REFUSED } from '../../auth/routes.ts';
import { changeContext } from '../../http/context.ts';
import { fieldError } from '../../http/errors.ts';
import { recordUserChange } from '../audit/record.ts';
import { deletePasskey, insertPasskey, listPasskeys, passkeyDescriptors, renamePasskey } from './passkeys.ts';
import { changeEndingOtherSessions, confirmPassword } from './reauthentication.ts';
import { dropRecoveryCodesWithLastFactor, hasTwoFactor, issueRecoveryCodes } from './two-factor.ts';

const PasskeyParams = z.strictObject({ passkeyId: Id });

/**
 * The signed-in person's passkeys (docs/passkeys.md). Adding one is a ceremony in two requests:
 * the password first (it answers the options for the browser), then the browser's new credential.
 * Adding and removing change how the person signs in, so both end their other sessions and are on
 * the person's log, like the authenticator app's set-up. Available while an account's two-factor
 * requirement waits for the person (a passkey meets it).
 */
export const passkeyRoutes: FastifyPluginAsyncZod = async (app) => {
  const services = app.services;
  const { database, clock, webauthn } = services;

  app.get('/me/passkeys', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: { tags: ['Me'], operationId: 'listPasskeys', summary: 'Your passkeys, oldest first', response: { 200: PasskeyList } },
  }, async (request) => ({ items: await listPasskeys(database.db, requireUser(request).user.id) }));

  app.post('/me/passkeys/options', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: {
      tags: ['Me'],
      operationId: 'startPasskeyRegistration',
      summary: 'Add a passkey, step 1: the password first; answers the options for navigator.credentials.create() (valid 5 minutes, once)',
      body: PasskeyOptionsBody,
      response: { 200: PasskeyCreationOptions },
    },
  }, async (request) => {
    const principal = requireUser(request);
    const user = await confirmPassword(services, request, principal, request.body.password, 'password');
    return webauthn.registrationOptions(user, await passkeyDescriptors(database.db, user.id));
  });

  app.post('/me/passkeys', {
    config: { access: { scope: 'signedIn', duringEnrolment: true } },
    schema: {
      tags: ['Me'],
      operationId: 'addPasskey',
      summary: "Add a passkey, step 2: the browser's new credential; ends your other sessions. The first second factor comes with recovery codes",
      body: AddPasskeyBody,
      response: { 201: PasskeyAdded },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    const credential = await webauthn.verifyRegistration(principal.user.id, request.body.credential);
    if (!credential) throw fieldError('credential', 'invalid_passkey', PASSKEY_REFUSED);
    const added = await changeEndingOtherSessions(services, principal, async (tx) => {
      const first = !(await hasTwoFactor(tx, principal.user.id));
      const passkey = await insertPasskey(tx, principal.user.id, credential, request.body.name, context.now);
      const recoveryCodes = first ? await issueRecoveryCodes(tx, principal.user.id, context.now) : null;
      await recordUserChange(tx, context, { userId: principal.user.id, action: 'user.passkey_added', after: { ...passkey, firstSecondFactor: first } });
      return { passkey, recoveryCodes };
    });
    return reply.code(201).send(added!);
  });

  app.patch('/me/passkeys/:passkeyId', {
    config: { access: { scope: 'signedIn' } },
    schema: { tags: ['Me'], operationId: 'renamePasskey', summary: 'Rename one of your passkeys', params: PasskeyParams, body: RenamePasskeyBody, response: { 200: Passkey } },
  }, async (request) => {
    const principal = requireUser(request);
    const context = changeContext(request, clock);
    return database.inSystem(async (tx) => {
      const { before, after } = await renamePasskey(tx, principal.user.id, request.params.passkeyId, request.body.name);
      await recordUserChange(tx, context, { userId: principal.user.id, action: 'user.passkey_renamed', before: { name: before.name }, after: { id: after.id, name: after.name } });
      return after;
    });
  });

  app.delete('/me/passkeys/:passkeyId', {
    config: { access: { scope: 'signedIn' } },
    schema: {
      tags: ['Me'],
      operationId: 'removePasskey',
      summary: 'Remove one of your passkeys: the password first; ends your other sessions. With your last second factor, the recovery codes go too',
      params: PasskeyParams,
      body: RemovePasskeyBody,
      response: { 204: z.null().describe('Done') },
    },
  }, async (request, reply) => {
    const principal = requireUser(request);
    await confirmPassword(services, request, principal, request.body.password, 'password');
    const context = changeContext(request, clock);
    await changeEndingOtherSessions(services, principal, async (tx) => {
      const removed = await deletePasskey(tx, principal.user.id, request.params.passkeyId);
      await dropRecoveryCodesWithLastFactor(tx, principal.user.id);
      await recordUserChange(tx, context, { userId: principal.user.id, action: 'user.passkey_removed', before: removed });
      return true;
    });
    return reply.code(204).send(null);
  });
};
