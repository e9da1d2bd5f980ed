-- The dialer's claim walks a campaign's due contacts in claim order (priority, due time,
-- contact). The (campaign_id, state, ...) index cannot give that order across the two
-- claimable states, so each claim sorted every due contact: 0.4 s per claim at 1M
-- contacts. This partial index holds only claimable rows, already in claim order.
CREATE INDEX campaign_contacts_claim_order
    ON campaign_contacts(campaign_id, priority, (COALESCE(next_attempt_at, 0)), contact_id)
    WHERE state IN ('pending', 'scheduled');
