import {
  ActionIcon,
  Alert,
  Button,
  Card,
  Center,
  Group,
  Loader,
  Modal,
  NumberInput,
  Paper,
  Progress,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
  ThemeIcon,
  Title,
  Tooltip,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { Link } from 'wouter';
import { TesseraError, type AddedTeamMember, type Me, type MemberPresence, type TeamMember, type TeamOverview } from '../../client/sdk.ts';
import type { Plan } from '../../shared/billing.ts';
import { api, teamKey } from '../api.ts';
import { can, rolesPhrase } from '../roles.ts';
import { FormAlert, FormStack, useFormMutation, type FormErrors } from '../forms.tsx';
import { PencilIcon, PlusIcon, TrashIcon, UsersIcon } from '../icons.tsx';
import { ConfirmMutationDialog, DialogFrame, DialogHeader, formatDate, initials, IssuedToken, useDialog } from './team-parts.tsx';
import { ManageMemberDrawer } from './team-tokens.tsx';
import { useOpenConnections } from './connection-parts.tsx';
import { LastSeen, PresenceBadge, usePresence } from './presence-parts.tsx';

const MEMBER_FIELDS = ['name', 'connectionLimit'] as const;
type MemberField = (typeof MEMBER_FIELDS)[number];

interface MemberDraft {
  name: string;
  fixed: boolean;
  /** What the number input holds: a number, or '' while empty. */
  limit: number | string;
}

function draftOf(member?: TeamMember): MemberDraft {
  return { name: member?.name ?? '', fixed: member ? member.connectionLimit !== null : false, limit: member?.connectionLimit ?? '' };
}

/** The limit to send: null shares the allowance; undefined when the switch is on but no number is given. */
function limitOf(draft: MemberDraft): number | null | undefined {
  if (!draft.fixed) return null;
  return typeof draft.limit === 'number' && Number.isFinite(draft.limit) ? draft.limit : undefined;
}

const NEED_A_NUMBER = 'Enter a whole number of connections';

function MemberFields({ draft, onChange, errors, plan }: { draft: MemberDraft; onChange: (next: MemberDraft, field: MemberField) => void; errors: FormErrors<MemberField>; plan: Plan }) {
  return (
    <>
      <TextInput
        label="Name"
        description="How the member appears here and in the desktop app"
        data-autofocus
        autoComplete="off"
        value={draft.name}
        onChange={(e) => onChange({ ...draft, name: e.currentTarget.value }, 'name')}
        {...errors.field('name')}
      />
      <Switch
        label="Fixed number of connections"
        description={
          draft.fixed
            ? 'The member may hold at most this many connections at once.'
            : `Off: the member shares the plan allowance of ${plan.connectionAllowance} connections with the rest of the account.`
        }
        checked={draft.fixed}
        onChange={(e) => onChange({ ...draft, fixed: e.currentTarget.checked }, 'connectionLimit')}
      />
      {draft.fixed ? (
        <NumberInput
          label="Connections"
          description={`Up to ${plan.connectionAllowance} on the ${plan.name} plan`}
          min={1}
          allowDecimal={false}
          allowNegative={false}
          maw={300}
          value={draft.limit}
          onChange={(limit) => onChange({ ...draft, limit }, 'connectionLimit')}
          {...errors.field('connectionLimit')}
        />
      ) : null}
    </>
  );
}

function AddMemberContent({ accountId, plan, onClose }: { accountId: string; plan: Plan; onClose: () => void }) {
  const [draft, setDraft] = useState(draftOf());
  const [added, setAdded] = useState<AddedTeamMember | null>(null);
  const queryClient = useQueryClient();
  const { errors, mutation: add } = useFormMutation(MEMBER_FIELDS, {
    mutationFn: (connectionLimit: number | null) => api.addTeamMember(accountId, { name: draft.name, connectionLimit }),
    onSuccess: async (result) => {
      setAdded(result);
      await queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
    },
  });
  const submit = () => {
    const limit = limitOf(draft);
    if (limit === undefined) errors.reject({ connectionLimit: NEED_A_NUMBER });
    else add.mutate(limit);
  };

  if (added) {
    return (
      <>
        <DialogHeader title={`${added.member.name} was added`} />
        <Modal.Body>
          <Stack gap="md">
            <IssuedToken title="First login token" memberName={added.member.name} secret={added.firstToken.secret}>
              <Text size="xs" c="dimmed" mt={6}>
                You can copy it again later, or add more tokens, under Manage on the member's card.
              </Text>
            </IssuedToken>
            <Group justify="flex-end">
              <Button onClick={onClose}>Done</Button>
            </Group>
          </Stack>
        </Modal.Body>
      </>
    );
  }
  return (
    <>
      <DialogHeader title="Add team member" />
      <Modal.Body>
        <Text size="sm" c="dimmed" mb="md">
          A team account of its own, used from the desktop app with login tokens. Its first login token is created with it.
        </Text>
        <FormStack label="Add team member" onSubmit={submit}>
          <MemberFields
            draft={draft}
            plan={plan}
            errors={errors}
            onChange={(next, field) => {
              setDraft(next);
              errors.clearField(field);
            }}
          />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add team member
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function EditMemberContent({ accountId, plan, member, onClose }: { accountId: string; plan: Plan; member: TeamMember; onClose: () => void }) {
  const [draft, setDraft] = useState(draftOf(member));
  const queryClient = useQueryClient();
  const { errors, mutation: save } = useFormMutation(MEMBER_FIELDS, {
    mutationFn: (connectionLimit: number | null) => {
      const patch: { name?: string; connectionLimit?: number | null } = {};
      if (draft.name !== member.name) patch.name = draft.name;
      if (connectionLimit !== member.connectionLimit) patch.connectionLimit = connectionLimit;
      return api.updateTeamMember(accountId, member.id, patch);
    },
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: teamKey(accountId) });
      onClose();
    },
  });
  const limit = limitOf(draft);
  const dirty = draft.name !== member.name || limit !== member.connectionLimit;
  return (
    <>
      <DialogHeader title={`Edit ${member.name}`} />
      <Modal.Body>
        <FormStack
          label="Edit team member"
          onSubmit={() => {
            if (limit === undefined) errors.reject({ connectionLimit: NEED_A_NUMBER });
            else if (!dirty) onClose();
            else save.mutate(limit);
          }}
        >
          <MemberFields
            draft={draft}
            plan={plan}
            errors={errors}
            onChange={(next, field) => {
              setDraft(next);
              errors.clearField(field);
            }}
          />
          <FormAlert problem={errors.problem} />
          <Group justify="flex-end" mt="xs">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!dirty && limit !== undefined}>
              Save changes
            </Button>
          </Group>
        </FormStack>
      </Modal.Body>
    </>
  );
}

