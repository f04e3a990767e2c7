-- Passkeys (docs/passkeys.md): WebAuthn credentials of a person, each a second factor after the
-- password and a passwordless sign-in on its own. Global like two_factor_credentials: the person,
-- not an account, holds them.
--
-- credential_id is the authenticator's id in base64url, as browsers send it; the public key is
-- the COSE key from the attestation; sign_count is the authenticator's counter (0 for most synced
-- passkeys, which keep none), kept to spot a cloned authenticator whose counter goes backwards.
CREATE TABLE passkeys (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id text NOT NULL UNIQUE,
  public_key    bytea NOT NULL,
  sign_count    bigint NOT NULL,
  transports    text[] NOT NULL DEFAULT '{}',
  backed_up     boolean NOT NULL,
  aaguid        text NOT NULL,
  name          text NOT NULL,
  created_at    timestamptz NOT NULL,
  last_used_at  timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- The challenge of a ceremony waiting for the browser's answer. Deleting the row is what spends it,
-- so an answer is accepted once, on whichever node it reaches. A registration and a second step
-- name their person; a passwordless sign-in names nobody until the credential does.
CREATE TABLE webauthn_challenges (
  challenge   text PRIMARY KEY,
  purpose     text NOT NULL CHECK (purpose IN ('register', 'second_factor', 'sign_in')),
  user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
