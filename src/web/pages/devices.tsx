import {
  ActionIcon,
  Alert,
  Autocomplete,
  Button,
  Center,
  Group,
  Loader,
  Modal,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import type { Device, Me, Organization } from '../../client/sdk.ts';
import { api, devicesKey } from '../api.ts';
import { FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { BuildingIcon, DeviceIcon, PencilIcon, PlusIcon, TrashIcon } from '../icons.tsx';
import { EmptyPanel, LoadMore, problemText, SearchBox, useAllOrganizations, useRefreshOrganizationData, useSelectedOrganization } from './organization-parts.tsx';
import { AccountNotFound } from './organizations.tsx';
import { ConfirmMutationDialog, DialogFrame, DialogHeader, formatDate, useDialog } from './team-parts.tsx';

const PAGE_SIZE = 50;

/** Suggestions only: a device's kind is free text. */
const KINDS = ['Router', 'Switch', 'Firewall', 'Access point', 'Gateway', 'Server', 'Workstation', 'Laptop', 'Printer', 'Camera', 'Sensor'];

const DEVICE_FIELDS = ['name', 'kind', 'identifier', 'notes', 'organizationId'] as const;

interface DeviceDraft {
  name: string;
  kind: string;
  identifier: string;
  notes: string;
  organizationId: string;
}

function DeviceFormContent({
  accountId,
  organization,
  device,
  organizations,
  onClose,
  onMoved,
}: {
  accountId: string;
  /** The organization a new device is added to (the selected one). */
  organization: Organization;
  device: Device | null;
  /** For moving a device: every organization of the account. */
  organizations: Organization[];
  onClose: () => void;
  onMoved: (device: Device, to: string) => void;
}) {
  const [draft, setDraft] = useState<DeviceDraft>({
    name: device?.name ?? '',
    kind: device?.kind ?? '',
    identifier: device?.identifier ?? '',
    notes: device?.notes ?? '',
    organizationId: device?.organizationId ?? organization.id,
  });
  const refresh = useRefreshOrganizationData(accountId);
  const changed = (Object.keys(draft) as (keyof DeviceDraft)[]).filter((key) => device && draft[key] !== device[key]);
  const { errors, mutation: save } = useFormMutation(DEVICE_FIELDS, {
    mutationFn: () => {
      if (!device) return api.createDevice(accountId, organization.id, { name: draft.name, kind: draft.kind, identifier: draft.identifier, notes: draft.notes });
      return api.updateDevice(accountId, device.id, Object.fromEntries(changed.map((key) => [key, draft[key]])));
    },
    onSuccess: async (saved) => {
      onClose();
      if (device && saved.organizationId !== device.organizationId) {
        onMoved(saved, organizations.find((o) => o.id === saved.organizationId)?.name ?? 'another organization');
      }
      await refresh();
    },
  });
  const set = (field: keyof DeviceDraft, value: string) => {
    setDraft((d) => ({ ...d, [field]: value }));
    errors.clearField(field);
  };
  const dirty = !device || changed.length > 0;
  const title = device ? `Edit ${device.name}` : 'Add device';
  return (
    <>
      <DialogHeader title={title} />
      <Modal.Body>
        {!device ? (
          <Text size="sm" c="dimmed" mb="md">
            Added to <b>{organization.name}</b>. Its identifier (serial number, MAC address, …) is unique within the account.
          </Text>
        ) : null}
        <FormStack label={title} onSubmit={() => (dirty ? save.mutate() : onClose())}>
          <TextInput label="Name" data-autofocus autoComplete="off" maxLength={120} value={draft.name} onChange={(e) => set('name', e.currentTarget.value)} {...errors.field('name')} />
          <Group grow align="flex-start" gap="md" wrap="wrap">
            <Autocomplete
              label="Kind"
              placeholder="Router, switch, …"
              data={KINDS}
              maxLength={40}
              value={draft.kind}
              onChange={(kind) => set('kind', kind)}
              comboboxProps={{ shadow: 'md', withinPortal: true, zIndex: 1000 }}
              style={{ minWidth: 180 }}
              {...errors.field('kind')}
            />
            <TextInput
              label="Identifier"
              placeholder="Serial number or MAC"
              autoComplete="off"
              spellCheck={false}
              maxLength={120}
              classNames={{ input: 'mono-input' }}
              value={draft.identifier}
              onChange={(e) => set('identifier', e.currentTarget.value)}
              style={{ minWidth: 180 }}
              {...errors.field('identifier')}
            />
          </Group>
          <Textarea label="Notes" description="Optional" autosize minRows={2} maxRows={6} maxLength={1000} value={draft.notes} onChange={(e) => set('notes', e.currentTarget.value)} {...errors.field('notes')} />
          {device ? (
            <Select
              label="Organization"
              description={
                draft.organizationId === device.organizationId
                  ? 'Move the device to another organization of the account'
                  : `Saving moves it to ${organizations.find((o) => o.id === draft.organizationId)?.name ?? 'that organization'}; it leaves the devices of ${organization.name}.`
              }
              data={organizations.map((o) => ({ value: o.id, label: o.name }))}
              value={draft.organizationId}
              onChange={(id) => id && set('organizationId', id)}
              searchable
              allowDeselect={false}
              nothingFoundMessage="No organization matches"
              comboboxProps={{ shadow: 'md', withinPortal: true, zIndex: 1000 }}
              {...errors.field('organizationId')}
            />
          ) : null}
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!dirty}>
              {device ? 'Save changes' : 'Add device'}
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function RemoveDeviceDialog({ accountId, device, opened, onClose }: { accountId: string; device: Device | null; opened: boolean; onClose: () => void }) {
  const refresh = useRefreshOrganizationData(accountId);
  return (
    <ConfirmMutationDialog
      opened={opened}
      onClose={onClose}
      target={device}
      run={(target) => api.deleteDevice(accountId, target.id)}
      onDone={refresh}
      title={`Remove ${device?.name ?? 'device'}?`}
      confirmLabel="Remove device"
    >
      <Text size="sm">
        <b>{device?.name}</b> (<span className="mono">{device?.identifier}</span>) is removed from this organization.
      </Text>
      <Text size="sm" c="dimmed" mt="xs">
        This cannot be undone.
      </Text>
    </ConfirmMutationDialog>
  );
}

function DeviceRow({ device, canEdit, onEdit, onRemove }: { device: Device; canEdit: boolean; onEdit: () => void; onRemove: () => void }) {
  return (
    <Table.Tr data-testid="device-row" data-identifier={device.identifier}>
      <Table.Td>
        <Text size="sm" fw={600} data-testid="device-name">
          {device.name}
        </Text>
        <Text size="xs" c="dimmed" hiddenFrom="sm">
          {device.kind}
        </Text>
      </Table.Td>
      <Table.Td visibleFrom="sm">
        <Text size="sm" data-testid="device-kind">
          {device.kind}
        </Text>
      </Table.Td>
      <Table.Td>
        <span className="mono device-identifier" data-testid="device-identifier">
          {device.identifier}
        </span>
      </Table.Td>
      <Table.Td visibleFrom="sm">
        {device.notes ? (
          <Text size="sm" c="gray.7" lineClamp={2} title={device.notes} data-testid="device-notes">
            {device.notes}
          </Text>
        ) : (
          <Text size="xs" c="dimmed">
            —
          </Text>
        )}
      </Table.Td>
      <Table.Td visibleFrom="md">
        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          {formatDate(device.createdAt)}
        </Text>
      </Table.Td>
      {canEdit ? (
        <Table.Td>
          <Group gap={2} justify="flex-end" wrap="nowrap">
            <Tooltip label="Edit or move" withArrow openDelay={300}>
              <ActionIcon variant="subtle" color="gray" aria-label={`Edit ${device.name}`} onClick={onEdit}>
                <PencilIcon size={16} />
              </ActionIcon>
            </Tooltip>
            <Tooltip label="Remove" withArrow openDelay={300}>
              <ActionIcon variant="subtle" color="red" aria-label={`Remove ${device.name}`} onClick={onRemove}>
                <TrashIcon size={16} />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Table.Td>
      ) : null}
    </Table.Tr>
  );
}

function DeviceList({ accountId, organization, canEdit }: { accountId: string; organization: Organization; canEdit: boolean }) {
  const [q, setQ] = useState('');
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const edit = useDialog<Device>();
  const remove = useDialog<Device>();
  const organizations = useAllOrganizations(accountId, canEdit);
  const list = useInfiniteQuery({
    queryKey: [...devicesKey(accountId), organization.id, q],
    queryFn: ({ pageParam }) => api.listDevices(accountId, organization.id, { q: q || undefined, cursor: pageParam, limit: PAGE_SIZE }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: keepPreviousData,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const columns = canEdit ? 6 : 5;
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px', minWidth: 0 }}>
          <Title order={1} size="h2">
            Devices
          </Title>
          <Group gap={8} mt={2} wrap="nowrap">
            <Text c="dimmed" size="sm" style={{ flex: 'none' }}>
              Devices of
            </Text>
            <span className="org-pill org-pill-static" data-testid="devices-organization">
              {organization.name}
            </span>
            <Text component={Link} href={`/accounts/${accountId}/organizations`} size="sm" c="indigo.7" className="quiet-link">
              Change
            </Text>
          </Group>
        </div>
        {canEdit ? (
          <Button leftSection={<PlusIcon />} onClick={() => setAdding(true)} style={{ flex: 'none' }}>
            Add device
          </Button>
        ) : null}
      </Group>
      {!canEdit ? (
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are a viewer of this account: managers and owners add, edit and remove devices.
        </Alert>
      ) : null}
      {notice ? (
        <Alert color="teal" variant="light" withCloseButton onClose={() => setNotice(null)} data-testid="device-notice" role="status">
          {notice}
        </Alert>
      ) : null}
      <Stack gap="sm">
        <Group gap="sm">
          <SearchBox label="Search devices" placeholder="Search by name or identifier" onSearch={setQ} />
        </Group>
        {list.isPending ? (
          <Center py="xl">
            <Loader size="sm" />
          </Center>
        ) : list.isError ? (
          <Alert color="red" variant="light" title="The devices could not be loaded" data-testid="form-alert">
            {problemText(list.error)}
          </Alert>
        ) : items.length === 0 && !q ? (
          <EmptyPanel
            testId="empty-devices"
            icon={<DeviceIcon size={24} />}
            title={`No devices in ${organization.name} yet`}
            action={
              canEdit ? (
                <Button leftSection={<PlusIcon />} onClick={() => setAdding(true)}>
                  Add device
                </Button>
              ) : null
            }
          >
            Routers, switches, gateways and other equipment of this organization, each with its serial number or MAC address.
          </EmptyPanel>
        ) : (
          <>
            <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
              <Table.ScrollContainer minWidth={340} type="native">
                <Table className="token-table" verticalSpacing="sm" horizontalSpacing="md" aria-label={`Devices of ${organization.name}`} data-testid="device-table" style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th miw={140}>Name</Table.Th>
                      <Table.Th w={140} visibleFrom="sm">
                        Kind
                      </Table.Th>
                      <Table.Th w={200}>Identifier</Table.Th>
                      <Table.Th visibleFrom="sm">Notes</Table.Th>
                      <Table.Th w={130} visibleFrom="md">
                        Created
                      </Table.Th>
                      {canEdit ? (
                        <Table.Th w={84}>
                          <VisuallyHidden>Actions</VisuallyHidden>
                        </Table.Th>
                      ) : null}
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {items.length === 0 ? (
                      <Table.Tr>
                        <Table.Td colSpan={columns}>
                          <Text size="sm" c="dimmed" ta="center" py="md" data-testid="no-match">
                            No device of {organization.name} matches “{q}”.
                          </Text>
                        </Table.Td>
                      </Table.Tr>
                    ) : (
                      items.map((device) => <DeviceRow key={device.id} device={device} canEdit={canEdit} onEdit={() => edit.open(device)} onRemove={() => remove.open(device)} />)
                    )}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            </Paper>
            <LoadMore hasMore={list.hasNextPage} loading={list.isFetchingNextPage} onClick={() => list.fetchNextPage()} shown={items.length} noun="device" />
          </>
        )}
      </Stack>
      <DialogFrame opened={adding} onClose={() => setAdding(false)} size="lg">
        <DeviceFormContent accountId={accountId} organization={organization} device={null} organizations={[]} onClose={() => setAdding(false)} onMoved={() => undefined} />
      </DialogFrame>
      <DialogFrame opened={edit.opened} onClose={edit.close} size="lg">
        {edit.target ? (
          <DeviceFormContent
            key={edit.target.id}
            accountId={accountId}
            organization={organization}
            device={edit.target}
            organizations={organizations.data ?? [organization]}
            onClose={edit.close}
            onMoved={(device, to) => setNotice(`${device.name} was moved to ${to}.`)}
          />
        ) : null}
      </DialogFrame>
      <RemoveDeviceDialog accountId={accountId} device={remove.target} opened={remove.opened} onClose={remove.close} />
    </>
  );
}

export function DevicesPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const selected = useSelectedOrganization(accountId, membership !== undefined);
  useEffect(() => {
    document.title = `Devices · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);
  if (!membership) return <AccountNotFound />;
  if (selected.isPending) {
    return (
      <Center py="xl">
        <Loader size="sm" />
      </Center>
    );
  }
  if (selected.error) {
    return (
      <Alert color="red" variant="light" title="The devices could not be loaded" data-testid="form-alert">
        {problemText(selected.error)}
      </Alert>
    );
  }
  if (!selected.organization) {
    return (
      <>
        <Title order={1} size="h2">
          Devices
        </Title>
        <EmptyPanel
          testId="no-organization"
          icon={<BuildingIcon size={24} />}
          title="Choose an organization first"
          action={
            <Button component={Link} href={`/accounts/${accountId}/organizations`} variant="light">
              Go to Organizations
            </Button>
          }
        >
          Devices belong to organizations. On the Organizations page, click the organization you work in and then <b>Set Organization</b>; its devices
          show here.
        </EmptyPanel>
      </>
    );
  }
  const canEdit = membership.role === 'owner' || membership.role === 'manager';
  return <DeviceList key={selected.organization.id} accountId={accountId} organization={selected.organization} canEdit={canEdit} />;
}
