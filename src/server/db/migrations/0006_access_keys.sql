-- Access keys: secrets that let a program call the management API for one account, with one
-- role at one scope (the whole account, a group, or an organization). Only the SHA-256 of the
-- secret is stored; the secret is shown once, when the key is made. A key cannot be changed:
-- to change its role or scope, make another and revoke this one. Revoking deletes the row (the
-- audit record keeps what it was); a deleted group or organization takes its keys with it.
CREATE TABLE access_keys (
  account_id       uuid NOT NULL REFERENCES accounts (account_id),
  id               uuid NOT NULL,
  name             text NOT NULL,
  role             text NOT NULL CHECK (role IN ('owner', 'manager', 'viewer')),
  group_id         uuid,
  organization_id  uuid,
  secret_hash      bytea NOT NULL,
  -- the first characters of the secret, to recognise it in a list
  prefix           text NOT NULL,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz,
  last_used_at     timestamptz,
  PRIMARY KEY (account_id, id),
  CHECK (group_id IS NULL OR organization_id IS NULL),
  CHECK (role <> 'owner' OR (group_id IS NULL AND organization_id IS NULL)),
  FOREIGN KEY (account_id, group_id) REFERENCES organization_groups (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);
-- A request carries only the secret, so the key is found by hash across accounts (a lookup
-- table on Citus, like the other secret hashes).
CREATE UNIQUE INDEX access_keys_secret_key ON access_keys (secret_hash);
-- one name per key in an account, so a list reads unambiguously
CREATE UNIQUE INDEX access_keys_name_key ON access_keys (account_id, lower(name));

ALTER TABLE access_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON access_keys USING (account_id = tessera_current_account());
