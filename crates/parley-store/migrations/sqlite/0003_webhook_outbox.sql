-- Outbound webhooks: subscriptions, the outbox of events (written in the same transaction
-- as the change that caused them), one delivery per (subscription, event), and the log of
-- every attempt. Replaces the unused placeholders of 0001.
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_subscriptions;

CREATE TABLE webhook_subscriptions (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    -- JSON array of event type names, e.g. ["call.completed"]
    event_types TEXT NOT NULL,
    description TEXT,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    -- stable public id: the idempotency key of every delivery of this event
    event_id   TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    -- JSON object: the event's `data`
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events(created_at);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    -- pending | failed (will retry) | delivered | dead
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- when the next attempt is due; while an attempt is in flight, when its lease ends
    next_attempt_at  INTEGER,
    lease_owner      TEXT,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE state IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY,
    delivery_id     INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    url             TEXT NOT NULL,
    -- JSON object of the request headers sent (the signature included, the secret never)
    request_headers TEXT NOT NULL,
    response_status INTEGER,
    duration_ms     INTEGER NOT NULL,
    error           TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
