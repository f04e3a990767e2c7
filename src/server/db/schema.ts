import type { Generated } from 'kysely';

/** Row types of the tables, as Kysely sees them. Timestamps arrive as Date on both backends. */
export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  email_verified_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface AccountsTable {
  account_id: string;
  company_name: string;
  country: string;
  email_notifications: Generated<boolean>;
  plan_id: Generated<string>;
  /** When the account took its current plan. */
  plan_since: Generated<Date>;
  /** Everyone in the account must sign in with a second factor (docs/two-factor.md). */
  require_two_factor: Generated<boolean>;
  created_at: Date;
  updated_at: Date;
}

export type Role = 'owner' | 'manager' | 'viewer';

export interface MembershipsTable {
  account_id: string;
  user_id: string;
  /** The role on the whole account; null when the person holds roles only on groups or organizations. */
  role: Role | null;
  created_at: Date;
}

export type ScopedRole = Exclude<Role, 'owner'>;

/** A role on one group of organizations or on one organization (exactly one of the two ids). */
export interface RoleGrantsTable {
  account_id: string;
  id: string;
  user_id: string;
  role: ScopedRole;
  group_id: string | null;
  organization_id: string | null;
  created_at: Date;
}

export type PresenceState = 'online' | 'away' | 'offline';

/** The last heartbeat of a team member's desktop client (one row per member). */
export interface MemberPresenceTable {
  account_id: string;
  member_id: string;
  session_id: string;
  state: PresenceState;
  last_seen_at: Date;
  changed_at: Date;
}

