-- Mails to owners that must not repeat within a day (an allowance reached again and again):
-- when each kind was last sent. Claimed with one upsert, so two nodes never both send.
CREATE TABLE owner_notices (
  account_id  uuid NOT NULL REFERENCES accounts (account_id),
  kind        text NOT NULL,
  sent_at     timestamptz NOT NULL,
  PRIMARY KEY (account_id, kind)
);
ALTER TABLE owner_notices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON owner_notices USING (account_id = tessera_current_account());
