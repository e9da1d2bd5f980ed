-- Analytics aggregates, SQLite flavour. Keep in step with ../postgres/0002_analytics.sql.
--
-- Counters per UTC hour of call creation, for every call (campaign_id 0) and per campaign,
-- so dashboards never scan `calls`. Triggers keep them in the same transaction as the call
-- change that moves them, whichever code path writes the call: a change subtracts the row's
-- old contribution and adds its new one, so a repeated or out-of-order callback that
-- changes nothing counts nothing, and every call is counted exactly once.

CREATE TABLE call_stats_hourly (
    -- 0: every call; otherwise the calls of this campaign
    campaign_id      INTEGER NOT NULL,
    -- start of the UTC hour the calls were created in
    hour             INTEGER NOT NULL,
    dialed           INTEGER NOT NULL DEFAULT 0,
    answered         INTEGER NOT NULL DEFAULT 0,
    human            INTEGER NOT NULL DEFAULT 0,
    machine          INTEGER NOT NULL DEFAULT 0,
    conversations    INTEGER NOT NULL DEFAULT 0,
    successful       INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    no_answer        INTEGER NOT NULL DEFAULT 0,
    busy             INTEGER NOT NULL DEFAULT 0,
    voicemail        INTEGER NOT NULL DEFAULT 0,
    duration_seconds INTEGER NOT NULL DEFAULT 0,
    billed_minutes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, hour)
);

-- What one call adds to the counters: a row for every call (scope 0) and one more for its
-- campaign. The definitions the API documents live here:
--   answered       answered (answered_at set) or completed
--   human          AMD said human; machine: machine_* or fax
--   conversations  the agent talked with a person: success, unsuccessful, conversation, opted_out
--   billed_minutes the duration rounded up to whole minutes, as carriers bill
CREATE VIEW call_contributions AS
SELECT c.id AS call_id,
    CASE WHEN e.every = 1 THEN 0 ELSE c.campaign_id END AS scope,
    c.created_at / 3600000 * 3600000 AS hour,
    1 AS dialed,
    c.answered_at IS NOT NULL OR c.status = 'completed' AS answered,
    c.answered_by IS 'human' AS human,
    c.answered_by IS NOT NULL AND (c.answered_by LIKE 'machine%' OR c.answered_by = 'fax') AS machine,
    c.outcome IS NOT NULL AND c.outcome IN ('success', 'unsuccessful', 'conversation', 'opted_out') AS conversations,
    c.outcome IS 'success' AS successful,
    c.outcome IS 'failed' AS failed,
    c.outcome IS 'no_answer' AS no_answer,
    c.outcome IS 'busy' AS busy,
    c.outcome IS 'voicemail' AS voicemail,
    COALESCE(c.duration_seconds, 0) AS duration_seconds,
    (COALESCE(c.duration_seconds, 0) + 59) / 60 AS billed_minutes
FROM calls c
JOIN (SELECT 1 AS every UNION ALL SELECT 0) e ON e.every = 1 OR c.campaign_id IS NOT NULL;

-- The old contribution leaves before the row changes, the new one arrives after.
CREATE TRIGGER calls_stats_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes
    FROM call_contributions WHERE call_id = NEW.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = dialed + excluded.dialed, answered = answered + excluded.answered, human = human + excluded.human,
            machine = machine + excluded.machine, conversations = conversations + excluded.conversations, successful = successful + excluded.successful,
            failed = failed + excluded.failed, no_answer = no_answer + excluded.no_answer, busy = busy + excluded.busy,
            voicemail = voicemail + excluded.voicemail, duration_seconds = duration_seconds + excluded.duration_seconds, billed_minutes = billed_minutes + excluded.billed_minutes;
END;

CREATE TRIGGER calls_stats_before_update BEFORE UPDATE ON calls
WHEN OLD.status IS NOT NEW.status OR OLD.answered_at IS NOT NEW.answered_at
    OR OLD.answered_by IS NOT NEW.answered_by OR OLD.outcome IS NOT NEW.outcome
    OR OLD.duration_seconds IS NOT NEW.duration_seconds OR OLD.campaign_id IS NOT NEW.campaign_id
    OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, -dialed, -answered, -human, -machine, -conversations, -successful, -failed, -no_answer, -busy, -voicemail, -duration_seconds, -billed_minutes
    FROM call_contributions WHERE call_id = OLD.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = dialed + excluded.dialed, answered = answered + excluded.answered, human = human + excluded.human,
            machine = machine + excluded.machine, conversations = conversations + excluded.conversations, successful = successful + excluded.successful,
            failed = failed + excluded.failed, no_answer = no_answer + excluded.no_answer, busy = busy + excluded.busy,
            voicemail = voicemail + excluded.voicemail, duration_seconds = duration_seconds + excluded.duration_seconds, billed_minutes = billed_minutes + excluded.billed_minutes;
END;

CREATE TRIGGER calls_stats_after_update AFTER UPDATE ON calls
WHEN OLD.status IS NOT NEW.status OR OLD.answered_at IS NOT NEW.answered_at
    OR OLD.answered_by IS NOT NEW.answered_by OR OLD.outcome IS NOT NEW.outcome
    OR OLD.duration_seconds IS NOT NEW.duration_seconds OR OLD.campaign_id IS NOT NEW.campaign_id
    OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes
    FROM call_contributions WHERE call_id = NEW.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = dialed + excluded.dialed, answered = answered + excluded.answered, human = human + excluded.human,
            machine = machine + excluded.machine, conversations = conversations + excluded.conversations, successful = successful + excluded.successful,
            failed = failed + excluded.failed, no_answer = no_answer + excluded.no_answer, busy = busy + excluded.busy,
            voicemail = voicemail + excluded.voicemail, duration_seconds = duration_seconds + excluded.duration_seconds, billed_minutes = billed_minutes + excluded.billed_minutes;
END;

CREATE TRIGGER calls_stats_delete BEFORE DELETE ON calls
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, -dialed, -answered, -human, -machine, -conversations, -successful, -failed, -no_answer, -busy, -voicemail, -duration_seconds, -billed_minutes
    FROM call_contributions WHERE call_id = OLD.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = dialed + excluded.dialed, answered = answered + excluded.answered, human = human + excluded.human,
            machine = machine + excluded.machine, conversations = conversations + excluded.conversations, successful = successful + excluded.successful,
            failed = failed + excluded.failed, no_answer = no_answer + excluded.no_answer, busy = busy + excluded.busy,
            voicemail = voicemail + excluded.voicemail, duration_seconds = duration_seconds + excluded.duration_seconds, billed_minutes = billed_minutes + excluded.billed_minutes;
END;

-- Backfill from the calls already stored.
INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
SELECT scope, hour, SUM(dialed), SUM(answered), SUM(human), SUM(machine), SUM(conversations), SUM(successful), SUM(failed), SUM(no_answer), SUM(busy), SUM(voicemail), SUM(duration_seconds), SUM(billed_minutes)
FROM call_contributions GROUP BY scope, hour;
