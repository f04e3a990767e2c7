import {
  Alert,
  Badge,
  Button,
  Center,
  Divider,
  Drawer,
  Group,
  Loader,
  Paper,
  PasswordInput,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type ReactNode } from 'react';
import type { IssuedLoginToken, LoginToken, TeamMember } from '../../client/sdk.ts';
import { api, teamKey, tokensKey } from '../api.ts';
import { FormAlert, FormStack, useFormErrors, useFormMutation } from '../forms.tsx';
import { PlusIcon } from '../icons.tsx';
import { ConfirmMutationDialog, CopyButton, formatDateTime, instantOf, IssuedToken, TokenSecret, useCopied, useDialog, When, writeClipboard } from './team-parts.tsx';

const STATE_BADGE: Record<LoginToken['state'], { label: string; color: string }> = {
  active: { label: 'Active', color: 'teal' },
  expired: { label: 'Expired', color: 'orange' },
  revoked: { label: 'Revoked', color: 'gray' },
};

function StateBadge({ token }: { token: LoginToken }) {
  const { label, color } = STATE_BADGE[token.state];
  const badge = (
    <Badge color={color} variant="light" radius="sm" data-testid="token-state">
      {label}
    </Badge>
  );
  if (token.state === 'revoked' && token.revokedAt) {
    return (
      <Tooltip label={`Revoked ${formatDateTime(token.revokedAt)}`} withArrow>
        {badge}
      </Tooltip>
    );
  }
  return badge;
}

function SectionTitle({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div>
      <Title order={3} size="h5">
        {title}
      </Title>
      {children ? (
        <Text size="sm" c="dimmed" mt={2}>
          {children}
        </Text>
      ) : null}
    </div>
  );
}

