import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Center,
  Group,
  Loader,
  Modal,
  MultiSelect,
  Paper,
  Pill,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { TesseraError, type Me, type Organization, type OrganizationGroup } from '../../client/sdk.ts';
import { api, groupsKey, organizationsKey, selectedOrganizationKey } from '../api.ts';
import { atLeast, can, roleOnOrganization, rolesPhrase } from '../roles.ts';
import type { AccountMembership } from '../../shared/contracts.ts';
import { FormAlert, FormStack, useFormErrors, useFormMutation, type FormErrors } from '../forms.tsx';
import { BuildingIcon, LayersIcon, PencilIcon, PlusIcon, TrashIcon } from '../icons.tsx';
import {
  EmptyPanel,
  LoadMore,
  problemText,
  SearchBox,
  SelectedBadge,
  useAllOrganizations,
  useRefreshOrganizationData,
  useSelectedOrganization,
} from './organization-parts.tsx';
import { ConfirmMutationDialog, DialogFrame, DialogHeader, formatDate, useDialog } from './team-parts.tsx';

const PAGE_SIZE = 25;

// ---------------------------------------------------------------------------------------------
// Organizations: create, rename and describe, delete

const ORGANIZATION_FIELDS = ['name', 'description'] as const;
type OrganizationField = (typeof ORGANIZATION_FIELDS)[number];

function NameAndDescription<F extends string>({
  values,
  onChange,
  errors,
  what,
}: {
  values: { name: string; description: string };
  onChange: (field: F, value: string) => void;
  errors: FormErrors<F>;
  what: string;
}) {
  return (
    <>
      <TextInput
        label="Name"
        data-autofocus
        autoComplete="off"
        maxLength={120}
        value={values.name}
        onChange={(e) => onChange('name' as F, e.currentTarget.value)}
        {...errors.field('name' as F)}
      />
      <Textarea
        label="Description"
        description={`Optional: what this ${what} is for`}
        autosize
        minRows={2}
        maxRows={6}
        maxLength={1000}
        value={values.description}
        onChange={(e) => onChange('description' as F, e.currentTarget.value)}
        {...errors.field('description' as F)}
      />
    </>
  );
}

/** The name and description that differ from the stored ones: what an edit sends. */
function changedNameAndDescription(
  stored: { name: string; description: string },
  values: { name: string; description: string },
): { name?: string; description?: string } {
  const patch: { name?: string; description?: string } = {};
  if (values.name !== stored.name) patch.name = values.name;
  if (values.description !== stored.description) patch.description = values.description;
  return patch;
}

