import { ActionIcon, Alert, Badge, Button, Center, Group, Loader, Menu, Modal, Paper, PasswordInput, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { AccountUser, Invitation, Me } from '../../client/sdk.ts';
import type { Role } from '../../shared/contracts.ts';
import type { ScopedRole } from '../../shared/users.ts';
import { api, invitationsKey, meKey, usersKey } from '../api.ts';
import { FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { PlusIcon, TrashIcon, UsersIcon } from '../icons.tsx';
import { can, grantLabel, rolesPhrase } from '../roles.ts';
import { AccountNotFound } from './organizations.tsx';
import { EmptyPanel, problemText } from './organization-parts.tsx';
import { assignmentFields, RoleAndScope, RoleSelect, ScopeSelect, scopeFields, scopeOf, useScopes, type Assignment, type ScopeValue } from './role-fields.tsx';
import { ConfirmMutationDialog, DialogFrame, DialogHeader, formatDate, initials, useDialog } from './team-parts.tsx';

/** Manage users: the account's portal users and their roles, pending invitations, Add user. */

const ADD_FIELDS = ['name', 'email', 'password', 'role', 'groupId', 'organizationId'] as const;

function AddUserContent({ accountId, onAdded, onClose }: { accountId: string; onAdded: (user: AccountUser) => void; onClose: () => void }) {
  const [values, setValues] = useState({ name: '', email: '', password: '' });
  const [assignment, setAssignment] = useState<Assignment>({ role: 'viewer', scope: 'account' });
  const queryClient = useQueryClient();
  const { errors, mutation: add } = useFormMutation(ADD_FIELDS, {
    mutationFn: () => api.addAccountUser(accountId, { ...values, ...assignmentFields(assignment) }),
    onSuccess: async (user) => {
      await queryClient.invalidateQueries({ queryKey: usersKey(accountId) });
      onAdded(user);
    },
  });
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <>
      <DialogHeader title="Add user" />
      <Modal.Body>
        <Text size="sm" c="dimmed" mb="md">
          The person signs in to this portal with this email and password right away. Tell them the password yourself; they can change it from their profile.
        </Text>
        <FormStack label="Add user" onSubmit={() => add.mutate()}>
          <TextInput label="Name" data-autofocus autoComplete="off" value={values.name} onChange={(e) => set('name', e.currentTarget.value)} {...errors.field('name')} />
          <TextInput label="Email" type="email" autoComplete="off" value={values.email} onChange={(e) => set('email', e.currentTarget.value)} {...errors.field('email')} />
          <PasswordInput
            label="Password"
            autoComplete="new-password"
            description="At least 8 characters, mixing letters and digits; not a common password"
            value={values.password}
            onChange={(e) => set('password', e.currentTarget.value)}
            {...errors.field('password')}
          />
          <RoleAndScope accountId={accountId} value={assignment} onChange={setAssignment} errors={errors} />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add user
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

const INVITE_FIELDS = ['email', 'role', 'groupId', 'organizationId'] as const;

function InviteContent({ accountId, onInvited, onClose }: { accountId: string; onInvited: (invitation: Invitation) => void; onClose: () => void }) {
  const [email, setEmail] = useState('');
  const [assignment, setAssignment] = useState<Assignment>({ role: 'manager', scope: 'account' });
  const queryClient = useQueryClient();
  const { errors, mutation: invite } = useFormMutation(INVITE_FIELDS, {
    mutationFn: () => api.createInvitation(accountId, { email, ...assignmentFields(assignment) }),
    onSuccess: async (invitation) => {
      await queryClient.invalidateQueries({ queryKey: invitationsKey(accountId) });
      onInvited(invitation);
    },
  });
  return (
    <>
      <DialogHeader title="Invite user" />
      <Modal.Body>
        <Text size="sm" c="dimmed" mb="md">
          We email a link that works once. The person signs up with it, or signs in if they already use Tessera, and gets the role you choose.
        </Text>
        <FormStack label="Invite user" onSubmit={() => invite.mutate()}>
          <TextInput
            label="Email"
            type="email"
            data-autofocus
            autoComplete="off"
            value={email}
            onChange={(e) => {
              setEmail(e.currentTarget.value);
              errors.clearField('email');
            }}
            {...errors.field('email')}
          />
          <RoleAndScope accountId={accountId} value={assignment} onChange={setAssignment} errors={errors} />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={invite.isPending}>
              Send invitation
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

interface GrantDraft {
  key: number;
  role: ScopedRole;
  scope: ScopeValue | null;
}

function EditRolesContent({ accountId, user, onClose }: { accountId: string; user: AccountUser; onClose: () => void }) {
  const [accountRole, setAccountRole] = useState<Role | 'none'>(user.role ?? 'none');
  const [grants, setGrants] = useState<GrantDraft[]>(() =>
    user.grants.filter((g) => g.scope !== 'account' && g.role !== 'owner').map((g, key) => ({ key, role: g.role as ScopedRole, scope: scopeOf(g) })),
  );
  const [nextKey, setNextKey] = useState(user.grants.length);
  const scopes = useScopes(accountId);
  const queryClient = useQueryClient();
  const { errors, mutation: save } = useFormMutation(['role'] as const, {
    mutationFn: () =>
      api.setAccountUserRoles(accountId, user.user.id, {
        role: accountRole === 'none' ? null : accountRole,
        grants: grants.map((g) => ({ role: g.role, ...scopeFields(g.scope ?? 'account') })),
      }),
    onSuccess: async () => {
      // the person's own roles may have changed, and with them what this page shows
      await Promise.all([queryClient.invalidateQueries({ queryKey: usersKey(accountId) }), queryClient.invalidateQueries({ queryKey: meKey })]);
      onClose();
    },
  });
  const update = (key: number, patch: Partial<GrantDraft>) => setGrants((all) => all.map((g) => (g.key === key ? { ...g, ...patch } : g)));
  const submit = () => {
    if (grants.some((g) => g.scope === null)) return;
    if (accountRole === 'none' && grants.length === 0) {
      errors.reject({ role: 'Give a role on the whole account or on a group or organization, or remove the user instead' });
      return;
    }
    save.mutate();
  };
  return (
    <>
      <DialogHeader title={`Roles of ${user.user.name}`} />
      <Modal.Body>
        <FormStack label="Change roles" onSubmit={submit}>
          <RoleSelect
            label="Role on the whole account"
            value={accountRole === 'none' ? 'viewer' : accountRole}
            roles={['owner', 'manager', 'viewer']}
            description={accountRole === 'none' ? 'None: only the roles below' : undefined}
            onChange={setAccountRole}
            {...errors.field('role')}
          />
          {accountRole !== 'none' ? (
            <Button variant="subtle" size="compact-sm" color="gray" onClick={() => setAccountRole('none')} style={{ alignSelf: 'flex-start' }}>
              No role on the whole account
            </Button>
          ) : null}
          <Text size="sm" fw={600} mt="xs">
            Roles on groups and organizations
          </Text>
          {grants.length === 0 ? (
            <Text size="sm" c="dimmed">
              None. The strongest role that covers an organization applies there.
            </Text>
          ) : null}
          {grants.map((g) => (
            <Group key={g.key} align="flex-end" wrap="nowrap" gap="xs" data-testid="grant-row">
              <RoleSelect label="Role" value={g.role} roles={['manager', 'viewer']} description="" onChange={(role) => update(g.key, { role: role as ScopedRole })} w={140} />
              <ScopeSelect
                withAccount={false}
                value={g.scope}
                placeholder="Choose a group or organization"
                groups={scopes.groups}
                organizations={scopes.organizations}
                onChange={(scope) => update(g.key, { scope })}
                style={{ flex: 1 }}
              />
              <ActionIcon variant="subtle" color="red" size="lg" aria-label="Remove this role" onClick={() => setGrants((all) => all.filter((x) => x.key !== g.key))}>
                <TrashIcon size={16} />
              </ActionIcon>
            </Group>
          ))}
          <Button
            variant="light"
            size="compact-sm"
            leftSection={<PlusIcon size={14} />}
            style={{ alignSelf: 'flex-start' }}
            onClick={() => {
              setGrants((all) => [...all, { key: nextKey, role: 'manager', scope: null }]);
              setNextKey((k) => k + 1);
            }}
          >
            Add a role on a group or organization
          </Button>
          {grants.some((g) => g.scope === null) ? (
            <Text size="xs" c="dimmed">
              Choose a group or an organization for every role before saving.
            </Text>
          ) : null}
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={grants.some((g) => g.scope === null)}>
              Save roles
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function RoleBadges({ user }: { user: AccountUser }) {
  const badges = [...(user.role ? [{ role: user.role, scope: 'account' as const, scopeId: null, scopeName: null }] : []), ...user.grants.filter((g) => g.scope !== 'account')];
  if (badges.length === 0) return <Text size="sm" c="dimmed">No role</Text>;
  return (
    <Group gap={6}>
      {badges.map((g) => (
        <Badge key={`${g.scope}:${g.scopeId ?? ''}:${g.role}`} variant={g.role === 'owner' ? 'filled' : 'light'} color={g.role === 'viewer' ? 'gray' : 'indigo'} tt="none" radius="sm">
          {grantLabel(g)}
        </Badge>
      ))}
    </Group>
  );
}

function UsersTable({ users, meId, onEdit, onTransfer, onRemove }: { users: AccountUser[]; meId: string; onEdit: (u: AccountUser) => void; onTransfer: (u: AccountUser) => void; onRemove: (u: AccountUser) => void }) {
  return (
    <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
      <Table.ScrollContainer minWidth={640} type="native">
        <Table verticalSpacing="sm" horizontalSpacing="md" data-testid="users-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>User</Table.Th>
              <Table.Th>Roles</Table.Th>
              <Table.Th w={130} visibleFrom="sm">
                Joined
              </Table.Th>
              <Table.Th w={60} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {users.map((u) => (
              <Table.Tr key={u.user.id} data-testid="user-row" aria-label={u.user.name}>
                <Table.Td>
                  <Group gap="sm" wrap="nowrap">
                    <span className="member-avatar member-avatar-sm" aria-hidden="true">
                      {initials(u.user.name)}
                    </span>
                    <div style={{ minWidth: 0 }}>
                      <Text size="sm" fw={600} truncate="end" data-testid="user-name">
                        {u.user.name}
                        {u.user.id === meId ? (
                          <Badge ml={6} size="xs" variant="outline" color="gray">
                            You
                          </Badge>
                        ) : null}
                      </Text>
                      <Text size="xs" c="dimmed" truncate="end" data-testid="user-email">
                        {u.user.email}
                      </Text>
                    </div>
                  </Group>
                </Table.Td>
                <Table.Td data-testid="user-roles">
                  <RoleBadges user={u} />
                </Table.Td>
                <Table.Td visibleFrom="sm">
                  <Text size="sm" c="dimmed">
                    {formatDate(u.joinedAt)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Menu position="bottom-end" withinPortal shadow="md">
                    <Menu.Target>
                      <Button variant="subtle" color="gray" size="compact-sm" aria-label={`Actions for ${u.user.name}`}>
                        •••
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => onEdit(u)}>Change roles</Menu.Item>
                      {u.role !== 'owner' ? <Menu.Item onClick={() => onTransfer(u)}>Make owner</Menu.Item> : null}
                      <Menu.Divider />
                      <Menu.Item color="red" onClick={() => onRemove(u)}>
                        {u.user.id === meId ? 'Leave this account' : 'Remove from account'}
                      </Menu.Item>
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

function InvitationsTable({ accountId, invitations, onNotice, onRevoke }: { accountId: string; invitations: Invitation[]; onNotice: (text: string) => void; onRevoke: (i: Invitation) => void }) {
  const queryClient = useQueryClient();
  const resend = useMutation({
    mutationFn: (invitation: Invitation) => api.resendInvitation(accountId, invitation.id),
    onSuccess: async (invitation) => {
      await queryClient.invalidateQueries({ queryKey: invitationsKey(accountId) });
      onNotice(`A new link was sent to ${invitation.email}, valid until ${formatDate(invitation.expiresAt)}. The earlier link no longer works.`);
    },
    onError: (error) => onNotice(problemText(error)),
  });
  return (
    <Paper withBorder radius="md" shadow="xs" className="token-table-frame">
      <Table.ScrollContainer minWidth={640} type="native">
        <Table verticalSpacing="sm" horizontalSpacing="md" data-testid="invitations-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Email</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th visibleFrom="sm">Invited by</Table.Th>
              <Table.Th w={150}>Link expires</Table.Th>
              <Table.Th w={180} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {invitations.map((i) => (
              <Table.Tr key={i.id} data-testid="invitation-row" aria-label={i.email}>
                <Table.Td>
                  <Text size="sm" fw={500} data-testid="invitation-email">
                    {i.email}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{grantLabel(i.grant)}</Text>
                </Table.Td>
                <Table.Td visibleFrom="sm">
                  <Text size="sm" c="dimmed">
                    {i.invitedBy?.name ?? '—'}
                  </Text>
                </Table.Td>
                <Table.Td>
                  {i.status === 'expired' ? (
                    <Badge color="red" variant="light" data-testid="invitation-expired">
                      Expired
                    </Badge>
                  ) : (
                    <Text size="sm">{formatDate(i.expiresAt)}</Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Group gap={4} justify="flex-end" wrap="nowrap">
                    <Button variant="subtle" size="compact-sm" loading={resend.isPending && resend.variables?.id === i.id} onClick={() => resend.mutate(i)} aria-label={`Resend the invitation to ${i.email}`}>
                      Resend
                    </Button>
                    <Button variant="subtle" color="red" size="compact-sm" onClick={() => onRevoke(i)} aria-label={`Revoke the invitation to ${i.email}`}>
                      Revoke
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

export function UsersPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const allowed = membership !== undefined && can.manageUsers(membership);
  const users = useQuery({ queryKey: usersKey(accountId), queryFn: () => api.listAccountUsers(accountId), enabled: allowed });
  const invitations = useQuery({ queryKey: invitationsKey(accountId), queryFn: () => api.listInvitations(accountId), enabled: allowed });
  const [adding, setAdding] = useState(false);
  const [inviting, setInviting] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const edit = useDialog<AccountUser>();
  const transfer = useDialog<AccountUser>();
  const remove = useDialog<AccountUser>();
  const revoke = useDialog<Invitation>();
  const queryClient = useQueryClient();
  const refreshAll = () => Promise.all([queryClient.invalidateQueries({ queryKey: usersKey(accountId) }), queryClient.invalidateQueries({ queryKey: meKey })]);
  useEffect(() => {
    document.title = `Users · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  if (!membership) return <AccountNotFound />;
  if (!allowed) {
    return (
      <>
        <Title order={1} size="h2">
          Users
        </Title>
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are {rolesPhrase(membership)}: only owners manage the users of an account.
        </Alert>
      </>
    );
  }
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px' }}>
          <Title order={1} size="h2">
            Users
          </Title>
          <Text c="dimmed" size="sm" maw={640}>
            People who sign in to this portal, and what they may do: a role on the whole account, on a group of organizations, or on one organization. The strongest role
            that covers an organization applies there.
          </Text>
        </div>
        <Group gap="sm" style={{ flex: 'none' }}>
          <Button variant="default" onClick={() => setInviting(true)}>
            Invite user
          </Button>
          <Button leftSection={<PlusIcon />} onClick={() => setAdding(true)}>
            Add user
          </Button>
        </Group>
      </Group>
      {notice ? (
        <Alert color="teal" variant="light" withCloseButton onClose={() => setNotice(null)} data-testid="users-notice" role="status">
          {notice}
        </Alert>
      ) : null}
      {users.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : users.isError ? (
        <Alert color="red" variant="light" title="The users could not be loaded" data-testid="form-alert">
          {problemText(users.error)}
        </Alert>
      ) : (
        <UsersTable users={users.data} meId={me.user.id} onEdit={edit.open} onTransfer={transfer.open} onRemove={remove.open} />
      )}
      <Title order={2} size="h4" mt="md">
        Pending invitations
      </Title>
      {invitations.isPending ? (
        <Center py="md">
          <Loader size="sm" />
        </Center>
      ) : invitations.isError ? (
        <Alert color="red" variant="light" title="The invitations could not be loaded">
          {problemText(invitations.error)}
        </Alert>
      ) : invitations.data.length === 0 ? (
        <EmptyPanel icon={<UsersIcon size={24} />} title="No pending invitations" testId="no-invitations">
          Invite someone by email: they choose their own password when they accept.
        </EmptyPanel>
      ) : (
        <InvitationsTable accountId={accountId} invitations={invitations.data} onNotice={setNotice} onRevoke={revoke.open} />
      )}

      <DialogFrame opened={adding} onClose={() => setAdding(false)} size="lg">
        <AddUserContent
          accountId={accountId}
          onClose={() => setAdding(false)}
          onAdded={(user) => {
            setAdding(false);
            setNotice(`${user.user.name} was added and can sign in now as ${user.user.email}.`);
          }}
        />
      </DialogFrame>
      <DialogFrame opened={inviting} onClose={() => setInviting(false)} size="lg">
        <InviteContent
          accountId={accountId}
          onClose={() => setInviting(false)}
          onInvited={(invitation) => {
            setInviting(false);
            setNotice(`An invitation was sent to ${invitation.email}. The link works once, until ${formatDate(invitation.expiresAt)}.`);
          }}
        />
      </DialogFrame>
      <DialogFrame opened={edit.opened} onClose={edit.close} size="lg">
        {edit.target ? <EditRolesContent key={edit.target.user.id} accountId={accountId} user={edit.target} onClose={edit.close} /> : null}
      </DialogFrame>
      <ConfirmMutationDialog
        opened={transfer.opened}
        onClose={transfer.close}
        target={transfer.target}
        run={(target) => api.transferOwnership(accountId, target.user.id)}
        onDone={refreshAll}
        title={`Make ${transfer.target?.user.name ?? 'this user'} an owner?`}
        confirmLabel="Transfer ownership"
      >
        <Text size="sm">
          <b>{transfer.target?.user.name}</b> becomes an owner of {membership.companyName}, with every right you have now. You stay in the account as a manager of the whole
          account, and can no longer manage users, billing or access keys.
        </Text>
      </ConfirmMutationDialog>
      <ConfirmMutationDialog
        opened={remove.opened}
        onClose={remove.close}
        target={remove.target}
        run={(target) => api.removeAccountUser(accountId, target.user.id)}
        onDone={refreshAll}
        title={remove.target?.user.id === me.user.id ? 'Leave this account?' : `Remove ${remove.target?.user.name ?? 'this user'}?`}
        confirmLabel={remove.target?.user.id === me.user.id ? 'Leave account' : 'Remove user'}
      >
        <Text size="sm">
          <b>{remove.target?.user.name}</b> loses every role in {membership.companyName} at once. Their sign-in stays for any other account they belong to.
        </Text>
      </ConfirmMutationDialog>
      <ConfirmMutationDialog
        opened={revoke.opened}
        onClose={revoke.close}
        target={revoke.target}
        run={(target) => api.revokeInvitation(accountId, target.id)}
        onDone={() => queryClient.invalidateQueries({ queryKey: invitationsKey(accountId) })}
        title="Revoke this invitation?"
        confirmLabel="Revoke invitation"
      >
        <Text size="sm">
          The link sent to <b>{revoke.target?.email}</b> stops working. You can invite them again later.
        </Text>
      </ConfirmMutationDialog>
    </>
  );
}
