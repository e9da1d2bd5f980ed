-- Events past retention are deleted with their deliveries (ON DELETE CASCADE): both the
-- check that none of an event's deliveries is still due and the cascade look deliveries
-- up by event.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
