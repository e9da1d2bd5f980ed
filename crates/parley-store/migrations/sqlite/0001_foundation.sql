-- Parley schema, SQLite flavour. Timestamps are UTC milliseconds since the epoch.
-- Keep in step with ../postgres/0001_foundation.sql: same tables, columns and indexes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    phone         TEXT NOT NULL UNIQUE,
    first_name    TEXT,
    last_name     TEXT,
    email         TEXT,
    company       TEXT,
    timezone      TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    -- lowercase "first last phone email" for text search
    search_text   TEXT NOT NULL DEFAULT '',
    import_id     INTEGER,
    import_line   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX contacts_created ON contacts(created_at, id);

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE contact_tags (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_tag ON contact_tags(tag_id, contact_id);

CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    filename    TEXT,
    state       TEXT NOT NULL,
    campaign_id INTEGER,
    rows_total  INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_by  TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE TABLE import_errors (
    import_id INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    message   TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);

CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT,
    state        TEXT NOT NULL,
    state_reason TEXT,
    settings     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    -- progress counters, kept in the same transaction as campaign_contacts changes
    total        INTEGER NOT NULL DEFAULT 0,
    pending      INTEGER NOT NULL DEFAULT 0,
    scheduled    INTEGER NOT NULL DEFAULT 0,
    in_progress  INTEGER NOT NULL DEFAULT 0,
    completed    INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    cancelled    INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_state ON campaigns(state, id);

CREATE TABLE campaign_contacts (
    campaign_id      INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id       INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    state            TEXT NOT NULL,
    -- 0 callback, 1 retry, 2 first attempt: the dialer's order among due contacts
    priority         INTEGER NOT NULL DEFAULT 2,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_outcome     TEXT,
    last_call_id     INTEGER,
    -- the call of the attempt in flight; set before Twilio is asked, cleared when settled
    attempt_call_id  INTEGER,
    -- attempts on the contact's local day `attempts_day` (YYYY-MM-DD), for the daily cap
    attempts_today   INTEGER NOT NULL DEFAULT 0,
    attempts_day     TEXT,
    reason           TEXT,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_contacts_due ON campaign_contacts(campaign_id, state, priority, next_attempt_at);
CREATE INDEX campaign_contacts_contact ON campaign_contacts(contact_id);
CREATE INDEX campaign_contacts_leases ON campaign_contacts(lease_expires_at) WHERE state = 'in_progress';

-- Token buckets for calls-per-second limits shared by every node (account, campaign).
CREATE TABLE rate_buckets (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE calls (
    id                 INTEGER PRIMARY KEY,
    campaign_id        INTEGER REFERENCES campaigns(id) ON DELETE SET NULL,
    contact_id         INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    attempt            INTEGER NOT NULL DEFAULT 1,
    to_number          TEXT NOT NULL,
    from_number        TEXT NOT NULL,
    agent_id           TEXT,
    status             TEXT NOT NULL,
    twilio_call_sid    TEXT UNIQUE,
    conversation_id    TEXT,
    answered_by        TEXT,
    termination_source TEXT,
    outcome            TEXT,
    error_code         TEXT,
    error_message      TEXT,
    duration_seconds   INTEGER,
    summary            TEXT,
    analysis           TEXT,
    cost               DOUBLE PRECISION,
    dynamic_variables  TEXT NOT NULL DEFAULT '{}',
    overrides          TEXT NOT NULL DEFAULT '{}',
    stream_token_hash  TEXT,
    -- when the post-call analysis was last looked for (webhook or REST fallback)
    post_call_checked_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    answered_at        INTEGER,
    ended_at           INTEGER
);
CREATE INDEX calls_campaign ON calls(campaign_id, id);
CREATE INDEX calls_contact ON calls(contact_id, id);
CREATE INDEX calls_status ON calls(status, id);
CREATE INDEX calls_outcome ON calls(outcome, id);
CREATE INDEX calls_created ON calls(created_at, id);
CREATE INDEX calls_conversation ON calls(conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX calls_awaiting_analysis ON calls(ended_at) WHERE analysis IS NULL AND conversation_id IS NOT NULL;

CREATE TABLE call_events (
    id         INTEGER PRIMARY KEY,
    call_id    INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    -- set for events that may be delivered twice (e.g. CallSid + SequenceNumber)
    dedupe_key TEXT,
    data       TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX call_events_call ON call_events(call_id, id);
CREATE UNIQUE INDEX call_events_dedupe ON call_events(call_id, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE transcript_turns (
    id                INTEGER PRIMARY KEY,
    call_id           INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    role              TEXT NOT NULL,
    text              TEXT NOT NULL,
    time_in_call_secs DOUBLE PRECISION,
    event_id          INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX transcript_turns_call ON transcript_turns(call_id, id);

CREATE TABLE recordings (
    id               INTEGER PRIMARY KEY,
    call_id          INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    recording_sid    TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    path             TEXT,
    content_type     TEXT,
    channels         INTEGER,
    duration_seconds INTEGER,
    size_bytes       INTEGER,
    created_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
CREATE INDEX recordings_call ON recordings(call_id);
CREATE INDEX recordings_created ON recordings(created_at) WHERE deleted_at IS NULL;

CREATE TABLE dnc_entries (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL,
    -- NULL: the global list
    campaign_id INTEGER REFERENCES campaigns(id) ON DELETE CASCADE,
    reason      TEXT,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX dnc_global ON dnc_entries(phone) WHERE campaign_id IS NULL;
CREATE UNIQUE INDEX dnc_campaign ON dnc_entries(campaign_id, phone) WHERE campaign_id IS NOT NULL;

CREATE TABLE webhook_subscriptions (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT NOT NULL,
    description TEXT,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_log_target ON audit_log(target_type, target_id, id);
