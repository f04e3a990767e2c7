import { Alert, Anchor, Button, Center, Loader, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useLocation, useSearch } from 'wouter';
import { useState } from 'react';
import type { InvitationPreview, Me } from '../../client/sdk.ts';
import { api, fetchMe, meKey, rememberAccount } from '../api.ts';
import { FormAlert, FormStack, useFormErrors } from '../forms.tsx';
import { grantPhrase } from '../roles.ts';
import { AuthCard } from './auth.tsx';
import { problemText } from './organization-parts.tsx';

/**
 * The page an invitation link opens (`/invitations/accept?token=…`): what it offers, then, by who
 * is reading it, a sign-up form prefilled with the invited email, a button for the invited person
 * signed in, or the way to sign in first.
 */

/** "Ada invites you to join Acme on Tessera as a manager of North Clinic." */
function offer(preview: InvitationPreview): string {
  const who = preview.invitedBy ? `${preview.invitedBy} invites you` : 'You are invited';
  return `${who} to join ${preview.accountName} on Tessera as ${preview.grant.role === 'owner' ? 'an' : 'a'} ${grantPhrase(preview.grant)}.`;
}

/** After accepting: the person's accounts now include this one; open it. */
function useOpenAccount() {
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  return async (accountId: string) => {
    rememberAccount(accountId);
    await queryClient.fetchQuery({ queryKey: meKey, queryFn: fetchMe, staleTime: 0 });
    navigate(`/accounts/${accountId}/organizations`, { replace: true });
  };
}

const SIGN_UP_FIELDS = ['name', 'password'] as const;

function SignUpForm({ token, preview }: { token: string; preview: InvitationPreview }) {
  const [values, setValues] = useState({ name: '', password: '' });
  const errors = useFormErrors(SIGN_UP_FIELDS);
  const open = useOpenAccount();
  const accept = useMutation({
    mutationFn: () => api.acceptInvitation({ token, ...values }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: (accepted) => open(accepted.accountId),
  });
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <FormStack label="Accept invitation" onSubmit={() => accept.mutate()}>
      <TextInput label="Email" type="email" value={preview.email} readOnly description="The invitation is for this address" data-testid="invited-email" />
      <TextInput label="Your name" autoComplete="name" data-autofocus value={values.name} onChange={(e) => set('name', e.currentTarget.value)} {...errors.field('name')} />
      <PasswordInput
        label="Password"
        autoComplete="new-password"
        description="At least 8 characters, mixing letters and digits"
        value={values.password}
        onChange={(e) => set('password', e.currentTarget.value)}
        {...errors.field('password')}
      />
      <FormAlert problem={errors.problem} />
      <Button type="submit" fullWidth loading={accept.isPending} mt="xs">
        Sign up and join {preview.accountName}
      </Button>
    </FormStack>
  );
}

function AcceptAsSignedIn({ token, preview, me }: { token: string; preview: InvitationPreview; me: Me }) {
  const errors = useFormErrors([] as const);
  const open = useOpenAccount();
  const queryClient = useQueryClient();
  const accept = useMutation({
    mutationFn: () => api.acceptInvitation({ token }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: (accepted) => open(accepted.accountId),
  });
  const signOut = useMutation({
    mutationFn: () => api.signOut(),
    onSuccess: () => queryClient.setQueryData(meKey, null),
  });
  if (me.user.email.toLowerCase() !== preview.email.toLowerCase()) {
    return (
      <Stack>
        <Alert color="orange" variant="light" title="This invitation is for someone else" data-testid="form-alert">
          You are signed in as {me.user.email}, and the invitation is for {preview.email}. Sign out, then open the link again.
        </Alert>
        <Button variant="default" onClick={() => signOut.mutate()} loading={signOut.isPending}>
          Sign out
        </Button>
      </Stack>
    );
  }
  return (
    <Stack>
      <Text size="sm">You are signed in as {me.user.email}.</Text>
      <FormAlert problem={errors.problem} />
      <Button onClick={() => accept.mutate()} loading={accept.isPending} fullWidth>
        Accept and join {preview.accountName}
      </Button>
    </Stack>
  );
}

export function AcceptInvitationPage() {
  const search = useSearch();
  const token = new URLSearchParams(search).get('token') ?? '';
  const me = useQuery({ queryKey: meKey, queryFn: fetchMe });
  const preview = useQuery({ queryKey: ['invitation', token], queryFn: () => api.lookupInvitation(token), enabled: token !== '', staleTime: Infinity, retry: false });
  const back = `/invitations/accept?${search}`;
  const footer = (
    <Anchor component={Link} href="/">
      Go to Tessera
    </Anchor>
  );

  if (!token) {
    return (
      <AuthCard title="Accept invitation" footer={footer}>
        <Alert color="red" variant="light" title="This link is incomplete" data-testid="form-alert">
          Open the link from the email exactly as it was sent, or ask the person who invited you for a new one.
        </Alert>
      </AuthCard>
    );
  }
  if (preview.isPending || me.isPending) {
    return (
      <AuthCard title="Accept invitation">
        <Center py="lg">
          <Loader size="sm" />
        </Center>
      </AuthCard>
    );
  }
  if (preview.isError) {
    return (
      <AuthCard title="Accept invitation" footer={footer}>
        <Alert color="red" variant="light" title="This invitation cannot be used" data-testid="form-alert">
          {problemText(preview.error)} Ask the person who invited you to send it again.
        </Alert>
      </AuthCard>
    );
  }
  const invitation = preview.data;
  let body;
  if (me.data) body = <AcceptAsSignedIn token={token} preview={invitation} me={me.data} />;
  else if (invitation.existingUser) {
    body = (
      <Stack>
        <Text size="sm">{invitation.email} already signs in to Tessera. Sign in, and you come back here to accept.</Text>
        <Button component={Link} href={`/sign-in?${new URLSearchParams({ email: invitation.email, next: back })}`} fullWidth>
          Sign in to accept
        </Button>
      </Stack>
    );
  } else body = <SignUpForm token={token} preview={invitation} />;
  return (
    <AuthCard title={`Join ${invitation.accountName}`} subtitle={<span data-testid="invitation-offer">{offer(invitation)}</span>} footer={footer}>
      {body}
    </AuthCard>
  );
}
