import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import {
  AcceptedInvitation,
  AcceptInvitationBody,
  AccountUser,
  AccountUserList,
  AddUserBody,
  CreateInvitationBody,
  Invitation,
  InvitationList,
  InvitationLookupBody,
  InvitationParams,
  InvitationPreview,
  SetUserRolesBody,
  TransferOwnershipBody,
  UserParams,
} from '../../../shared/users.ts';
import { requireUser } from '../../auth/access.ts';
import { sendEmailLink, startPortalSession } from '../../auth/routes.ts';
import type { ThrottleKey, ThrottleRule } from '../../auth/throttle.ts';
import { actorName, changeContext } from '../../http/context.ts';
import type { Services } from '../../services.ts';
import { addAccountUser, listAccountUsers, removeAccountUser, setAccountUserRoles, transferOwnership } from './account-users.ts';
import {
  acceptInvitation,
  createInvitation,
  findInvitationByToken,
  invalidInvitation,
  listInvitations,
  previewInvitation,
  resendInvitation,
  revokeInvitation,
} from './invitations.ts';

const noContent = { 204: z.null().describe('Done') };
const ownersOnly = { access: { scope: 'account', role: 'owner' } } as const;
/** The caller becomes a manager: that needs a person, not a key. */
const ownersInPerson = { access: { scope: 'account', role: 'owner', people: true } } as const;

/** Guessing invitation links is counted per client address, like every other guessable secret. */
export const INVITATION_RULE: ThrottleRule = { limit: 20, windowMs: 15 * 60_000, blockMs: 60_000, maxBlockMs: 60 * 60_000 };

/** Mails the link. A mail failure is logged, not answered as an error: the invitation exists and can be resent. */
async function mailInvitation(services: Services, log: FastifyBaseLogger, issued: { invitation: Invitation; secret: string; accountName: string }, inviter: string): Promise<void> {
  const { invitation } = issued;
  const where = invitation.grant.scopeName ? ` of ${invitation.grant.scope} ${invitation.grant.scopeName}` : '';
  await sendEmailLink(
    services,
    invitation.email,
    `${inviter} invites you to ${issued.accountName} on Tessera`,
    `Hello,\n\n${inviter} invites you to join ${issued.accountName} on Tessera as ${invitation.grant.role}${where}.\n` +
      `Open this link to accept (it works once, until ${invitation.expiresAt.slice(0, 10)}):`,
    '/invitations/accept',
    issued.secret,
  ).catch((err) => log.error({ err, invitation: invitation.id }, 'invitation mail failed'));
}

