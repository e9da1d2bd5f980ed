-- Per-call quality, measured by the bridge and written with the end of the bridged call
-- (one row per call), and its counts per campaign and UTC hour of the answer, so that
-- the rolling 30-day abandonment rate (47 CFR 64.1200(a)(7)) reads at most 720 rows.
-- Keep in step with ../sqlite/0014_call_quality.sql.
CREATE TABLE call_quality (
    call_id              BIGINT PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    -- the call's campaign when it ended
    campaign_id          BIGINT REFERENCES campaigns(id) ON DELETE SET NULL,
    -- epoch ms: when the media stream's `start` reached Parley (the answer)
    answered_at          BIGINT NOT NULL,
    frames_from_caller   BIGINT NOT NULL,
    frames_to_agent      BIGINT NOT NULL,
    frames_from_agent    BIGINT NOT NULL,
    frames_to_caller     BIGINT NOT NULL,
    -- gaps over 60 ms between caller frames (Twilio timestamps or arrival)
    caller_gaps          BIGINT NOT NULL,
    interruptions        BIGINT NOT NULL,
    -- answer to the agent's first audio sent to Twilio; NULL: none was sent
    first_audio_ms       BIGINT,
    -- end of a caller turn (user_transcript) to the next agent audio, mean over `responses`
    response_ms_mean     DOUBLE PRECISION,
    responses            BIGINT NOT NULL,
    -- Parley's own added latency per relayed frame, microseconds
    added_latency_p50_us BIGINT,
    added_latency_p99_us BIGINT,
    added_latency_max_us BIGINT,
    live_answered        BOOLEAN NOT NULL,
    abandoned            BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL
);

CREATE TABLE campaign_quality_hourly (
    campaign_id      BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    -- start of the UTC hour the calls were answered in
    hour             BIGINT NOT NULL,
    calls            BIGINT NOT NULL DEFAULT 0,
    live_answered    BIGINT NOT NULL DEFAULT 0,
    abandoned        BIGINT NOT NULL DEFAULT 0,
    -- first audio over 1 s after the answer
    slow_first_audio BIGINT NOT NULL DEFAULT 0,
    -- added latency p99 over 5 ms
    slow_relay       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, hour)
);
