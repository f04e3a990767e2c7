import { AppShell, Button, Container, Group, Menu, Modal, Stack, Text, TextInput, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import type { Me } from '../../client/sdk.ts';
import { api, fetchMe, meKey, rememberAccount } from '../api.ts';
import { describeRoles, visibleSections, type SectionPath } from '../roles.ts';
import { Brand } from '../brand.tsx';
import { countryName } from '../countries.ts';
import { CountrySelect, FormAlert, FormStack, useFormErrors } from '../forms.tsx';
import { SelectedOrganizationPill } from './organization-parts.tsx';
import { BurgerIcon, CheckIcon, ChevronIcon, ExitIcon, KeyIcon, PlusIcon } from '../icons.tsx';

type Membership = Me['accounts'][number];

/** Initials of a company, for the round badge of the account menu. */
function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase();
}

function AccountBadge({ name }: { name: string }) {
  return (
    <span className="account-initials" aria-hidden="true">
      {initials(name)}
    </span>
  );
}

const CREATE_FIELDS = ['companyName', 'country'] as const;

function CreateAccountModal({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: (accountId: string) => void }) {
  const [values, setValues] = useState({ companyName: '', country: null as string | null });
  const errors = useFormErrors(CREATE_FIELDS);
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () => api.createAccount({ companyName: values.companyName, country: values.country ?? '' }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: async (account) => {
      await queryClient.fetchQuery({ queryKey: meKey, queryFn: fetchMe, staleTime: 0 });
      setValues({ companyName: '', country: null });
      onCreated(account.id);
    },
  });
  const close = () => {
    errors.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Create an account" centered radius="md" styles={{ title: { fontWeight: 650, fontSize: 'var(--mantine-font-size-lg)' } }} overlayProps={{ backgroundOpacity: 0.35, blur: 2 }}>
      <Text size="sm" c="dimmed" mb="md">
        A separate customer account with its own profile, team and billing. You will be its owner.
      </Text>
      <FormStack label="Create an account" onSubmit={() => create.mutate()}>
        <TextInput
          label="Company name"
          data-autofocus
         
          value={values.companyName}
          onChange={(e) => {
            const companyName = e.currentTarget.value;
            setValues((v) => ({ ...v, companyName }));
            errors.clearField('companyName');
          }}
          {...errors.field('companyName')}
        />
        <CountrySelect
          label="Country"
         
          value={values.country}
          comboboxProps={{ shadow: 'md', withinPortal: true, zIndex: 1000 }}
          onChange={(country) => {
            setValues((v) => ({ ...v, country }));
            errors.clearField('country');
          }}
          {...errors.field('country')}
        />
        <FormAlert problem={errors.problem} />
        <Group justify="flex-end" mt="xs">
          <Button variant="default" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending}>
            Create account
          </Button>
        </Group>
      </FormStack>
    </Modal>
  );
}

function AccountMenu({ me, current }: { me: Me; current: Membership | undefined }) {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const [creating, createModal] = useDisclosure(false);
  const select = (accountId: string) => {
    rememberAccount(accountId);
    navigate(`/accounts/${accountId}/profile`);
  };
  const signOut = useMutation({
    mutationFn: async () => {
      try {
        await api.signOut();
      } catch {
        // a session that already ended is signed out all the same
      }
    },
    onSettled: () => {
      queryClient.clear();
      queryClient.setQueryData(meKey, null);
      navigate('/sign-in', { replace: true });
    },
  });
  return (
    <>
      <Menu position="bottom-end" width={320} shadow="lg" radius="md" offset={6} withinPortal>
        <Menu.Target>
          <UnstyledButton className="account-button" aria-label="Account menu" data-testid="account-menu">
            <Group gap={10} wrap="nowrap">
              <AccountBadge name={current?.companyName ?? me.user.name} />
              <div style={{ minWidth: 0 }} className="account-button-text">
                <Text size="sm" fw={600} truncate="end" maw={200} data-testid="current-account">
                  {current?.companyName ?? 'No account selected'}
                </Text>
                <Text size="xs" c="dimmed" truncate="end" maw={200} data-testid="current-role">
                  {current ? describeRoles(current) : me.user.email}
                </Text>
              </div>
              <ChevronIcon size={14} />
            </Group>
          </UnstyledButton>
        </Menu.Target>
        <Menu.Dropdown>
          <div className="menu-person">
            <Text size="sm" fw={600}>
              {me.user.name}
            </Text>
            <Text size="xs" c="dimmed" truncate="end">
              {me.user.email}
            </Text>
          </div>
          <Menu.Divider />
          <Menu.Label>Switch account</Menu.Label>
          {me.accounts.map((account) => (
            <Menu.Item
              key={account.id}
              onClick={() => select(account.id)}
              leftSection={<AccountBadge name={account.companyName} />}
              rightSection={account.id === current?.id ? <span className="menu-check"><CheckIcon /></span> : null}
              aria-current={account.id === current?.id ? 'true' : undefined}
              data-testid="account-option"
            >
              <Text size="sm" fw={account.id === current?.id ? 600 : 500} truncate="end" maw={220}>
                {account.companyName}
              </Text>
              <Text size="xs" c="dimmed" truncate="end" maw={220}>
                {describeRoles(account)} · {countryName(account.country)}
              </Text>
            </Menu.Item>
          ))}
          <Menu.Divider />
          <Menu.Item leftSection={<PlusIcon />} onClick={createModal.open}>
            Create account
          </Menu.Item>
          <Menu.Item leftSection={<KeyIcon />} onClick={() => navigate('/security')} data-testid="security-link">
            Security
          </Menu.Item>
          <Menu.Item leftSection={<ExitIcon />} color="red" onClick={() => signOut.mutate()}>
            Sign out
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      <CreateAccountModal opened={creating} onClose={createModal.close} onCreated={(id) => { createModal.close(); select(id); }} />
    </>
  );
}

