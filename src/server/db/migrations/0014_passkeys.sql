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

-- Challenges already answered. A challenge is made without writing anything (random bytes, its
-- purpose, person and expiry, signed with a key derived from the server key: see
-- src/server/auth/webauthn.ts); the first answer to it inserts its hash here, so a second answer
-- to the same challenge finds it and is refused, on any node. Rows outlive their challenge's
-- expiry by nothing: expired ones are deleted as new ones are written.
CREATE TABLE spent_webauthn_challenges (
  challenge_hash  bytea PRIMARY KEY,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX spent_webauthn_challenges_expiry ON spent_webauthn_challenges (expires_at);
