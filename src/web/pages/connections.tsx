import { Alert, Button, Center, Group, Loader, Paper, Progress, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { TesseraError, type Me, type OpenConnection } from '../../client/sdk.ts';
import type { AccountMembership } from '../../shared/contracts.ts';
import { api, groupsKey, teamKey } from '../api.ts';
import { atLeast, can, roleOnOrganization, rolesPhrase } from '../roles.ts';
import { PlugIcon, RefreshIcon } from '../icons.tsx';
import {
  CloseConnectionDialog,
  CONNECTIONS_REFRESH_MS,
  ExpiresAt,
  OpenedAt,
  useOpenConnections,
  useOrganizationNames,
  type ClosedOutcome,
} from './connection-parts.tsx';
import { EmptyPanel, problemText, SearchBox } from './organization-parts.tsx';
import { AccountNotFound } from './organizations.tsx';
import { initials, useDialog } from './team-parts.tsx';

const CLOCK = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
/** A few connections need no search box. */
const SEARCH_FROM = 5;

function Header({ onRefresh, refreshing }: { onRefresh?: () => void; refreshing?: boolean }) {
  return (
    <Group justify="space-between" align="flex-end" gap="md">
      <div style={{ flex: '1 1 320px' }}>
        <Title order={1} size="h2">
          Connections
        </Title>
        <Text c="dimmed" size="sm" maw={640}>
          A team member's desktop app holds a connection to a device while they work on it. Each counts against the plan allowance, and against the
          member's fixed number if they have one; a device takes one connection at a time.
        </Text>
      </div>
      {onRefresh ? (
        <Button variant="default" leftSection={<RefreshIcon size={16} />} onClick={onRefresh} loading={refreshing} style={{ flex: 'none' }}>
          Refresh
        </Button>
      ) : null}
    </Group>
  );
}

function Usage({ open, allowance, updatedAt, stale }: { open: number; allowance: number | undefined; updatedAt: number; stale: boolean }) {
  const share = allowance ? Math.min(100, (open / allowance) * 100) : 0;
  const full = allowance !== undefined && open >= allowance;
  return (
    <Paper withBorder radius="md" p="md" shadow="xs" component="section" aria-label="Connections in use">
      <Group justify="space-between" align="center" gap="md">
        <div style={{ flex: '1 1 260px', minWidth: 0 }}>
          <Group gap={6} align="baseline">
            <Text fw={650} size="lg" data-testid="connections-count">
              {open === 1 ? '1 open connection' : `${open} open connections`}
            </Text>
            {allowance !== undefined ? (
              <Text size="sm" c={full ? 'orange.8' : 'dimmed'} data-testid="connections-allowance">
                of {allowance} allowed by the plan
              </Text>
            ) : null}
          </Group>
          {allowance !== undefined ? <Progress value={share} color={full ? 'orange' : undefined} size="sm" mt={8} maw={420} aria-label="Share of the allowance in use" /> : null}
        </div>
        <Group gap={8} wrap="nowrap" style={{ flex: 'none' }}>
          <span className={stale ? 'live-dot live-dot-stale' : 'live-dot'} aria-hidden="true" />
          <Text size="xs" c="dimmed" data-testid="connections-updated">
            {stale ? 'Not refreshed since' : 'Updated'} {CLOCK.format(updatedAt)} · every {CONNECTIONS_REFRESH_MS / 1000} seconds
          </Text>
        </Group>
      </Group>
    </Paper>
  );
}

function MemberCell({ connection, organizationName }: { connection: OpenConnection; organizationName: string | undefined }) {
  return (
    <Group gap="sm" wrap="nowrap" align="flex-start">
      <span className="member-avatar member-avatar-sm" aria-hidden="true">
        {initials(connection.member.name)}
      </span>
      <div style={{ minWidth: 0 }}>
        <Text size="sm" fw={600} truncate="end" data-testid="connection-member">
          {connection.member.name}
        </Text>
        {/* on phones the device and the times go under the name, as their columns are hidden */}
        <Stack gap={0} hiddenFrom="sm">
          <Text size="xs" data-testid="connection-device-compact">
            {connection.device.name}
            <Text span size="xs" c="dimmed">
              {' '}
              · {organizationName ?? '…'}
            </Text>
          </Text>
          <Text size="xs" c="dimmed" component="div">
            <OpenedAt iso={connection.openedAt} size="xs" testId="connection-opened-compact" />, ends{' '}
            <ExpiresAt iso={connection.expiresAt} size="xs" testId="connection-expires-compact" />
          </Text>
        </Stack>
      </div>
    </Group>
  );
}

function ConnectionRow({
  connection,
  organizationName,
  canClose,
  onClose,
}: {
  connection: OpenConnection;
  organizationName: string | undefined;
  /** Closing needs the manager role on the device's organization. */
  canClose: boolean;
  onClose: () => void;
}) {
  const { member, device } = connection;
  return (
    <Table.Tr data-testid="connection-row" data-lease-id={connection.leaseId}>
      <Table.Td>
        <MemberCell connection={connection} organizationName={organizationName} />
      </Table.Td>
      <Table.Td visibleFrom="sm">
        <Text size="sm" fw={500} data-testid="connection-device">
          {device.name}
        </Text>
        <Text size="xs" c="dimmed" data-testid="connection-organization">
          {organizationName ?? '…'}
        </Text>
      </Table.Td>
      <Table.Td visibleFrom="sm">
        <OpenedAt iso={connection.openedAt} />
      </Table.Td>
      <Table.Td visibleFrom="sm">
        <ExpiresAt iso={connection.expiresAt} />
      </Table.Td>
      <Table.Td ta="right">
        {canClose ? (
          <Button variant="light" color="red" size="compact-sm" onClick={onClose} aria-label={`Close ${member.name}'s connection to ${device.name}`}>
            Close
          </Button>
        ) : null}
      </Table.Td>
    </Table.Tr>
  );
}

function matches(connection: OpenConnection, organizationName: string | undefined, q: string): boolean {
  const needle = q.toLowerCase();
  return [connection.member.name, connection.device.name, organizationName ?? ''].some((text) => text.toLowerCase().includes(needle));
}

function ConnectionList({ accountId, membership }: { accountId: string; membership: AccountMembership }) {
  const list = useOpenConnections(accountId);
  // the plan allowance comes with the team, which needs a role on the whole account
  const seesTeam = can.seeTeam(membership);
  const team = useQuery({ queryKey: teamKey(accountId), queryFn: () => api.getTeam(accountId), enabled: seesTeam });
  // an account-wide manager closes any connection; otherwise it depends on the device's organization
  const closesAll = atLeast(membership.role, 'manager');
  const needsGroups = !closesAll && membership.grants.some((g) => g.scope === 'group' && g.role === 'manager');
  const groups = useQuery({ queryKey: groupsKey(accountId), queryFn: () => api.listGroups(accountId), enabled: needsGroups });
  const canClose = (connection: OpenConnection) => closesAll || atLeast(roleOnOrganization(membership, connection.device.organizationId, groups.data), 'manager');
  const names = useOrganizationNames(accountId, list.data);
  const [q, setQ] = useState('');
  const [refreshing, setRefreshing] = useState(false);
  const [notice, setNotice] = useState<{ text: string; color: string } | null>(null);
  const closing = useDialog<OpenConnection>();

  const refresh = async () => {
    setRefreshing(true);
    try {
      await Promise.all([list.refetch(), seesTeam ? team.refetch() : null]);
    } finally {
      setRefreshing(false);
    }
  };
  const done = (connection: OpenConnection, outcome: ClosedOutcome) =>
    setNotice(
      outcome === 'closed'
        ? { text: `Closed ${connection.member.name}'s connection to ${connection.device.name}. Its slot is free.`, color: 'teal' }
        : { text: `${connection.member.name}'s connection to ${connection.device.name} had already ended.`, color: 'gray' },
    );

  if (list.isPending) {
    return (
      <>
        <Header />
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      </>
    );
  }
  if (list.isError && !list.data) {
    const forbidden = list.error instanceof TesseraError && list.error.status === 403;
    return (
      <>
        <Header onRefresh={forbidden ? undefined : refresh} refreshing={refreshing} />
        <Alert color={forbidden ? 'gray' : 'red'} variant="light" title={forbidden ? undefined : 'The connections could not be loaded'} data-testid="form-alert">
          {forbidden ? 'You may not see the open connections of this account.' : problemText(list.error)}
        </Alert>
      </>
    );
  }
  const items = list.data ?? [];
  const shown = q ? items.filter((c) => matches(c, names.get(c.device.organizationId), q)) : items;
  return (
    <>
      <Header onRefresh={refresh} refreshing={refreshing} />
      <Usage open={items.length} allowance={team.data?.plan.connectionAllowance} updatedAt={list.dataUpdatedAt} stale={list.isError} />
      {list.isError ? (
        <Alert color="yellow" variant="light" data-testid="refresh-problem">
          The list could not be refreshed: {problemText(list.error)} It shows the connections open at {CLOCK.format(list.dataUpdatedAt)}.
        </Alert>
      ) : null}
      {!closesAll ? (
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          {membership.role === null
            ? `You are ${rolesPhrase(membership)}: you see the connections to devices of the organizations you hold a role on. Closing one needs the manager role on its organization.`
            : `You are ${rolesPhrase(membership)}: managers close connections.`}
        </Alert>
      ) : null}
      {notice ? (
        <Alert color={notice.color} variant="light" withCloseButton onClose={() => setNotice(null)} data-testid="connection-notice" role="status">
          {notice.text}
        </Alert>
      ) : null}
      {items.length === 0 ? (
        <EmptyPanel
          testId="empty-connections"
          icon={<PlugIcon size={24} />}
          title="No open connections"
          action={
            seesTeam ? (
              <Button component={Link} href={`/accounts/${accountId}/team`} variant="light">
                Go to Team accounts
              </Button>
            ) : null
          }
        >
          Desktop apps open connections: when a team member signs in with a login token and connects to a device, the connection shows here
          within seconds, and goes when they disconnect.
        </EmptyPanel>
      ) : (
        <Stack gap="sm">
          {items.length > SEARCH_FROM || q ? (
            <Group gap="sm">
              <SearchBox label="Search connections" placeholder="Search by member or device" onSearch={setQ} />
            </Group>
          ) : null}
          <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
            <Table.ScrollContainer minWidth={340} type="native">
              <Table className="token-table" verticalSpacing="sm" horizontalSpacing="md" aria-label="Open connections" data-testid="connection-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th miw={160}>Member</Table.Th>
                    <Table.Th miw={140} visibleFrom="sm">
                      Device
                    </Table.Th>
                    <Table.Th w={190} visibleFrom="sm">
                      Opened
                    </Table.Th>
                    <Table.Th w={120} visibleFrom="sm">
                      Expires
                    </Table.Th>
                    <Table.Th w={90}>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {shown.length === 0 ? (
                    <Table.Tr>
                      <Table.Td colSpan={5}>
                        <Text size="sm" c="dimmed" ta="center" py="md" data-testid="no-match">
                          No open connection matches “{q}”.
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ) : (
                    shown.map((connection) => (
                      <ConnectionRow
                        key={connection.leaseId}
                        connection={connection}
                        organizationName={names.get(connection.device.organizationId)}
                        canClose={canClose(connection)}
                        onClose={() => closing.open(connection)}
                      />
                    ))
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
          <Text size="xs" c="dimmed" px={4}>
            Closing a connection frees its slot and its device at once. Connections also end by themselves when a desktop app stops renewing them.
          </Text>
        </Stack>
      )}
      <CloseConnectionDialog
        accountId={accountId}
        connection={closing.target}
        organizationName={closing.target ? names.get(closing.target.device.organizationId) : undefined}
        opened={closing.opened}
        onClose={closing.close}
        onDone={done}
      />
    </>
  );
}

export function ConnectionsPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  useEffect(() => {
    document.title = `Connections · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);
  if (!membership) return <AccountNotFound />;
  return <ConnectionList accountId={accountId} membership={membership} />;
}
