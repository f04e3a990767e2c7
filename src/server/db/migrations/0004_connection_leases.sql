-- Connection leases: a desktop client's connection to a device, counted against the member's
-- fixed limit (if any) and the account's plan allowance, one connection per device.
--
-- Limits are rows, not counters: one row per unit of allowance (account_slots), per unit of a
-- member's fixed limit (member_slots), and the device row itself. Opening a lease claims a free
-- or expired row of each with FOR UPDATE SKIP LOCKED, so concurrent opens of one account spread
-- over different rows instead of queueing on one counter, and more leases than rows cannot
-- exist by construction. An expired lease frees its rows by itself: the claim treats an expired
-- row as free, in the same statement. Slot rows are created on first need, numbered 1..limit;
-- a lowered limit simply stops the higher numbers from being claimed.

CREATE TABLE account_slots (
  account_id  uuid NOT NULL REFERENCES accounts (account_id),
  slot        integer NOT NULL CHECK (slot > 0),
  lease_id    uuid,
  expires_at  timestamptz,
  PRIMARY KEY (account_id, slot)
);
CREATE INDEX account_slots_lease_idx ON account_slots (account_id, lease_id) WHERE lease_id IS NOT NULL;

CREATE TABLE member_slots (
  account_id  uuid NOT NULL,
  member_id   uuid NOT NULL,
  slot        integer NOT NULL CHECK (slot > 0),
  lease_id    uuid,
  expires_at  timestamptz,
  PRIMARY KEY (account_id, member_id, slot),
  FOREIGN KEY (account_id, member_id) REFERENCES team_members (account_id, id) ON DELETE CASCADE
);
CREATE INDEX member_slots_lease_idx ON member_slots (account_id, lease_id) WHERE lease_id IS NOT NULL;

ALTER TABLE devices ADD COLUMN lease_id uuid, ADD COLUMN lease_expires_at timestamptz;
CREATE INDEX devices_lease_idx ON devices (account_id, lease_id) WHERE lease_id IS NOT NULL;

-- The record of every lease: who, which device, from when to when. A lease counts while
-- closed_at is null and expires_at is in the future.
CREATE TABLE connection_leases (
  account_id         uuid NOT NULL,
  id                 uuid NOT NULL,
  member_id          uuid NOT NULL,
  device_id          uuid NOT NULL,
  client_session_id  uuid,
  account_slot       integer NOT NULL,
  member_slot        integer,
  opened_at          timestamptz NOT NULL,
  renewed_at         timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  closed_at          timestamptz,
  close_reason       text,
  PRIMARY KEY (account_id, id)
);
CREATE INDEX connection_leases_open_idx ON connection_leases (account_id, member_id) WHERE closed_at IS NULL;
CREATE INDEX connection_leases_session_idx ON connection_leases (account_id, client_session_id) WHERE closed_at IS NULL;

ALTER TABLE account_slots ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON account_slots USING (account_id = tessera_current_account());
ALTER TABLE member_slots ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON member_slots USING (account_id = tessera_current_account());
ALTER TABLE connection_leases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON connection_leases USING (account_id = tessera_current_account());

