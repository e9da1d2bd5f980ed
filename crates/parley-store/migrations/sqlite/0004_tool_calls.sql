-- Every agent tool call: which call it belongs to (none when a server tool was called
-- without one), what was asked, what was answered, and how long it took.
CREATE TABLE tool_calls (
    id          INTEGER PRIMARY KEY,
    call_id     INTEGER REFERENCES calls(id) ON DELETE CASCADE,
    tool        TEXT NOT NULL,
    -- 'client' (over the conversation WebSocket) or 'server' (POST /tools/{name})
    via         TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    result      TEXT NOT NULL,
    is_error    BOOLEAN NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX tool_calls_call ON tool_calls(call_id, id);
