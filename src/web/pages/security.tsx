import { Alert, Anchor, Badge, Button, Center, Code, Group, Image, Loader, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, useSearch } from 'wouter';
import type { Me } from '../../client/sdk.ts';
import type { TwoFactorEnrolment, TwoFactorStatus } from '../../shared/two-factor.ts';
import { isOidcErrorCode, OIDC_ERROR_MESSAGES } from '../../shared/oidc.ts';
import { api, meKey } from '../api.ts';
import { FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { AuthCard } from './auth.tsx';
import { PasskeysSection } from './passkeys.tsx';
import { RecoveryCodesPanel, Section, twoFactorKey } from './security-parts.tsx';

/**
 * The signed-in person's own security: name, email, password, two-factor sign-in and passkeys
 * (docs/two-factor.md, docs/passkeys.md). Changes of email, password and second factor ask for
 * the password again.
 */

const NAME_FIELDS = ['name'] as const;

function NameForm({ me }: { me: Me }) {
  const [name, setName] = useState(me.user.name);
  const queryClient = useQueryClient();
  const { errors, mutation } = useFormMutation(NAME_FIELDS, {
    mutationFn: () => api.updateMe({ name }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKey }),
  });
  return (
    <FormStack label="Your name" onSubmit={() => mutation.mutate()}>
      <TextInput label="Name" autoComplete="name" value={name} onChange={(e) => { setName(e.currentTarget.value); errors.clearField('name'); }} {...errors.field('name')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        {mutation.isSuccess && name === me.user.name ? <Text size="sm" c="teal.7" role="status">Name saved</Text> : null}
        <Button type="submit" loading={mutation.isPending} disabled={name === me.user.name}>
          Save name
        </Button>
      </Group>
    </FormStack>
  );
}

const EMAIL_FIELDS = ['email', 'password'] as const;

function EmailForm({ me }: { me: Me }) {
  const [values, setValues] = useState({ email: '', password: '' });
  const { errors, mutation } = useFormMutation(EMAIL_FIELDS, { mutationFn: () => api.changeEmail(values), onSuccess: () => undefined });
  if (mutation.isSuccess) {
    return (
      <Alert color="teal" variant="light" title="Check the new inbox" data-testid="email-change-requested">
        We sent a link to {values.email}. Your email changes to it when you open the link (within 24 hours); until then you sign in with {me.user.email}.
      </Alert>
    );
  }
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <FormStack label="Change email" onSubmit={() => mutation.mutate()}>
      <TextInput label="New email" type="email" autoComplete="email" value={values.email} onChange={(e) => set('email', e.currentTarget.value)} {...errors.field('email')} />
      <PasswordInput label="Your password" autoComplete="current-password" value={values.password} onChange={(e) => set('password', e.currentTarget.value)} {...errors.field('password')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end">
        <Button type="submit" loading={mutation.isPending}>
          Send confirmation link
        </Button>
      </Group>
    </FormStack>
  );
}

const PASSWORD_FIELDS = ['currentPassword', 'newPassword'] as const;

function PasswordForm() {
  const [values, setValues] = useState({ currentPassword: '', newPassword: '' });
  const { errors, mutation } = useFormMutation(PASSWORD_FIELDS, {
    mutationFn: () => api.changePassword(values),
    onSuccess: () => setValues({ currentPassword: '', newPassword: '' }),
  });
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <FormStack label="Change password" onSubmit={() => mutation.mutate()}>
      <PasswordInput label="Current password" autoComplete="current-password" value={values.currentPassword} onChange={(e) => set('currentPassword', e.currentTarget.value)} {...errors.field('currentPassword')} />
      <PasswordInput label="New password" description="At least 8 characters, letters and digits mixed." autoComplete="new-password" value={values.newPassword} onChange={(e) => set('newPassword', e.currentTarget.value)} {...errors.field('newPassword')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        {mutation.isSuccess ? <Text size="sm" c="teal.7" role="status" data-testid="password-changed">Password changed; your other sessions were signed out</Text> : null}
        <Button type="submit" loading={mutation.isPending}>
          Change password
        </Button>
      </Group>
    </FormStack>
  );
}

function Enrolment({ onEnabled }: { onEnabled: (codes: string[]) => void }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [enrolment, setEnrolment] = useState<TwoFactorEnrolment | null>(null);
  const start = useFormMutation(['password'] as const, { mutationFn: () => api.startTwoFactor(password), onSuccess: (data) => setEnrolment(data) });
  const confirm = useFormMutation(['code'] as const, { mutationFn: () => api.confirmTwoFactor(code), onSuccess: (data) => onEnabled(data.recoveryCodes) });
  if (!enrolment) {
    return (
      <FormStack label="Set up an authenticator app" onSubmit={() => start.mutation.mutate()}>
        <PasswordInput label="Your password" autoComplete="current-password" value={password} onChange={(e) => { setPassword(e.currentTarget.value); start.errors.clearField('password'); }} {...start.errors.field('password')} />
        <FormAlert problem={start.errors.problem} />
        <Group justify="flex-end">
          <Button type="submit" loading={start.mutation.isPending}>
            Set up
          </Button>
        </Group>
      </FormStack>
    );
  }
  return (
    <FormStack label="Confirm the authenticator app" onSubmit={() => confirm.mutation.mutate()}>
      <Text size="sm">Scan the code with an authenticator app (1Password, Google Authenticator, Authy…), or type the key by hand.</Text>
      <Group align="center" gap="lg" wrap="wrap">
        <Image src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qrSvg)}`} alt="QR code for your authenticator app" w={180} h={180} data-testid="qr-code" />
        <Stack gap={4}>
          <Text size="xs" c="dimmed">
            Key (time-based, 6 digits, 30 seconds)
          </Text>
          <Code fz="md" data-testid="manual-key">
            {enrolment.secret.match(/.{1,4}/g)!.join(' ')}
          </Code>
        </Stack>
      </Group>
      <TextInput label="Code from the app" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onChange={(e) => { setCode(e.currentTarget.value); confirm.errors.clearField('code'); }} {...confirm.errors.field('code')} />
      <FormAlert problem={confirm.errors.problem} />
      <Group justify="flex-end">
        <Button type="submit" loading={confirm.mutation.isPending}>
          Turn on
        </Button>
      </Group>
    </FormStack>
  );
}

function TurnOff() {
  const queryClient = useQueryClient();
  const [values, setValues] = useState({ password: '', code: '' });
  const { errors, mutation } = useFormMutation(['password', 'code'] as const, {
    mutationFn: () => api.disableTwoFactor(values),
    onSuccess: () => Promise.all([queryClient.invalidateQueries({ queryKey: twoFactorKey }), queryClient.invalidateQueries({ queryKey: meKey })]),
  });
  return (
    <FormStack label="Turn off the authenticator app" onSubmit={() => mutation.mutate()}>
      <Group grow align="flex-start">
        <PasswordInput label="Your password" autoComplete="current-password" value={values.password} onChange={(e) => { setValues((v) => ({ ...v, password: e.currentTarget.value })); errors.clearField('password'); }} {...errors.field('password')} />
        <TextInput label="Code from the app" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={values.code} onChange={(e) => { setValues((v) => ({ ...v, code: e.currentTarget.value })); errors.clearField('code'); }} {...errors.field('code')} />
      </Group>
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end">
        <Button type="submit" color="red" variant="light" loading={mutation.isPending}>
          Turn off
        </Button>
      </Group>
    </FormStack>
  );
}

function NewRecoveryCodes({ onIssued }: { onIssued: (codes: string[]) => void }) {
  const [password, setPassword] = useState('');
  const { errors, mutation } = useFormMutation(['password'] as const, { mutationFn: () => api.regenerateRecoveryCodes(password), onSuccess: (data) => onIssued(data.recoveryCodes) });
  return (
    <FormStack label="New recovery codes" onSubmit={() => mutation.mutate()}>
      <PasswordInput label="Your password" autoComplete="current-password" value={password} onChange={(e) => { setPassword(e.currentTarget.value); errors.clearField('password'); }} {...errors.field('password')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end">
        <Button type="submit" variant="default" loading={mutation.isPending}>
          Make new recovery codes
        </Button>
      </Group>
    </FormStack>
  );
}

const identitiesKey = ['linked-identities'] as const;

/** One linked identity, with its Unlink button (refused while it is the only way to sign in). */
function LinkedIdentityRow({ identity, onlyWayIn }: { identity: { id: string; issuer: string; email: string; linkedAt: string }; onlyWayIn: boolean }) {
  const queryClient = useQueryClient();
  const { errors, mutation } = useFormMutation([] as const, {
    mutationFn: () => api.unlinkIdentity(identity.id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: identitiesKey }),
  });
  return (
    <Stack gap={4} data-testid="linked-identity">
      <Group justify="space-between" wrap="nowrap">
        <Text size="sm">
          {identity.email} <Text span c="dimmed" size="xs">({new URL(identity.issuer).host}, linked {new Date(identity.linkedAt).toLocaleDateString()})</Text>
        </Text>
        <Button size="xs" variant="light" color="red" loading={mutation.isPending} disabled={onlyWayIn} onClick={() => mutation.mutate()}>
          Unlink
        </Button>
      </Group>
      {onlyWayIn ? <Text size="xs" c="dimmed">Your only way to sign in: set a password first (Forgot password on the sign-in page) to unlink it.</Text> : null}
      <FormAlert problem={errors.problem} />
    </Stack>
  );
}

/** Sign-in with the OpenID Connect provider (docs/oidc.md): the linked identities, link another, unlink. */
function ProviderSection() {
  const provider = useQuery({ queryKey: ['oidc-provider'], queryFn: () => api.getOidcProvider(), staleTime: Infinity });
  const identities = useQuery({ queryKey: identitiesKey, queryFn: () => api.listLinkedIdentities(), enabled: provider.data?.enabled === true });
  const search = new URLSearchParams(useSearch());
  const error = search.get('error');
  if (!provider.data?.enabled) return null;
  const items = identities.data?.items ?? [];
  return (
    <Section title={`Sign in with ${provider.data.name}`} description={`Linked, your ${provider.data.name} account signs you in without your password.`}>
      <Stack gap="md">
        {search.get('linked') ? <Alert color="teal" variant="light" role="status">Linked: you can now sign in with {provider.data.name}.</Alert> : null}
        {isOidcErrorCode(error) ? <Alert color="red" variant="light" role="alert">{OIDC_ERROR_MESSAGES[error]}</Alert> : null}
        {items.length === 0 ? <Text size="sm" c="dimmed">Not linked.</Text> : null}
        {items.map((identity) => <LinkedIdentityRow key={identity.id} identity={identity} onlyWayIn={!identities.data!.hasPassword && items.length === 1} />)}
        <Group justify="flex-end">
          {/* a top-level navigation: the provider's page, then back to this page */}
          <Button component="a" href="/api/v1/auth/oidc/start?link=1" variant="default">
            Link {provider.data.name}
          </Button>
        </Group>
      </Stack>
    </Section>
  );
}

/** "On with your authenticator app (since …) and 2 passkeys; 10 recovery codes left." */
function factorsSummary(status: TwoFactorStatus): string {
  const factors: string[] = [];
  if (status.app) factors.push(`your authenticator app (since ${new Date(status.confirmedAt!).toLocaleDateString()})`);
  if (status.passkeys > 0) factors.push(status.passkeys === 1 ? '1 passkey' : `${status.passkeys} passkeys`);
  return `On with ${factors.join(' and ')}; ${status.recoveryCodesLeft} recovery codes left.`;
}

function Subsection({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap="sm">
      <Title order={3} size="h5">
        {title}
      </Title>
      {children}
    </Stack>
  );
}

/** Two-factor sign-in as a whole: which second factors are on, the authenticator app, the recovery codes every factor shares. */
function TwoFactorSection() {
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: twoFactorKey, queryFn: () => api.getTwoFactor() });
  const [codes, setCodes] = useState<string[] | null>(null);
  const shown = async (issued: string[]) => {
    setCodes(issued);
    await queryClient.invalidateQueries({ queryKey: twoFactorKey });
  };
  let body: ReactNode;
  if (codes) {
    body = <RecoveryCodesPanel codes={codes} onDone={() => { setCodes(null); void queryClient.invalidateQueries({ queryKey: meKey }); }} />;
  } else if (status.isPending) {
    body = <Center py="md"><Loader size="sm" /></Center>;
  } else if (status.isError) {
    body = <Alert color="red" variant="light" title="The settings could not be loaded">{status.error.message}</Alert>;
  } else {
    body = (
      <Stack gap="lg">
        {status.data.enabled ? <Text size="sm" data-testid="two-factor-on">{factorsSummary(status.data)}</Text> : null}
        <Subsection title="Authenticator app">{status.data.app ? <TurnOff /> : <Enrolment onEnabled={shown} />}</Subsection>
        {status.data.enabled ? (
          <Subsection title="Recovery codes">
            <NewRecoveryCodes onIssued={shown} />
          </Subsection>
        ) : null}
        {status.data.required && status.data.enabled ? (
          <Text size="sm" c="dimmed">An account you belong to requires two-factor sign-in: without an app or a passkey left, you are asked to set one up again at once.</Text>
        ) : null}
      </Stack>
    );
  }
  return (
    <Section
      title="Two-factor sign-in"
      description={
        <>
          After your password, a second step: a code from an authenticator app on your phone, or one of your passkeys (below). Either one turns it on.{' '}
          {status.data?.enabled ? <Badge color="teal" variant="light">On</Badge> : <Badge color="gray" variant="light">Off</Badge>}
        </>
      }
    >
      {body}
    </Section>
  );
}

export function SecurityPage({ me }: { me: Me }) {
  useEffect(() => {
    document.title = 'Security · Tessera';
  }, []);
  return (
    <>
      <div>
        <Title order={1} size="h2">
          Security
        </Title>
        <Text c="dimmed" size="sm">
          Your name, email, password and second factors, in every account you belong to. Changing your email, password or second factors signs out your other sessions.
        </Text>
      </div>
      {me.twoFactor.enrolmentPending ? (
        <Alert color="yellow" variant="light" title="Set up two-factor sign-in to continue" data-testid="enrolment-required">
          An account you belong to requires it: add a passkey or set up an authenticator app. Until one is on, the rest of Tessera stays closed.
        </Alert>
      ) : null}
      <TwoFactorSection />
      <PasskeysSection />
      {me.twoFactor.enrolmentPending ? null : (
        <>
          <Section title="Name" description="How you appear to the other people of your accounts.">
            <NameForm me={me} />
          </Section>
          <Section title="Email" description={`You sign in with ${me.user.email}. A new address is confirmed by a link sent to it.`}>
            <EmailForm me={me} />
          </Section>
          <Section title="Password" description="Type the current one first.">
            <PasswordForm />
          </Section>
          <ProviderSection />
        </>
      )}
    </>
  );
}

/** The link mailed to a new address: the email changes when it is opened. */
export function ConfirmEmailChangePage() {
  const token = new URLSearchParams(useSearch()).get('token') ?? '';
  const queryClient = useQueryClient();
  const confirm = useMutation({ mutationFn: () => api.confirmEmailChange(token), onSuccess: () => queryClient.invalidateQueries({ queryKey: meKey }) });
  // the link is single-use: send it once, even if React mounts the page twice
  const sent = useRef(false);
  useEffect(() => {
    if (token && !sent.current) {
      sent.current = true;
      confirm.mutate();
    }
  }, [token, confirm]);
  let body: ReactNode;
  if (confirm.isSuccess) {
    body = <Alert color="teal" variant="light" title="Your email address is changed" data-testid="email-change-result">Sign in with the new address from now on. Your other sessions were signed out.</Alert>;
  } else if (confirm.isError || !token) {
    body = <Alert color="red" variant="light" title="We could not change your email address" data-testid="email-change-result">{confirm.error?.message ?? 'Open the link from the email exactly as it was sent.'}</Alert>;
  } else {
    body = <Center py="lg"><Loader size="sm" /></Center>;
  }
  return (
    <AuthCard title="Confirm your new email address" footer={<Anchor component={Link} href="/">Continue to Tessera</Anchor>}>
      {body}
    </AuthCard>
  );
}
