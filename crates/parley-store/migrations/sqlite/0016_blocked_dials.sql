-- Blocked dials kept as evidence (issue 17): each time the dialer held back a due contact
-- (its calling window, its state's hours, a frequency cap, a do-not-call list, the want of
-- consent), who, when, which rule and the rules file's version. One row per episode: a
-- contact held again for the same reason with no attempt between (`attempts` unchanged)
-- is the same episode. Written in the transaction that holds the contact; deleted after
-- `calls.blocked_dial_retention_days`.
-- Keep in step with ../postgres/0016_blocked_dials.sql.
CREATE TABLE blocked_dials (
    id            INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    phone         TEXT NOT NULL,
    -- `US-FL`-style code; NULL outside the US states
    jurisdiction  TEXT,
    -- calling_window, state_hours, frequency_cap, do_not_call, no_consent
    reason        TEXT NOT NULL,
    -- the citation, list or campaign window that held it
    rule          TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    -- the contact's attempts in the campaign when held: the episode's key
    attempts      INTEGER NOT NULL,
    -- epoch ms, the dialer's clock
    blocked_at    INTEGER NOT NULL,
    -- epoch ms it may be called again; NULL: not until something changes
    held_until    INTEGER
);
CREATE INDEX blocked_dials_campaign ON blocked_dials(campaign_id, blocked_at);
CREATE INDEX blocked_dials_contact ON blocked_dials(campaign_id, contact_id, id);
CREATE INDEX blocked_dials_age ON blocked_dials(blocked_at);
