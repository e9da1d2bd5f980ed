//! The account-wide concurrent-call limit, held in the database so that every node's
//! claims count against the same total. Claims serialize on one lock (a transaction-level
//! advisory lock on PostgreSQL; SQLite has a single writer), so two nodes never both see
//! the last free slot.
use crate::tx::{on_conn, own_reader};
use crate::{Db, Result, Tx};
use parley_domain::call::CallStatus;
use parley_domain::capacity::{account_grant, due_count_cap, Demand};
use sqlx::QueryBuilder;

/// The advisory lock key the account's claims serialize on ("parley capacity").
const CAPACITY_LOCK: i64 = 0x7061_726c_6579_6361;

/// The limits a claim must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimits {
    /// Contacts of this campaign in progress, at most.
    pub campaign: i64,
    /// Calls in progress across the account (every campaign, every node), at most.
    pub account: Option<i64>,
}

impl ClaimLimits {
    /// Only the campaign's own limit.
    pub fn campaign(max_in_progress: i64) -> ClaimLimits {
        ClaimLimits {
            campaign: max_in_progress,
            account: None,
        }
    }
}

/// Calls in progress across the account, as the dialer counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLoad {
    /// Contacts being dialled or on a call, over every campaign.
    pub campaign_calls: i64,
    /// Calls placed on their own that are not over.
    pub single_calls: i64,
}

impl AccountLoad {
    pub fn total(&self) -> i64 {
        self.campaign_calls + self.single_calls
    }
}

impl Tx {
    /// How many calls `campaign_id` may start now within the account's `limit`, keeping
    /// the fair shares of the other campaigns that wait (see [`account_grant`]). Takes
    /// the account's claim lock until the transaction ends.
    pub(crate) async fn account_slots(
        &mut self,
        campaign_id: i64,
        now: i64,
        limit: i64,
    ) -> Result<i64> {
        self.point("account_slots")?;
        if let crate::tx::Conn::Postgres(c) = self.conn() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CAPACITY_LOCK)
                .execute(&mut *c)
                .await?;
        }
        // Campaigns holding calls (paused ones finish theirs) or, running, with work.
        let campaigns: Vec<(i64, i64, String)> = on_conn!(self, c => sqlx::query_as(
            "SELECT id, in_progress, state FROM campaigns \
             WHERE in_progress > 0 OR (state = 'running' AND pending + scheduled > 0)",
        )
        .fetch_all(c)
        .await)?;
        let mut me = Demand {
            in_progress: 0,
            due: 0,
        };
        let mut others = Vec::with_capacity(campaigns.len());
        let mut others_in_progress = 0;
        for (id, in_progress, state) in campaigns {
            if id == campaign_id {
                me.in_progress = in_progress;
                continue;
            }
            others_in_progress += in_progress;
            let due = if state == "running" {
                self.due_contacts(id, now, due_count_cap(limit)).await?
            } else {
                0
            };
            others.push(Demand { in_progress, due });
        }
        let single = self.single_calls_in_progress().await?;
        Ok(account_grant(
            limit,
            me,
            &others,
            others_in_progress + single,
        ))
    }
}

impl Db {
    /// Contacts of a campaign due at `now`, counted up to `cap`.
    async fn due_contacts(&mut self, campaign_id: i64, now: i64, cap: i64) -> Result<i64> {
        let (n,): (i64,) = on_conn!(self, c => sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT 1 FROM campaign_contacts \
               WHERE campaign_id = $1 AND state IN ('pending', 'scheduled') \
                 AND (next_attempt_at IS NULL OR next_attempt_at <= $2) LIMIT $3) due",
        )
        .bind(campaign_id)
        .bind(now)
        .bind(cap)
        .fetch_one(c)
        .await)?;
        Ok(n)
    }

    /// Calls placed on their own (no campaign, or a campaign's test call: no attempt
    /// counts it in the campaign's `in_progress`) that are not over, from the status index.
    pub(crate) async fn single_calls_in_progress(&mut self) -> Result<i64> {
        let (n,): (i64,) = on_conn!(self, c => {
            let mut qb = QueryBuilder::new(
                "SELECT COUNT(*) FROM calls WHERE (campaign_id IS NULL OR is_test) AND status IN (",
            );
            let mut sep = qb.separated(", ");
            for s in CallStatus::ALL.iter().filter(|s| !s.is_final()) {
                sep.push_bind(s.as_str());
            }
            qb.push(")");
            qb.build_query_as().fetch_one(c).await
        })?;
        Ok(n)
    }

    /// Calls in progress across the account now.
    pub async fn account_load(&mut self) -> Result<AccountLoad> {
        let (campaign_calls,): (i64,) = on_conn!(self, c => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(in_progress), 0) AS BIGINT) FROM campaigns",
        )
        .fetch_one(c)
        .await)?;
        let single_calls = self.single_calls_in_progress().await?;
        Ok(AccountLoad {
            campaign_calls,
            single_calls,
        })
    }
}

own_reader! {
    fn account_load() -> AccountLoad;
}
