-- The agent's structured results per call, typed: one row per data-collection item
-- ('data_collection') or evaluation criterion ('evaluation'). Written with the rest of
-- the post-call analysis, which stays in calls.analysis as it came.
CREATE TABLE call_results (
    call_id    INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
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