/** Portal users of an account, their roles at every scope, and invitations. */
export const accessRoutes: FastifyPluginAsyncZod = async (app) => {
  const services = app.services;
  const { database, clock, sessions, throttle, config } = services;
  const invitationTtlMs = config.invitationDays * 86_400_000;
  const tags = ['Users and roles'];
  const invitationTags = ['Invitations'];

  app.get('/accounts/:accountId/users', {
    config: ownersOnly,
    schema: { tags, operationId: 'listAccountUsers', summary: 'Every portal user of the account with their roles and scopes', params: AccountParams, response: { 200: AccountUserList } },
  }, async (request) => ({ items: await database.inTenant(request.params.accountId, (tx) => listAccountUsers(tx, request.params.accountId)) }));

  app.post('/accounts/:accountId/users', {
    config: ownersOnly,
    schema: {
      tags,
      operationId: 'addAccountUser',
      summary: 'Add a user with name, email and password and one role; they can sign in at once',
      params: AccountParams,
      body: AddUserBody,
      response: { 201: AccountUser },
    },
  }, async (request, reply) => {
    const added = await addAccountUser(database, changeContext(request, clock), request.params.accountId, request.body);
    void services.notifier.notify(request.params.accountId, { kind: 'user_added', userName: added.user.name, userEmail: added.user.email, by: actorName(request) });
    return reply.code(201).send(added);
  });

  app.put('/accounts/:accountId/users/:userId/roles', {
    config: ownersOnly,
    schema: {
      tags,
      operationId: 'setAccountUserRoles',
      summary: "Replace a user's roles: one on the whole account and any on groups and organizations (never leaves the account without an owner)",
      params: UserParams,
      body: SetUserRolesBody,
      response: { 200: AccountUser },
    },
  }, async (request) => {
    const { accountId, userId } = request.params;
    const changed = await setAccountUserRoles(database, changeContext(request, clock), accountId, userId, request.body);
    await sessions.forgetEverywhere({ user: userId });
    return changed;
  });

  app.delete('/accounts/:accountId/users/:userId', {
    config: ownersOnly,
    schema: { tags, operationId: 'removeAccountUser', summary: 'Take a user out of the account (never its last owner); their sign-in stays for other accounts', params: UserParams, response: noContent },
  }, async (request, reply) => {
    const { accountId, userId } = request.params;
    const removed = await removeAccountUser(database, changeContext(request, clock), accountId, userId);
    await sessions.forgetEverywhere({ user: userId });
    void services.notifier.notify(accountId, { kind: 'user_removed', userName: removed.user.name, userEmail: removed.user.email, by: actorName(request) });
    return reply.code(204).send(null);
  });

  app.post('/accounts/:accountId/ownership', {
    config: ownersInPerson,
    schema: {
      tags,
      operationId: 'transferOwnership',
      summary: 'Make another user an owner; the caller stays as a manager of the whole account',
      params: AccountParams,
      body: TransferOwnershipBody,
      response: { 200: AccountUser },
    },
  }, async (request) => {
    const caller = requireUser(request).user.id;
    const owner = await transferOwnership(database, changeContext(request, clock), request.params.accountId, caller, request.body.userId);
    await sessions.forgetEverywhere({ account: request.params.accountId });
    return owner;
  });

  app.get('/accounts/:accountId/invitations', {
    config: ownersOnly,
    schema: { tags: invitationTags, operationId: 'listInvitations', summary: 'Invitations not yet accepted or revoked', params: AccountParams, response: { 200: InvitationList } },
  }, async (request) => ({ items: await listInvitations(database, request.params.accountId, clock.now()) }));

  app.post('/accounts/:accountId/invitations', {
    config: ownersOnly,
    schema: {
      tags: invitationTags,
      operationId: 'createInvitation',
      summary: `Invite someone by email with a role on the account, a group or an organization; the link works once, for ${config.invitationDays} days`,
      params: AccountParams,
      body: CreateInvitationBody,
      response: { 201: Invitation },
    },
  }, async (request, reply) => {
    const issued = await createInvitation(database, changeContext(request, clock), request.params.accountId, request.body, invitationTtlMs);
    await mailInvitation(services, request.log, issued, actorName(request));
    return reply.code(201).send(issued.invitation);
  });

  app.post('/accounts/:accountId/invitations/:invitationId/resend', {
    config: ownersOnly,
    schema: { tags: invitationTags, operationId: 'resendInvitation', summary: 'Mail a new link with a new expiry; the earlier link stops working', params: InvitationParams, response: { 200: Invitation } },
  }, async (request) => {
    const { accountId, invitationId } = request.params;
    const issued = await resendInvitation(database, changeContext(request, clock), accountId, invitationId, invitationTtlMs);
    await mailInvitation(services, request.log, issued, actorName(request));
    return issued.invitation;
  });

  app.delete('/accounts/:accountId/invitations/:invitationId', {
    config: ownersOnly,
    schema: { tags: invitationTags, operationId: 'revokeInvitation', summary: 'Revoke an invitation: its link stops working', params: InvitationParams, response: noContent },
  }, async (request, reply) => {
    await revokeInvitation(database, changeContext(request, clock), request.params.accountId, request.params.invitationId);
    return reply.code(204).send(null);
  });

  /** The invitation a link opens; a bad link is counted against the caller's address. */
  async function openLink(request: { ip: string }, token: string) {
    const keys: ThrottleKey[] = [{ key: `invitation:address:${request.ip}`, rule: INVITATION_RULE }];
    await throttle.check(keys);
    const row = await findInvitationByToken(database, token, clock.now());
    if (!row) {
      await throttle.fail(keys);
      throw invalidInvitation();
    }
    return row;
  }

  // The secret travels in the body, not the address, so it stays out of access logs.
  app.post('/invitations/lookup', {
    config: { access: { scope: 'public' } },
    schema: { tags: invitationTags, operationId: 'lookupInvitation', summary: 'What an invitation link offers, before accepting it', body: InvitationLookupBody, response: { 200: InvitationPreview } },
  }, async (request) => previewInvitation(database, await openLink(request, request.body.token)));

  app.post('/invitations/accept', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: invitationTags,
      operationId: 'acceptInvitation',
      summary: 'Accept an invitation: signed in as the invited person with the token alone, or sign up with name and password',
      body: AcceptInvitationBody,
      response: { 200: AcceptedInvitation },
    },
  }, async (request, reply) => {
    const row = await openLink(request, request.body.token);
    const signedIn = request.principal?.user ?? null;
    const { user, csrfToken } = await acceptInvitation(database, changeContext(request, clock), row, signedIn, request.body, (tx, created) =>
      startPortalSession(services, request, reply, tx, created.id),
    );
    await sessions.forgetEverywhere({ user: user.id });
    void services.notifier.notify(row.account_id, { kind: 'user_added', userName: user.name, userEmail: user.email, by: 'An invitation' });
    return { accountId: row.account_id, user: { id: user.id, name: user.name, email: user.email }, ...(csrfToken ? { csrfToken } : {}) };
  });
};
