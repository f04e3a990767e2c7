import { Alert, Badge, Button, Center, Code, Group, Loader, Modal, Paper, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { AccessKey, IssuedAccessKey, Me } from '../../client/sdk.ts';
import { accessKeysKey, api } from '../api.ts';
import { FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { KeyIcon, PlusIcon } from '../icons.tsx';
import { can, grantLabel, grantPhrase, rolesPhrase } from '../roles.ts';
import { AccountNotFound } from './organizations.tsx';
import { EmptyPanel, problemText } from './organization-parts.tsx';
import { assignmentFields, RoleAndScope, type Assignment } from './role-fields.tsx';
import { ConfirmMutationDialog, DialogFrame, DialogHeader, formatDate, instantOf, IssuedSecret, useDialog, When } from './team-parts.tsx';

/** Access keys: programs calling the management API for this account (owners, in person). */

const KEY_FIELDS = ['name', 'role', 'groupId', 'organizationId', 'expiresAt'] as const;

function NewKeyContent({ accountId, onClose }: { accountId: string; onClose: () => void }) {
  const [name, setName] = useState('');
  const [assignment, setAssignment] = useState<Assignment>({ role: 'viewer', scope: 'account' });
  const [expires, setExpires] = useState('');
  const [issued, setIssued] = useState<IssuedAccessKey | null>(null);
  const queryClient = useQueryClient();
  const { errors, mutation: create } = useFormMutation(KEY_FIELDS, {
    mutationFn: (expiresAt: string | null) => api.createAccessKey(accountId, { name, ...assignmentFields(assignment), expiresAt }),
    onSuccess: async (result) => {
      setIssued(result);
      await queryClient.invalidateQueries({ queryKey: accessKeysKey(accountId) });
    },
  });
  const submit = () => {
    const expiresAt = instantOf(expires);
    // a moment in the past is the server's to refuse: its clock decides
    if (expiresAt === undefined) errors.reject({ expiresAt: 'Enter a date and time' });
    else create.mutate(expiresAt);
  };

  if (issued) {
    return (
      <>
        <DialogHeader title={`Access key “${issued.key.name}” is ready`} />
        <Modal.Body>
          <IssuedSecret
            title="Copy the key now"
            subtitle="This is the only time it is shown: Tessera keeps only a fingerprint of it."
            copyLabel="Copy key"
            secretLabel="Access key"
            secret={issued.secret}
            note={
              <>
                Send it as <Code>Authorization: Bearer …</Code> to <Code>/api/v1</Code>. It acts as {grantPhrase(issued.key.grant)} and nothing more
                {issued.key.expiresAt ? `, until ${formatDate(issued.key.expiresAt)}` : ''}. Keep it in a secret store, never in code.
              </>
            }
          >
            <Group justify="flex-end" mt="md">
              <Button onClick={onClose}>Done</Button>
            </Group>
          </IssuedSecret>
        </Modal.Body>
      </>
    );
  }
  return (
    <>
      <DialogHeader title="New access key" />
      <Modal.Body>
        <Text size="sm" c="dimmed" mb="md">
          A key lets a program call the API for this account with one role, on the whole account, a group or one organization. It cannot manage keys.
        </Text>
        <FormStack label="New access key" onSubmit={submit}>
          <TextInput
            label="Name"
            description="What the key is for, e.g. “Nightly export”"
            data-autofocus
            autoComplete="off"
            value={name}
            onChange={(e) => {
              setName(e.currentTarget.value);
              errors.clearField('name');
            }}
            {...errors.field('name')}
          />
          <RoleAndScope accountId={accountId} value={assignment} onChange={setAssignment} errors={errors} />
          <TextInput
            label="Expires (optional)"
            description="Your local time; empty for no expiry"
            type="datetime-local"
            maw={300}
            value={expires}
            onChange={(e) => {
              setExpires(e.currentTarget.value);
              errors.clearField('expiresAt');
            }}
            {...errors.field('expiresAt')}
          />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create key
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function KeysTable({ keys, onRevoke }: { keys: AccessKey[]; onRevoke: (key: AccessKey) => void }) {
  return (
    <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
      <Table.ScrollContainer minWidth={720} type="native">
        <Table verticalSpacing="sm" horizontalSpacing="md" data-testid="access-keys-table" aria-label="Access keys">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Last used</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th w={90} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {keys.map((key) => (
              <Table.Tr key={key.id} data-testid="access-key-row" aria-label={key.name}>
                <Table.Td>
                  <Text size="sm" fw={600} data-testid="access-key-name">
                    {key.name}
                  </Text>
                  <Code data-testid="access-key-prefix">{key.prefix}…</Code>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" data-testid="access-key-role">
                    {grantLabel(key.grant)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <When iso={key.createdAt} empty="" />
                  {key.createdBy ? (
                    <Text size="xs" c="dimmed">
                      by {key.createdBy.name}
                    </Text>
                  ) : null}
                </Table.Td>
                <Table.Td>
                  <When iso={key.lastUsedAt} empty="Never" />
                </Table.Td>
                <Table.Td>
                  {key.status === 'expired' ? (
                    <Badge color="orange" variant="light" radius="sm" data-testid="access-key-expired">
                      Expired
                    </Badge>
                  ) : (
                    <When iso={key.expiresAt} empty="No expiry" />
                  )}
                </Table.Td>
                <Table.Td>
                  <Button variant="subtle" color="red" size="compact-sm" onClick={() => onRevoke(key)} aria-label={`Revoke ${key.name}`}>
                    Revoke
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

export function AccessKeysPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const allowed = membership !== undefined && can.manageAccessKeys(membership);
  const keys = useQuery({ queryKey: accessKeysKey(accountId), queryFn: () => api.listAccessKeys(accountId), enabled: allowed });
  const [creating, setCreating] = useState(false);
  const revoke = useDialog<AccessKey>();
  const queryClient = useQueryClient();
  useEffect(() => {
    document.title = `Access keys · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  if (!membership) return <AccountNotFound />;
  if (!allowed) {
    return (
      <>
        <Title order={1} size="h2">
          Access keys
        </Title>
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are {rolesPhrase(membership)}: only owners manage access keys.
        </Alert>
      </>
    );
  }
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px' }}>
          <Title order={1} size="h2">
            Access keys
          </Title>
          <Text c="dimmed" size="sm" maw={660}>
            Keys let your own programs call the Tessera API for {membership.companyName}: each with one role, on the whole account, a group or one organization. A key is
            shown once, when you create it; revoke it and it stops working at once.
          </Text>
        </div>
        <Button leftSection={<PlusIcon />} onClick={() => setCreating(true)} style={{ flex: 'none' }}>
          New access key
        </Button>
      </Group>
      {keys.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : keys.isError ? (
        <Alert color="red" variant="light" title="The access keys could not be loaded" data-testid="form-alert">
          {problemText(keys.error)}
        </Alert>
      ) : keys.data.length === 0 ? (
        <EmptyPanel icon={<KeyIcon size={24} />} title="No access keys" testId="no-access-keys">
          Create a key for each program that calls the API, so you can revoke one without touching the others. The API reference is at{' '}
          <a href="/api/docs">/api/docs</a>.
        </EmptyPanel>
      ) : (
        <KeysTable keys={keys.data} onRevoke={revoke.open} />
      )}
      <DialogFrame opened={creating} onClose={() => setCreating(false)} size="lg">
        <NewKeyContent accountId={accountId} onClose={() => setCreating(false)} />
      </DialogFrame>
      <ConfirmMutationDialog
        opened={revoke.opened}
        onClose={revoke.close}
        target={revoke.target}
        run={(target) => api.revokeAccessKey(accountId, target.id)}
        onDone={() => queryClient.invalidateQueries({ queryKey: accessKeysKey(accountId) })}
        title={`Revoke “${revoke.target?.name ?? 'access key'}”?`}
        confirmLabel="Revoke key"
      >
        <Text size="sm">
          Programs using <b>{revoke.target?.name}</b> are refused from the next request on, on every server. This cannot be undone: create a new key if you need one.
        </Text>
      </ConfirmMutationDialog>
    </>
  );
}
