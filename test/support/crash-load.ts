import { randomBytes } from 'node:crypto';
import { seededRandom } from './lease-record.ts';
import { TesseraDesktopClient, TesseraOAuthError } from '../../src/client/desktop.ts';
import { TesseraClient, TesseraError } from '../../src/client/sdk.ts';
import type { TokenResponse } from '../../src/shared/client-api.ts';

/**
 * The mixed write load of the crash suite (test/process/crash.test.ts) and its ledger: what was
 * sent and what the server acknowledged (a 2xx answer), so the checks after a crash know what
 * must be there, what must not, and what may go either way (the one request per writer that had
 * no answer when the server died).
 *
 * Each writer registers an account of its own and works on it alone, one request at a time
 * through the SDKs: team members, login tokens, desktop sign-ins and refreshes, connection
 * leases, invitations, profile updates, and revocations and removals of those. Working alone on
 * its account, a writer knows the exact state its acknowledged writes leave, including which
 * connection the server must refuse and why.
 */

export const PASSWORD = 'correct horse 42 battery';
const DEVICES_PER_ACCOUNT = 3;
/** Caps that keep a writer's account small, so the checks after each crash stay quick. */
const MAX_LIVE_MEMBERS = 5;
const MAX_LIVE_TOKENS_PER_MEMBER = 3;
const MAX_LIVE_SESSIONS = 4;
const MAX_PENDING_INVITATIONS = 4;


/** A change sent and answered 2xx ('acked'), or sent with no answer before the server died ('sent'). */
export type Sent = 'sent' | 'acked';

/** The kinds of acknowledged write, for the figures the suite prints. */
export const WRITE_KINDS = [
  'registration',
  'account update',
  'organization',
  'device',
  'member added',
  'member removed',
  'login token',
  'login token revoked',
  'desktop sign-in',
  'refresh',
  'lease opened',
  'lease refused',
  'lease closed',
  'invitation',
  'invitation revoked',
] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];

export interface Member {
  id: string;
  name: string;
  connectionLimit: number | null;
  removal: Sent | null;
  tokens: LoginToken[];
}

export interface LoginToken {
  id: string;
  secret: string;
  member: Member;
  revocation: Sent | null;
}

export interface TokenPair {
  access: string;
  refresh: string;
  /** When the access token stops working (by the test's clock, from expires_in). */
  accessExpiresAt: number;
}

/** A desktop session: a sign-in with a login token and the family of token pairs refreshed from it. */
export interface DesktopSession {
  token: LoginToken;
  /** Every acknowledged pair in order: the sign-in's, then each refresh's. */
  pairs: TokenPair[];
  /** A refresh was sent with the last pair's refresh token and had no answer. */
  refreshSent: boolean;
  /** A spent refresh token of the family presented again (by a check), which revokes the session. */
  reuse: Sent | null;
}

export interface Lease {
  id: string;
  deviceId: string;
  session: DesktopSession;
  expiresAt: number;
  close: Sent | null;
}

export interface Invitation {
  id: string;
  email: string;
  role: 'manager' | 'viewer';
  revocation: Sent | null;
}

/** A creation sent with no answer: its id is unknown, so the checks allow one such extra row. */
export type PendingCreation =
  | { kind: 'organization' }
  | { kind: 'device' }
  | { kind: 'member' }
  | { kind: 'login token'; member: Member }
  | { kind: 'desktop sign-in'; token: LoginToken }
  | { kind: 'lease'; deviceId: string; session: DesktopSession }
  | { kind: 'invitation'; email: string };

/** One writer's account and everything it did to it. */
export interface Tenant {
  label: string;
  email: string;
  /** Set once the registration is acknowledged. */
  accountId: string | null;
  companyName: string;
  /** Profile updates in the order they were sent. */
  updates: Array<{ companyName: string; acknowledged: boolean }>;
  organizationId: string | null;
  devices: string[];
  members: Member[];
  sessions: DesktopSession[];
  leases: Lease[];
  invitations: Invitation[];
  /** A creation that had no answer when the server died. */
  pending: PendingCreation | null;
}

export interface Ledger {
  tenants: Tenant[];
  acknowledged: Record<WriteKind, number>;
  /** Answers that are errors although the server was up: always a failure. */
  unexpected: string[];
  /** Token-family checks after restarts: spent refresh tokens refused, newest refresh tokens rotated. */
  families: { reusesRefused: number; rotations: number };
}

