import { Text, Tooltip } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { TesseraError, type OpenConnection } from '../../client/sdk.ts';
import { api, connectionsKey, organizationsKey, teamKey } from '../api.ts';
import { useFormErrors } from '../forms.tsx';
import { useAllOrganizations } from './organization-parts.tsx';
import { ConfirmDialog } from './team-parts.tsx';

/** Pieces the Connections page and the Team accounts page share. */

/** How often an open list of connections asks the server again. */
export const CONNECTIONS_REFRESH_MS = 5000;

const leaseSet = (connections: OpenConnection[]) =>
  connections
    .map((c) => c.leaseId)
    .sort()
    .join();

/**
 * The open connections of an account, read again every few seconds while the page is visible;
 * a refusal (the person's role changed) stops the polling. When the set of connections
 * changed since the last read, the team overview (its "in use" counts) is read again too, so
 * the two agree on whichever page shows them.
 */
export function useOpenConnections(accountId: string, enabled = true) {
  const queryClient = useQueryClient();
  return useQuery({
    queryKey: connectionsKey(accountId),
    queryFn: async () => {
      const connections = await api.listOpenConnections(accountId);
      const before = queryClient.getQueryData<OpenConnection[]>(connectionsKey(accountId));
      if (before && leaseSet(before) !== leaseSet(connections)) void queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
      return connections;
    },
    enabled,
    staleTime: 0,
    refetchInterval: (query) => (query.state.error instanceof TesseraError && query.state.error.status < 500 ? false : CONNECTIONS_REFRESH_MS),
  });
}

/**
 * The names of the organizations the listed devices belong to. An organization created after the
 * names were read is asked for once more, rather than shown without a name.
 */
export function useOrganizationNames(accountId: string, connections: OpenConnection[] | undefined): Map<string, string> {
  const organizations = useAllOrganizations(accountId, connections !== undefined && connections.length > 0);
  const queryClient = useQueryClient();
  const names = useMemo(() => new Map((organizations.data ?? []).map((o) => [o.id, o.name])), [organizations.data]);
  const unknown = organizations.data ? [...new Set((connections ?? []).map((c) => c.device.organizationId).filter((id) => !names.has(id)))].sort().join() : '';
  useEffect(() => {
    if (unknown) void queryClient.invalidateQueries({ queryKey: [...organizationsKey(accountId), 'all'] });
  }, [unknown, accountId, queryClient]);
  return names;
}

// One clock for every relative time on the page: a single timer, only while something shows one.
let now = Date.now();
let timer: ReturnType<typeof setInterval> | undefined;
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const notify of listeners) notify();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** The current time, updated every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}

/** Exact times with seconds: connections open, renew and end within the minute. */
const EXACT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const exactTime = (iso: string) => EXACT.format(new Date(iso));

const AGO = new Intl.RelativeTimeFormat(undefined, { numeric: 'always', style: 'long' });
const LEFT = new Intl.RelativeTimeFormat(undefined, { numeric: 'always', style: 'short' });

/** "less than a minute ago", "5 minutes ago", "2 hours ago", "3 days ago". */
export function timeAgo(iso: string, at: number): string {
  const seconds = Math.max(0, Math.floor((at - Date.parse(iso)) / 1000));
  if (seconds < 60) return 'less than a minute ago';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return AGO.format(-minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return AGO.format(-hours, 'hour');
  return AGO.format(-Math.floor(hours / 24), 'day');
}

/** "in 45 sec.", "in 3 min.", or "ending now" once past. */
export function timeLeft(iso: string, at: number): string {
  const seconds = Math.ceil((Date.parse(iso) - at) / 1000);
  if (seconds <= 0) return 'ending now';
  if (seconds < 120) return LEFT.format(seconds, 'second');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return LEFT.format(minutes, 'minute');
  return LEFT.format(Math.floor(minutes / 60), 'hour');
}

/** Since when a connection is open: relative, the exact time on hover. */
export function OpenedAt({ iso, testId = 'connection-opened', size = 'sm' }: { iso: string; testId?: string; size?: string }) {
  const at = useNow();
  const exact = exactTime(iso);
  return (
    <Tooltip label={`Opened ${exact}`} withArrow openDelay={200}>
      <Text component="time" dateTime={iso} size={size} data-testid={testId} data-exact={exact} className="connection-time">
        {timeAgo(iso, at)}
      </Text>
    </Tooltip>
  );
}

/** When a connection ends unless the desktop app renews it. */
export function ExpiresAt({ iso, testId = 'connection-expires', size = 'sm' }: { iso: string; testId?: string; size?: string }) {
  const at = useNow();
  const left = timeLeft(iso, at);
  return (
    <Tooltip
      label={`Ends ${exactTime(iso)} unless the desktop app renews it, as it does while connected`}
      withArrow
      openDelay={200}
      multiline
      w={260}
    >
      <Text component="time" dateTime={iso} size={size} c={left === 'ending now' ? 'orange.8' : undefined} data-testid={testId} className="connection-time">
        {left}
      </Text>
    </Tooltip>
  );
}

/** Re-reads everything that counts connections: the list and the team's "in use". */
export function useRefreshConnections(accountId: string) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: connectionsKey(accountId) }),
      queryClient.invalidateQueries({ queryKey: teamKey(accountId) }),
    ]);
}

export type ClosedOutcome = 'closed' | 'gone';

/** "Close this connection?": closing frees the slot (and the device) at once. */
export function CloseConnectionDialog({
  accountId,
  connection,
  organizationName,
  opened,
  onClose,
  onDone,
}: {
  accountId: string;
  connection: OpenConnection | null;
  organizationName: string | undefined;
  opened: boolean;
  onClose: () => void;
  onDone: (connection: OpenConnection, outcome: ClosedOutcome) => void;
}) {
  const errors = useFormErrors([] as const);
  const queryClient = useQueryClient();
  const refresh = useRefreshConnections(accountId);
  const drop = async (leaseId: string) => {
    await queryClient.cancelQueries({ queryKey: connectionsKey(accountId) });
    queryClient.setQueryData<OpenConnection[]>(connectionsKey(accountId), (list) => list?.filter((c) => c.leaseId !== leaseId));
  };
  const close = useMutation({
    mutationFn: (target: OpenConnection) => api.closeConnection(accountId, target.leaseId),
    onMutate: () => errors.reset(),
    onError: async (error, target) => {
      if (error instanceof TesseraError && error.status === 404) {
        // it ended in the meantime (disconnected, expired, or closed by someone else)
        await drop(target.leaseId);
        onClose();
        onDone(target, 'gone');
        await refresh();
        return;
      }
      errors.capture(error);
    },
    onSuccess: async (_, target) => {
      await drop(target.leaseId);
      onClose();
      onDone(target, 'closed');
      await refresh();
    },
  });
  useEffect(() => {
    if (opened) errors.reset();
  }, [opened]);
  const member = connection?.member.name ?? 'the member';
  return (
    <ConfirmDialog
      opened={opened}
      onClose={onClose}
      title="Close this connection?"
      confirmLabel="Close connection"
      pending={close.isPending}
      problem={errors.problem}
      onConfirm={() => connection && close.mutate(connection)}
    >
      <Text size="sm">
        The desktop app of <b>{member}</b> loses its connection to <b>{connection?.device.name}</b>
        {organizationName ? ` (${organizationName})` : ''}. Its slot is free at once, and the device is available to others.
      </Text>
      <Text size="sm" c="dimmed" mt="xs">
        {member} can connect again while a slot is free. To stop that, revoke their login tokens under Team accounts.
      </Text>
    </ConfirmDialog>
  );
}
