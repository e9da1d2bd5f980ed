-- The agent's structured results per call, typed: one row per data-collection item
-- ('data_collection') or evaluation criterion ('evaluation'). Written with the rest of
-- the post-call analysis, which stays in calls.analysis as it came.
CREATE TABLE call_results (
    call_id    BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    -- the call's campaign, copied so that a campaign's counts read one index, no join
    campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    -- 'string', 'number', 'boolean', 'null' or 'json' (a list or an object)
    value_type TEXT NOT NULL,
    -- the value as text; NULL for a null
    value      TEXT,
    rationale  TEXT,
    PRIMARY KEY (call_id, kind, name)
);
-- The calls list filtered by a result: calls with this field at this value.
CREATE INDEX call_results_value ON call_results(name, value, call_id);
-- A campaign's counts per field and value: grouped in index order.
CREATE INDEX call_results_campaign ON call_results(campaign_id, kind, name, value);
