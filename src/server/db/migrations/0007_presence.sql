-- Presence: one row per team member, whatever the number of heartbeats. A heartbeat writes only
-- when the state changes or the stored last_seen_at is older than the write granularity; whether
-- a member is online is derived from last_seen_at and the clock (a member whose heartbeats stop is
-- offline once the timeout has passed, with no job). session_id is the desktop session that sent
-- the last heartbeat: revoking it makes the member offline at once, and removing the member
-- removes the row.
CREATE TABLE member_presence (
  account_id    uuid NOT NULL,
  member_id     uuid NOT NULL,
  session_id    uuid NOT NULL,
  state         text NOT NULL CHECK (state IN ('online', 'away', 'offline')),
  last_seen_at  timestamptz NOT NULL,
  changed_at    timestamptz NOT NULL,
  PRIMARY KEY (account_id, member_id),
  FOREIGN KEY (account_id, member_id) REFERENCES team_members (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, session_id) REFERENCES client_sessions (account_id, id) ON DELETE CASCADE
);
CREATE INDEX member_presence_session_idx ON member_presence (account_id, session_id);

ALTER TABLE member_presence ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON member_presence USING (account_id = tessera_current_account());