function TokenTable({ accountId, member, canEdit }: { accountId: string; member: TeamMember; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: tokensKey(accountId, member.id), queryFn: () => api.listLoginTokens(accountId, member.id) });
  const { copied, mark } = useCopied();
  const [refused, setRefused] = useState<{ label: string; secret: string } | null>(null);
  const reveal = useMutation({
    mutationFn: (token: LoginToken) => api.revealLoginToken(accountId, member.id, token.id),
    onMutate: () => setRefused(null),
    onSuccess: async (secret, token) => {
      if (await writeClipboard(secret)) mark(token.id);
      else setRefused({ label: token.label, secret });
    },
  });
  const revokeDialog = useDialog<LoginToken>();

  if (tokens.isPending) {
    return (
      <Center py="lg">
        <Loader size="sm" />
      </Center>
    );
  }
  if (tokens.isError) {
    return (
      <Alert color="red" variant="light" title="The login tokens could not be loaded" data-testid="form-alert">
        {tokens.error.message}
      </Alert>
    );
  }
  return (
    <>
      {reveal.isError ? (
        <Alert color="red" variant="light" title="The token could not be copied" data-testid="form-alert" withCloseButton onClose={() => reveal.reset()}>
          {reveal.error.message}
        </Alert>
      ) : null}
      {refused ? (
        <Alert color="yellow" variant="light" title={`Copy “${refused.label}” by hand`} withCloseButton onClose={() => setRefused(null)}>
          <Text size="sm" mb="xs">
            The browser did not allow copying. The token is selected: press Ctrl+C (⌘C on a Mac).
          </Text>
          <TokenSecret secret={refused.secret} testId="revealed-token" />
        </Alert>
      ) : null}
      {tokens.data.length === 0 ? (
        <Paper withBorder radius="md" p="md" ta="center">
          <Text size="sm" c="dimmed">
            {member.name} has no login tokens{canEdit ? ': add one below.' : '.'}
          </Text>
        </Paper>
      ) : (
        <Paper withBorder radius="md" className="token-table-frame">
          <Table.ScrollContainer minWidth={680} type="native">
            <Table verticalSpacing={8} horizontalSpacing="sm" highlightOnHover data-testid="token-table" className="token-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Token</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Last used</Table.Th>
                  <Table.Th>Expires</Table.Th>
                  <Table.Th>State</Table.Th>
                  {canEdit ? (
                    <Table.Th>
                      <VisuallyHidden>Actions</VisuallyHidden>
                    </Table.Th>
                  ) : null}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {tokens.data.map((token) => (
                  <Table.Tr key={token.id} data-testid="token-row" data-state={token.state} data-prefix={token.prefix} className={token.state === 'active' ? undefined : 'token-inactive'}>
                    <Table.Td>
                      <Text size="sm" fw={600} className="token-label">
                        {token.label}
                      </Text>
                      <code className="token-prefix">{token.prefix}…</code>
                    </Table.Td>
                    <Table.Td>
                      <When iso={token.createdAt} empty="" />
                    </Table.Td>
                    <Table.Td>
                      <When iso={token.lastUsedAt} empty="Never" />
                    </Table.Td>
                    <Table.Td>
                      <When iso={token.expiresAt} empty="No expiry" />
                    </Table.Td>
                    <Table.Td>
                      <StateBadge token={token} />
                    </Table.Td>
                    {canEdit ? (
                      <Table.Td>
                        {token.state === 'active' ? (
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                            <CopyButton
                              size="compact-xs"
                              variant="light"
                              copied={copied === token.id}
                              loading={reveal.isPending && reveal.variables?.id === token.id}
                              aria-label={`Copy ${token.label}`}
                              onClick={() => reveal.mutate(token)}
                            />
                            <Button size="compact-xs" variant="subtle" color="red" aria-label={`Revoke ${token.label}`} onClick={() => revokeDialog.open(token)}>
                              Revoke
                            </Button>
                          </Group>
                        ) : null}
                      </Table.Td>
                    ) : null}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <ConfirmMutationDialog
        opened={revokeDialog.opened}
        onClose={revokeDialog.close}
        target={revokeDialog.target}
        run={(token) => api.revokeLoginToken(accountId, member.id, token.id)}
        onDone={() => queryClient.invalidateQueries({ queryKey: teamKey(accountId) })}
        title={`Revoke “${revokeDialog.target?.label ?? 'token'}”?`}
        confirmLabel="Revoke token"
      >
        <Text size="sm">
          The token stops working at once: {member.name} can no longer sign in with it, and desktop sessions that signed in with it end.
        </Text>
        <Text size="sm" c="dimmed" mt="xs">
          {member.name}'s other tokens keep working.
        </Text>
      </ConfirmMutationDialog>
    </>
  );
}

const TOKEN_FIELDS = ['label', 'expiresAt'] as const;

function AddTokenForm({ accountId, member }: { accountId: string; member: TeamMember }) {
  const [values, setValues] = useState({ label: '', expiresAt: '' });
  const [issued, setIssued] = useState<IssuedLoginToken | null>(null);
  const errors = useFormErrors(TOKEN_FIELDS);
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: (expiresAt: string | null) => api.createLoginToken(accountId, member.id, { label: values.label, expiresAt }),
    onMutate: () => {
      errors.reset();
      setIssued(null);
    },
    onError: errors.capture,
    onSuccess: async (result) => {
      setIssued(result);
      setValues({ label: '', expiresAt: '' });
      await queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
    },
  });
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  const submit = () => {
    const expiresAt = instantOf(values.expiresAt);
    // a moment in the past is the server's to refuse: its clock decides
    if (expiresAt === undefined) errors.reject({ expiresAt: 'Enter a date and time' });
    else create.mutate(expiresAt);
  };
  return (
    <Stack gap="sm">
      {issued ? (
        <IssuedToken title={`New login token “${issued.token.label}”`} memberName={member.name} secret={issued.secret}>
          <Group justify="flex-end" mt="xs">
            <Button size="compact-sm" variant="subtle" onClick={() => setIssued(null)}>
              Done
            </Button>
          </Group>
        </IssuedToken>
      ) : null}
      <Paper withBorder radius="md" p="md" className="subtle-panel">
        <FormStack label="Add a login token" onSubmit={submit}>
          <Text fw={600} size="sm">
            Add a login token
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md" verticalSpacing="md">
            <TextInput
              label="Label"
              description="Where it is used, e.g. “Laptop”"
              autoComplete="off"
              value={values.label}
              onChange={(e) => set('label', e.currentTarget.value)}
              {...errors.field('label')}
            />
            <TextInput
              label="Expires (optional)"
              description="Your local time; empty for no expiry"
              type="datetime-local"
              value={values.expiresAt}
              onChange={(e) => set('expiresAt', e.currentTarget.value)}
              {...errors.field('expiresAt')}
            />
          </SimpleGrid>
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end">
            <Button type="submit" variant="light" leftSection={<PlusIcon size={14} />} loading={create.isPending}>
              Add token
            </Button>
          </Group>
        </FormStack>
      </Paper>
    </Stack>
  );
}

const CREDENTIAL_FIELDS = ['email', 'password'] as const;

function CredentialsSection({ accountId, member, canEdit }: { accountId: string; member: TeamMember; canEdit: boolean }) {
  const [values, setValues] = useState({ email: member.credentialsEmail ?? '', password: '' });
  const queryClient = useQueryClient();
  const savedFor = useRef<string | null>(null);
  const { errors, mutation: save } = useFormMutation(CREDENTIAL_FIELDS, {
    mutationFn: () => api.setMemberCredentials(accountId, member.id, values),
    onSuccess: async (saved) => {
      savedFor.current = saved.credentialsEmail;
      setValues({ email: saved.credentialsEmail ?? values.email, password: '' });
      await queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
    },
  });
  const removeDialog = useDialog<true>();
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  const current = member.credentialsEmail;
  const showSaved = save.isSuccess && values.password === '' && values.email === current && savedFor.current === current;
  return (
    <Stack gap="sm" component="section" aria-label="Desktop sign-in with email and password">
      <SectionTitle title="Desktop sign-in with email and password">
        Optional: a second way for {member.name} to sign in to the desktop app, besides login tokens. It does not open this portal.
      </SectionTitle>
      <Paper withBorder radius="md" p="sm" px="md">
        <Group justify="space-between" wrap="nowrap">
          {current ? (
            <Text size="sm" data-testid="credentials-status">
              Signs in as <b>{current}</b>
            </Text>
          ) : (
            <Text size="sm" c="dimmed" data-testid="credentials-status">
              Not set: {member.name} signs in with login tokens only.
            </Text>
          )}
          {canEdit && current ? (
            <Button size="compact-sm" variant="subtle" color="red" onClick={() => removeDialog.open(true)}>
              Remove
            </Button>
          ) : null}
        </Group>
      </Paper>
      {canEdit ? (
        <Paper withBorder radius="md" p="md" className="subtle-panel">
          <FormStack label="Member credentials" onSubmit={() => save.mutate()}>
            <Text fw={600} size="sm">
              {current ? 'Replace email and password' : 'Set email and password'}
            </Text>
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md" verticalSpacing="md">
              <TextInput
                label="Email"
                description="What they enter in the desktop app"
                type="email"
                autoComplete="off"
                value={values.email}
                onChange={(e) => set('email', e.currentTarget.value)}
                {...errors.field('email')}
              />
              <PasswordInput
                label="Password"
                autoComplete="new-password"
                description="At least 8 characters, mixing letters and digits"
                value={values.password}
                onChange={(e) => set('password', e.currentTarget.value)}
                {...errors.field('password')}
              />
            </SimpleGrid>
            <FormAlert problem={errors.problem} />
            <Group justify="flex-end" gap="sm">
              {showSaved ? (
                <Text size="sm" c="teal.7" role="status" data-testid="credentials-saved">
                  Credentials saved
                </Text>
              ) : null}
              <Button type="submit" variant="light" loading={save.isPending}>
                {current ? 'Replace credentials' : 'Save credentials'}
              </Button>
            </Group>
          </FormStack>
        </Paper>
      ) : null}
      <ConfirmMutationDialog
        opened={removeDialog.opened}
        onClose={removeDialog.close}
        target={removeDialog.target}
        run={() => api.removeMemberCredentials(accountId, member.id)}
        onDone={async () => {
          save.reset();
          setValues({ email: '', password: '' });
          await queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
        }}
        title="Remove the email sign-in?"
        confirmLabel="Remove credentials"
      >
        <Text size="sm">
          {member.name} can no longer sign in to the desktop app with {current ?? 'this email'} and its password. Login tokens keep working.
        </Text>
      </ConfirmMutationDialog>
    </Stack>
  );
}

/** The member's login tokens and desktop credentials; everything but the lists is for owners and managers. */
export function ManageMemberDrawer({
  accountId,
  member,
  opened,
  canEdit,
  onClose,
}: {
  accountId: string;
  member: TeamMember | null;
  opened: boolean;
  canEdit: boolean;
  onClose: () => void;
}) {
  // the last member shown stays while the drawer slides out (also after it was removed)
  const last = useRef(member);
  if (member) last.current = member;
  const shown = member ?? last.current;
  return (
    <Drawer
      opened={opened}
      onClose={onClose}
      position="right"
      size={900}
      padding="xl"
      title={shown?.name ?? 'Team member'}
      overlayProps={{ backgroundOpacity: 0.35, blur: 2 }}
      styles={{ title: { fontWeight: 650, fontSize: 'var(--mantine-font-size-xl)' } }}
    >
      {shown ? (
        <Stack gap="lg">
          <Stack gap="sm" component="section" aria-label="Login tokens">
            <SectionTitle title="Login tokens">
              {canEdit
                ? `Copy any active token and send it to ${shown.name}; each one signs in to ${shown.name}'s team account in the desktop app. Revoke a token to stop it and end the sessions it opened.`
                : `The tokens ${shown.name} can sign in with. Owners and managers copy, add or revoke them.`}
            </SectionTitle>
            <TokenTable accountId={accountId} member={shown} canEdit={canEdit} />
            {canEdit ? <AddTokenForm accountId={accountId} member={shown} /> : null}
          </Stack>
          <Divider />
          <CredentialsSection accountId={accountId} member={shown} canEdit={canEdit} />
        </Stack>
      ) : null}
    </Drawer>
  );
}
