-- Warm transfers: how a call's transfer to a person went (`in_progress`, `connected`,
-- `no_answer`, `failed`; NULL: never transferred) and the 0-based index of the target
-- that connected or was tried last. The targets, whisper and each ring are call events.
ALTER TABLE calls ADD COLUMN transfer_outcome TEXT;
ALTER TABLE calls ADD COLUMN transfer_target BIGINT;
-- Analytics counts transfers from this index, which holds only transferred calls.
CREATE INDEX calls_transfers ON calls (created_at, campaign_id, transfer_outcome)
    WHERE transfer_outcome IS NOT NULL;
