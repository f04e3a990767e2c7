-- Team members (sub-accounts for the desktop client), their login tokens, and desktop sessions.

-- Every account is on a plan of the catalog in src/server/domain/plans/catalog.ts.
ALTER TABLE accounts ADD COLUMN plan_id text NOT NULL DEFAULT 'starter';

CREATE TABLE team_members (
  account_id            uuid NOT NULL REFERENCES accounts (account_id),
  id                    uuid NOT NULL,
  name                  text NOT NULL,
  connection_limit      integer CHECK (connection_limit IS NULL OR connection_limit > 0),
  -- optional member credentials: a second way for the desktop client to sign in
  credentials_email     text,
  credentials_password  text,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  PRIMARY KEY (account_id, id),
  CHECK ((credentials_email IS NULL) = (credentials_password IS NULL))
);
-- The desktop client signs in with email and password alone, so the email is unique across
-- accounts. (On Citus this index becomes a lookup table: a unique index must otherwise contain
-- the distribution column.)
CREATE UNIQUE INDEX team_members_credentials_email_key ON team_members (lower(credentials_email))
  WHERE credentials_email IS NOT NULL;

CREATE TABLE login_tokens (
  account_id    uuid NOT NULL,
  id            uuid NOT NULL,
  member_id     uuid NOT NULL,
  label         text NOT NULL,
  token_hash    bytea NOT NULL,
  -- AES-256-GCM, so the owner can copy the token again; iv || tag || ciphertext
  token_sealed  bytea NOT NULL,
  token_prefix  text NOT NULL,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  PRIMARY KEY (account_id, id),
  FOREIGN KEY (account_id, member_id) REFERENCES team_members (account_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX login_tokens_hash_key ON login_tokens (token_hash);
CREATE INDEX login_tokens_member_idx ON login_tokens (account_id, member_id);

-- A desktop session: one sign-in of a member and the family of token pairs refreshed from it.
CREATE TABLE client_sessions (
  account_id      uuid NOT NULL,
  id              uuid NOT NULL,
  member_id       uuid NOT NULL,
  login_token_id  uuid,
  grant_type      text NOT NULL CHECK (grant_type IN ('login_token', 'password')),
  created_at      timestamptz NOT NULL,
  refreshed_at    timestamptz NOT NULL,
  revoked_at      timestamptz,
  revoked_reason  text,
  client_address  text,
  user_agent      text,
  PRIMARY KEY (account_id, id),
  FOREIGN KEY (account_id, member_id) REFERENCES team_members (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, login_token_id) REFERENCES login_tokens (account_id, id) ON DELETE CASCADE
);
CREATE INDEX client_sessions_member_idx ON client_sessions (account_id, member_id);
CREATE INDEX client_sessions_token_idx ON client_sessions (account_id, login_token_id);

-- Access and refresh tokens of desktop sessions, stored as SHA-256.
CREATE TABLE client_tokens (
  account_id   uuid NOT NULL,
  token_hash   bytea NOT NULL,
  session_id   uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('access', 'refresh')),
  issued_at    timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  -- refresh tokens: when exchanged, and the refresh token issued in exchange
  used_at      timestamptz,
  rotated_to   bytea,
  PRIMARY KEY (account_id, token_hash),
  FOREIGN KEY (account_id, session_id) REFERENCES client_sessions (account_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX client_tokens_hash_key ON client_tokens (token_hash);
CREATE INDEX client_tokens_session_idx ON client_tokens (account_id, session_id);

ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON team_members USING (account_id = tessera_current_account());
ALTER TABLE login_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON login_tokens USING (account_id = tessera_current_account());
ALTER TABLE client_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_sessions USING (account_id = tessera_current_account());
ALTER TABLE client_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_tokens USING (account_id = tessera_current_account());
