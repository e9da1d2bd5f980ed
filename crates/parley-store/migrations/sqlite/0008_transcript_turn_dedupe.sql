-- A transcript turn the bridge writes again (after a failed write, say) is the same turn:
-- ElevenLabs numbers each turn's event, so (call, role, event) names it.
DELETE FROM transcript_turns WHERE event_id IS NOT NULL AND id NOT IN (
    SELECT MIN(id) FROM transcript_turns WHERE event_id IS NOT NULL
    GROUP BY call_id, role, event_id
);
CREATE UNIQUE INDEX transcript_turns_event
    ON transcript_turns(call_id, role, event_id) WHERE event_id IS NOT NULL;
