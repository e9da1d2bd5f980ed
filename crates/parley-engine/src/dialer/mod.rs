//! The campaign dialer. Every node runs one; they coordinate only through the database:
//! calls-per-second tokens and contact claims are taken there, so limits hold and no
//! contact is dialled twice however many nodes run.
//!
//! One tick: for each running campaign, take up to (free call slots) tokens from the
//! campaign's and the account's buckets, claim that many due contacts, and dial each claim
//! that is inside its calling window and on no do-not-call list. What follows a call is
//! decided in [`settle`] when the call is over.
mod choice;
mod dial;
pub(crate) use choice::agent_choice;
pub(crate) use dial::dynamic_variables;
pub mod settle;
mod sweep;

use crate::background::Stopping;
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::campaign::{Campaign, CampaignState};
use parley_store::{Bucket, ClaimLimits, PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

const TICK: Duration = Duration::from_millis(250);
/// How long a claim is held before another node may take the contact back; an attempt
/// is written within milliseconds of the claim.
const LEASE: Duration = Duration::from_secs(60);
/// Claims per campaign per tick, at most.
const MAX_BATCH: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum DialerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Call(#[from] crate::calls::CallError),
}

/// Told how long each claim transaction took (`parley bench` measures the dialer so).
pub type ClaimObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// What time the dialer takes it to be: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// One node's dialer.
#[derive(Clone)]
pub struct Dialer {
    engine: Engine,
    /// Identifies this node's claims.
    node: String,
    claim_observer: Option<ClaimObserver>,
    clock: Clock,
}

impl Dialer {
    pub fn new(engine: Engine) -> Dialer {
        let node = engine.node.clone();
        Dialer {
            engine,
            node,
            claim_observer: None,
            clock: Arc::new(chrono::Utc::now),
        }
    }

    /// Judges calling windows, caps and due times by `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Dialer {
        self.clock = clock;
        self
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }

    /// Reports the duration of every claim transaction to `observer`.
    pub fn observe_claims(mut self, observer: ClaimObserver) -> Dialer {
        self.claim_observer = Some(observer);
        self
    }

    /// Ticks until the node stops (see [`crate::background`]).
    pub async fn run(self, mut stopping: Stopping) {
        tracing::info!(node = %self.node, "dialer started");
        loop {
            // Jittered, so that nodes do not tick in lockstep and share the work.
            let jitter = rand::random::<f64>() + 0.5;
            if !stopping
                .before_next(tokio::time::sleep(TICK.mul_f64(jitter)))
                .await
            {
                break;
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "dialer tick failed");
            }
        }
    }

    /// One pass over every running campaign.
    pub async fn tick(&self) -> Result<(), DialerError> {
        let now = self.now().timestamp_millis();
        self.engine.store.recover_expired_claims(now).await?;
        self.sweep(now).await?;
        // A full account starts nothing: checked once a tick, before any campaign takes
        // pacing tokens it could not use (the claim checks again, under its lock).
        let limit = i64::from(self.engine.settings.dialer.max_concurrent_calls);
        let account_full = self.engine.store.account_load().await?.total() >= limit;
        let mut page = PageRequest::first(100);
        loop {
            let campaigns = self
                .engine
                .store
                .list_campaigns(Some(CampaignState::Running), page)
                .await?;
            for campaign in &campaigns.items {
                self.dial_campaign(campaign, now, account_full).await?;
            }
            match campaigns.next_before_id {
                Some(id) => page.before_id = Some(id),
                None => return Ok(()),
            }
        }
    }

    async fn dial_campaign(
        &self,
        campaign: &Campaign,
        now: i64,
        account_full: bool,
    ) -> Result<(), DialerError> {
        let store = &self.engine.store;
        if store.complete_campaign_if_done(campaign.id).await? {
            tracing::info!(campaign_id = campaign.id, "campaign completed");
            self.engine.publish(LiveEvent::CampaignChanged {
                campaign_id: campaign.id,
                state: CampaignState::Completed,
            });
            return Ok(());
        }
        let s = &campaign.settings;
        // Past the end date in every time zone (UTC-12 is the last to reach it).
        let last_day_anywhere = (self.now() - chrono::TimeDelta::hours(12)).date_naive();
        if s.end_date.is_some_and(|end| end < last_day_anywhere) {
            self.engine
                .pause_campaign(campaign.id, "the campaign's end date has passed")
                .await?;
            return Ok(());
        }
        let free = i64::from(s.max_concurrent_calls) - campaign.progress.in_progress;
        let due = campaign.progress.pending + campaign.progress.scheduled;
        if free <= 0 || due == 0 || account_full {
            return Ok(());
        }
        let account = self.engine.settings.dialer.account_calls_per_second;
        let buckets = [
            Bucket {
                key: "account".into(),
                rate: account,
                burst: account.max(1.0),
            },
            Bucket {
                key: format!("campaign:{}", campaign.id),
                rate: s.calls_per_second,
                burst: s.calls_per_second.max(1.0),
            },
        ];
        let want = free.min(due).min(MAX_BATCH) as u32;
        let granted = store.take_tokens(&buckets, want, now).await?;
        metrics::counter!("parley_dialer_pacing_deferred_total")
            .increment(u64::from(want.saturating_sub(granted)));
        if granted == 0 {
            return Ok(());
        }
        let lease_until = now + LEASE.as_millis() as i64;
        let claiming = std::time::Instant::now();
        let claims = store
            .claim_due_contacts(
                campaign.id,
                &self.node,
                now,
                lease_until,
                i64::from(granted),
                ClaimLimits {
                    campaign: i64::from(s.max_concurrent_calls),
                    account: Some(i64::from(self.engine.settings.dialer.max_concurrent_calls)),
                },
            )
            .await?;
        let took = claiming.elapsed();
        metrics::histogram!("parley_dialer_claim_duration_seconds").record(took.as_secs_f64());
        metrics::counter!("parley_dialer_claims_total").increment(claims.len() as u64);
        if let Some(observe) = &self.claim_observer {
            observe(took);
        }
        for claim in claims {
            let (dialer, campaign) = (self.clone(), campaign.clone());
            let (campaign_id, contact_id) = (claim.campaign_id, claim.contact_id);
            let span = tracing::info_span!("dial", node = %self.node, campaign_id, contact_id);
            tokio::spawn(
                async move {
                    if let Err(e) = dialer.dial_claim(&campaign, claim).await {
                        tracing::warn!(error = %e, "dialling a claimed contact failed");
                    }
                }
                .instrument(span),
            );
        }
        Ok(())
    }
}
