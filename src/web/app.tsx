import { Center, Loader } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { Redirect, Route, Switch, useParams, useSearch } from 'wouter';
import type { Me } from '../client/sdk.ts';
import { fetchMe, homePath, meKey, rememberAccount } from './api.ts';
import { ForgotPasswordPage, nextPath, RegisterPage, ResetPasswordPage, SignInPage, VerifyEmailPage } from './pages/auth.tsx';
import { AcceptInvitationPage } from './pages/invitation.tsx';
import { NoAccountPage, SignedInLayout } from './pages/layout.tsx';
import { ProfilePage } from './pages/profile.tsx';
import { DevicesPage } from './pages/devices.tsx';
import { OrganizationsPage } from './pages/organizations.tsx';
import { TeamPage } from './pages/team.tsx';
import { ConnectionsPage } from './pages/connections.tsx';
import { UsersPage } from './pages/users.tsx';
import { AccessKeysPage } from './pages/access-keys.tsx';
import { AuditLogPage } from './pages/audit-log.tsx';
import { BillingPage } from './pages/billing.tsx';
import { ConfirmEmailChangePage, SecurityPage } from './pages/security.tsx';
import { SECTION_PATHS, type SectionPath } from './roles.ts';

function useMe() {
  return useQuery({ queryKey: meKey, queryFn: fetchMe });
}

function FullPageLoader() {
  return (
    <Center h="100vh">
      <Loader />
    </Center>
  );
}

/** Pages for people who are signed out: a signed-in person goes to their account (or the page named by `?next=`) instead. */
function SignedOutOnly({ children }: { children: ReactNode }) {
  const me = useMe();
  const next = nextPath(useSearch());
  if (me.isPending) return <FullPageLoader />;
  if (me.data) return <Redirect to={next ?? homePath(me.data)} replace />;
  return <>{children}</>;
}


function SectionPage({ section, me, accountId }: { section: SectionPath; me: Me; accountId: string }) {
  switch (section) {
    case 'team':
      return <TeamPage me={me} accountId={accountId} />;
    case 'users':
      return <UsersPage me={me} accountId={accountId} />;
    case 'access-keys':
      return <AccessKeysPage me={me} accountId={accountId} />;
    case 'billing':
      return <BillingPage me={me} accountId={accountId} />;
    case 'audit-log':
      return <AuditLogPage me={me} accountId={accountId} />;
    case 'organizations':
      return <OrganizationsPage me={me} accountId={accountId} />;
    case 'devices':
      return <DevicesPage me={me} accountId={accountId} />;
    case 'connections':
      return <ConnectionsPage me={me} accountId={accountId} />;
    default:
      return <ProfilePage me={me} accountId={accountId} />;
  }
}

function AccountPages({ section }: { section: SectionPath }) {
  const { accountId = '' } = useParams<{ accountId: string }>();
  const me = useMe();
  const isMember = me.data?.accounts.some((a) => a.id === accountId) ?? false;
  useEffect(() => {
    if (isMember) rememberAccount(accountId);
  }, [accountId, isMember]);
  if (me.isPending) return <FullPageLoader />;
  if (!me.data) return <Redirect to="/sign-in" replace />;
  // the server refuses everything else until the second factor an account requires is set up
  if (me.data.twoFactor.enrolmentPending) return <Redirect to="/security" replace />;
  return (
    <SignedInLayout me={me.data} accountId={accountId} wide={section !== 'profile'}>
      <SectionPage section={section} me={me.data} accountId={accountId} />
    </SignedInLayout>
  );
}

/** The person's own security page: name, email, password, second factor; reached from the account menu. */
function Security() {
  const me = useMe();
  if (me.isPending) return <FullPageLoader />;
  if (!me.data) return <Redirect to="/sign-in?next=/security" replace />;
  return (
    <SignedInLayout me={me.data} accountId={null}>
      <SecurityPage me={me.data} />
    </SignedInLayout>
  );
}

function Home() {
  const me = useMe();
  if (me.isPending) return <FullPageLoader />;
  if (!me.data) return <Redirect to="/sign-in" replace />;
  if (me.data.twoFactor.enrolmentPending) return <Redirect to="/security" replace />;
  const path = homePath(me.data);
  if (path === '/no-account') {
    return (
      <SignedInLayout me={me.data} accountId={null}>
        <NoAccountPage />
      </SignedInLayout>
    );
  }
  return <Redirect to={path} replace />;
}

export function App() {
  return (
    <Switch>
      <Route path="/register">
        <SignedOutOnly>
          <RegisterPage />
        </SignedOutOnly>
      </Route>
      <Route path="/sign-in">
        <SignedOutOnly>
          <SignInPage />
        </SignedOutOnly>
      </Route>
      <Route path="/forgot-password">
        <SignedOutOnly>
          <ForgotPasswordPage />
        </SignedOutOnly>
      </Route>
      <Route path="/reset-password" component={ResetPasswordPage} />
      <Route path="/verify-email" component={VerifyEmailPage} />
      <Route path="/confirm-email-change" component={ConfirmEmailChangePage} />
      <Route path="/security" component={Security} />
      <Route path="/invitations/accept" component={AcceptInvitationPage} />
      {SECTION_PATHS.map((section) => (
        <Route key={section} path={`/accounts/:accountId/${section}`}>
          <AccountPages section={section} />
        </Route>
      ))}
      <Route path="/accounts/:accountId">
        {(params) => <Redirect to={`/accounts/${params.accountId}/profile`} replace />}
      </Route>
      <Route component={Home} />
    </Switch>
  );
}
