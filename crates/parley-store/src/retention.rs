//! Deleting what is past its retention, in batches so that no purge holds the writer for
//! long: transcripts of old calls, and old call records with everything about them.
use crate::tx::{execute, own_tx};
use crate::{Result, Tx};

/// Ended calls that are no campaign attempt still being settled: the ones that may go.
const ENDED_BEFORE: &str = "SELECT c.id FROM calls c WHERE c.ended_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM campaign_contacts cc WHERE cc.attempt_call_id = c.id)";

impl Tx {
    /// Deletes up to `limit` transcript turns of calls that ended before `before` (epoch
    /// ms). The call, its outcome, summary and analysis stay. Returns the turns deleted.
    pub async fn delete_transcripts_before(&mut self, before: i64, limit: i64) -> Result<u64> {
        self.point("delete_transcripts_before")?;
        Ok(execute!(
            self,
            sqlx::query(&format!(
                "DELETE FROM transcript_turns WHERE id IN (SELECT t.id FROM transcript_turns t \
                 WHERE t.call_id IN ({ENDED_BEFORE}) ORDER BY t.id LIMIT $2)"
            ))
            .bind(before)
            .bind(limit)
        )?)
    }

    /// Deletes up to `limit` calls that ended before `before` (epoch ms), with their
    /// events, transcript, tool calls and recording rows (the files go first, by the
    /// shorter recording retention), and forgets them as a contact's last call. The
    /// hourly analytics drop them too. Returns the calls deleted.
    pub async fn delete_calls_before(&mut self, before: i64, limit: i64) -> Result<u64> {
        self.point("delete_calls_before")?;
        let batch = format!("SELECT id FROM ({ENDED_BEFORE} ORDER BY c.id LIMIT $2) AS old");
        execute!(
            self,
            sqlx::query(&format!(
                "UPDATE campaign_contacts SET last_call_id = NULL WHERE last_call_id IN ({batch})"
            ))
            .bind(before)
            .bind(limit)
        )?;
        self.point("delete_calls_before.calls")?;
        Ok(execute!(
            self,
            sqlx::query(&format!("DELETE FROM calls WHERE id IN ({batch})"))
                .bind(before)
                .bind(limit)
        )?)
    }
}

own_tx! {
    fn delete_transcripts_before(before: i64, limit: i64) -> u64;
    fn delete_calls_before(before: i64, limit: i64) -> u64;
}
