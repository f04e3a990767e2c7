-- Two-factor sign-in (docs/two-factor.md). A second factor belongs to the person, not to an
-- account, so both tables are global, like users.
--
-- The TOTP secret must be read again to check each code, so it is sealed (AES-256-GCM under a key
-- derived from the server key, the user id bound in) rather than hashed. confirmed_at is null while
-- an enrolment waits for its first code; last_used_step is the 30-second step of the last code
-- accepted, so a code cannot be replayed within its step (or an earlier one).
CREATE TABLE two_factor_credentials (
  user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_sealed   bytea NOT NULL,
  created_at      timestamptz NOT NULL,
  confirmed_at    timestamptz,
  last_used_step  bigint
);

-- Ten single-use recovery codes per person, stored as the SHA-256 of the code (80 random bits,
-- so a plain hash is enough); using one deletes its row.
CREATE TABLE recovery_codes (
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  bytea NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);

-- Owners can require a second factor of everyone in their account.
ALTER TABLE accounts ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

-- An email change is confirmed from the new address: its link is an emailed token of its own.
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