export function newLedger(): Ledger {
  return {
    tenants: [],
    acknowledged: Object.fromEntries(WRITE_KINDS.map((kind) => [kind, 0])) as Record<WriteKind, number>,
    unexpected: [],
    families: { reusesRefused: 0, rotations: 0 },
  };
}

// What the acknowledged writes imply. 'unknown' when a request that would change it had no answer.

export type Expected = 'yes' | 'no' | 'unknown';

/** 'yes' once any of the changes was acknowledged, 'unknown' while one of them had no answer. */
function implied(...states: Array<Sent | null>): Expected {
  if (states.includes('acked')) return 'yes';
  return states.includes('sent') ? 'unknown' : 'no';
}

export const memberRemoved = (member: Member): Expected => implied(member.removal);
/** A login token is gone with its member (ON DELETE CASCADE). */
export const tokenGone = (token: LoginToken): Expected => memberRemoved(token.member);
export const tokenRevoked = (token: LoginToken): Expected => implied(token.revocation);
/** Revoking the login token ends the sessions opened with it, in the same transaction; so does a refresh token's reuse. */
export const sessionRevoked = (session: DesktopSession): Expected => implied(session.token.revocation, session.reuse);
export const sessionGone = (session: DesktopSession): Expected => tokenGone(session.token);
/** Its access token is refused: revoked, or gone with its member. */
export const sessionEnded = (session: DesktopSession): Expected => implied(session.token.revocation, session.reuse, session.token.member.removal);
/** A lease ends by its own close, or when its session is revoked or gone. */
export const leaseClosed = (lease: Lease): Expected => implied(lease.close, lease.session.token.revocation, lease.session.reuse, lease.session.token.member.removal);
export const invitationRevoked = (invitation: Invitation): Expected => implied(invitation.revocation);

const usableSession = (session: DesktopSession) => sessionEnded(session) === 'no';
const liveMembers = (tenant: Tenant) => tenant.members.filter((m) => m.removal === null);
const liveTokens = (member: Member) => member.tokens.filter((t) => t.revocation === null);
const openLeases = (tenant: Tenant) => tenant.leases.filter((lease) => leaseClosed(lease) === 'no');

/** An answer that contradicts the ledger: a connection opened that a limit should refuse, or refused for another limit. */
class WrongAnswer extends Error {}

/** An answer from the server, as opposed to a connection that failed. */
function isAnswer(error: unknown): boolean {
  return error instanceof TesseraError || error instanceof TesseraOAuthError || error instanceof WrongAnswer;
}

function pairOf(tokens: TokenResponse): TokenPair {
  return { access: tokens.access_token, refresh: tokens.refresh_token, accessExpiresAt: Date.now() + tokens.expires_in * 1000 };
}

interface Writer {
  baseUrl: string;
  tenant: Tenant;
  ledger: Ledger;
  random: () => number;
  owner: TesseraClient;
  serial: number;
}

