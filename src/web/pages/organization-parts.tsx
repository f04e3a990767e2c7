import { Badge, Button, Group, Paper, Stack, Text, TextInput, ThemeIcon, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Link } from 'wouter';
import { TesseraError, type Organization } from '../../client/sdk.ts';
import { api, devicesKey, groupsKey, organizationsKey, selectedOrganizationKey } from '../api.ts';
import { SearchIcon } from '../icons.tsx';

/** Pieces the Organizations and Devices pages (and the header) share. */

/** A plan allows a few dozen organizations; the full list (for names and pickers) is read in pages of this size. */
const ALL_PAGE = 200;
/** Stops a runaway loop should a server keep answering with cursors. */
const MAX_PAGES = 50;

/** Every organization of the account, by name: for group chips, pickers and names by id. */
export function useAllOrganizations(accountId: string, enabled = true) {
  return useQuery({
    queryKey: [...organizationsKey(accountId), 'all'],
    enabled,
    queryFn: async () => {
      const all: Organization[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const { items, nextCursor } = await api.listOrganizations(accountId, { limit: ALL_PAGE, cursor });
        all.push(...items);
        if (!nextCursor) break;
        cursor = nextCursor;
      }
      return all;
    },
  });
}

/**
 * The organization the person works in, as the server keeps it (so it follows them to another
 * browser), with its name. `organization` is null when none is selected.
 */
export function useSelectedOrganization(accountId: string, enabled = true) {
  const selected = useQuery({
    queryKey: selectedOrganizationKey(accountId),
    queryFn: () => api.getSelectedOrganization(accountId),
    enabled,
  });
  const organizationId = selected.data ?? null;
  const organization = useQuery({
    queryKey: [...organizationsKey(accountId), 'one', organizationId],
    queryFn: async () => {
      try {
        return await api.getOrganization(accountId, organizationId!);
      } catch (error) {
        // deleted in the meantime: the selection went with it
        if (error instanceof TesseraError && error.status === 404) return null;
        throw error;
      }
    },
    enabled: enabled && organizationId !== null,
  });
  return {
    organizationId,
    organization: organizationId ? (organization.data ?? null) : null,
    isPending: selected.isPending || (organizationId !== null && organization.isPending),
    error: selected.error ?? organization.error,
  };
}

/** After a change to organizations, groups or devices: everything that shows them is read again. */
export async function refreshOrganizationData(queryClient: QueryClient, accountId: string): Promise<void> {
  await Promise.all([
    queryClient.invalidateQueries({ queryKey: organizationsKey(accountId) }),
    queryClient.invalidateQueries({ queryKey: groupsKey(accountId) }),
    queryClient.invalidateQueries({ queryKey: selectedOrganizationKey(accountId) }),
    queryClient.invalidateQueries({ queryKey: devicesKey(accountId) }),
  ]);
}

export function useRefreshOrganizationData(accountId: string) {
  const queryClient = useQueryClient();
  return () => refreshOrganizationData(queryClient, accountId);
}

/** A search box whose value settles a moment after typing stops; `onSearch` gets the settled text. */
export function SearchBox({ label, placeholder, onSearch, maw = 340 }: { label: string; placeholder: string; onSearch: (q: string) => void; maw?: number }) {
  const [text, setText] = useState('');
  const [settled] = useDebouncedValue(text.trim(), 250);
  useEffect(() => onSearch(settled), [settled]);
  return (
    <TextInput
      type="search"
      aria-label={label}
      placeholder={placeholder}
      leftSection={<SearchIcon size={16} />}
      value={text}
      onChange={(e) => setText(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === 'Escape') setText('');
      }}
      maxLength={120}
      style={{ flex: '1 1 220px' }}
      maw={maw}
    />
  );
}

/** The small yellow mark of the organization the person works in. */
export function SelectedBadge() {
  return (
    <Badge color="yellow" variant="filled" radius="sm" size="sm" className="selected-badge" data-testid="selected-badge">
      Selected
    </Badge>
  );
}

/** "Organization: Globex" in the header, next to the account menu; links to the Organizations page. */
export function SelectedOrganizationPill({ accountId }: { accountId: string }) {
  const { organization, organizationId } = useSelectedOrganization(accountId);
  if (!organizationId || !organization) return null;
  return (
    <Tooltip label="The organization you work in: change it under Organizations" withArrow openDelay={400}>
      <Link href={`/accounts/${accountId}/organizations`} className="org-pill" data-testid="header-organization" aria-label={`Organization: ${organization.name}`}>
        <span className="org-pill-label">Organization:</span>
        <span className="org-pill-name">{organization.name}</span>
      </Link>
    </Tooltip>
  );
}

/** A quiet panel for an empty list or a missing choice. */
export function EmptyPanel({ icon, title, children, action, testId }: { icon: ReactNode; title: string; children: ReactNode; action?: ReactNode; testId: string }) {
  return (
    <Paper withBorder radius="md" p="xl" className="empty-team" data-testid={testId}>
      <Stack align="center" gap="xs">
        <ThemeIcon variant="light" radius="xl" size={48}>
          {icon}
        </ThemeIcon>
        <Text fw={650}>{title}</Text>
        <Text size="sm" c="dimmed" ta="center" maw={460} component="div">
          {children}
        </Text>
        {action ? <Group mt="xs">{action}</Group> : null}
      </Stack>
    </Paper>
  );
}

/** "Load more" under a keyset-paged list. */
export function LoadMore({ hasMore, loading, onClick, shown, noun }: { hasMore: boolean; loading: boolean; onClick: () => void; shown: number; noun: string }) {
  return (
    <Group justify="space-between" gap="sm" px={4}>
      <Text size="xs" c="dimmed" data-testid="shown-count">
        {shown === 1 ? `1 ${noun}` : `${shown} ${noun}s`}
        {hasMore ? ' shown' : ''}
      </Text>
      {hasMore ? (
        <Button variant="default" size="xs" onClick={onClick} loading={loading}>
          Load more
        </Button>
      ) : null}
    </Group>
  );
}

/** The problem of a failed load as one line of text. */
export function problemText(error: unknown): string {
  if (error instanceof TesseraError) return error.problem.detail ?? error.problem.title;
  return 'Tessera could not be reached. Check your connection and try again.';
}
