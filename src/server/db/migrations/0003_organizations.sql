-- Organizations (one per customer of a service provider), groups of organizations, the
-- organization each person works in, and devices.

CREATE TABLE organizations (
  account_id   uuid NOT NULL REFERENCES accounts (account_id),
  id           uuid NOT NULL,
  name         text NOT NULL,
  -- Lists sort and seek on this column rather than on lower(name): under row-level security a
  -- condition on lower() (not leakproof) is only a filter, never an index seek.
  name_key     text NOT NULL GENERATED ALWAYS AS (lower(name)) STORED,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (account_id, name_key);

CREATE TABLE organization_groups (
  account_id   uuid NOT NULL REFERENCES accounts (account_id),
  id           uuid NOT NULL,
  name         text NOT NULL,
  name_key     text NOT NULL GENERATED ALWAYS AS (lower(name)) STORED,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX organization_groups_name_key ON organization_groups (account_id, name_key);

-- An organization may be in several groups.
CREATE TABLE organization_group_members (
  account_id       uuid NOT NULL,
  group_id         uuid NOT NULL,
  organization_id  uuid NOT NULL,
  added_at         timestamptz NOT NULL,
  PRIMARY KEY (account_id, group_id, organization_id),
  FOREIGN KEY (account_id, group_id) REFERENCES organization_groups (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);
CREATE INDEX organization_group_members_org_idx ON organization_group_members (account_id, organization_id);

-- "Set Organization": kept per person and account, so it follows them to another browser.
CREATE TABLE selected_organizations (
  account_id       uuid NOT NULL,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  uuid NOT NULL,
  selected_at      timestamptz NOT NULL,
  PRIMARY KEY (account_id, user_id),
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id) ON DELETE CASCADE
);

CREATE TABLE devices (
  account_id       uuid NOT NULL,
  id               uuid NOT NULL,
  organization_id  uuid NOT NULL,
  name             text NOT NULL,
  name_key         text NOT NULL GENERATED ALWAYS AS (lower(name)) STORED,
  kind             text NOT NULL,
  identifier       text NOT NULL,
  notes            text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (account_id, id),
  -- no cascade: an organization that still holds devices is only deleted on request
  FOREIGN KEY (account_id, organization_id) REFERENCES organizations (account_id, id)
);
CREATE UNIQUE INDEX devices_identifier_key ON devices (account_id, lower(identifier));
-- keyset pagination by name: within an organization (portal), across the account (desktop client)
CREATE INDEX devices_org_name_idx ON devices (account_id, organization_id, name_key, id);
CREATE INDEX devices_name_idx ON devices (account_id, name_key, id);

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations USING (account_id = tessera_current_account());
ALTER TABLE organization_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organization_groups USING (account_id = tessera_current_account());
ALTER TABLE organization_group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organization_group_members USING (account_id = tessera_current_account());
ALTER TABLE selected_organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON selected_organizations USING (account_id = tessera_current_account());
ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON devices USING (account_id = tessera_current_account());
