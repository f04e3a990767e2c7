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
  created_at: Date;
  updated_at: Date;
}

export type Role = 'owner' | 'manager' | 'viewer';

export interface MembershipsTable {
  account_id: string;
  user_id: string;
  role: Role;
  created_at: Date;
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

export type EmailTokenPurpose = 'verify_email' | 'reset_password';

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
};
