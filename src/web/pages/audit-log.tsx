import { Alert, Anchor, Button, Center, Code, Group, Loader, Paper, Select, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Fragment, useEffect, useState } from 'react';
import type { AuditEvent, AuditSearchQuery, Me } from '../../client/sdk.ts';
import { ACCOUNT_AUDIT_ACTIONS, AUDIT_ACTION_GROUPS, type AuditActorType } from '../../shared/audit.ts';
import { api, auditKey, usersKey } from '../api.ts';
import { FormStack } from '../forms.tsx';
import { can, rolesPhrase } from '../roles.ts';
import { AccountNotFound } from './organizations.tsx';
import { EmptyPanel, LoadMore, problemText } from './organization-parts.tsx';
import { formatDateTime, instantOf } from './team-parts.tsx';

/** The audit log: every change to the account, searched by who, what, which target and when; exported (owners). */

const PAGE_SIZE = 50;

const NOUNS: Record<string, string> = {
  account: 'Account',
  membership: 'Membership',
  user: 'User',
  invitation: 'Invitation',
  member: 'Team member',
  login_token: 'Login token',
  client_session: 'Desktop session',
  connection: 'Connection',
  organization: 'Organization',
  group: 'Group',
  device: 'Device',
  access_key: 'Access key',
  billing: 'Billing',
  invoice: 'Invoice',
};

/** "member.credentials_set" → "Team member credentials set". */
export function actionLabel(action: string): string {
  const dot = action.indexOf('.');
  const noun = NOUNS[action.slice(0, dot)] ?? action.slice(0, dot);
  return `${noun} ${action.slice(dot + 1).replaceAll('_', ' ')}`;
}

const ACTION_OPTIONS = AUDIT_ACTION_GROUPS.map((group) => ({
  group: NOUNS[group] ?? group,
  items: [
    { value: `${group}.*`, label: `Any change to ${(NOUNS[group] ?? group).toLowerCase()}s` },
    ...ACCOUNT_AUDIT_ACTIONS.filter((a) => a.startsWith(`${group}.`)).map((a) => ({ value: a, label: actionLabel(a) })),
  ],
}));

const ACTOR_KINDS: Array<{ value: `type:${AuditActorType}`; label: string }> = [
  { value: 'type:user', label: 'Any person' },
  { value: 'type:access_key', label: 'Any access key' },
  { value: 'type:member', label: 'Any team member (desktop)' },
  { value: 'type:system', label: 'Tessera itself or the command line' },
];

interface Draft {
  action: string | null;
  /** `type:<actor type>` or `user:<id>`. */
  actor: string | null;
  target: string;
  from: string;
  to: string;
}

const EMPTY: Draft = { action: null, actor: null, target: '', from: '', to: '' };

/** The search a draft asks for; a field it cannot read is named instead. */
function queryOf(draft: Draft): { query: AuditSearchQuery } | { unreadable: 'from' | 'to' } {
  const from = instantOf(draft.from);
  if (from === undefined) return { unreadable: 'from' };
  const to = instantOf(draft.to);
  if (to === undefined) return { unreadable: 'to' };
  const query: AuditSearchQuery = {};
  if (draft.action) query.action = draft.action;
  if (draft.actor?.startsWith('type:')) query.actorType = draft.actor.slice(5) as AuditActorType;
  if (draft.actor?.startsWith('user:')) query.actorId = draft.actor.slice(5);
  if (draft.target.trim()) query.targetId = draft.target.trim();
  if (from) query.from = from;
  if (to) query.to = to;
  return { query };
}

function ActorCell({ actor }: { actor: AuditEvent['actor'] }) {
  const kind = { user: 'Person', access_key: 'Access key', member: 'Team member', system: 'System' }[actor.type];
  const name = actor.name ?? (actor.type === 'system' ? 'Tessera' : `A removed ${kind.toLowerCase()}`);
  return (
    <>
      <Text size="sm" fw={600} data-testid="audit-actor">
        {name}
      </Text>
      <Text size="xs" c="dimmed">
        {kind}
      </Text>
    </>
  );
}

function Changes({ event }: { event: AuditEvent }) {
  const show = (label: string, value: unknown) =>
    value === undefined ? null : (
      <div>
        <Text size="xs" fw={600} c="dimmed">
          {label}
        </Text>
        <Code block className="audit-json">
          {JSON.stringify(value, null, 2)}
        </Code>
      </div>
    );
  return (
    <Group align="flex-start" grow gap="md" data-testid="audit-changes">
      {show('Before', event.before)}
      {show('After', event.after)}
      <div>
        <Text size="xs" fw={600} c="dimmed">
          Request
        </Text>
        <Text size="xs">From {event.clientAddress ?? 'an unknown address'}</Text>
        <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
          {event.userAgent ?? 'no user agent'} · request {event.requestId ?? '—'}
        </Text>
      </div>
    </Group>
  );
}

