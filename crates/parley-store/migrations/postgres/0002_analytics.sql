-- Analytics aggregates, PostgreSQL flavour. Keep in step with ../sqlite/0002_analytics.sql.
--
-- Counters per UTC hour of call creation, for every call (campaign_id 0) and per campaign,
-- so dashboards never scan `calls`. Triggers keep them in the same transaction as the call
-- change that moves them, whichever code path writes the call: a change subtracts the row's
-- old contribution and adds its new one, so a repeated or out-of-order callback that
-- changes nothing counts nothing, and every call is counted exactly once.

CREATE TABLE call_stats_hourly (
    -- 0: every call; otherwise the calls of this campaign
    campaign_id      BIGINT NOT NULL,
    -- start of the UTC hour the calls were created in
    hour             BIGINT NOT NULL,
    dialed           BIGINT NOT NULL DEFAULT 0,
    answered         BIGINT NOT NULL DEFAULT 0,
    human            BIGINT NOT NULL DEFAULT 0,
    machine          BIGINT NOT NULL DEFAULT 0,
    conversations    BIGINT NOT NULL DEFAULT 0,
    successful       BIGINT NOT NULL DEFAULT 0,
    failed           BIGINT NOT NULL DEFAULT 0,
    no_answer        BIGINT NOT NULL DEFAULT 0,
    busy             BIGINT NOT NULL DEFAULT 0,
    voicemail        BIGINT NOT NULL DEFAULT 0,
    duration_seconds BIGINT NOT NULL DEFAULT 0,
    billed_minutes   BIGINT NOT NULL DEFAULT 0,
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
JOIN (SELECT 1 AS every UNION ALL SELECT 0) e ON e.every = 1 OR c.campaign_id IS NOT NULL;

-- The old contribution leaves before the row changes, the new one arrives after.
CREATE FUNCTION call_stats_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, -dialed, -answered, -human, -machine, -conversations, -successful, -failed, -no_answer, -busy, -voicemail, -duration_seconds, -billed_minutes
    FROM call_contributions WHERE call_id = OLD.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = call_stats_hourly.dialed + excluded.dialed, answered = call_stats_hourly.answered + excluded.answered, human = call_stats_hourly.human + excluded.human,
            machine = call_stats_hourly.machine + excluded.machine, conversations = call_stats_hourly.conversations + excluded.conversations, successful = call_stats_hourly.successful + excluded.successful,
            failed = call_stats_hourly.failed + excluded.failed, no_answer = call_stats_hourly.no_answer + excluded.no_answer, busy = call_stats_hourly.busy + excluded.busy,
            voicemail = call_stats_hourly.voicemail + excluded.voicemail, duration_seconds = call_stats_hourly.duration_seconds + excluded.duration_seconds, billed_minutes = call_stats_hourly.billed_minutes + excluded.billed_minutes;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION call_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
    SELECT scope, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes
    FROM call_contributions WHERE call_id = NEW.id
    ON CONFLICT (campaign_id, hour) DO UPDATE SET
            dialed = call_stats_hourly.dialed + excluded.dialed, answered = call_stats_hourly.answered + excluded.answered, human = call_stats_hourly.human + excluded.human,
            machine = call_stats_hourly.machine + excluded.machine, conversations = call_stats_hourly.conversations + excluded.conversations, successful = call_stats_hourly.successful + excluded.successful,
            failed = call_stats_hourly.failed + excluded.failed, no_answer = call_stats_hourly.no_answer + excluded.no_answer, busy = call_stats_hourly.busy + excluded.busy,
            voicemail = call_stats_hourly.voicemail + excluded.voicemail, duration_seconds = call_stats_hourly.duration_seconds + excluded.duration_seconds, billed_minutes = call_stats_hourly.billed_minutes + excluded.billed_minutes;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_stats_insert AFTER INSERT ON calls
FOR EACH ROW EXECUTE FUNCTION call_stats_add();

CREATE TRIGGER calls_stats_before_update BEFORE UPDATE ON calls
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.answered_at IS DISTINCT FROM NEW.answered_at
        OR OLD.answered_by IS DISTINCT FROM NEW.answered_by OR OLD.outcome IS DISTINCT FROM NEW.outcome
        OR OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
        OR OLD.created_at IS DISTINCT FROM NEW.created_at)
EXECUTE FUNCTION call_stats_remove();

CREATE TRIGGER calls_stats_after_update AFTER UPDATE ON calls
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.answered_at IS DISTINCT FROM NEW.answered_at
        OR OLD.answered_by IS DISTINCT FROM NEW.answered_by OR OLD.outcome IS DISTINCT FROM NEW.outcome
        OR OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
        OR OLD.created_at IS DISTINCT FROM NEW.created_at)
EXECUTE FUNCTION call_stats_add();

CREATE TRIGGER calls_stats_delete BEFORE DELETE ON calls
FOR EACH ROW EXECUTE FUNCTION call_stats_remove();

-- Backfill from the calls already stored.
INSERT INTO call_stats_hourly (campaign_id, hour, dialed, answered, human, machine, conversations, successful, failed, no_answer, busy, voicemail, duration_seconds, billed_minutes)
SELECT scope, hour, SUM(dialed), SUM(answered), SUM(human), SUM(machine), SUM(conversations), SUM(successful), SUM(failed), SUM(no_answer), SUM(busy), SUM(voicemail), SUM(duration_seconds), SUM(billed_minutes)
FROM call_contributions GROUP BY scope, hour;
