import { z } from 'zod';
import { Id } from './contracts.ts';

/**
 * Presence: whether a team member's desktop client is online, away or offline, from its
 * heartbeats. A member whose heartbeats stop is offline once the timeout has passed.
 */

export const PresenceState = z.enum(['online', 'away', 'offline']);
export type PresenceState = z.infer<typeof PresenceState>;

export const HeartbeatBody = z
  .strictObject({ state: PresenceState.describe('"offline" when the client is about to quit; heartbeats otherwise say online or away') })
  .meta({ examples: [{ state: 'online' }, { state: 'away' }] });
export type HeartbeatBody = z.input<typeof HeartbeatBody>;

export const HeartbeatAnswer = z
  .object({
    state: PresenceState,
    /** Send the next heartbeat within this many seconds to stay online. */
    heartbeatSeconds: z.number().int(),
    /** After this many seconds without a heartbeat the member shows offline. */
    timeoutSeconds: z.number().int(),
  })
  .meta({ id: 'HeartbeatAnswer' });
export type HeartbeatAnswer = z.infer<typeof HeartbeatAnswer>;

export const MemberPresence = z
  .object({
    memberId: Id,
    name: z.string(),
    state: PresenceState,
    /** The last heartbeat, to within the write granularity; null when the member never sent one. */
    lastSeenAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'MemberPresence' });
export type MemberPresence = z.infer<typeof MemberPresence>;

export const PresenceList = z
  .object({
    items: z.array(MemberPresence),
    /** Members are offline after this many seconds without a heartbeat. */
    timeoutSeconds: z.number().int(),
  })
  .meta({ id: 'PresenceList' });
export type PresenceList = z.infer<typeof PresenceList>;

/**
 * The stream (`text/event-stream`): first `event: snapshot` with a PresenceList, then
 * `event: presence` with one MemberPresence whenever a member's state changes (a member removed
 * comes as `event: removed` with `{ memberId }`), and a comment every 15 seconds to keep proxies
 * from closing it.
 */
export const PRESENCE_STREAM_DESCRIPTION =
  'Server-Sent Events: `snapshot` (a PresenceList), then `presence` (a MemberPresence) on every change and `removed` ({ memberId }) when a member goes; a comment line every 15 s.';

/** One event of the stream, as clients read it. */
export type PresenceStreamEvent =
  | { type: 'snapshot'; items: MemberPresence[]; timeoutSeconds: number }
  | { type: 'presence'; member: MemberPresence }
  | { type: 'removed'; memberId: string };
