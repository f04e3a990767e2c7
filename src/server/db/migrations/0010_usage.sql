-- Usage over time: one row per account and day, written by the hourly roll-up
-- (src/server/domain/billing/usage.ts), so the billing page reads a few rows per day shown
-- instead of the leases behind them.
CREATE TABLE usage_daily (
  account_id          uuid NOT NULL REFERENCES accounts (account_id),
  day                 date NOT NULL,
  -- most connections open at one moment of the day (UTC)
  peak_connections    integer NOT NULL CHECK (peak_connections >= 0),
  -- the day's connection time, summed over connections, in minutes
  connection_minutes  integer NOT NULL CHECK (connection_minutes >= 0),
  -- team members and organizations at the last roll-up of the day
  members             integer NOT NULL CHECK (members >= 0),
  organizations       integer NOT NULL CHECK (organizations >= 0),
  computed_at         timestamptz NOT NULL,
  PRIMARY KEY (account_id, day)
);
ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_daily USING (account_id = tessera_current_account());

-- The roll-up reads the leases that ended on the day it sums: closed ones by when they closed
-- (the never-closed ones come from connection_leases_open_idx). Written once, at the close.
CREATE INDEX connection_leases_closed_idx ON connection_leases (account_id, closed_at) WHERE closed_at IS NOT NULL;
