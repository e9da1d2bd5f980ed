//! Deleting what is past its retention, once an hour: call recordings, and webhook
//! events whose deliveries all finished, with their delivery logs. The same pass closes
//! imports whose process stopped part-way.
use crate::background::Stopping;
use crate::Engine;
use parley_domain::time::now_millis;
use std::time::{Duration, SystemTime};

const EVERY: Duration = Duration::from_secs(3600);
/// Events deleted per statement, so no purge holds the database for long.
const PURGE_BATCH: i64 = 1000;
const DAY_MS: i64 = 86_400_000;
/// An import still `running` this long after it started has lost its process: the
/// largest file allowed takes minutes.
const ABANDONED_IMPORT_MS: i64 = 6 * 3_600_000;

/// Applies retention every [`EVERY`] until the node stops (see [`crate::background`]).
pub async fn run(engine: Engine, mut stopping: Stopping) {
    let mut tick = tokio::time::interval(EVERY);
    while stopping.before_tick(&mut tick).await {
        engine.apply_retention().await;
    }
}

impl Engine {
    /// One pass; failures are logged and retried at the next pass.
    pub async fn apply_retention(&self) {
        let days = i64::from(self.settings.calls.recording_retention_days);
        match self
            .delete_recordings_before(now_millis() - days * DAY_MS)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(recordings = n, "deleted recordings past retention"),
            Err(e) => tracing::warn!(error = %e, "deleting old recordings failed"),
        }
        // Copies this node fetched of recordings another node stored (and deleted).
        let local_before = SystemTime::now() - Duration::from_secs(days as u64 * 86_400);
        match self.delete_local_recordings_before(local_before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "deleted local recording files past retention"),
            Err(e) => tracing::warn!(error = %e, "deleting old local recording files failed"),
        }
        match self
            .store
            .fail_abandoned_imports(now_millis() - ABANDONED_IMPORT_MS)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(imports = n, "marked abandoned imports failed"),
            Err(e) => tracing::warn!(error = %e, "marking abandoned imports failed"),
        }
        match self.purge_old_calls().await {
            Ok((0, 0)) => {}
            Ok((turns, calls)) => {
                tracing::info!(
                    transcript_turns = turns,
                    calls,
                    "deleted call data past retention"
                )
            }
            Err(e) => tracing::warn!(error = %e, "deleting old call data failed"),
        }
        match self.purge_blocked_dials().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(blocked_dials = n, "deleted blocked dials past retention"),
            Err(e) => tracing::warn!(error = %e, "deleting old blocked dials failed"),
        }
        match self.purge_webhook_events().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "deleted webhook events past retention"),
            Err(e) => tracing::warn!(error = %e, "deleting old webhook events failed"),
        }
    }

    /// Deletes transcripts past `calls.transcript_retention_days` and call records past
    /// `calls.record_retention_days` (0: kept). Returns (turns, calls) deleted.
    pub async fn purge_old_calls(&self) -> Result<(u64, u64), parley_store::StoreError> {
        let calls = &self.settings.calls;
        let mut deleted = (0, 0);
        if calls.transcript_retention_days > 0 {
            let before = now_millis() - i64::from(calls.transcript_retention_days) * DAY_MS;
            deleted.0 = drain(|| self.store.delete_transcripts_before(before, PURGE_BATCH)).await?;
        }
        if calls.record_retention_days > 0 {
            let before = now_millis() - i64::from(calls.record_retention_days) * DAY_MS;
            deleted.1 = drain(|| self.store.delete_calls_before(before, PURGE_BATCH)).await?;
        }
        Ok(deleted)
    }

    /// Deletes blocked dials older than `calls.blocked_dial_retention_days` (0: kept).
    pub async fn purge_blocked_dials(&self) -> Result<u64, parley_store::StoreError> {
        let days = i64::from(self.settings.calls.blocked_dial_retention_days);
        if days == 0 {
            return Ok(0);
        }
        let before = now_millis() - days * DAY_MS;
        drain(|| self.store.delete_blocked_dials_before(before, PURGE_BATCH)).await
    }

    /// Deletes finished webhook events older than `webhooks.retention_days`.
    pub async fn purge_webhook_events(&self) -> Result<u64, parley_store::StoreError> {
        let days = i64::from(self.settings.webhooks.retention_days);
        let before = now_millis() - days * DAY_MS;
        drain(|| self.store.purge_webhook_events(before, PURGE_BATCH)).await
    }
}

/// Runs a batched delete until a batch comes back short; returns the rows deleted.
async fn drain<F, Fut>(mut batch: F) -> Result<u64, parley_store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, parley_store::StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = batch().await?;
        total += deleted;
        if deleted < PURGE_BATCH as u64 {
            return Ok(total);
        }
    }
}
