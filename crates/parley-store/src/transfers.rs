//! A call's warm transfer (migration 0022): its outcome and the target it stands at,
//! and the transfer counts analytics shows. The targets, whisper and rings themselves
//! are call events. `transfer_outcome` is plain text without a CHECK, the domain's
//! [`TransferOutcome`] names being the only values written, so an outcome added there
//! (`busy`) needs no migration.
use crate::analytics::StatsRange;
use crate::error::StoreError;
use crate::tx::{execute, on_conn};
use crate::{on_reader, Db, Result, Store, Tx};
use parley_domain::call::{CallStatus, TerminationSource};
use parley_domain::time::now_millis;
use parley_domain::transfer::{TransferOutcome, TRANSFERRED_REASON};
use sqlx::QueryBuilder;

/// Transfers of the calls created in a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferCounts {
    /// Calls the agent transferred (whatever came of it).
    pub attempted: i64,
    /// Of those, calls a person answered and was connected to.
    pub connected: i64,
}

impl Tx {
    /// Moves a call's transfer to `outcome` at target `target` if the domain's rule allows
    /// it ([`TransferOutcome::may_become`] and [`target_may_move`]; a call never
    /// transferred may only start ringing). The rule is the update's `WHERE`, so a late,
    /// repeated or out-of-order Twilio request, even one racing another on a second node,
    /// cannot rewrite a settled transfer. Returns whether it moved; `NotFound` when there
    /// is no such call.
    ///
    /// [`target_may_move`]: parley_domain::transfer::target_may_move
    pub async fn set_transfer(
        &mut self,
        call_id: i64,
        outcome: TransferOutcome,
        target: i64,
    ) -> Result<bool> {
        self.point("set_transfer")?;
        let from: Vec<&'static str> = TransferOutcome::ALL
            .iter()
            .filter(|o| o.may_become(outcome))
            .map(|o| o.as_str())
            .collect();
        let changed = on_conn!(self, c => {
            let mut qb = QueryBuilder::new("UPDATE calls SET transfer_outcome = ");
            qb.push_bind(outcome.as_str())
                .push(", transfer_target = ")
                .push_bind(target)
                .push(", updated_at = ")
                .push_bind(now_millis())
                .push(" WHERE id = ")
                .push_bind(call_id)
                .push(" AND (");
            if outcome.may_start() {
                qb.push("transfer_outcome IS NULL OR ");
            }
            // `target_may_move(from, to)`: `to >= from`.
            qb.push("(COALESCE(transfer_target, 0) <= ")
                .push_bind(target)
                .push(" AND transfer_outcome IN (");
            let mut sep = qb.separated(", ");
            // Never empty: `InProgress` may become anything.
            for o in &from {
                sep.push_bind(*o);
            }
            sep.push_unseparated(")))");
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
        if changed == 0 {
            self.get_call(call_id).await?; // `NotFound` when there is no such call
        }
        Ok(changed == 1)
    }

    /// Says in a call's termination how its transfer ended, while the agent's
    /// [`TRANSFERRED_REASON`] stands as what ended it (nothing else claimed the ending
    /// first). With `agent_goes_on` (the transfer never left the agent's conversation, as
    /// when Twilio refused the redirect) a call still up drops that claim instead, so
    /// whatever ends it later records its own cause; one that ended meanwhile says
    /// `reason`. Returns whether the termination changed.
    pub async fn restate_transfer_termination(
        &mut self,
        call_id: i64,
        reason: &str,
        agent_goes_on: bool,
    ) -> Result<bool> {
        self.point("restate_transfer_termination")?;
        let set = if agent_goes_on {
            // Static names from the domain, not input.
            let ended = CallStatus::ALL
                .iter()
                .filter(|s| s.is_final())
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "termination_source = CASE WHEN status IN ({ended}) THEN termination_source END, \
                 error_message = CASE WHEN status IN ({ended}) THEN $3 END"
            )
        } else {
            "error_message = $3".to_string()
        };
        let sql = format!(
            "UPDATE calls SET {set}, updated_at = $4 WHERE id = $1 \
             AND termination_source = $5 AND error_message = $2"
        );
        let changed = execute!(
            self,
            sqlx::query(&sql)
                .bind(call_id)
                .bind(TRANSFERRED_REASON)
                .bind(reason)
                .bind(now_millis())
                .bind(TerminationSource::Agent.as_str())
        )?;
        Ok(changed == 1)
    }
}

impl Db {
    /// A call's transfer outcome and target; `None` when it was never transferred.
    pub async fn call_transfer_state(
        &mut self,
        call_id: i64,
    ) -> Result<Option<(TransferOutcome, i64)>> {
        let row: Option<(Option<String>, Option<i64>)> = on_conn!(self, c => sqlx::query_as(
            "SELECT transfer_outcome, transfer_target FROM calls WHERE id = $1",
        )
        .bind(call_id)
        .fetch_optional(c)
        .await)?;
        let Some((outcome, target)) = row else {
            return Err(StoreError::NotFound);
        };
        let Some(outcome) = outcome else {
            return Ok(None);
        };
        let parsed = TransferOutcome::parse(&outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("call {call_id} transfer {outcome:?}")))?;
        Ok(Some((parsed, target.unwrap_or(0))))
    }
}

impl Store {
    pub async fn call_transfer_state(
        &self,
        call_id: i64,
    ) -> Result<Option<(TransferOutcome, i64)>> {
        self.reader().await?.call_transfer_state(call_id).await
    }

    /// Transfers of the calls created in `range`, `from` rounded down to its hour as the
    /// other counts are (the index `calls_transfers` holds only
    /// transferred calls, so this reads no others).
    pub async fn transfer_counts(&self, range: &StatsRange) -> Result<TransferCounts> {
        let (attempted, connected): (i64, i64) = on_reader!(self, pool => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN transfer_outcome = 'connected' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM calls WHERE transfer_outcome IS NOT NULL AND created_at >= $1 AND created_at < $2 \
             AND ($3 IS NULL OR campaign_id = $3)",
        )
        .bind(range.from - range.from.rem_euclid(3_600_000))
        .bind(range.to)
        .bind(range.campaign_id)
        .fetch_one(pool)
        .await)?;
        Ok(TransferCounts {
            attempted,
            connected,
        })
    }
}
