-- Billing: when the account took its plan, its billing details, and the invoices the payment
-- provider adapter issued (docs/billing.md).
ALTER TABLE accounts ADD COLUMN plan_since timestamptz NOT NULL DEFAULT now();
UPDATE accounts SET plan_since = created_at;

CREATE TABLE billing_details (
  account_id     uuid PRIMARY KEY REFERENCES accounts (account_id),
  legal_name     text NOT NULL,
  address_line1  text NOT NULL,
  address_line2  text,
  postal_code    text NOT NULL,
  city           text NOT NULL,
  region         text,
  country        char(2) NOT NULL,
  tax_id         text,
  billing_email  text NOT NULL,
  updated_at     timestamptz NOT NULL
);

CREATE TABLE invoices (
  account_id          uuid NOT NULL REFERENCES accounts (account_id),
  id                  uuid NOT NULL,
  -- sequential within the account: the account row lock serializes issuing
  sequence            integer NOT NULL CHECK (sequence > 0),
  plan_id             text NOT NULL,
  plan_name           text NOT NULL,
  period_start        timestamptz NOT NULL,
  period_end          timestamptz NOT NULL,
  amount              integer NOT NULL CHECK (amount >= 0),
  currency            char(3) NOT NULL,
  status              text NOT NULL CHECK (status IN ('open', 'paid', 'void')),
  provider            text NOT NULL,
  provider_reference  text,
  issued_at           timestamptz NOT NULL,
  PRIMARY KEY (account_id, id),
  UNIQUE (account_id, sequence),
  CHECK (period_end > period_start)
);

ALTER TABLE billing_details ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_details USING (account_id = tessera_current_account());
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices USING (account_id = tessera_current_account());
