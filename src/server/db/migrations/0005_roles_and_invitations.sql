-- Roles at three scopes, and invitations.
--
-- memberships.role is the role on the whole account; null when a person holds roles only on
-- groups or organizations (role_grants). Owners exist at account scope alone.
ALTER TABLE memberships ALTER COLUMN role DROP NOT NULL;

CREATE TABLE role_grants (
  account_id       uuid NOT NULL,
  id               uuid NOT NULL,
  user_id          uuid NOT NULL,
  role             text NOT NULL CHECK (role IN ('manager', 'viewer')),
  group_id         uuid,
  organization_id  uuid,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (account_id, id),
  CHECK ((group_id IS NULL) <> (organization_id IS NULL)),
  FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, group_id) REFERENCES organization_groups (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);
-- one role per person and scope
CREATE UNIQUE INDEX role_grants_group_key ON role_grants (account_id, user_id, group_id) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX role_grants_organization_key ON role_grants (account_id, user_id, organization_id) WHERE organization_id IS NOT NULL;
-- a person's grants across accounts, read when a session is resolved
CREATE INDEX role_grants_user_idx ON role_grants (user_id);

-- An invitation to join an account with a role at one scope. The link secret is stored hashed;
-- resending replaces it, so the earlier link stops working.
CREATE TABLE invitations (
  account_id       uuid NOT NULL REFERENCES accounts (account_id),
  id               uuid NOT NULL,
  email            text NOT NULL,
  role             text NOT NULL CHECK (role IN ('owner', 'manager', 'viewer')),
  group_id         uuid,
  organization_id  uuid,
  token_hash       bytea NOT NULL,
  invited_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL,
  sent_at          timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  accepted_at      timestamptz,
  accepted_by      uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at       timestamptz,
  PRIMARY KEY (account_id, id),
  CHECK (group_id IS NULL OR organization_id IS NULL),
  CHECK (role <> 'owner' OR (group_id IS NULL AND organization_id IS NULL)),
  FOREIGN KEY (account_id, group_id) REFERENCES organization_groups (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);
-- The link carries only the secret, so it is found by hash across accounts (a lookup table on
-- Citus, like the other token hashes).
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- at most one pending invitation per address and account
CREATE UNIQUE INDEX invitations_pending_key ON invitations (account_id, lower(email))
  WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE role_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON role_grants USING (account_id = tessera_current_account());
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations USING (account_id = tessera_current_account());
