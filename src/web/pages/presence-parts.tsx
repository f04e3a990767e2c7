import { Group, Text, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { MemberPresence, PresenceList } from '../../client/sdk.ts';
import { api, presenceKey } from '../api.ts';
import { timeAgo, useNow } from './connection-parts.tsx';
import { formatDateTime } from './team-parts.tsx';

/**
 * The team's presence, live: read once, then kept current by the server's event stream
 * (EventSource reconnects by itself and the server starts each connection with a snapshot).
 */
export function usePresence(accountId: string, enabled: boolean): Map<string, MemberPresence> | undefined {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: presenceKey(accountId), queryFn: () => api.listPresence(accountId), enabled });
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    const key = presenceKey(accountId);
    const source = new EventSource(api.presenceStreamUrl(accountId));
    const update = (change: (items: MemberPresence[]) => MemberPresence[]) =>
      queryClient.setQueryData<PresenceList>(key, (current) => (current ? { ...current, items: change(current.items) } : current));
    source.addEventListener('snapshot', (e) => queryClient.setQueryData<PresenceList>(key, JSON.parse((e as MessageEvent<string>).data) as PresenceList));
    source.addEventListener('presence', (e) => {
      const member = JSON.parse((e as MessageEvent<string>).data) as MemberPresence;
      update((items) => (items.some((m) => m.memberId === member.memberId) ? items.map((m) => (m.memberId === member.memberId ? member : m)) : [...items, member]));
    });
    source.addEventListener('removed', (e) => {
      const { memberId } = JSON.parse((e as MessageEvent<string>).data) as { memberId: string };
      update((items) => items.filter((m) => m.memberId !== memberId));
    });
    return () => source.close();
  }, [accountId, enabled, queryClient]);
  if (!list.data) return undefined;
  return new Map(list.data.items.map((m) => [m.memberId, m]));
}

const LABELS = { online: 'Online', away: 'Away', offline: 'Offline' } as const;

/** The member's state as a coloured dot and a word. */
export function PresenceBadge({ presence }: { presence: MemberPresence | undefined }) {
  const state = presence?.state ?? 'offline';
  return (
    <Group gap={6} wrap="nowrap" data-testid="member-presence" data-state={state}>
      <span className={`presence-dot presence-${state}`} aria-hidden="true" />
      <Text size="xs" c={state === 'offline' ? 'dimmed' : undefined} fw={state === 'offline' ? 400 : 600}>
        {LABELS[state]}
      </Text>
    </Group>
  );
}

/** "Now" while online or away; for an offline member when the last heartbeat came ("Never" if none). */
export function LastSeen({ presence }: { presence: MemberPresence | undefined }) {
  const now = useNow();
  if (presence && presence.state !== 'offline') return <span data-testid="member-last-seen">Now</span>;
  if (!presence?.lastSeenAt) return <span data-testid="member-last-seen">Never</span>;
  return (
    <Tooltip label={`Last heartbeat ${formatDateTime(presence.lastSeenAt)}`} withArrow openDelay={300}>
      <span data-testid="member-last-seen">{timeAgo(presence.lastSeenAt, now)}</span>
    </Tooltip>
  );
}