function OrganizationFormContent({ accountId, organization, onClose }: { accountId: string; organization: Organization | null; onClose: () => void }) {
  const [values, setValues] = useState({ name: organization?.name ?? '', description: organization?.description ?? '' });
  const refresh = useRefreshOrganizationData(accountId);
  const { errors, mutation: save } = useFormMutation(ORGANIZATION_FIELDS, {
    mutationFn: () => {
      if (!organization) return api.createOrganization(accountId, values);
      return api.updateOrganization(accountId, organization.id, changedNameAndDescription(organization, values));
    },
    onSuccess: async () => {
      onClose();
      await refresh();
    },
  });
  const dirty = !organization || values.name !== organization.name || values.description !== organization.description;
  const title = organization ? `Edit ${organization.name}` : 'New organization';
  return (
    <>
      <DialogHeader title={title} />
      <Modal.Body>
        {!organization ? (
          <Text size="sm" c="dimmed" mb="md">
            A customer, site or subsidiary with devices of its own. People set the organization they work in on this page.
          </Text>
        ) : null}
        <FormStack label={title} onSubmit={() => (dirty ? save.mutate() : onClose())}>
          <NameAndDescription<OrganizationField>
            what="organization"
            values={values}
            errors={errors}
            onChange={(field, value) => {
              setValues((v) => ({ ...v, [field]: value }));
              errors.clearField(field);
            }}
          />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!dirty}>
              {organization ? 'Save changes' : 'Create organization'}
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Deleting an organization that holds devices is refused (409) unless asked for explicitly: the
 * server's answer is shown, and only then is deleting its devices too offered.
 */
function DeleteOrganizationDialog({ accountId, organization, opened, onClose }: { accountId: string; organization: Organization | null; opened: boolean; onClose: () => void }) {
  const errors = useFormErrors([] as const);
  const [blocked, setBlocked] = useState<{ detail: string; deviceCount: number } | null>(null);
  const refresh = useRefreshOrganizationData(accountId);
  const remove = useMutation({
    mutationFn: ({ id, cascade }: { id: string; cascade: boolean }) => api.deleteOrganization(accountId, id, { cascade }),
    onMutate: () => errors.reset(),
    onError: (error) => {
      if (!(error instanceof TesseraError && error.status === 409)) return errors.capture(error);
      // the answer counts the devices that would go now (the list may be out of date)
      setBlocked({ detail: error.problem.detail ?? error.problem.title, deviceCount: error.problem.deviceCount ?? organization?.deviceCount ?? 0 });
      void refresh();
    },
    onSuccess: async () => {
      onClose();
      await refresh();
    },
  });
  useEffect(() => {
    if (opened) {
      errors.reset();
      setBlocked(null);
    }
  }, [opened]);
  const name = organization?.name ?? 'organization';
  return (
    <DialogFrame opened={opened} onClose={onClose}>
      <DialogHeader title={`Delete ${name}?`} />
      <Modal.Body>
        <Stack gap="md">
          <Text size="sm">
            <b>{name}</b> is deleted and taken out of its groups. Anyone working in it sets another organization next time.
          </Text>
          {blocked ? (
            <Alert color="orange" variant="light" title={`${name} was not deleted`} data-testid="delete-blocked" role="alert">
              <Text size="sm">{blocked.detail}</Text>
              <Text size="sm" mt={6} fw={500}>
                Deleting it anyway deletes {blocked.deviceCount === 1 ? 'its device' : `all ${blocked.deviceCount} of its devices`} too. This cannot be undone.
              </Text>
            </Alert>
          ) : (
            <Text size="sm" c="dimmed">
              {organization && organization.deviceCount > 0
                ? `It holds ${plural(organization.deviceCount, 'device')}: move them to another organization first, or delete them with it.`
                : 'This cannot be undone.'}
            </Text>
          )}
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={onClose} data-autofocus>
              Cancel
            </Button>
            {blocked ? (
              <Button key="cascade" color="red" loading={remove.isPending && remove.variables.cascade} onClick={() => organization && remove.mutate({ id: organization.id, cascade: true })}>
                {blocked.deviceCount === 1 ? 'Delete with its device' : `Delete with its ${blocked.deviceCount} devices`}
              </Button>
            ) : (
              <Button key="plain" color="red" loading={remove.isPending && !remove.variables.cascade} onClick={() => organization && remove.mutate({ id: organization.id, cascade: false })}>
                Delete organization
              </Button>
            )}
          </Group>
        </Stack>
      </Modal.Body>
    </DialogFrame>
  );
}

// ---------------------------------------------------------------------------------------------
// The list of organizations: pick a row, then "Set Organization"

function OrganizationRow({
  organization,
  groups,
  selected,
  picked,
  actions,
  canRename,
  canDelete,
  onPick,
  onSet,
  onEdit,
  onDelete,
}: {
  organization: Organization;
  groups: Map<string, OrganizationGroup>;
  selected: boolean;
  picked: boolean;
  /** Whether the table has an actions column. */
  actions: boolean;
  /** A manager of the organization renames and describes it. */
  canRename: boolean;
  /** A manager of the whole account deletes it. */
  canDelete: boolean;
  onPick: () => void;
  onSet: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const groupNames = organization.groupIds.map((id) => groups.get(id)?.name).filter((n): n is string => Boolean(n));
  return (
    <Table.Tr
      className="org-row"
      data-testid="organization-row"
      data-name={organization.name}
      data-selected={selected ? 'true' : 'false'}
      data-picked={picked ? 'true' : 'false'}
      onClick={onPick}
      onDoubleClick={onSet}
    >
      <Table.Td>
        <UnstyledButton
          className="org-row-pick"
          onClick={(e) => {
            e.stopPropagation();
            onPick();
          }}
          aria-pressed={picked}
          aria-label={`${organization.name}${selected ? ' (selected)' : ''}`}
        >
          <Group gap={8} wrap="wrap" style={{ rowGap: 2 }}>
            <Text fw={650} size="sm" data-testid="organization-name" style={{ overflowWrap: 'anywhere' }}>
              {organization.name}
            </Text>
            {selected ? <SelectedBadge /> : null}
          </Group>
          {organization.description ? (
            <Text size="xs" c="dimmed" lineClamp={2} data-testid="organization-description">
              {organization.description}
            </Text>
          ) : null}
          {groupNames.length > 0 ? (
            <Text size="xs" c="indigo.7" mt={2} hiddenFrom="sm">
              {groupNames.join(' · ')}
            </Text>
          ) : null}
        </UnstyledButton>
      </Table.Td>
      <Table.Td>
        <Text size="sm" data-testid="organization-devices">
          {organization.deviceCount}
        </Text>
      </Table.Td>
      <Table.Td visibleFrom="sm">
        {groupNames.length > 0 ? (
          <Group gap={4} data-testid="organization-groups">
            {groupNames.map((n) => (
              <Badge key={n} variant="light" color="indigo" radius="sm" size="sm" tt="none" fw={500}>
                {n}
              </Badge>
            ))}
          </Group>
        ) : (
          <Text size="xs" c="dimmed">
            —
          </Text>
        )}
      </Table.Td>
      <Table.Td visibleFrom="sm">
        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          {formatDate(organization.createdAt)}
        </Text>
      </Table.Td>
      {actions ? (
        <Table.Td>
          <Group gap={2} justify="flex-end" wrap="nowrap" onClick={(e) => e.stopPropagation()} onDoubleClick={(e) => e.stopPropagation()}>
            {canRename ? (
              <Tooltip label="Rename or describe" withArrow openDelay={300}>
                <ActionIcon variant="subtle" color="gray" aria-label={`Edit ${organization.name}`} onClick={onEdit}>
                  <PencilIcon size={16} />
                </ActionIcon>
              </Tooltip>
            ) : null}
            {canDelete ? (
              <Tooltip label="Delete" withArrow openDelay={300}>
                <ActionIcon variant="subtle" color="red" aria-label={`Delete ${organization.name}`} onClick={onDelete}>
                  <TrashIcon size={16} />
                </ActionIcon>
              </Tooltip>
            ) : null}
          </Group>
        </Table.Td>
      ) : null}
    </Table.Tr>
  );
}

function OrganizationsList({
  accountId,
  membership,
  onCreate,
  onEdit,
  onDelete,
}: {
  accountId: string;
  membership: AccountMembership;
  onCreate: () => void;
  onEdit: (organization: Organization) => void;
  onDelete: (organization: Organization) => void;
}) {
  const [q, setQ] = useState('');
  const [clicked, setPicked] = useState<Organization | null>(null);
  const queryClient = useQueryClient();
  const selected = useSelectedOrganization(accountId);
  const groups = useQuery({ queryKey: groupsKey(accountId), queryFn: () => api.listGroups(accountId) });
  const groupsById = useMemo(() => new Map((groups.data ?? []).map((g) => [g.id, g])), [groups.data]);
  const list = useInfiniteQuery({
    queryKey: [...organizationsKey(accountId), 'list', q],
    queryFn: ({ pageParam }) => api.listOrganizations(accountId, { q: q || undefined, cursor: pageParam, limit: PAGE_SIZE }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
  });
  const setOrganization = useMutation({
    mutationFn: (organization: Organization) => api.setSelectedOrganization(accountId, organization.id),
    onSuccess: async (_, organization) => {
      queryClient.setQueryData(selectedOrganizationKey(accountId), organization.id);
      queryClient.setQueryData([...organizationsKey(accountId), 'one', organization.id], organization);
      setPicked(null);
      await queryClient.invalidateQueries({ queryKey: selectedOrganizationKey(accountId) });
    },
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const canCreate = can.createOrganizations(membership);
  const canRename = (organization: Organization) => atLeast(roleOnOrganization(membership, organization.id, groups.data), 'manager');
  const actions = canCreate || items.some(canRename);
  // a row deleted, or filtered away by the search, is no longer the one to set
  const picked = clicked && items.some((o) => o.id === clicked.id) ? clicked : null;
  const canSet = picked !== null && picked.id !== selected.organizationId;

  const none = list.isSuccess && items.length === 0 && !q;
  return (
    <Stack gap="sm">
      <Group justify="space-between" gap="sm" align="center" display={none ? 'none' : undefined}>
        <SearchBox label="Search organizations" placeholder="Search organizations" onSearch={setQ} />
        <Group gap="sm" wrap="nowrap">
          <Text size="sm" c="dimmed" visibleFrom="sm" data-testid="pick-hint">
            {picked && canSet ? (
              <>
                Work in <b>{picked.name}</b>?
              </>
            ) : (
              'Click an organization, then'
            )}
          </Text>
          <Button
            color={canSet ? 'yellow.6' : undefined}
            c={canSet ? 'dark.8' : undefined}
            disabled={!canSet}
            loading={setOrganization.isPending}
            onClick={() => picked && setOrganization.mutate(picked)}
          >
            Set Organization
          </Button>
        </Group>
      </Group>
      {setOrganization.isError ? (
        <Alert color="red" variant="light" title="The organization was not set" data-testid="form-alert" withCloseButton onClose={() => setOrganization.reset()}>
          {problemText(setOrganization.error)}
        </Alert>
      ) : null}
      {list.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : list.isError ? (
        <Alert color="red" variant="light" title="The organizations could not be loaded" data-testid="form-alert">
          {problemText(list.error)}
        </Alert>
      ) : items.length === 0 && !q ? (
        <EmptyPanel
          testId="empty-organizations"
          icon={<BuildingIcon size={24} />}
          title="No organizations yet"
          action={
            canCreate ? (
              <Button leftSection={<PlusIcon />} onClick={onCreate}>
                New organization
              </Button>
            ) : null
          }
        >
          An organization is a customer, site or subsidiary with devices of its own.{' '}
          {canCreate
            ? 'Create the first one.'
            : membership.role === null
              ? 'None is shared with you yet: an owner gives you a role on one.'
              : 'A manager of the account creates them.'}
        </EmptyPanel>
      ) : (
        <>
          <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
            <Table.ScrollContainer minWidth={340} type="native">
              <Table className="token-table org-table" verticalSpacing="sm" horizontalSpacing="md" aria-label="Organizations" data-testid="organization-table" style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Organization</Table.Th>
                    <Table.Th w={90}>Devices</Table.Th>
                    <Table.Th visibleFrom="sm">Groups</Table.Th>
                    <Table.Th w={130} visibleFrom="sm">
                      Created
                    </Table.Th>
                    {actions ? (
                      <Table.Th w={84}>
                        <VisuallyHidden>Actions</VisuallyHidden>
                      </Table.Th>
                    ) : null}
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {items.length === 0 ? (
                    <Table.Tr>
                      <Table.Td colSpan={actions ? 5 : 4}>
                        <Text size="sm" c="dimmed" ta="center" py="md" data-testid="no-match">
                          No organization matches “{q}”.
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ) : (
                    items.map((organization) => (
                      <OrganizationRow
                        key={organization.id}
                        organization={organization}
                        groups={groupsById}
                        selected={organization.id === selected.organizationId}
                        picked={organization.id === picked?.id}
                        actions={actions}
                        canRename={canRename(organization)}
                        canDelete={canCreate}
                        onPick={() => setPicked(organization)}
                        onSet={() => organization.id !== selected.organizationId && setOrganization.mutate(organization)}
                        onEdit={() => onEdit(organization)}
                        onDelete={() => onDelete(organization)}
                      />
                    ))
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
          <LoadMore hasMore={list.hasNextPage} loading={list.isFetchingNextPage} onClick={() => list.fetchNextPage()} shown={items.length} noun="organization" />
        </>
      )}
    </Stack>
  );
}

// ---------------------------------------------------------------------------------------------
// Groups of organizations

const GROUP_FIELDS = ['name', 'description', 'organizationIds'] as const;
type GroupField = (typeof GROUP_FIELDS)[number];

function GroupFormContent({
  accountId,
  group,
  organizations,
  onClose,
}: {
  accountId: string;
  group: OrganizationGroup | null;
  organizations: Organization[];
  onClose: () => void;
}) {
  const [values, setValues] = useState({ name: group?.name ?? '', description: group?.description ?? '' });
  const [organizationIds, setOrganizationIds] = useState<string[]>([]);
  const refresh = useRefreshOrganizationData(accountId);
  const { errors, mutation: save } = useFormMutation(GROUP_FIELDS, {
    mutationFn: () => {
      if (!group) return api.createGroup(accountId, { ...values, organizationIds });
      return api.updateGroup(accountId, group.id, changedNameAndDescription(group, values));
    },
    onSuccess: async () => {
      onClose();
      await refresh();
    },
  });
  const dirty = !group || values.name !== group.name || values.description !== group.description;
  const title = group ? `Edit ${group.name}` : 'New group';
  return (
    <>
      <DialogHeader title={title} />
      <Modal.Body>
        {!group ? (
          <Text size="sm" c="dimmed" mb="md">
            Organizations that belong together, such as the customers of one region. An organization may be in several groups.
          </Text>
        ) : null}
        <FormStack label={title} onSubmit={() => (dirty ? save.mutate() : onClose())}>
          <NameAndDescription<GroupField>
            what="group"
            values={values}
            errors={errors}
            onChange={(field, value) => {
              setValues((v) => ({ ...v, [field]: value }));
              errors.clearField(field);
            }}
          />
          {!group ? (
            <MultiSelect
              label="Organizations"
              description="Optional: you can add and remove them later"
              placeholder={organizationIds.length === 0 ? 'Choose organizations' : undefined}
              searchable
              clearable
              nothingFoundMessage="No organization matches"
              data={organizations.map((o) => ({ value: o.id, label: o.name }))}
              value={organizationIds}
              onChange={(ids) => {
                setOrganizationIds(ids);
                errors.clearField('organizationIds');
              }}
              comboboxProps={{ shadow: 'md', withinPortal: true, zIndex: 1000 }}
              maxDropdownHeight={260}
              {...errors.field('organizationIds')}
            />
          ) : null}
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!dirty}>
              {group ? 'Save changes' : 'Create group'}
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function GroupCard({
  accountId,
  group,
  organizations,
  canEdit,
  onEdit,
  onDelete,
}: {
  accountId: string;
  group: OrganizationGroup;
  organizations: Map<string, Organization>;
  canEdit: boolean;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const refresh = useRefreshOrganizationData(accountId);
  const change = useMutation({
    mutationFn: ({ organizationId, add }: { organizationId: string; add: boolean }) =>
      add ? api.addOrganizationToGroup(accountId, group.id, organizationId) : api.removeOrganizationFromGroup(accountId, group.id, organizationId),
    onSettled: () => refresh(),
  });
  const members = group.organizationIds
    .map((id) => organizations.get(id) ?? null)
    .filter((o): o is Organization => o !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
  const others = [...organizations.values()].filter((o) => !group.organizationIds.includes(o.id)).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <Card withBorder radius="md" padding="lg" shadow="xs" component="article" aria-label={group.name} data-testid="group-card" className="member-card">
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="sm">
        <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
          <span className="group-icon" aria-hidden="true">
            <LayersIcon size={20} />
          </span>
          <div style={{ minWidth: 0 }}>
            <Text fw={650} truncate="end" data-testid="group-name">
              {group.name}
            </Text>
            <Text size="xs" c="dimmed">
              {plural(group.organizationIds.length, 'organization')}
            </Text>
          </div>
        </Group>
        {canEdit ? (
          <Group gap={2} wrap="nowrap" className="member-remove">
            <Tooltip label="Rename or describe" withArrow openDelay={300}>
              <ActionIcon variant="subtle" color="gray" aria-label={`Edit ${group.name}`} onClick={onEdit}>
                <PencilIcon size={16} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label="Delete group" withArrow openDelay={300}>
              <ActionIcon variant="subtle" color="red" aria-label={`Delete ${group.name}`} onClick={onDelete}>
                <TrashIcon size={16} />
              </ActionIcon>
            </Tooltip>
          </Group>
        ) : null}
      </Group>
      {group.description ? (
        <Text size="sm" c="dimmed" mt="sm" data-testid="group-description">
          {group.description}
        </Text>
      ) : null}
      <div className="group-members">
        {members.length > 0 ? (
          <Pill.Group data-testid="group-organizations">
            {members.map((o) => (
              <Pill
                key={o.id}
                size="md"
                className="group-chip"
                data-testid="group-organization"
                withRemoveButton={canEdit}
                onRemove={() => change.mutate({ organizationId: o.id, add: false })}
                removeButtonProps={{ 'aria-label': `Remove ${o.name} from ${group.name}`, 'aria-hidden': false, tabIndex: 0 }}
              >
                {o.name}
              </Pill>
            ))}
          </Pill.Group>
        ) : (
          <Text size="sm" c="dimmed">
            No organizations in this group yet.
          </Text>
        )}
      </div>
      {change.isError ? (
        <Text size="xs" c="red.8" mt="xs" role="alert" data-testid="group-error">
          {problemText(change.error)}
        </Text>
      ) : null}
      {canEdit ? (
        <Select
          mt="auto"
          pt="md"
          size="xs"
          aria-label={`Add an organization to ${group.name}`}
          placeholder={others.length > 0 ? 'Add an organization…' : 'Every organization is in this group'}
          disabled={others.length === 0 || change.isPending}
          searchable
          nothingFoundMessage="No organization matches"
          data={others.map((o) => ({ value: o.id, label: o.name }))}
          value={null}
          onChange={(organizationId) => organizationId && change.mutate({ organizationId, add: true })}
          comboboxProps={{ shadow: 'md' }}
        />
      ) : null}
    </Card>
  );
}

function DeleteGroupDialog({ accountId, group, opened, onClose }: { accountId: string; group: OrganizationGroup | null; opened: boolean; onClose: () => void }) {
  const refresh = useRefreshOrganizationData(accountId);
  return (
    <ConfirmMutationDialog
      opened={opened}
      onClose={onClose}
      target={group}
      run={(target) => api.deleteGroup(accountId, target.id)}
      onDone={refresh}
      title={`Delete ${group?.name ?? 'group'}?`}
      confirmLabel="Delete group"
    >
      <Text size="sm">
        The group <b>{group?.name}</b> is deleted. Its organizations, and their devices, stay as they are.
      </Text>
    </ConfirmMutationDialog>
  );
}

function GroupsPanel({ accountId, canEdit, onCreate }: { accountId: string; canEdit: boolean; onCreate: () => void }) {
  const groups = useQuery({ queryKey: groupsKey(accountId), queryFn: () => api.listGroups(accountId) });
  const organizations = useAllOrganizations(accountId);
  const byId = useMemo(() => new Map((organizations.data ?? []).map((o) => [o.id, o])), [organizations.data]);
  const edit = useDialog<OrganizationGroup>();
  const remove = useDialog<OrganizationGroup>();
  if (groups.isPending || organizations.isPending) {
    return (
      <Center py="xl">
        <Loader size="sm" />
      </Center>
    );
  }
  if (groups.isError || organizations.isError) {
    return (
      <Alert color="red" variant="light" title="The groups could not be loaded" data-testid="form-alert">
        {problemText(groups.error ?? organizations.error)}
      </Alert>
    );
  }
  return (
    <>
      {!canEdit ? (
        <Alert color="gray" variant="light" mb="md" data-testid="groups-read-only-notice">
          Only owners of the account create, change or delete groups.
        </Alert>
      ) : null}
      {groups.data.length === 0 ? (
        <EmptyPanel
          testId="empty-groups"
          icon={<LayersIcon size={24} />}
          title="No groups yet"
          action={
            canEdit ? (
              <Button leftSection={<PlusIcon />} onClick={onCreate}>
                New group
              </Button>
            ) : null
          }
        >
          Groups gather organizations that belong together, such as the customers of one region or one reseller.
        </EmptyPanel>
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="md" data-testid="group-list">
          {groups.data.map((group) => (
            <GroupCard
              key={group.id}
              accountId={accountId}
              group={group}
              organizations={byId}
              canEdit={canEdit}
              onEdit={() => edit.open(group)}
              onDelete={() => remove.open(group)}
            />
          ))}
        </SimpleGrid>
      )}
      <DialogFrame opened={edit.opened} onClose={edit.close}>
        {edit.target ? <GroupFormContent key={edit.target.id} accountId={accountId} group={edit.target} organizations={organizations.data} onClose={edit.close} /> : null}
      </DialogFrame>
      <DeleteGroupDialog accountId={accountId} group={remove.target} opened={remove.opened} onClose={remove.close} />
    </>
  );
}

function NewGroupDialog({ accountId, opened, onClose }: { accountId: string; opened: boolean; onClose: () => void }) {
  const organizations = useAllOrganizations(accountId, opened);
  return (
    <DialogFrame opened={opened} onClose={onClose}>
      <GroupFormContent accountId={accountId} group={null} organizations={organizations.data ?? []} onClose={onClose} />
    </DialogFrame>
  );
}

// ---------------------------------------------------------------------------------------------
// The page

export function AccountNotFound() {
  return (
    <Alert color="gray" variant="light" title="Account not found" data-testid="form-alert">
      This account does not exist or you are not a member of it. Choose one from the menu at the top right.
    </Alert>
  );
}

type Tab = 'organizations' | 'groups';

export function OrganizationsPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const [tab, setTab] = useState<Tab>('organizations');
  const [creatingOrganization, setCreatingOrganization] = useState(false);
  const [creatingGroup, setCreatingGroup] = useState(false);
  const edit = useDialog<Organization>();
  const remove = useDialog<Organization>();
  useEffect(() => {
    document.title = `Organizations · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);
  if (!membership) return <AccountNotFound />;
  const canCreate = can.createOrganizations(membership);
  const canEditGroups = can.editGroups(membership);
  const canAdd = tab === 'groups' ? canEditGroups : canCreate;
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px' }}>
          <Title order={1} size="h2">
            Organizations
          </Title>
          <Text c="dimmed" size="sm" maw={640}>
            Customers, sites or subsidiaries, each with devices of its own. The organization you work in is marked in yellow: to change it, click another
            one and then <b>Set Organization</b>.
          </Text>
        </div>
        {canAdd ? (
          <Button leftSection={<PlusIcon />} onClick={() => (tab === 'groups' ? setCreatingGroup(true) : setCreatingOrganization(true))} style={{ flex: 'none' }}>
            {tab === 'groups' ? 'New group' : 'New organization'}
          </Button>
        ) : null}
      </Group>
      {!canCreate ? (
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          {membership.role === null
            ? `You are ${rolesPhrase(membership)}: you see the organizations you hold a role on${membership.grants.some((g) => g.role === 'manager') ? ', and rename the ones you manage' : ''}. You can set the organization you work in.`
            : `You are ${rolesPhrase(membership)}: managers create, rename or delete organizations, and owners change groups. You can still set the organization you work in.`}
        </Alert>
      ) : null}
      <Tabs value={tab} onChange={(value) => setTab(value === 'groups' ? 'groups' : 'organizations')} keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="organizations" leftSection={<BuildingIcon size={16} />}>
            Organizations
          </Tabs.Tab>
          <Tabs.Tab value="groups" leftSection={<LayersIcon size={16} />}>
            Groups
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="organizations">
          <OrganizationsList accountId={accountId} membership={membership} onCreate={() => setCreatingOrganization(true)} onEdit={edit.open} onDelete={remove.open} />
        </Tabs.Panel>
        <Tabs.Panel value="groups">
          <GroupsPanel accountId={accountId} canEdit={canEditGroups} onCreate={() => setCreatingGroup(true)} />
        </Tabs.Panel>
      </Tabs>
      <DialogFrame opened={creatingOrganization} onClose={() => setCreatingOrganization(false)}>
        <OrganizationFormContent accountId={accountId} organization={null} onClose={() => setCreatingOrganization(false)} />
      </DialogFrame>
      <NewGroupDialog accountId={accountId} opened={creatingGroup} onClose={() => setCreatingGroup(false)} />
      <DialogFrame opened={edit.opened} onClose={edit.close}>
        {edit.target ? <OrganizationFormContent key={edit.target.id} accountId={accountId} organization={edit.target} onClose={edit.close} /> : null}
      </DialogFrame>
      <DeleteOrganizationDialog accountId={accountId} organization={remove.target} opened={remove.opened} onClose={remove.close} />
    </>
  );
}