const SECTION_LABELS: Record<SectionPath, string> = {
  profile: 'Profile',
  team: 'Team accounts',
  users: 'Users',
  organizations: 'Organizations',
  devices: 'Devices',
  connections: 'Connections',
  'access-keys': 'Access keys',
  billing: 'Billing',
  'audit-log': 'Audit log',
};

/** The sections of an account: links in a row, or one menu on narrow screens. */
function SectionNav({ membership }: { membership: Membership }) {
  const [location, navigate] = useLocation();
  const base = `/accounts/${membership.id}`;
  // who sees what: scoped-only people have no team accounts, only owners manage users
  const sections = visibleSections(membership).map((path) => ({ path, label: SECTION_LABELS[path] }));
  const current = sections.find((s) => location === `${base}/${s.path}`);
  return (
    <>
      <nav aria-label="Sections" className="app-nav">
        {sections.map((section) => (
          <Link key={section.path} href={`${base}/${section.path}`} className={(active: boolean) => (active ? 'app-nav-link active' : 'app-nav-link')}>
            {section.label}
          </Link>
        ))}
      </nav>
      <div className="app-nav-compact">
        <Menu position="bottom-start" width={220} shadow="lg" radius="md" offset={6} withinPortal>
          <Menu.Target>
            <UnstyledButton className="section-button" aria-label="Sections menu">
              <Group gap={6} wrap="nowrap">
                <span className="section-burger" aria-hidden="true">
                  <BurgerIcon size={20} />
                </span>
                <Text size="sm" fw={600} truncate="end" className="section-label">
                  {current?.label ?? 'Sections'}
                </Text>
                <span className="section-chevron" aria-hidden="true">
                  <ChevronIcon size={14} />
                </span>
              </Group>
            </UnstyledButton>
          </Menu.Target>
          <Menu.Dropdown>
            {sections.map((section) => (
              <Menu.Item
                key={section.path}
                onClick={() => navigate(`${base}/${section.path}`)}
                rightSection={section.path === current?.path ? <span className="menu-check"><CheckIcon /></span> : null}
                aria-current={section.path === current?.path ? 'page' : undefined}
              >
                {section.label}
              </Menu.Item>
            ))}
          </Menu.Dropdown>
        </Menu>
      </div>
    </>
  );
}

/** The frame of every signed-in page: the product in the header, the account menu top right. */
export function SignedInLayout({ me, accountId, wide = false, children }: { me: Me; accountId: string | null; wide?: boolean; children: ReactNode }) {
  const current = me.accounts.find((a) => a.id === accountId);
  return (
    <AppShell header={{ height: 64 }} padding={0}>
      <AppShell.Header className="app-header">
        <Container size="lg" h="100%">
          <Group h="100%" justify="space-between" wrap="nowrap" gap="sm">
            <Group gap="lg" wrap="nowrap" className="app-header-start">
              <Link href={current ? `/accounts/${current.id}/profile` : '/'} className="brand-link" aria-label="Tessera home">
                <Brand />
              </Link>
              {current ? <SectionNav membership={current} /> : null}
            </Group>
            <Group gap="sm" wrap="nowrap" className="app-header-end">
              {current ? <SelectedOrganizationPill accountId={current.id} /> : null}
              <AccountMenu me={me} current={current} />
            </Group>
          </Group>
        </Container>
      </AppShell.Header>
      <AppShell.Main className="app-main">
        <Container size="lg" py="xl">
          <Stack gap="lg" maw={wide ? undefined : 760}>
            {children}
          </Stack>
        </Container>
      </AppShell.Main>
    </AppShell>
  );
}

export function NoAccountPage() {
  return (
    <Stack align="flex-start" gap="sm">
      <Text fw={600}>You are not a member of any account.</Text>
      <Text c="dimmed" size="sm">
        Create one from the menu at the top right, or ask an owner to invite you.
      </Text>
      <Button component={Link} href="/" variant="light">
        Reload
      </Button>
    </Stack>
  );
}
