-- Consent records (issue 17): each contact's consent history, append-only. A row is a
-- grant of one consent type from a source (an import's file and line, a sheet's row, an
-- API key or user, a form URL), or a revocation (an opt-out on a call, the number put on
-- the global do-not-call list, or the API). The contact's current consent is its latest
-- row by captured_at (then id) unless that is a revocation; `contacts.consent_id` and
-- `contacts.consent_type` keep it, written in the same transaction as the row, so the
-- dialer's claim reads it without a join to the history.
--
-- Rows are never updated (the trigger refuses it); they are deleted only with their
-- contact (ON DELETE CASCADE: deleting a contact deletes everything about it).
CREATE TABLE consent_records (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    -- 'grant' or 'revocation'
    kind          TEXT NOT NULL,
    -- on a grant: 'express_written', 'express', 'existing_business_relationship', 'none'
    consent_type  TEXT,
    -- 'import', 'sheet', 'api', 'form', 'opt_out', 'do_not_call'
    source_kind   TEXT NOT NULL,
    source_detail TEXT NOT NULL,
    captured_at   INTEGER NOT NULL,
    consent_text  TEXT,
    consent_url   TEXT,
    recorded_at   INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL
);
CREATE INDEX consent_records_contact ON consent_records(contact_id, captured_at, id);

CREATE TRIGGER consent_records_append_only BEFORE UPDATE ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only');
END;

-- The current consent: the grant in force (NULL when there is none or it was revoked).
ALTER TABLE contacts ADD COLUMN consent_id INTEGER;
ALTER TABLE contacts ADD COLUMN consent_type TEXT;

-- Campaigns name the consent they require; new ones default to express_written. The
-- campaigns that exist already get `none`, so that running campaigns do not stop
-- dialling silently on upgrade: an operator raises it on purpose (README, "Consent").
UPDATE campaigns SET settings = json_set(settings, '$.required_consent', 'none');