-- Claims the lowest free (or expired) slot of 1..p_limit for a lease; when none is free, makes
-- sure rows 1..p_limit exist (created on first need) and tries once more. Returns the slot
-- number, or null when all are taken.
CREATE FUNCTION tessera_claim_account_slot(p_account uuid, p_lease uuid, p_now timestamptz, p_expires timestamptz, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_slot integer;
BEGIN
  FOR attempt IN 1..2 LOOP
    UPDATE account_slots s SET lease_id = p_lease, expires_at = p_expires
     WHERE s.account_id = p_account AND s.slot = (
       SELECT f.slot FROM account_slots f
        WHERE f.account_id = p_account AND f.slot <= p_limit AND (f.expires_at IS NULL OR f.expires_at <= p_now)
        ORDER BY f.slot LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING s.slot INTO v_slot;
    IF v_slot IS NOT NULL OR attempt = 2 THEN RETURN v_slot; END IF;
    INSERT INTO account_slots (account_id, slot) SELECT p_account, g FROM generate_series(1, p_limit) g ON CONFLICT DO NOTHING;
    -- claim again even if another open created the rows first: this statement's fresh
    -- snapshot sees them (refusing here turned a race of first opens into false refusals)
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION tessera_claim_member_slot(p_account uuid, p_member uuid, p_lease uuid, p_now timestamptz, p_expires timestamptz, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_slot integer;
BEGIN
  FOR attempt IN 1..2 LOOP
    UPDATE member_slots s SET lease_id = p_lease, expires_at = p_expires
     WHERE s.account_id = p_account AND s.member_id = p_member AND s.slot = (
       SELECT f.slot FROM member_slots f
        WHERE f.account_id = p_account AND f.member_id = p_member AND f.slot <= p_limit
          AND (f.expires_at IS NULL OR f.expires_at <= p_now)
        ORDER BY f.slot LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING s.slot INTO v_slot;
    IF v_slot IS NOT NULL OR attempt = 2 THEN RETURN v_slot; END IF;
    INSERT INTO member_slots (account_id, member_id, slot) SELECT p_account, p_member, g FROM generate_series(1, p_limit) g ON CONFLICT DO NOTHING;
    -- claim again even if another open created the rows first: this statement's fresh
    -- snapshot sees them (refusing here turned a race of first opens into false refusals)
  END LOOP;
  RETURN NULL;
END $$;

-- Opens a lease in one statement (one round trip): account slot, member slot when the member has
-- a fixed limit, the device, the record. A refusal raises, so nothing claimed stays claimed:
--   TSL01 account allowance reached, TSL02 member limit reached, TSL03 device busy,
--   TSL04 no such device, TSL05 no such member.
CREATE FUNCTION tessera_open_lease(p_account uuid, p_member uuid, p_device uuid, p_session uuid, p_lease uuid,
                                              p_now timestamptz, p_expires timestamptz, p_allowance integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_limit integer;
  v_account_slot integer;
  v_member_slot integer;
BEGIN
  -- one statement, one round trip: the function scopes itself to the account, as inTenant does
  PERFORM set_config('role', 'tessera_app', true), set_config('tessera.account_id', p_account::text, true);
  SELECT connection_limit INTO v_limit FROM team_members WHERE account_id = p_account AND id = p_member;
  IF NOT FOUND THEN RAISE EXCEPTION 'no such member' USING ERRCODE = 'TSL05'; END IF;
  IF NOT EXISTS (SELECT 1 FROM devices WHERE account_id = p_account AND id = p_device) THEN
    RAISE EXCEPTION 'no such device' USING ERRCODE = 'TSL04';
  END IF;
  v_account_slot := tessera_claim_account_slot(p_account, p_lease, p_now, p_expires, p_allowance);
  IF v_account_slot IS NULL THEN RAISE EXCEPTION 'account allowance reached' USING ERRCODE = 'TSL01'; END IF;
  IF v_limit IS NOT NULL THEN
    v_member_slot := tessera_claim_member_slot(p_account, p_member, p_lease, p_now, p_expires, v_limit);
    IF v_member_slot IS NULL THEN RAISE EXCEPTION 'member limit reached' USING ERRCODE = 'TSL02'; END IF;
  END IF;
  UPDATE devices SET lease_id = p_lease, lease_expires_at = p_expires
   WHERE account_id = p_account AND id = p_device AND (lease_expires_at IS NULL OR lease_expires_at <= p_now);
  IF NOT FOUND THEN RAISE EXCEPTION 'device busy' USING ERRCODE = 'TSL03'; END IF;
  INSERT INTO connection_leases (account_id, id, member_id, device_id, client_session_id, account_slot, member_slot,
                                 opened_at, renewed_at, expires_at)
  VALUES (p_account, p_lease, p_member, p_device, p_session, v_account_slot, v_member_slot, p_now, p_now, p_expires);
END $$;

-- Extends a live lease and the rows it holds. TSL06: no such live lease (closed, expired, unknown,
-- or expired long enough for another lease to take one of its rows: a renewal stamped before
-- that would otherwise keep a lease alive beside the one now holding its slot).
CREATE FUNCTION tessera_renew_lease(p_account uuid, p_member uuid, p_lease uuid, p_now timestamptz, p_expires timestamptz)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_member_slot integer;
  v_device uuid;
BEGIN
  -- one statement, one round trip: the function scopes itself to the account, as inTenant does
  PERFORM set_config('role', 'tessera_app', true), set_config('tessera.account_id', p_account::text, true);
  UPDATE connection_leases SET expires_at = p_expires, renewed_at = p_now
   WHERE account_id = p_account AND id = p_lease AND member_id = p_member AND closed_at IS NULL AND expires_at > p_now
  RETURNING member_slot, device_id INTO v_member_slot, v_device;
  IF NOT FOUND THEN RAISE EXCEPTION 'no such live lease' USING ERRCODE = 'TSL06'; END IF;
  -- the rows it claimed, unless another lease has taken them since it expired
  UPDATE account_slots SET expires_at = p_expires WHERE account_id = p_account AND lease_id = p_lease;
  IF NOT FOUND THEN RAISE EXCEPTION 'no such live lease' USING ERRCODE = 'TSL06'; END IF;
  IF v_member_slot IS NOT NULL THEN
    UPDATE member_slots SET expires_at = p_expires WHERE account_id = p_account AND lease_id = p_lease;
    IF NOT FOUND THEN RAISE EXCEPTION 'no such live lease' USING ERRCODE = 'TSL06'; END IF;
  END IF;
  UPDATE devices SET lease_expires_at = p_expires WHERE account_id = p_account AND lease_id = p_lease;
  IF NOT FOUND THEN RAISE EXCEPTION 'no such live lease' USING ERRCODE = 'TSL06'; END IF;
  RETURN v_device;
END $$;

-- Closes leases and frees what they hold; returns how many it closed. A freed row keeps the close
-- time as its expiry, and a claim takes a row only if that time is not after its own: an open
-- stamped before the close (its request waited for a connection) is refused, so in the record
-- each row's leases follow one another and never overlap.
CREATE FUNCTION tessera_close_leases(p_account uuid, p_leases uuid[], p_now timestamptz, p_reason text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_closed integer;
BEGIN
  UPDATE connection_leases SET closed_at = p_now, close_reason = p_reason
   WHERE account_id = p_account AND id = ANY (p_leases) AND closed_at IS NULL;
  GET DIAGNOSTICS v_closed = ROW_COUNT;
  UPDATE account_slots SET lease_id = NULL, expires_at = least(expires_at, p_now) WHERE account_id = p_account AND lease_id = ANY (p_leases);
  UPDATE member_slots SET lease_id = NULL, expires_at = least(expires_at, p_now) WHERE account_id = p_account AND lease_id = ANY (p_leases);
  UPDATE devices SET lease_id = NULL, lease_expires_at = least(lease_expires_at, p_now) WHERE account_id = p_account AND lease_id = ANY (p_leases);
  RETURN v_closed;
END $$;

-- A desktop client closes its own lease, in one statement. TSL06: not this member's open lease.
CREATE FUNCTION tessera_close_own_lease(p_account uuid, p_member uuid, p_lease uuid, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- one statement, one round trip: the function scopes itself to the account, as inTenant does
  PERFORM set_config('role', 'tessera_app', true), set_config('tessera.account_id', p_account::text, true);
  IF NOT EXISTS (SELECT 1 FROM connection_leases WHERE account_id = p_account AND id = p_lease AND member_id = p_member) THEN
    RAISE EXCEPTION 'no such lease' USING ERRCODE = 'TSL06';
  END IF;
  PERFORM tessera_close_leases(p_account, ARRAY[p_lease], p_now, 'closed_by_client');
END $$;
