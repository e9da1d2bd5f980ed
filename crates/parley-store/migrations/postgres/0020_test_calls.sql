-- Test calls ("Call me" on a campaign): placed with the campaign's agent and settings to
-- a number the operator types, kept with the campaign (so its calls list shows them) but
-- out of everything that counts the campaign's results. The analytics counters skip
-- them: a call's contribution is empty when it is a test (it stays one for good, so the
-- triggers' subtract-old/add-new arithmetic still balances).
ALTER TABLE calls ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT FALSE;

CREATE OR REPLACE VIEW call_contributions AS
SELECT c.id AS call_id,
    CASE WHEN e.every = 1 THEN 0 ELSE c.campaign_id END AS scope,
    c.created_at / 3600000 * 3600000 AS hour,
    1 AS dialed,
    (c.answered_at IS NOT NULL OR c.status = 'completed')::int AS answered,
    (c.answered_by IS NOT DISTINCT FROM 'human')::int AS human,
    (c.answered_by IS NOT NULL AND (c.answered_by LIKE 'machine%' OR c.answered_by = 'fax'))::int AS machine,
    (c.outcome IS NOT NULL AND c.outcome IN ('success', 'unsuccessful', 'conversation', 'opted_out'))::int AS conversations,
    (c.outcome IS NOT DISTINCT FROM 'success')::int AS successful,
    (c.outcome IS NOT DISTINCT FROM 'failed')::int AS failed,
    (c.outcome IS NOT DISTINCT FROM 'no_answer')::int AS no_answer,
    (c.outcome IS NOT DISTINCT FROM 'busy')::int AS busy,
    (c.outcome IS NOT DISTINCT FROM 'voicemail')::int AS voicemail,
    COALESCE(c.duration_seconds, 0) AS duration_seconds,
    (COALESCE(c.duration_seconds, 0) + 59) / 60 AS billed_minutes
FROM calls c
JOIN (SELECT 1 AS every UNION ALL SELECT 0) e ON e.every = 1 OR c.campaign_id IS NOT NULL
WHERE NOT c.is_test;
