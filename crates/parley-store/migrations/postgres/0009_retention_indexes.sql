-- Retention deletes calls by when they ended, skipping those still an attempt being
-- settled: without these, each batch of the hourly purge would scan both tables.
CREATE INDEX calls_ended ON calls(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX campaign_contacts_attempt_call ON campaign_contacts(attempt_call_id)
    WHERE attempt_call_id IS NOT NULL;
