-- Sign-in with an OpenID Connect provider (docs/oidc.md). A linked identity is the provider's
-- name for a person (issuer + subject), so it is global like users: the person, not an account,
-- signs in with it. The email is the one the provider vouched for when it was linked, for display.
CREATE TABLE linked_identities (
  id         uuid PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  issuer     text NOT NULL,
  subject    text NOT NULL,
  email      text NOT NULL,
  linked_at  timestamptz NOT NULL,
  UNIQUE (issuer, subject)
);
CREATE INDEX linked_identities_user ON linked_identities (user_id);