function pick<T>(random: () => number, items: T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function ack(w: Writer, kind: WriteKind): void {
  w.ledger.acknowledged[kind] += 1;
}

async function register(w: Writer): Promise<void> {
  const { tenant } = w;
  const registered = await w.owner.register({ name: `Owner ${tenant.label}`, email: tenant.email, password: PASSWORD, companyName: tenant.companyName, country: 'DE' });
  tenant.accountId = registered.account.id;
  ack(w, 'registration');
  tenant.pending = { kind: 'organization' };
  const organization = await w.owner.createOrganization(tenant.accountId, { name: `Clinic ${tenant.label}` });
  tenant.organizationId = organization.id;
  ack(w, 'organization');
  for (let d = 0; d < DEVICES_PER_ACCOUNT; d++) {
    tenant.pending = { kind: 'device' };
    const device = await w.owner.createDevice(tenant.accountId, organization.id, { name: `Router ${d}`, kind: 'Router', identifier: `SN-${tenant.label}-${d}` });
    tenant.devices.push(device.id);
    ack(w, 'device');
  }
  tenant.pending = null;
}

/** The account is registered with its organization and devices: the writer is in the mix. */
export const isSetUp = (tenant: Tenant): boolean => tenant.devices.length === DEVICES_PER_ACCOUNT;

/** The operations a writer picks from, each with its precondition and how often it is picked. */
const OPERATIONS: Array<{ weight: number; applies: (t: Tenant) => boolean; run: (w: Writer) => Promise<void> }> = [
  {
    weight: 3,
    applies: (t) => liveMembers(t).length < MAX_LIVE_MEMBERS,
    async run(w) {
      const { tenant } = w;
      const body = { name: `Member ${tenant.label}.${w.serial++}`, connectionLimit: w.random() < 0.5 ? 1 : null };
      tenant.pending = { kind: 'member' };
      const added = await w.owner.addTeamMember(tenant.accountId!, body);
      tenant.pending = null;
      const member: Member = { id: added.member.id, name: body.name, connectionLimit: body.connectionLimit, removal: null, tokens: [] };
      member.tokens.push({ id: added.firstToken.token.id, secret: added.firstToken.secret, member, revocation: null });
      tenant.members.push(member);
      ack(w, 'member added');
      ack(w, 'login token');
    },
  },
  {
    weight: 1,
    applies: (t) => liveMembers(t).length >= 3,
    async run(w) {
      const member = pick(w.random, liveMembers(w.tenant));
      member.removal = 'sent';
      await w.owner.removeTeamMember(w.tenant.accountId!, member.id);
      member.removal = 'acked';
      ack(w, 'member removed');
    },
  },
  {
    weight: 2,
    applies: (t) => liveMembers(t).some((m) => liveTokens(m).length < MAX_LIVE_TOKENS_PER_MEMBER),
    async run(w) {
      const member = pick(w.random, liveMembers(w.tenant).filter((m) => liveTokens(m).length < MAX_LIVE_TOKENS_PER_MEMBER));
      w.tenant.pending = { kind: 'login token', member };
      const issued = await w.owner.createLoginToken(w.tenant.accountId!, member.id, { label: `Token ${w.serial++}` });
      w.tenant.pending = null;
      member.tokens.push({ id: issued.token.id, secret: issued.secret, member, revocation: null });
      ack(w, 'login token');
    },
  },
  {
    weight: 1,
    applies: (t) => liveMembers(t).some((m) => liveTokens(m).length > 0),
    async run(w) {
      const token = pick(w.random, liveMembers(w.tenant).flatMap(liveTokens));
      token.revocation = 'sent';
      await w.owner.revokeLoginToken(w.tenant.accountId!, token.member.id, token.id);
      token.revocation = 'acked';
      ack(w, 'login token revoked');
    },
  },
  {
    weight: 3,
    applies: (t) => t.sessions.filter(usableSession).length < MAX_LIVE_SESSIONS && liveMembers(t).some((m) => liveTokens(m).length > 0),
    async run(w) {
      const token = pick(w.random, liveMembers(w.tenant).flatMap(liveTokens));
      const session: DesktopSession = { token, pairs: [], refreshSent: false, reuse: null };
      const desktop = new TesseraDesktopClient({ baseUrl: w.baseUrl, onTokens: (tokens) => session.pairs.push(pairOf(tokens)) });
      w.tenant.pending = { kind: 'desktop sign-in', token };
      await desktop.signInWithLoginToken(token.secret);
      w.tenant.pending = null;
      w.tenant.sessions.push(session);
      ack(w, 'desktop sign-in');
    },
  },
  {
    weight: 3,
    applies: (t) => t.sessions.some(usableSession),
    async run(w) {
      const session = pick(w.random, w.tenant.sessions.filter(usableSession));
      await refreshSession(w.baseUrl, session);
      ack(w, 'refresh');
    },
  },
  {
    // Any device, free or not, by any member: the ledger knows which limit must refuse it.
    weight: 4,
    applies: (t) => t.sessions.some(usableSession),
    async run(w) {
      const { tenant } = w;
      const session = pick(w.random, tenant.sessions.filter(usableSession));
      const deviceId = pick(w.random, tenant.devices);
      const open = openLeases(tenant);
      const limit = session.token.member.connectionLimit;
      const refusal =
        limit !== null && open.filter((l) => l.session.token.member === session.token.member).length >= limit
          ? 'member'
          : open.some((l) => l.deviceId === deviceId)
            ? 'device'
            : null;
      tenant.pending = { kind: 'lease', deviceId, session };
      const desktop = desktopFor(w.baseUrl, session);
      try {
        const lease = await desktop.connect(deviceId);
        tenant.pending = null;
        if (refusal) throw new WrongAnswer(`${tenant.label}: the connection to ${deviceId} was opened, but the ${refusal} limit should have refused it`);
        tenant.leases.push({ id: lease.leaseId, deviceId, session, expiresAt: Date.parse(lease.expiresAt), close: null });
        ack(w, 'lease opened');
      } catch (error) {
        if (!(error instanceof TesseraError) || error.status !== 409 || refusal === null) throw error;
        tenant.pending = null;
        if (error.problem.limit !== refusal) throw new WrongAnswer(`${tenant.label}: refused for the ${error.problem.limit} limit, expected the ${refusal} limit`);
        ack(w, 'lease refused');
      }
    },
  },
  {
    weight: 3,
    applies: (t) => openLeases(t).length > 0,
    async run(w) {
      const lease = pick(w.random, openLeases(w.tenant));
      lease.close = 'sent';
      await desktopFor(w.baseUrl, lease.session).disconnect(lease.id);
      lease.close = 'acked';
      ack(w, 'lease closed');
    },
  },
  {
    weight: 2,
    applies: (t) => t.invitations.filter((i) => i.revocation === null).length < MAX_PENDING_INVITATIONS,
    async run(w) {
      const { tenant } = w;
      const email = `invitee.${tenant.label}.${w.serial++}@example.test`;
      const role = w.random() < 0.5 ? 'manager' : 'viewer';
      tenant.pending = { kind: 'invitation', email };
      const invitation = await w.owner.createInvitation(tenant.accountId!, { email, role });
      tenant.pending = null;
      tenant.invitations.push({ id: invitation.id, email, role, revocation: null });
      ack(w, 'invitation');
    },
  },
  {
    weight: 1,
    applies: (t) => t.invitations.some((i) => i.revocation === null),
    async run(w) {
      const invitation = pick(w.random, w.tenant.invitations.filter((i) => i.revocation === null));
      invitation.revocation = 'sent';
      await w.owner.revokeInvitation(w.tenant.accountId!, invitation.id);
      invitation.revocation = 'acked';
      ack(w, 'invitation revoked');
    },
  },
  {
    weight: 1,
    applies: () => true,
    async run(w) {
      const update = { companyName: `Updated ${w.tenant.label}.${w.serial++}`, acknowledged: false };
      w.tenant.updates.push(update);
      const account = await w.owner.updateAccount(w.tenant.accountId!, { companyName: update.companyName });
      if (account.companyName !== update.companyName) throw new WrongAnswer(`${w.tenant.label}: the update answered ${account.companyName}`);
      update.acknowledged = true;
      ack(w, 'account update');
    },
  },
];

/** A desktop client on the session's newest acknowledged pair. */
function desktopFor(baseUrl: string, session: DesktopSession): TesseraDesktopClient {
  const desktop = new TesseraDesktopClient({ baseUrl, onTokens: (tokens) => session.pairs.push(pairOf(tokens)) });
  const last = session.pairs.at(-1)!;
  desktop.useRefreshToken(last.refresh, last.access);
  return desktop;
}

/** Rotates the session's refresh token; the new pair joins the ledger once answered. */
export async function refreshSession(baseUrl: string, session: DesktopSession): Promise<void> {
  session.refreshSent = true;
  await desktopFor(baseUrl, session).refresh();
  session.refreshSent = false;
}

/**
 * One writer: registers its account (an organization and devices with it), then sends one
 * request at a time, picked at random among those that apply, until a request fails. A failure
 * before `killed()` holds, or any error answer that was not expected, is recorded as unexpected.
 */
export async function runWriter(baseUrl: string, ledger: Ledger, label: string, seed: number, killed: () => boolean): Promise<void> {
  const tenant: Tenant = {
    label,
    email: `crash.${label}.${randomBytes(3).toString('hex')}@example.test`,
    accountId: null,
    companyName: `Registered ${label}`,
    updates: [],
    organizationId: null,
    devices: [],
    members: [],
    sessions: [],
    leases: [],
    invitations: [],
    pending: null,
  };
  ledger.tenants.push(tenant);
  const w: Writer = { baseUrl, tenant, ledger, random: seededRandom(seed), owner: new TesseraClient({ baseUrl, cookieJar: true }), serial: 0 };
  try {
    await register(w);
    for (;;) {
      const choices = OPERATIONS.filter((op) => op.applies(tenant));
      let draw = w.random() * choices.reduce((sum, op) => sum + op.weight, 0);
      const op = choices.find((candidate) => (draw -= candidate.weight) < 0) ?? choices.at(-1)!;
      await op.run(w);
    }
  } catch (error) {
    // An answer from the server means it was up: nothing should have failed. A network error is
    // expected once the server is killed, and only then.
    if (isAnswer(error) || !killed()) ledger.unexpected.push(`${label}: ${(error as Error).stack ?? String(error)}`);
  }
}
