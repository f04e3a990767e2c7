import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../services.ts';
import { z } from 'zod';
import { AccountParams } from '../../../shared/contracts.ts';
import { PRESENCE_STREAM_DESCRIPTION, PresenceList } from '../../../shared/presence.ts';
import { readPresence } from './presence.ts';

/** Presence as the portal (and programs with a key) see it: who of the team is online, live. */
export const presenceRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['Team members'];
  // like the team itself: a role on the whole account
  const teamReaders = { access: { scope: 'account', role: 'viewer' } } as const;

  app.get('/accounts/:accountId/presence', {
    config: teamReaders,
    schema: { tags, operationId: 'listPresence', summary: 'Whether each team member is online, away or offline, and when last seen', params: AccountParams, response: { 200: PresenceList } },
  }, (request) => presenceList(app.services, request.params.accountId));

  app.get('/accounts/:accountId/presence/stream', {
    config: teamReaders,
    schema: {
      tags,
      operationId: 'streamPresence',
      summary: 'Presence of the team as it changes (Server-Sent Events)',
      description: PRESENCE_STREAM_DESCRIPTION,
      params: AccountParams,
      response: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } } },
    },
  }, (request, reply) => servePresenceStream(app.services, reply, request.params.accountId));
};

/** An account's presence now (portal and desktop client alike). */
export async function presenceList(services: Services, accountId: string): Promise<PresenceList> {
  const { database, clock, presence } = services;
  return { items: await readPresence(database, accountId, clock.now(), presence.policy.timeoutMs), timeoutSeconds: presence.policy.timeoutSeconds };
}

/** An account's presence as Server-Sent Events (portal and desktop client alike). */
export function servePresenceStream(services: Services, reply: FastifyReply, accountId: string): Promise<void> {
  const { presence, eventStreams } = services;
  return eventStreams.serve(reply, (send) =>
    presence.hub.watch(accountId, (event) => {
      if (event.type === 'snapshot') send('snapshot', { items: event.items, timeoutSeconds: presence.policy.timeoutSeconds });
      else if (event.type === 'presence') send('presence', event.member);
      else send('removed', { memberId: event.memberId });
    }),
  );
}