function RemoveMemberDialog({ accountId, member, opened, onClose }: { accountId: string; member: TeamMember | null; opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  return (
    <ConfirmMutationDialog
      opened={opened}
      onClose={onClose}
      target={member}
      run={(target) => api.removeTeamMember(accountId, target.id)}
      onDone={() => queryClient.invalidateQueries({ queryKey: teamKey(accountId) })}
      title={`Remove ${member?.name ?? 'team member'}?`}
      confirmLabel="Remove member"
    >
      <Text size="sm">
        The team account of <b>{member?.name}</b> is removed. Its login tokens stop working, and desktop app sessions signed in as {member?.name}{' '}
        end at once.
      </Text>
      <Text size="sm" c="dimmed" mt="xs">
        This cannot be undone.
      </Text>
    </ConfirmMutationDialog>
  );
}

function Stat({ label, value, testId, children }: { label: string; value: string; testId: string; children?: ReactNode }) {
  return (
    <div>
      <Text size="xs" tt="uppercase" fw={600} c="dimmed" className="stat-label">
        {label}
      </Text>
      <Text fw={650} size="lg" data-testid={testId}>
        {value}
      </Text>
      {children}
    </div>
  );
}

function PlanSummary({ team, connectionsHref }: { team: TeamOverview; connectionsHref: string | null }) {
  const { plan } = team;
  const members = team.members.length;
  const full = members >= plan.memberLimit;
  const share = (used: number, of: number) => (of > 0 ? Math.min(100, (used / of) * 100) : 100);
  return (
    <Paper withBorder radius="md" p="lg" shadow="xs" component="section" aria-label="Plan">
      <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="xl">
        <Stat label="Plan" value={plan.name} testId="plan-name">
          <Text size="xs" c="dimmed" mt={4}>
            For the whole account, team members included.
          </Text>
        </Stat>
        <Stat label="Connection allowance" value={`${plan.connectionAllowance} connections`} testId="plan-allowance">
          <Progress value={share(team.connectionsInUse, plan.connectionAllowance)} size="sm" mt={6} aria-label="Connections in use" />
          <Group gap={6} mt={4}>
            <Text size="xs" c="dimmed" data-testid="plan-connections-in-use">
              {team.connectionsInUse} in use now
            </Text>
            {connectionsHref ? (
              <Text component={Link} href={connectionsHref} size="xs" c="indigo.7" className="quiet-link" data-testid="plan-connections-link">
                See who and where
              </Text>
            ) : null}
          </Group>
        </Stat>
        <Stat label="Team members" value={`${members} of ${plan.memberLimit}`} testId="plan-members">
          <Progress value={share(members, plan.memberLimit)} color={full ? 'orange' : undefined} size="sm" mt={6} aria-label="Team members used" />
          <Text size="xs" c={full ? 'orange.8' : 'dimmed'} mt={4}>
            {full ? 'Member limit reached' : `${plan.memberLimit - members} more can be added`}
          </Text>
        </Stat>
      </SimpleGrid>
    </Paper>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="member-fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function MemberCard({
  member,
  presence,
  devices,
  canEdit,
  onEdit,
  onRemove,
  onManage,
}: {
  member: TeamMember;
  presence: MemberPresence | undefined;
  /** Names of the devices the member is connected to, for people who may see connections. */
  devices: string[] | undefined;
  canEdit: boolean;
  onEdit: () => void;
  onRemove: () => void;
  onManage: () => void;
}) {
  const fixed = member.connectionLimit !== null;
  return (
    <Card withBorder radius="md" padding="lg" shadow="xs" component="article" aria-label={member.name} data-testid="member-card" className="member-card">
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="sm">
        <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
          <span className="member-avatar" aria-hidden="true">
            {initials(member.name)}
          </span>
          <div style={{ minWidth: 0 }}>
            <Text fw={650} truncate="end" data-testid="member-name">
              {member.name}
            </Text>
            <PresenceBadge presence={presence} />
            <Text size="xs" c="dimmed" mt={2}>
              Added {formatDate(member.createdAt)}
            </Text>
          </div>
        </Group>
        {canEdit ? (
          <Tooltip label="Remove member" withArrow openDelay={300}>
            <ActionIcon variant="subtle" color="red" aria-label={`Remove ${member.name}`} onClick={onRemove} className="member-remove">
              <TrashIcon size={18} />
            </ActionIcon>
          </Tooltip>
        ) : null}
      </Group>
      <dl className="member-facts">
        <Fact label="Last seen">
          <LastSeen presence={presence} />
        </Fact>
        <Fact label="Connections">
          <span data-testid="member-limit">{fixed ? `Fixed: ${member.connectionLimit}` : 'Shares the plan allowance'}</span>
        </Fact>
        <Fact label="In use">
          <span data-testid="member-in-use">{fixed ? `${member.connectionsInUse} of ${member.connectionLimit}` : `${member.connectionsInUse} in use`}</span>
          {devices && devices.length > 0 ? (
            <Text size="xs" c="dimmed" truncate="end" title={devices.join(', ')} data-testid="member-devices">
              <span className="live-dot live-dot-inline" aria-hidden="true" />
              on {devices.join(', ')}
            </Text>
          ) : null}
        </Fact>
        <Fact label="Login tokens">
          <span data-testid="member-tokens">{member.activeTokens === 1 ? '1 active' : `${member.activeTokens} active`}</span>
        </Fact>
        <Fact label="Email sign-in">
          {member.credentialsEmail ? (
            <Text size="sm" fw={500} truncate="end" data-testid="member-credentials" title={member.credentialsEmail}>
              {member.credentialsEmail}
            </Text>
          ) : (
            <Text span size="sm" c="dimmed">
              Not set
            </Text>
          )}
        </Fact>
      </dl>
      <Group justify={canEdit ? 'space-between' : 'flex-end'} mt="auto" pt="md">
        {canEdit ? (
          <Button variant="subtle" color="gray" size="compact-sm" leftSection={<PencilIcon size={14} />} onClick={onEdit} aria-label={`Edit ${member.name}`}>
            Edit
          </Button>
        ) : null}
        <Button variant="light" size="compact-sm" onClick={onManage}>
          {canEdit ? 'Manage' : 'View tokens'}
        </Button>
      </Group>
    </Card>
  );
}

function EmptyTeam({ canEdit, onAdd }: { canEdit: boolean; onAdd: () => void }) {
  return (
    <Paper withBorder radius="md" p="xl" className="empty-team" data-testid="empty-team">
      <Stack align="center" gap="xs">
        <ThemeIcon variant="light" radius="xl" size={48}>
          <UsersIcon size={24} />
        </ThemeIcon>
        <Text fw={650}>No team members yet</Text>
        <Text size="sm" c="dimmed" ta="center" maw={440}>
          Each team member gets an account of its own for the desktop app, under your plan, and signs in with a login token you send them.
        </Text>
        {canEdit ? (
          <Button mt="xs" leftSection={<PlusIcon />} onClick={onAdd}>
            Add team member
          </Button>
        ) : null}
      </Stack>
    </Paper>
  );
}

export function TeamPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  // team accounts are for people with a role on the whole account; roles on organizations do not reach them
  const seesTeam = membership !== undefined && can.seeTeam(membership);
  // the connections are polled, and refresh this when they change
  const team = useQuery({ queryKey: teamKey(accountId), queryFn: () => api.getTeam(accountId), enabled: seesTeam });
  const connections = useOpenConnections(accountId, seesTeam);
  const presence = usePresence(accountId, seesTeam);
  const devicesByMember = useMemo(() => {
    if (!connections.data) return undefined;
    const byMember = new Map<string, string[]>();
    for (const c of [...connections.data].sort((a, b) => a.openedAt.localeCompare(b.openedAt))) {
      byMember.set(c.member.id, [...(byMember.get(c.member.id) ?? []), c.device.name]);
    }
    return byMember;
  }, [connections.data]);
  const [adding, setAdding] = useState(false);
  const edit = useDialog<TeamMember>();
  const remove = useDialog<TeamMember>();
  const manage = useDialog<string>();
  useEffect(() => {
    document.title = `Team accounts · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  if (!membership || (team.error instanceof TesseraError && team.error.status === 404)) {
    return (
      <Alert color="gray" variant="light" title="Account not found" data-testid="form-alert">
        This account does not exist or you are not a member of it. Choose one from the menu at the top right.
      </Alert>
    );
  }
  if (!seesTeam) {
    return (
      <>
        <Title order={1} size="h2">
          Team accounts
        </Title>
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are {rolesPhrase(membership)}: team accounts are for people with a role on the whole account. Ask an owner if you need them.
        </Alert>
      </>
    );
  }
  const canEdit = can.manageTeam(membership);
  const managed = team.data?.members.find((m) => m.id === manage.target) ?? null;
  return (
    <>
      <Group justify="space-between" align="flex-end" gap="md">
        <div style={{ flex: '1 1 320px' }}>
          <Title order={1} size="h2">
            Team accounts
          </Title>
          <Text c="dimmed" size="sm" maw={620}>
            Accounts for the people on your team who use the desktop app. Each signs in with login tokens you send them; team accounts cannot sign in to this portal.
          </Text>
        </div>
        {canEdit && team.data ? (
          <Button leftSection={<PlusIcon />} onClick={() => setAdding(true)} style={{ flex: 'none' }}>
            Add team member
          </Button>
        ) : null}
      </Group>
      {team.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : team.isError ? (
        <Alert color="red" variant="light" title="The team could not be loaded" data-testid="form-alert">
          {team.error.message}
        </Alert>
      ) : (
        <>
          <PlanSummary team={team.data} connectionsHref={`/accounts/${accountId}/connections`} />
          {!canEdit ? (
            <Alert color="gray" variant="light" data-testid="read-only-notice">
              You are {rolesPhrase(membership)}: owners and managers of the whole account add, change or remove team members and copy their login tokens.
            </Alert>
          ) : null}
          {team.data.members.length === 0 ? (
            <EmptyTeam canEdit={canEdit} onAdd={() => setAdding(true)} />
          ) : (
            <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="md" data-testid="member-list">
              {team.data.members.map((member) => (
                <MemberCard
                  key={member.id}
                  member={member}
                  presence={presence?.get(member.id)}
                  devices={devicesByMember ? (devicesByMember.get(member.id) ?? []) : undefined}
                  canEdit={canEdit}
                  onEdit={() => edit.open(member)}
                  onRemove={() => remove.open(member)}
                  onManage={() => manage.open(member.id)}
                />
              ))}
            </SimpleGrid>
          )}
          <DialogFrame opened={adding} onClose={() => setAdding(false)} size="lg">
            <AddMemberContent accountId={accountId} plan={team.data.plan} onClose={() => setAdding(false)} />
          </DialogFrame>
          <DialogFrame opened={edit.opened} onClose={edit.close}>
            {edit.target ? <EditMemberContent key={edit.target.id} accountId={accountId} plan={team.data.plan} member={edit.target} onClose={edit.close} /> : null}
          </DialogFrame>
          <RemoveMemberDialog accountId={accountId} member={remove.target} opened={remove.opened} onClose={remove.close} />
          <ManageMemberDrawer
            accountId={accountId}
            member={managed}
            opened={manage.opened && managed !== null}
            canEdit={canEdit}
            onClose={manage.close}
          />
        </>
      )}
    </>
  );
}
