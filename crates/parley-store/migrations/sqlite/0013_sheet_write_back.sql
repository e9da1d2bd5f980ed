-- Google Sheets write-back. A contact imported from a spreadsheet remembers where it came
-- from (the sheet and row of its line, and the row its header is on), and a campaign
-- that writes back queues one row per contact here, in the transaction that settles the
-- contact's call. A newer settlement replaces the values still waiting (only the latest
-- are written); workers claim due rows with a lease, like the webhook outbox.
ALTER TABLE contacts ADD COLUMN sheet_spreadsheet_id TEXT;
ALTER TABLE contacts ADD COLUMN sheet_name TEXT;
ALTER TABLE contacts ADD COLUMN sheet_row INTEGER;
ALTER TABLE contacts ADD COLUMN sheet_header_row INTEGER;

CREATE TABLE sheet_writes (
    id              INTEGER PRIMARY KEY,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    -- the call whose settlement gave these values
    call_id         INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    spreadsheet_id  TEXT NOT NULL,
    sheet_name      TEXT NOT NULL,
    row_number      INTEGER NOT NULL,
    header_row      INTEGER NOT NULL,
    -- JSON array of [header, value] pairs, in the campaign's column order
    cells           TEXT NOT NULL,
    -- pending | retrying (failed, will retry) | written | failed (gave up)
    state           TEXT NOT NULL,
    -- bumped whenever newer values replace the cells; a lease finishes only its version
    version         INTEGER NOT NULL DEFAULT 1,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- when the next attempt is due; while an attempt is in flight, when its lease ends
    next_attempt_at INTEGER,
    lease_owner     TEXT,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    written_at      INTEGER,
    UNIQUE (campaign_id, contact_id)
);
CREATE INDEX sheet_writes_due ON sheet_writes(next_attempt_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX sheet_writes_campaign ON sheet_writes(campaign_id, state);
