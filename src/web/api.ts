import { QueryClient } from '@tanstack/react-query';
import { TesseraClient, TesseraError, type Me } from '../client/sdk.ts';

/** The one API client of the portal: same origin, the browser keeps the session cookie. */
export const api = new TesseraClient();

export const meKey = ['me'] as const;
export const accountKey = (accountId: string) => ['account', accountId] as const;
/** The team of an account; its members' token lists live under the same prefix. */
export const teamKey = (accountId: string) => ['team', accountId] as const;
export const tokensKey = (accountId: string, memberId: string) => ['team', accountId, 'tokens', memberId] as const;
/** Everything about an account's organizations (pages, the full list, one by id) lives under this prefix. */
export const organizationsKey = (accountId: string) => ['organizations', accountId] as const;
/** The organization the person works in ("Set Organization"), kept by the server. */
export const selectedOrganizationKey = (accountId: string) => ['selected-organization', accountId] as const;
export const groupsKey = (accountId: string) => ['groups', accountId] as const;
/** Device pages of every organization of an account live under this prefix. */
export const devicesKey = (accountId: string) => ['devices', accountId] as const;
/** The open connections (leases) of an account, as far as the person reaches its organizations. */
export const connectionsKey = (accountId: string) => ['connections', accountId] as const;
/** The portal users of an account and their roles (owners). */
export const usersKey = (accountId: string) => ['users', accountId] as const;
/** Who of an account's team is online, kept live by the presence stream. */
export const presenceKey = (accountId: string) => ['presence', accountId] as const;
/** The access keys of an account (owners). */
export const accessKeysKey = (accountId: string) => ['access-keys', accountId] as const;
/** Billing of an account: plan, usage now, details (owners). */
export const billingKey = (accountId: string) => ['billing', accountId] as const;
export const invoicesKey = (accountId: string) => ['billing', accountId, 'invoices'] as const;
export const usageKey = (accountId: string) => ['billing', accountId, 'usage'] as const;
/** Searches of an account's audit log (owners). */
export const auditKey = (accountId: string) => ['audit', accountId] as const;
/** The pending invitations of an account (owners). */
export const invitationsKey = (accountId: string) => ['invitations', accountId] as const;

/** The signed-in person and their accounts, or null when nobody is signed in. */
export async function fetchMe(): Promise<Me | null> {
  try {
    return await api.me();
  } catch (error) {
    if (error instanceof TesseraError && error.status === 401) return null;
    throw error;
  }
}

export function createQueryClient(): QueryClient {
  const queryClient: QueryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // a problem answer (4xx) will not change by asking again
        retry: (failures, error) => !(error instanceof TesseraError && error.status < 500) && failures < 2,
        refetchOnWindowFocus: false,
        staleTime: 30_000,
      },
    },
  });
  // A session that ended (expired, signed out elsewhere) sends the person back to sign-in.
  queryClient.getQueryCache().subscribe((event) => {
    const error = event.query.state.error;
    if (event.type === 'updated' && error instanceof TesseraError && error.status === 401 && event.query.queryKey[0] !== 'me') {
      queryClient.setQueryData(meKey, null);
    }
  });
  return queryClient;
}

const SELECTED_ACCOUNT = 'tessera.selectedAccount';

export function rememberedAccount(): string | null {
  try {
    return localStorage.getItem(SELECTED_ACCOUNT);
  } catch {
    return null;
  }
}

export function rememberAccount(accountId: string | null): void {
  try {
    if (accountId) localStorage.setItem(SELECTED_ACCOUNT, accountId);
    else localStorage.removeItem(SELECTED_ACCOUNT);
  } catch {
    // storage may be disabled; the URL still carries the selection
  }
}

/** The page to open for a signed-in person: the remembered account if still theirs, else the first. */
export function homePath(me: Me): string {
  const remembered = rememberedAccount();
  const account = me.accounts.find((a) => a.id === remembered) ?? me.accounts[0];
  return account ? `/accounts/${account.id}/profile` : '/no-account';
}

export { ROLE_LABELS } from './roles.ts';
