import { Alert, Button, Center, Divider, Group, Loader, Paper, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { TesseraError, type Account, type Me } from '../../client/sdk.ts';
import { accountKey, api, meKey } from '../api.ts';
import { can, rolesPhrase } from '../roles.ts';
import { CountrySelect, FormAlert, FormStack, useFormErrors } from '../forms.tsx';

function VerifyEmailBanner({ me }: { me: Me }) {
  const resend = useMutation({ mutationFn: () => api.resendVerificationEmail() });
  if (me.user.emailVerified) return null;
  const error = resend.error instanceof TesseraError ? resend.error : null;
  return (
    <Alert color="yellow" variant="light" radius="md" title="Confirm your email address" data-testid="verify-banner">
      <Group justify="space-between" align="center" gap="md" wrap="nowrap">
        <Text size="sm" style={{ flex: 1 }}>
          {resend.isSuccess
            ? `We sent a new link to ${me.user.email}. It is valid for 48 hours.`
            : error
              ? (error.problem.detail ?? error.problem.title)
              : `We sent a link to ${me.user.email}. Open it to confirm the address.`}
        </Text>
        <Button size="xs" variant="white" color="yellow.9" onClick={() => resend.mutate()} loading={resend.isPending} disabled={resend.isSuccess}>
          {resend.isSuccess ? 'Sent' : 'Resend'}
        </Button>
      </Group>
    </Alert>
  );
}

const PROFILE_FIELDS = ['companyName', 'country', 'emailNotifications', 'requireTwoFactor'] as const;

function ProfileForm({ account, canEdit }: { account: Account; canEdit: boolean }) {
  const valuesOf = (a: Account) => ({ companyName: a.companyName, country: a.country as string | null, emailNotifications: a.emailNotifications, requireTwoFactor: a.requireTwoFactor });
  const initial = valuesOf(account);
  const [values, setValues] = useState(initial);
  const errors = useFormErrors(PROFILE_FIELDS);
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: () =>
      api.updateAccount(account.id, {
        companyName: values.companyName,
        country: values.country ?? '',
        emailNotifications: values.emailNotifications,
        // sent only when changed: turning it on asks for the owner's own second factor
        ...(values.requireTwoFactor !== account.requireTwoFactor ? { requireTwoFactor: values.requireTwoFactor } : {}),
      }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: async (saved) => {
      queryClient.setQueryData(accountKey(saved.id), saved);
      setValues(valuesOf(saved));
      // the account menu shows the company name
      await queryClient.invalidateQueries({ queryKey: meKey });
    },
  });
  const dirty =
    values.companyName !== account.companyName ||
    values.country !== account.country ||
    values.emailNotifications !== account.emailNotifications ||
    values.requireTwoFactor !== account.requireTwoFactor;
  // "Saved" only while nothing changed since
  const showSaved = save.isSuccess && !dirty;
  const set = <K extends keyof typeof values>(key: K, value: (typeof values)[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <FormStack label="Account profile" onSubmit={() => canEdit && save.mutate()}>
      <TextInput
        label="Company name"
        autoComplete="organization"
        readOnly={!canEdit}
       
        value={values.companyName}
        onChange={(e) => set('companyName', e.currentTarget.value)}
        {...errors.field('companyName')}
      />
      <CountrySelect
        label="Country"
        readOnly={!canEdit}
        clearable={canEdit}
       
        value={values.country}
        onChange={(country) => set('country', country)}
        {...errors.field('country')}
      />
      <Divider my={4} />
      <Switch
        label="Email notifications"
        description="Emails about this account: changes to its team, access and billing."
        disabled={!canEdit}
        checked={values.emailNotifications}
        onChange={(e) => set('emailNotifications', e.currentTarget.checked)}
        {...errors.field('emailNotifications')}
      />
      <Switch
        label="Require two-factor sign-in for everyone"
        description="Everyone in this account signs in with a code from an app; people without one set it up at their next request. Set it up for yourself first (Security, in the account menu)."
        disabled={!canEdit}
        checked={values.requireTwoFactor}
        onChange={(e) => set('requireTwoFactor', e.currentTarget.checked)}
        data-testid="require-two-factor"
        {...errors.field('requireTwoFactor')}
      />
      <FormAlert problem={errors.problem} />
      {canEdit ? (
        <Group justify="flex-end" gap="sm" mt="xs">
          {showSaved ? (
            <Text size="sm" c="teal.7" role="status" data-testid="saved">
              Changes saved
            </Text>
          ) : null}
          <Button
            variant="default"
            disabled={!dirty || save.isPending}
            onClick={() => {
              errors.reset();
              setValues(valuesOf(account));
            }}
          >
            Discard
          </Button>
          <Button type="submit" loading={save.isPending} disabled={!dirty}>
            Save changes
          </Button>
        </Group>
      ) : null}
    </FormStack>
  );
}

export function ProfilePage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const account = useQuery({ queryKey: accountKey(accountId), queryFn: () => api.getAccount(accountId), enabled: membership !== undefined });
  useEffect(() => {
    document.title = `Profile · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  if (!membership || (account.error instanceof TesseraError && account.error.status === 404)) {
    return (
      <Alert color="gray" variant="light" title="Account not found" data-testid="form-alert">
        This account does not exist or you are not a member of it. Choose one from the menu at the top right.
      </Alert>
    );
  }
  const canEdit = can.editProfile(membership);
  return (
    <>
      <VerifyEmailBanner me={me} />
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">
            Profile
          </Title>
          <Text c="dimmed" size="sm">
            How {membership.companyName} appears across Tessera. You are {rolesPhrase(membership)}.
          </Text>
        </div>
      </Group>
      <Paper withBorder radius="md" p="xl" shadow="xs">
        {account.isPending ? (
          <Center py="xl">
            <Loader size="sm" />
          </Center>
        ) : account.isError ? (
          <Alert color="red" variant="light" title="The profile could not be loaded" data-testid="form-alert">
            {account.error.message}
          </Alert>
        ) : (
          <Stack gap="md">
            {!canEdit ? (
              <Alert color="gray" variant="light" data-testid="read-only-notice">
                Only owners can change the profile.
              </Alert>
            ) : null}
            <ProfileForm key={account.data.id} account={account.data} canEdit={canEdit} />
          </Stack>
        )}
      </Paper>
    </>
  );
}
