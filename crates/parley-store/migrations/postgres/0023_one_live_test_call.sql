-- At most one live test call per campaign and number: a second "Call me" while the
-- phone still rings is refused by the database, also when two requests race. The
-- statuses are those `CallStatus::is_final` calls not final.
CREATE UNIQUE INDEX calls_one_live_test ON calls (campaign_id, to_number)
    WHERE is_test AND status IN ('queued', 'initiated', 'ringing', 'in-progress');
