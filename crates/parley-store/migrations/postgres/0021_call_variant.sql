-- The A/B variant a campaign call was placed with (its name in the campaign's settings
-- `variants`); NULL for calls of campaigns without variants and calls from before.
-- Analytics split a campaign's rates by it. Keep in step with ../sqlite/0021_call_variant.sql.
ALTER TABLE calls ADD COLUMN variant TEXT;
-- The per-variant split reads only a campaign's variant calls.
CREATE INDEX calls_campaign_variant ON calls(campaign_id, variant, created_at) WHERE variant IS NOT NULL;
