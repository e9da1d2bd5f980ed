//! A call's warm transfer (migration 0022): its outcome and the target it stands at,
//! and the transfer counts analytics shows. The targets, whisper and rings themselves
//! are call events.
use crate::analytics::StatsRange;
use crate::error::StoreError;
use crate::tx::on_conn;
use crate::{on_reader, Db, Result, Store, Tx};
use parley_domain::time::now_millis;
use parley_domain::transfer::TransferOutcome;
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
