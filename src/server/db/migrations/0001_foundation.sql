-- Tessera foundation: people, accounts, memberships, sessions, emailed links, sign-in throttling
-- and the audit record.
--
-- Rules every later migration follows (checked by test/storage/catalog.test.ts):
-- * a tenant table has account_id leading its primary key and every foreign key to another
--   tenant table, so the schema can be distributed by account (Citus) unchanged;
-- * a tenant table has row-level security keyed on the transaction's tessera.account_id;
-- * a table without account_id is global and is listed in src/server/db/schema.ts.

-- The service switches to this role inside tenant transactions. Superusers and table owners
-- bypass row-level security, so the second wall only stands for a role that is neither.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tessera_app') THEN
    CREATE ROLE tessera_app NOLOGIN;
  END IF;
EXCEPTION
  -- roles are cluster-wide: several databases of one cluster may migrate at the same moment
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
  EXECUTE format('GRANT tessera_app TO %I', current_user);
EXCEPTION
  -- already a member, or a superuser granting to itself concurrently
  WHEN duplicate_object OR unique_violation OR invalid_grant_operation THEN NULL;
END
$$;

CREATE FUNCTION tessera_current_account() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('tessera.account_id', true), '')::uuid $$;

CREATE TABLE users (
  id                uuid PRIMARY KEY,
  email             text NOT NULL,
  name              text NOT NULL,
  password_hash     text,
  email_verified_at timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE accounts (
  account_id          uuid PRIMARY KEY,
  company_name        text NOT NULL,
  country             char(2) NOT NULL,
  email_notifications boolean NOT NULL DEFAULT true,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL
);

CREATE TABLE memberships (
  account_id uuid NOT NULL REFERENCES accounts (account_id),
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('owner', 'manager', 'viewer')),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE audit_events (
  account_id     uuid NOT NULL REFERENCES accounts (account_id),
  id             uuid NOT NULL,
  occurred_at    timestamptz NOT NULL,
  actor_type     text NOT NULL CHECK (actor_type IN ('user', 'access_key', 'member', 'system')),
  actor_id       uuid,
  action         text NOT NULL,
  target_type    text NOT NULL,
  target_id      text,
  before         jsonb,
  after          jsonb,
  client_address text,
  user_agent     text,
  request_id     text,
  PRIMARY KEY (account_id, id)
);
CREATE INDEX audit_events_time_idx ON audit_events (account_id, occurred_at DESC, id DESC);

-- Changes to a person rather than to an account (password reset, email verification, sign-in).
CREATE TABLE user_audit_events (
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  id             uuid NOT NULL,
  occurred_at    timestamptz NOT NULL,
  action         text NOT NULL,
  before         jsonb,
  after          jsonb,
  client_address text,
  user_agent     text,
  request_id     text,
  PRIMARY KEY (user_id, id)
);

CREATE TABLE sessions (
  id_hash        bytea PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  client_address text,
  user_agent     text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE email_tokens (
  token_hash bytea PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  email      text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);

CREATE TABLE sign_in_throttle (
  key              text PRIMARY KEY,
  failures         integer NOT NULL,
  window_start     timestamptz NOT NULL,
  blocked_until    timestamptz
);

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON accounts USING (account_id = tessera_current_account());
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships USING (account_id = tessera_current_account());
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events USING (account_id = tessera_current_account());

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tessera_app;
-- tables of later migrations get the same grant without repeating it
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tessera_app;