function EventsTable({ events, onTarget }: { events: AuditEvent[]; onTarget: (id: string) => void }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
      <Table.ScrollContainer minWidth={760} type="native">
        <Table verticalSpacing="sm" horizontalSpacing="md" data-testid="audit-table" aria-label="Audit events">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Who</Table.Th>
              <Table.Th>What</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th w={90} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {events.map((event) => (
              <Fragment key={event.id}>
                <Table.Tr data-testid="audit-row" aria-label={`${actionLabel(event.action)} ${event.target.id ?? ''}`}>
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {formatDateTime(event.occurredAt)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <ActorCell actor={event.actor} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" data-testid="audit-action-label">
                      {actionLabel(event.action)}
                    </Text>
                    <Code data-testid="audit-action">{event.action}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs" c="dimmed">
                      {NOUNS[event.target.type] ?? event.target.type}
                    </Text>
                    {event.target.id ? (
                      <Anchor component="button" type="button" size="xs" ff="monospace" onClick={() => onTarget(event.target.id!)} title="Show every change to this target">
                        {event.target.id}
                      </Anchor>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Button variant="subtle" size="compact-sm" onClick={() => setOpen(open === event.id ? null : event.id)} aria-expanded={open === event.id}>
                      {open === event.id ? 'Hide' : 'Details'}
                    </Button>
                  </Table.Td>
                </Table.Tr>
                {open === event.id ? (
                  <Table.Tr>
                    <Table.Td colSpan={5}>
                      <Changes event={event} />
                    </Table.Td>
                  </Table.Tr>
                ) : null}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

export function AuditLogPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const allowed = membership !== undefined && can.readAuditLog(membership);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [query, setQuery] = useState<AuditSearchQuery>({});
  const [unreadable, setUnreadable] = useState<'from' | 'to' | null>(null);
  const users = useQuery({ queryKey: usersKey(accountId), queryFn: () => api.listAccountUsers(accountId), enabled: allowed });
  const events = useInfiniteQuery({
    queryKey: [...auditKey(accountId), query],
    queryFn: ({ pageParam }) => api.searchAuditEvents(accountId, { ...query, cursor: pageParam, limit: PAGE_SIZE }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
    enabled: allowed,
    // the log grows with every change: show it as it is now whenever the page is opened
    staleTime: 0,
  });
  useEffect(() => {
    document.title = `Audit log · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  const apply = (next: Draft) => {
    setDraft(next);
    const result = queryOf(next);
    if ('unreadable' in result) setUnreadable(result.unreadable);
    else {
      setUnreadable(null);
      setQuery(result.query);
    }
  };
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  if (!membership) return <AccountNotFound />;
  if (!allowed) {
    return (
      <>
        <Title order={1} size="h2">
          Audit log
        </Title>
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are {rolesPhrase(membership)}: only owners read the audit log.
        </Alert>
      </>
    );
  }
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  const actorOptions = [
    { group: 'Kinds', items: ACTOR_KINDS },
    { group: 'People', items: (users.data ?? []).map(({ user }) => ({ value: `user:${user.id}`, label: `${user.name} (${user.email})` })) },
  ];
  const filtered = Object.keys(query).length > 0;
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px' }}>
          <Title order={1} size="h2">
            Audit log
          </Title>
          <Text c="dimmed" size="sm" maw={660}>
            Every change to {membership.companyName}: who made it, what changed and from where, from the portal, access keys, desktop clients and the command line. Newest first.
          </Text>
        </div>
        <Group gap="xs" style={{ flex: 'none' }}>
          <Button component="a" variant="default" href={api.auditExportUrl(accountId, { ...query, format: 'csv' })} download data-testid="export-csv">
            Export CSV
          </Button>
          <Button component="a" variant="default" href={api.auditExportUrl(accountId, { ...query, format: 'jsonl' })} download data-testid="export-jsonl">
            Export JSON Lines
          </Button>
        </Group>
      </Group>
      <Paper withBorder radius="md" p="md">
        <FormStack label="Search the audit log" onSubmit={() => apply(draft)}>
          <Group align="flex-end" gap="sm" wrap="wrap">
            <Select
              label="Action"
              placeholder="Any action"
              data={ACTION_OPTIONS}
              value={draft.action}
              onChange={(action) => apply({ ...draft, action })}
              searchable
              clearable
              nothingFoundMessage="No action matches"
              comboboxProps={{ shadow: 'md' }}
              w={260}
            />
            <Select
              label="Who"
              placeholder="Anyone"
              data={actorOptions}
              value={draft.actor}
              onChange={(actor) => apply({ ...draft, actor })}
              searchable
              clearable
              nothingFoundMessage="Nobody matches"
              comboboxProps={{ shadow: 'md' }}
              w={260}
            />
            <TextInput label="Target id" placeholder="e.g. a device's id" value={draft.target} onChange={(e) => set('target', e.currentTarget.value)} w={340} classNames={{ input: 'mono-input' }} />
          </Group>
          <Group align="flex-end" gap="sm" wrap="wrap">
            <TextInput
              label="From"
              type="datetime-local"
              value={draft.from}
              onChange={(e) => set('from', e.currentTarget.value)}
              error={unreadable === 'from' ? 'Enter a date and time' : undefined}
              w={210}
            />
            <TextInput
              label="To"
              type="datetime-local"
              value={draft.to}
              onChange={(e) => set('to', e.currentTarget.value)}
              error={unreadable === 'to' ? 'Enter a date and time' : undefined}
              w={210}
            />
            <Button type="submit">Search</Button>
            {filtered || draft !== EMPTY ? (
              <Button variant="subtle" onClick={() => apply(EMPTY)}>
                Clear
              </Button>
            ) : null}
          </Group>
        </FormStack>
      </Paper>
      {events.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : events.isError ? (
        <Alert color="red" variant="light" title="The audit log could not be searched" data-testid="form-alert">
          {problemText(events.error)}
        </Alert>
      ) : items.length === 0 ? (
        <EmptyPanel icon={null} title={filtered ? 'No change matches' : 'No changes yet'} testId="no-audit-events">
          {filtered ? 'Try a wider time range or fewer filters.' : 'Changes to the account show here as they happen.'}
        </EmptyPanel>
      ) : (
        <>
          <EventsTable events={items} onTarget={(target) => apply({ ...draft, target })} />
          <LoadMore hasMore={events.hasNextPage} loading={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()} shown={items.length} noun="change" />
        </>
      )}
    </>
  );
}
