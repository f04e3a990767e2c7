import { Alert, Anchor, Button, Center, Divider, Loader, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { TesseraError, TwoFactorRequired } from '../../client/sdk.ts';
import { isOidcErrorCode, OIDC_ERROR_MESSAGES } from '../../shared/oidc.ts';
import type { PasskeyRequestOptions } from '../../shared/passkeys.ts';
import type { TwoFactorMethods } from '../../shared/two-factor.ts';
import { api, fetchMe, homePath, meKey, rememberAccount } from '../api.ts';
import { Brand } from '../brand.tsx';
import { CountrySelect, FormAlert, FormStack, useFormErrors, useFormMutation, type FormProblem } from '../forms.tsx';
import { KeyIcon } from '../icons.tsx';
import { passkeysSupported, signWithPasskey, unlessRefused } from '../webauthn.ts';

/** The frame of every page a signed-out person sees: the mark above a card. */
export function AuthCard({ title, subtitle, children, footer }: { title: string; subtitle?: ReactNode; children: ReactNode; footer?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Tessera`;
  }, [title]);
  return (
    <div className="auth-page">
      <Stack w="100%" maw={440} gap="lg" align="stretch">
        <Center>
          <Brand size="xl" />
        </Center>
        <Paper withBorder shadow="sm" radius="md" p={32}>
          <Stack gap={4} mb="lg">
            <Title order={2} size="h3">
              {title}
            </Title>
            {subtitle ? (
              <Text c="dimmed" size="sm">
                {subtitle}
              </Text>
            ) : null}
          </Stack>
          {children}
        </Paper>
        {footer ? (
          <Text ta="center" size="sm" c="dimmed">
            {footer}
          </Text>
        ) : null}
      </Stack>
    </div>
  );
}

/** A page of this portal to return to after signing in (`?next=`); anything else is ignored. */
export function nextPath(search: string): string | null {
  const next = new URLSearchParams(search).get('next');
  // a path of this origin only: "//host" and "/\\host" would leave it
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : null;
}

/** After signing in or registering: load who we are, then open their account (or the page they came from). */
function useEnterPortal() {
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const next = nextPath(useSearch());
  return async (accountId?: string) => {
    if (accountId) rememberAccount(accountId);
    const me = await queryClient.fetchQuery({ queryKey: meKey, queryFn: fetchMe, staleTime: 0 });
    navigate(me ? (next ?? homePath(me)) : '/sign-in', { replace: true });
  };
}

const REGISTER_FIELDS = ['name', 'email', 'password', 'companyName', 'country'] as const;

export function RegisterPage() {
  const [values, setValues] = useState({ name: '', email: '', password: '', companyName: '', country: null as string | null });
  const errors = useFormErrors(REGISTER_FIELDS);
  const enter = useEnterPortal();
  const register = useMutation({
    mutationFn: () => api.register({ ...values, country: values.country ?? '' }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: (result) => enter(result.account.id),
  });
  const set = <K extends keyof typeof values>(key: K, value: (typeof values)[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  return (
    <AuthCard
      title="Create your Tessera account"
      subtitle="One account for your company. You can invite your team later."
      footer={
        <>
          Already registered?{' '}
          <Anchor component={Link} href="/sign-in">
            Sign in
          </Anchor>
        </>
      }
    >
      <FormStack label="Register" onSubmit={() => register.mutate()}>
        <TextInput label="Your name" autoComplete="name" value={values.name} onChange={(e) => set('name', e.currentTarget.value)} {...errors.field('name')} />
        <TextInput label="Email" type="email" autoComplete="email" value={values.email} onChange={(e) => set('email', e.currentTarget.value)} {...errors.field('email')} />
        <PasswordInput
          label="Password"
          autoComplete="new-password"
         
          description="At least 8 characters, mixing letters and digits"
          value={values.password}
          onChange={(e) => set('password', e.currentTarget.value)}
          {...errors.field('password')}
        />
        <TextInput label="Company name" autoComplete="organization" value={values.companyName} onChange={(e) => set('companyName', e.currentTarget.value)} {...errors.field('companyName')} />
        <CountrySelect label="Country" value={values.country} onChange={(v) => set('country', v)} {...errors.field('country')} />
        <FormAlert problem={errors.problem} />
        <Button type="submit" fullWidth loading={register.isPending} mt="xs">
          Register
        </Button>
      </FormStack>
    </AuthCard>
  );
}

const SIGN_IN_FIELDS = ['email', 'password'] as const;

/**
 * The other ways in under the password form: a passkey (when the browser can use one) and
 * "Sign in with <provider>" when one is configured.
 */
function OtherWaysIn() {
  const provider = useQuery({ queryKey: ['oidc-provider'], queryFn: () => api.getOidcProvider(), staleTime: Infinity });
  const providerName = provider.data?.enabled ? provider.data.name : null;
  if (!passkeysSupported && !providerName) return null;
  return (
    <>
      <Divider label="or" labelPosition="center" />
      {passkeysSupported ? <PasskeySignIn /> : null}
      {providerName ? <ProviderSignIn name={providerName} /> : null}
    </>
  );
}

/**
 * A passwordless sign-in: the browser offers the passkeys it holds for this site, and the one
 * chosen stands in for the password and the second factor together.
 */
function PasskeySignIn() {
  const enter = useEnterPortal();
  const { errors, mutation } = useFormMutation([] as const, {
    mutationFn: async () => {
      const credential = await signWithPasskey(await api.startPasskeySignIn());
      return unlessRefused(api.signInWithPasskey(credential), 'It may no longer be on your Tessera account. Try again, or sign in with your password.');
    },
    onSuccess: () => enter(),
  });
  return (
    <>
      {/* not "Sign in with a passkey": the password form's button must stay the only "Sign in" */}
      <Button variant="default" fullWidth leftSection={<KeyIcon size={16} />} loading={mutation.isPending} onClick={() => mutation.mutate()}>
        Use a passkey
      </Button>
      <FormAlert problem={errors.problem} />
    </>
  );
}

/** A plain link, since signing in with the provider is a chain of top-level redirects (to it, back to /api/v1/auth/oidc/callback, into the portal). */
function ProviderSignIn({ name }: { name: string }) {
  return (
    <Button component="a" href="/api/v1/auth/oidc/start" variant="default" fullWidth>
      Sign in with {name}
    </Button>
  );
}

/** Why a sign-in with the provider came back here (`?error=`), in words; unknown codes are not shown. */
function ProviderSignInMessage({ code }: { code: string | null }) {
  if (!isOidcErrorCode(code)) return null;
  const asksForPassword = code === 'link_password_required';
  return (
    <Alert color={asksForPassword ? 'blue' : 'red'} variant="light" mb="md" role="alert" data-testid="oidc-message">
      {OIDC_ERROR_MESSAGES[code]}
    </Alert>
  );
}

export function SignInPage() {
  const search = new URLSearchParams(useSearch());
  const [values, setValues] = useState({ email: search.get('email') ?? '', password: '' });
  // after a right password, a person with a second factor is asked for it; a sign-in with the
  // provider of such a person arrives here at that step (?step=two-factor)
  const [step, setStep] = useState<'password' | 'second-factor'>(search.get('step') === 'two-factor' ? 'second-factor' : 'password');
  const errors = useFormErrors(SIGN_IN_FIELDS);
  const enter = useEnterPortal();
  const signIn = useMutation({
    mutationFn: () => api.signIn(values),
    onMutate: () => errors.reset(),
    onError: (error) => (error instanceof TwoFactorRequired ? setStep('second-factor') : errors.capture(error)),
    onSuccess: () => enter(),
  });
  const set = (key: keyof typeof values, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    errors.clearField(key);
  };
  if (step === 'second-factor') return <SecondFactorStep onRestart={() => setStep('password')} />;
  return (
    <AuthCard
      title="Sign in"
      subtitle="Welcome back. Sign in to manage your accounts and team."
      footer={
        <>
          New to Tessera?{' '}
          <Anchor component={Link} href="/register">
            Create an account
          </Anchor>
        </>
      }
    >
      <ProviderSignInMessage code={search.get('error')} />
      <FormStack label="Sign in" onSubmit={() => signIn.mutate()}>
        <TextInput label="Email" type="email" autoComplete="username" value={values.email} onChange={(e) => set('email', e.currentTarget.value)} {...errors.field('email')} />
        <PasswordInput label="Password" autoComplete="current-password" value={values.password} onChange={(e) => set('password', e.currentTarget.value)} {...errors.field('password')} />
        <Anchor component={Link} href="/forgot-password" size="sm" mt={-6} style={{ alignSelf: 'flex-end' }}>
          Forgot password?
        </Anchor>
        <FormAlert problem={errors.problem} />
        <Button type="submit" fullWidth loading={signIn.isPending}>
          Sign in
        </Button>
        <OtherWaysIn />
      </FormStack>
    </AuthCard>
  );
}

/** The second factors a pending sign-in takes: asked of the server when the step opens. */
interface OfferedFactors {
  app: boolean;
  recoveryCode: boolean;
  /** The ceremony for the person's passkeys; null without one. */
  passkey: PasskeyRequestOptions | null;
}

/** Without an answer about the methods (an older server, say), the app's code and a recovery code, which every pending sign-in took before passkeys. */
const APP_AND_RECOVERY_CODE: OfferedFactors = { app: true, recoveryCode: true, passkey: null };

function offeredFactors(methods: TwoFactorMethods | undefined): OfferedFactors {
  if (!methods) return APP_AND_RECOVERY_CODE;
  const { methods: offered, passkey } = methods;
  return { app: offered.includes('app'), recoveryCode: offered.includes('recovery_code'), passkey: offered.includes('passkey') ? passkey : null };
}

/** The pending sign-in lapsed (after five minutes): only the password again helps. */
function isExpired(problem: FormProblem | null): boolean {
  return problem?.status === 401;
}

function RestartButton({ onRestart }: { onRestart: () => void }) {
  return (
    <Button variant="default" fullWidth onClick={onRestart}>
      Enter your password again
    </Button>
  );
}

/** The second step of a sign-in: the person's passkey first when they have one, the app's code, or a recovery code behind a link. */
function SecondFactorStep({ onRestart }: { onRestart: () => void }) {
  // a POST that starts a ceremony: asked afresh each time the step opens, never kept
  const methods = useQuery({ queryKey: ['two-factor-methods'], queryFn: () => api.getTwoFactorMethods(), staleTime: 0, gcTime: 0 });
  const [chosen, setChosen] = useState<'code' | 'recoveryCode' | null>(null);
  const offered = offeredFactors(methods.data);
  const typed = chosen ?? (offered.app ? 'code' : null);
  const methodsExpired = methods.error instanceof TesseraError && methods.error.status === 401;
  let subtitle = 'Enter the 6-digit code your authenticator app shows for Tessera.';
  if (typed === 'recoveryCode') subtitle = 'Enter one of the recovery codes you saved. Each works once.';
  else if (offered.passkey) subtitle = typed === 'code' ? 'Use your passkey, or enter the 6-digit code your authenticator app shows for Tessera.' : 'Use your passkey to finish signing in.';
  let body: ReactNode;
  if (methods.isPending) {
    body = (
      <Center py="md">
        <Loader size="sm" />
      </Center>
    );
  } else if (methodsExpired) {
    body = (
      <Stack gap="md">
        <Alert color="red" variant="light" title="Your sign-in timed out" data-testid="form-alert" role="alert">
          It waits five minutes for the second step.
        </Alert>
        <RestartButton onRestart={onRestart} />
      </Stack>
    );
  } else {
    body = (
      <Stack gap="md">
        {offered.passkey ? (
          <PasskeyFactor options={offered.passkey} onFailed={() => void methods.refetch()} onRestart={onRestart} />
        ) : null}
        {offered.passkey && typed ? <Divider label="or" labelPosition="center" /> : null}
        {typed ? <CodeFactor key={typed} kind={typed} prominent={!offered.passkey} onRestart={onRestart} /> : null}
        <SwitchFactor typed={typed} offered={offered} onSwitch={setChosen} />
      </Stack>
    );
  }
  return (
    <AuthCard
      title="Two-factor sign-in"
      subtitle={subtitle}
      footer={
        <Anchor component="button" type="button" onClick={onRestart}>
          Back to sign in
        </Anchor>
      }
    >
      {body}
    </AuthCard>
  );
}

/** The link to the other kind of code: a recovery code, or back to the app's. */
function SwitchFactor({ typed, offered, onSwitch }: { typed: 'code' | 'recoveryCode' | null; offered: OfferedFactors; onSwitch: (kind: 'code' | 'recoveryCode') => void }) {
  const next = typed === 'recoveryCode' ? 'code' : 'recoveryCode';
  if (!(next === 'code' ? offered.app : offered.recoveryCode)) return null;
  return (
    <Anchor component="button" type="button" size="sm" mt={-6} style={{ alignSelf: 'flex-end' }} onClick={() => onSwitch(next)}>
      {next === 'recoveryCode' ? 'Use a recovery code' : 'Use the code of your app'}
    </Anchor>
  );
}

/**
 * "Use your passkey": the browser signs the challenge of the options the step was opened with.
 * The server spends a challenge on any answer, so after a failure `onFailed` fetches a new one.
 */
function PasskeyFactor({ options, onFailed, onRestart }: { options: PasskeyRequestOptions; onFailed: () => void; onRestart: () => void }) {
  const enter = useEnterPortal();
  const { errors, mutation } = useFormMutation([] as const, {
    mutationFn: async () => {
      const passkey = await signWithPasskey(options);
      return unlessRefused(api.completeTwoFactorSignIn({ passkey }), 'Try again, or use another of your second factors.');
    },
    onSuccess: () => enter(),
    onError: onFailed,
  });
  return (
    <>
      <Button fullWidth leftSection={<KeyIcon size={16} />} loading={mutation.isPending} onClick={() => mutation.mutate()}>
        Use your passkey
      </Button>
      <FormAlert problem={errors.problem} />
      {isExpired(errors.problem) ? <RestartButton onRestart={onRestart} /> : null}
    </>
  );
}

const SECOND_FACTOR_FIELDS = ['code', 'recoveryCode'] as const;

/** The app's 6-digit code or a recovery code, typed; `prominent` when no passkey is offered above it. */
function CodeFactor({ kind, prominent, onRestart }: { kind: 'code' | 'recoveryCode'; prominent: boolean; onRestart: () => void }) {
  const [value, setValue] = useState('');
  const enter = useEnterPortal();
  const { errors, mutation } = useFormMutation(SECOND_FACTOR_FIELDS, {
    mutationFn: () => api.completeTwoFactorSignIn(kind === 'code' ? { code: value } : { recoveryCode: value }),
    onSuccess: () => enter(),
  });
  const change = (next: string) => {
    setValue(next);
    errors.clearField(kind);
  };
  return (
    <FormStack label="Second factor" onSubmit={() => mutation.mutate()}>
      {kind === 'code' ? (
        <TextInput label="Code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} autoFocus={prominent} value={value} onChange={(e) => change(e.currentTarget.value)} {...errors.field('code')} />
      ) : (
        <TextInput label="Recovery code" autoComplete="off" autoFocus value={value} onChange={(e) => change(e.currentTarget.value)} {...errors.field('recoveryCode')} />
      )}
      <FormAlert problem={errors.problem} />
      {isExpired(errors.problem) ? <RestartButton onRestart={onRestart} /> : null}
      <Button type="submit" variant={prominent ? 'filled' : 'default'} fullWidth loading={mutation.isPending}>
        Verify
      </Button>
    </FormStack>
  );
}

const FORGOT_FIELDS = ['email'] as const;

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const errors = useFormErrors(FORGOT_FIELDS);
  const request = useMutation({
    mutationFn: () => api.requestPasswordReset(email),
    onMutate: () => errors.reset(),
    onError: errors.capture,
  });
  return (
    <AuthCard
      title="Reset your password"
      subtitle="Enter the email you registered with. We will send you a link to set a new password."
      footer={
        <Anchor component={Link} href="/sign-in">
          Back to sign in
        </Anchor>
      }
    >
      {request.isSuccess ? (
        <Alert color="teal" variant="light" title="Check your inbox" data-testid="reset-requested">
          If {email} is registered, a link to reset the password is on its way. It works once, for one hour.
        </Alert>
      ) : (
        <FormStack label="Request a password reset" onSubmit={() => request.mutate()}>
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => {
              setEmail(e.currentTarget.value);
              errors.clearField('email');
            }}
            {...errors.field('email')}
          />
          <FormAlert problem={errors.problem} />
          <Button type="submit" fullWidth loading={request.isPending}>
            Send reset link
          </Button>
        </FormStack>
      )}
    </AuthCard>
  );
}

const RESET_FIELDS = ['password'] as const;

export function ResetPasswordPage() {
  const token = new URLSearchParams(useSearch()).get('token') ?? '';
  const [password, setPassword] = useState('');
  const errors = useFormErrors(RESET_FIELDS);
  const queryClient = useQueryClient();
  const confirm = useMutation({
    mutationFn: () => api.confirmPasswordReset({ token, password }),
    onMutate: () => errors.reset(),
    onError: errors.capture,
    // every session of the person ended, this one included
    onSuccess: () => queryClient.setQueryData(meKey, null),
  });
  const footer = (
    <Anchor component={Link} href="/forgot-password">
      Ask for a new link
    </Anchor>
  );
  if (!token) {
    return (
      <AuthCard title="Set a new password" footer={footer}>
        <Alert color="red" variant="light" title="This link is incomplete" data-testid="form-alert">
          Open the link from the email exactly as it was sent, or ask for a new one.
        </Alert>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Set a new password" subtitle="Choose a password you do not use anywhere else." footer={footer}>
      {confirm.isSuccess ? (
        <Stack>
          <Alert color="teal" variant="light" title="Your password is changed" data-testid="reset-done">
            Every session was signed out. Sign in with your new password.
          </Alert>
          <Button component={Link} href="/sign-in" fullWidth>
            Sign in
          </Button>
        </Stack>
      ) : (
        <FormStack label="Password reset" onSubmit={() => confirm.mutate()}>
          <PasswordInput
            label="New password"
            autoComplete="new-password"
            description="At least 8 characters, mixing letters and digits"
            value={password}
            onChange={(e) => {
              setPassword(e.currentTarget.value);
              errors.clearField('password');
            }}
            {...errors.field('password')}
          />
          <FormAlert problem={errors.problem} />
          <Button type="submit" fullWidth loading={confirm.isPending}>
            Set password
          </Button>
        </FormStack>
      )}
    </AuthCard>
  );
}

export function VerifyEmailPage() {
  const token = new URLSearchParams(useSearch()).get('token') ?? '';
  const queryClient = useQueryClient();
  const verify = useMutation({
    mutationFn: () => api.verifyEmail(token),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKey }),
  });
  // the link is single-use: send it once, even if React mounts the page twice
  const sent = useRef(false);
  useEffect(() => {
    if (token && !sent.current) {
      sent.current = true;
      verify.mutate();
    }
  }, [token, verify]);
  const footer = (
    <Anchor component={Link} href="/">
      Continue to Tessera
    </Anchor>
  );
  let body: ReactNode;
  if (!token) {
    body = (
      <Alert color="red" variant="light" title="This link is incomplete" data-testid="verify-result">
        Open the link from the email exactly as it was sent. Signed in, you can ask for a new one on your profile.
      </Alert>
    );
  } else if (verify.isSuccess) {
    body = (
      <Stack>
        <Alert color="teal" variant="light" title="Your email address is confirmed" data-testid="verify-result">
          Thank you. You can close this page or continue to Tessera.
        </Alert>
        <Button component={Link} href="/" fullWidth>
          Continue
        </Button>
      </Stack>
    );
  } else if (verify.isError) {
    const message = verify.error instanceof Error ? verify.error.message : 'Try again later.';
    body = (
      <Alert color="red" variant="light" title="We could not confirm your email address" data-testid="verify-result">
        {message} Signed in, choose Resend on your profile to get a new link.
      </Alert>
    );
  } else {
    body = (
      <Center py="lg">
        <Loader size="sm" />
      </Center>
    );
  }
  return (
    <AuthCard title="Confirm your email address" footer={footer}>
      {body}
    </AuthCard>
  );
}
