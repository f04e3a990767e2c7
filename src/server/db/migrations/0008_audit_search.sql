-- Searching the audit log. Each filter of the search (actor, action, target id, target type) has
-- an index that returns the account's events in the search's order, newest first, so a page is an
-- index range read however many events the account holds; the time range alone uses
-- audit_events_time_idx. Target ids lead their index without the type before them: the portal
-- searches by id alone, and PostgreSQL before 18 cannot skip over a leading column.
CREATE INDEX audit_events_actor_idx ON audit_events (account_id, actor_id, occurred_at DESC, id DESC)
  WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_action_idx ON audit_events (account_id, action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_target_idx ON audit_events (account_id, target_id, occurred_at DESC, id DESC)
  WHERE target_id IS NOT NULL;
CREATE INDEX audit_events_target_type_idx ON audit_events (account_id, target_type, occurred_at DESC, id DESC);

-- Retention deletes personal events (sign-ins, password resets) by age across people.
CREATE INDEX user_audit_events_time_idx ON user_audit_events (occurred_at);