/** A program's credential for the management API: one role at one scope, the secret stored hashed. */
export interface AccessKeysTable {
  account_id: string;
  id: string;
  name: string;
  role: Role;
  group_id: string | null;
  organization_id: string | null;
  secret_hash: Uint8Array;
  prefix: string;
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

export interface InvitationsTable {
  account_id: string;
  id: string;
  email: string;
  role: Role;
  group_id: string | null;
  organization_id: string | null;
  token_hash: Uint8Array;
  invited_by: string | null;
  created_at: Date;
  sent_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
}

export type ActorType = 'user' | 'access_key' | 'member' | 'system';

export interface AuditEventsTable {
  account_id: string;
  id: string;
  occurred_at: Date;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  client_address: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface UserAuditEventsTable {
  user_id: string;
  id: string;
  occurred_at: Date;
  action: string;
  before: unknown;
  after: unknown;
  client_address: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface SessionsTable {
  id_hash: Uint8Array;
  user_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  client_address: string | null;
  user_agent: string | null;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface EmailTokensTable {
  token_hash: Uint8Array;
  user_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

export interface SignInThrottleTable {
  key: string;
  failures: number;
  window_start: Date;
  blocked_until: Date | null;
}

export interface TeamMembersTable {
  account_id: string;
  id: string;
  name: string;
  connection_limit: number | null;
  credentials_email: string | null;
  credentials_password: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface LoginTokensTable {
  account_id: string;
  id: string;
  member_id: string;
  label: string;
  token_hash: Uint8Array;
  token_sealed: Uint8Array;
  token_prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export type ClientGrant = 'login_token' | 'password';

export interface ClientSessionsTable {
  account_id: string;
  id: string;
  member_id: string;
  login_token_id: string | null;
  grant_type: ClientGrant;
  created_at: Date;
  refreshed_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
  client_address: string | null;
  user_agent: string | null;
}

export interface ClientTokensTable {
  account_id: string;
  token_hash: Uint8Array;
  session_id: string;
  kind: 'access' | 'refresh';
  issued_at: Date;
  expires_at: Date;
  used_at: Date | null;
  rotated_to: Uint8Array | null;
}

export interface OrganizationsTable {
  account_id: string;
  id: string;
  name: string;
  /** lower(name), generated by the database; lists seek on it. */
  name_key: Generated<string>;
  description: string;
  created_at: Date;
  updated_at: Date;
}

export type OrganizationGroupsTable = OrganizationsTable;

export interface OrganizationGroupMembersTable {
  account_id: string;
  group_id: string;
  organization_id: string;
  added_at: Date;
}

export interface SelectedOrganizationsTable {
  account_id: string;
  user_id: string;
  organization_id: string;
  selected_at: Date;
}

export interface DevicesTable {
  account_id: string;
  id: string;
  organization_id: string;
  name: string;
  name_key: Generated<string>;
  kind: string;
  identifier: string;
  notes: string;
  lease_id: Generated<string | null>;
  lease_expires_at: Generated<Date | null>;
  created_at: Date;
  updated_at: Date;
}

export interface AccountSlotsTable {
  account_id: string;
  slot: number;
  lease_id: string | null;
  expires_at: Date | null;
}

export interface MemberSlotsTable extends AccountSlotsTable {
  member_id: string;
}

export interface ConnectionLeasesTable {
  account_id: string;
  id: string;
  member_id: string;
  device_id: string;
  client_session_id: string | null;
  account_slot: number;
  member_slot: number | null;
  opened_at: Date;
  renewed_at: Date;
  expires_at: Date;
  closed_at: Date | null;
  close_reason: string | null;
}

export interface BillingDetailsTable {
  account_id: string;
  legal_name: string;
  address_line1: string;
  address_line2: string | null;
  postal_code: string;
  city: string;
  region: string | null;
  country: string;
  tax_id: string | null;
  billing_email: string;
  updated_at: Date;
}

export interface InvoicesTable {
  account_id: string;
  id: string;
  sequence: number;
  plan_id: string;
  plan_name: string;
  period_start: Date;
  period_end: Date;
  amount: number;
  currency: string;
  status: 'open' | 'paid' | 'void';
  provider: string;
  provider_reference: string | null;
  issued_at: Date;
}

export interface UsageDailyTable {
  account_id: string;
  /** YYYY-MM-DD (UTC); read it as text. */
  day: string;
  peak_connections: number;
  connection_minutes: number;
  members: number;
  organizations: number;
  computed_at: Date;
}

/** A person's TOTP secret, sealed; confirmed_at is null while the enrolment waits for its first code. */
export interface TwoFactorCredentialsTable {
  user_id: string;
  secret_sealed: Uint8Array;
  created_at: Date;
  confirmed_at: Date | null;
  /** The 30-second step of the last code accepted (codes of this step or earlier are refused). */
  last_used_step: number | null;
}

/** A single-use recovery code, as its SHA-256. */
export interface RecoveryCodesTable {
  user_id: string;
  code_hash: Uint8Array;
  created_at: Date;
}

/** An OpenID Connect identity (issuer + subject) a person signs in with; docs/oidc.md. */
export interface LinkedIdentitiesTable {
  id: string;
  user_id: string;
  issuer: string;
  subject: string;
  /** The verified email the provider gave when the identity was linked. */
  email: string;
  linked_at: Date;
}

/** A WebAuthn credential of a person: second factor and passwordless sign-in; docs/passkeys.md. */
export interface PasskeysTable {
  id: string;
  user_id: string;
  /** The authenticator's credential id in base64url. */
  credential_id: string;
  /** The COSE public key from the attestation. */
  public_key: Uint8Array;
  sign_count: number;
  transports: string[];
  /** Synced by its provider (the authenticator's backup-state flag). */
  backed_up: boolean;
  aaguid: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** A passkey ceremony's challenge that was answered (its SHA-256), kept until it would have expired. */
export interface SpentWebauthnChallengesTable {
  challenge_hash: Uint8Array;
  expires_at: Date;
}

export interface OwnerNoticesTable {
  account_id: string;
  kind: string;
  sent_at: Date;
}

export interface DB {
  users: UsersTable;
  accounts: AccountsTable;
  memberships: MembershipsTable;
  audit_events: AuditEventsTable;
  user_audit_events: UserAuditEventsTable;
  sessions: SessionsTable;
  email_tokens: EmailTokensTable;
  sign_in_throttle: SignInThrottleTable;
  team_members: TeamMembersTable;
  login_tokens: LoginTokensTable;
  client_sessions: ClientSessionsTable;
  client_tokens: ClientTokensTable;
  organizations: OrganizationsTable;
  organization_groups: OrganizationGroupsTable;
  organization_group_members: OrganizationGroupMembersTable;
  selected_organizations: SelectedOrganizationsTable;
  devices: DevicesTable;
  account_slots: AccountSlotsTable;
  member_slots: MemberSlotsTable;
  connection_leases: ConnectionLeasesTable;
  role_grants: RoleGrantsTable;
  invitations: InvitationsTable;
  access_keys: AccessKeysTable;
  member_presence: MemberPresenceTable;
  billing_details: BillingDetailsTable;
  invoices: InvoicesTable;
  usage_daily: UsageDailyTable;
  owner_notices: OwnerNoticesTable;
  two_factor_credentials: TwoFactorCredentialsTable;
  recovery_codes: RecoveryCodesTable;
  linked_identities: LinkedIdentitiesTable;
  passkeys: PasskeysTable;
  spent_webauthn_challenges: SpentWebauthnChallengesTable;
}

/**
 * Tables that belong to no account. Every other table is a tenant table and must carry
 * account_id first in its keys and row-level security (the catalog test holds both lists).
 */
export const GLOBAL_TABLES: Record<string, string> = {
  tessera_migrations: 'bookkeeping of applied migrations',
  users: 'a person may belong to several accounts',
  user_audit_events: 'changes to a person, not to an account',
  sessions: 'a portal session is a person signed in, whatever account they work in',
  email_tokens: 'emailed links address a person',
  sign_in_throttle: 'guessing is counted per email and per client address, before any account is known',
  two_factor_credentials: "a second factor is the person's, whatever account they sign in to",
  recovery_codes: "recovery codes stand in for the person's second factor",
  linked_identities: "a provider's identity names a person, whatever account they sign in to",
  passkeys: "a passkey is the person's, whatever account they sign in to",
  spent_webauthn_challenges: 'a passkey ceremony runs before any account is known',
};
