//! One call's quality figures, counted as the bridge relays (see
//! `parley_domain::quality` for what each means) and stored when the call ends, in the
//! transaction that records the end.
//!
//! Per frame: a few counters, one clock read when the frame arrives and one when its relay
//! has been written, one histogram bucket. O(1), no allocation; the whole record is one
//! boxed allocation per call (about 700 bytes).
//!
//! Definitions chosen here:
//! - The answer is the moment the stream's `start` reached Parley. Parley asks Twilio for
//!   asynchronous answering-machine detection, so the callee hears the stream (and the
//!   agent) from the answer on while detection listens; its verdict, seconds later, only
//!   says whether a person answered (machines are not live-answered calls) and is not a
//!   later answer: timing from it would hide the dead air the callee actually heard.
//! - First audio: the first agent audio message written to Twilio after the answer.
//! - Response time: from the agent's `user_transcript` (ElevenLabs' end of a caller's
//!   turn; the last one when several come before the agent speaks) to the next agent audio
//!   written to Twilio. Averaged over the turns that got an answer.
//! - Added latency: from reading a media message off one socket to having written its
//!   relay to the other (parse, transcoding if any, framing and the socket write): what
//!   Parley itself adds, without the network or the peers.
use crate::calls::AfterCommit;
use crate::Engine;
use parley_domain::call::TerminationSource;
use parley_domain::campaign::CampaignState;
use parley_domain::quality::{
    abandonment_trips, is_abandoned, is_live, CallQuality, LatencyHistogram,
    ABANDONMENT_WINDOW_DAYS, GAP_MS,
};
use parley_store::StoreError;
use std::time::{Duration, Instant};
use tracing::Instrument;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug)]
pub(crate) struct Quality {
    answered: Instant,
    /// Wall clock of the answer, epoch ms (stored, for the rolling window).
    answered_at_ms: i64,
    frames_from_caller: u64,
    frames_to_agent: u64,
    frames_from_agent: u64,
    frames_to_caller: u64,
    caller_gaps: u64,
    /// Arrival and Twilio timestamp of the caller's previous frame.
    last_caller: Option<(Instant, Option<u64>)>,
    interruptions: u64,
    first_audio: Option<Duration>,
    /// When the caller's latest turn ended, until the agent answers it.
    turn_ended: Option<Instant>,
    response_total: Duration,
    responses: u64,
    added: LatencyHistogram,
}

impl Quality {
    /// Starts counting at the answer.
    pub(crate) fn answered() -> Box<Quality> {
        Box::new(Quality {
            answered: Instant::now(),
            answered_at_ms: parley_domain::time::now_millis(),
            frames_from_caller: 0,
            frames_to_agent: 0,
            frames_from_agent: 0,
            frames_to_caller: 0,
            caller_gaps: 0,
            last_caller: None,
            interruptions: 0,
            first_audio: None,
            turn_ended: None,
            response_total: Duration::ZERO,
            responses: 0,
            added: LatencyHistogram::default(),
        })
    }

    /// A media frame from Twilio arrived at `at`, stamped `timestamp_ms` by Twilio.
    pub(crate) fn caller_frame(&mut self, at: Instant, timestamp_ms: Option<u64>) {
        self.frames_from_caller += 1;
        if let Some((before, before_ts)) = self.last_caller {
            let by_arrival = at.saturating_duration_since(before).as_millis() as u64;
            let by_timestamp = match (before_ts, timestamp_ms) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => 0,
            };
            if by_arrival.max(by_timestamp) > GAP_MS {
                self.caller_gaps += 1;
            }
        }
        self.last_caller = Some((at, timestamp_ms));
    }

    /// A caller frame reached the agent; `arrived` when it is relayed as it came (not
    /// released from the hold, whose wait is not the relay's).
    pub(crate) fn relayed_to_agent(&mut self, arrived: Option<Instant>) {
        self.frames_to_agent += 1;
        if let Some(arrived) = arrived {
            self.added_since(arrived);
        }
    }

    pub(crate) fn agent_frame(&mut self) {
        self.frames_from_agent += 1;
    }

    /// Agent audio that arrived at `arrived` was written to Twilio.
    pub(crate) fn relayed_to_caller(&mut self, arrived: Instant) {
        self.frames_to_caller += 1;
        let now = self.added_since(arrived);
        if self.first_audio.is_none() {
            self.first_audio = Some(now.saturating_duration_since(self.answered));
        }
        if let Some(ended) = self.turn_ended.take() {
            self.response_total += now.saturating_duration_since(ended);
            self.responses += 1;
        }
    }

    pub(crate) fn interruption(&mut self) {
        self.interruptions += 1;
    }

    /// The agent's `user_transcript`: the caller's turn is over.
    pub(crate) fn caller_turn_ended(&mut self) {
        self.turn_ended = Some(Instant::now());
    }

    fn added_since(&mut self, arrived: Instant) -> Instant {
        let now = Instant::now();
        let us = now.saturating_duration_since(arrived).as_micros();
        self.added.record_us(u64::try_from(us).unwrap_or(u64::MAX));
        now
    }

    /// The figures as stored, for a call that ended now; `live` from the answering-machine
    /// verdict known by then.
    pub(crate) fn figures(&self, live: bool) -> CallQuality {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let us = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let first_audio_ms = self.first_audio.map(ms);
        let lasted_ms = ms(self.answered.elapsed());
        CallQuality {
            frames_from_caller: count(self.frames_from_caller),
            frames_to_agent: count(self.frames_to_agent),
            frames_from_agent: count(self.frames_from_agent),
            frames_to_caller: count(self.frames_to_caller),
            caller_gaps: count(self.caller_gaps),
            interruptions: count(self.interruptions),
            first_audio_ms,
            response_ms_mean: (self.responses > 0)
                .then(|| self.response_total.as_secs_f64() * 1e3 / self.responses as f64),
            responses: count(self.responses),
            added_latency_p50_us: us(self.added.quantile_us(0.5)),
            added_latency_p99_us: us(self.added.quantile_us(0.99)),
            added_latency_max_us: us(self.added.max_us()),
            live_answered: live,
            abandoned: is_abandoned(live, first_audio_ms, lasted_ms),
        }
    }
}

impl Engine {
    /// Records the end of a bridged call (see [`Engine::end_bridged_call`]); failures are
    /// logged: the call is over either way.
    pub(super) async fn record_bridge_end(
        &self,
        call_id: i64,
        termination: Option<(TerminationSource, Option<&str>)>,
        quality: &Quality,
    ) {
        let ended = self.end_bridged_call(call_id, termination, quality.answered_at_ms, |live| {
            quality.figures(live)
        });
        let span = tracing::info_span!("bridge_end", call_id, node = %self.node);
        if let Err(e) = Box::pin(ended.instrument(span)).await {
            tracing::warn!(call_id, error = %e, "recording the end of the bridge failed");
        }
    }

    /// Records the end of a bridged call in one transaction: who ended it (when Parley
    /// knows: `None` when Twilio ended the stream, whose status callback says why), its
    /// quality figures (`figures` is given whether a person answered, as far as the
    /// answering-machine verdict says by now), and, when they take its campaign's
    /// abandonment rate over the campaign's limit, the campaign's pause, with its audit
    /// row and `campaign.state_changed` outbox event.
    pub async fn end_bridged_call(
        &self,
        call_id: i64,
        termination: Option<(TerminationSource, Option<&str>)>,
        answered_at_ms: i64,
        figures: impl FnOnce(bool) -> CallQuality,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let mut after = AfterCommit::default();
        if let Some((source, reason)) = termination {
            tx.set_termination(call_id, source, reason).await?;
        }
        let call = tx.get_call(call_id).await?;
        let figures = figures(is_live(call.answered_by.as_deref()));
        let recorded = tx
            .record_call_quality(call_id, call.campaign_id, answered_at_ms, &figures)
            .await?;
        if figures.abandoned {
            tracing::info!(call_id, first_audio_ms = ?figures.first_audio_ms, "call abandoned: no agent audio within 2 s of the answer");
        }
        if let (true, Some(campaign_id)) = (recorded, call.campaign_id) {
            let campaign = tx.get_campaign(campaign_id).await?;
            if campaign.state == CampaignState::Running {
                let since = parley_domain::time::now_millis() - ABANDONMENT_WINDOW_DAYS * DAY_MS;
                let counts = tx.campaign_quality_counts(campaign_id, since).await?;
                let limit = campaign.settings.max_abandonment_rate_pct;
                if let Some(reason) = abandonment_trips(&counts, limit) {
                    self.pause_campaign_in(&mut tx, &mut after, campaign_id, &reason)
                        .await?;
                }
            }
        }
        self.commit(tx, after).await?;
        if recorded {
            count_bridge_metrics(&figures);
        }
        Ok(())
    }
}

/// A call's share of the bridge metrics, counted once, when its figures are committed (so
/// the frame counters move as calls end, not frame by frame: no cost on the audio path).
fn count_bridge_metrics(figures: &CallQuality) {
    let frames = |n: i64| u64::try_from(n).unwrap_or(0);
    metrics::counter!("parley_bridge_frames_total", "direction" => "to_agent")
        .increment(frames(figures.frames_to_agent));
    metrics::counter!("parley_bridge_frames_total", "direction" => "to_caller")
        .increment(frames(figures.frames_to_caller));
    if let Some(ms) = figures.first_audio_ms {
        metrics::histogram!("parley_agent_first_audio_seconds").record(ms as f64 / 1e3);
    }
    if let Some(us) = figures.added_latency_p99_us {
        metrics::histogram!("parley_bridge_added_latency_seconds").record(us as f64 / 1e6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_by_timestamp_or_arrival_are_counted_once_each() {
        let mut q = Quality::answered();
        let t0 = Instant::now();
        q.caller_frame(t0, Some(0));
        q.caller_frame(t0 + Duration::from_millis(20), Some(20));
        // Twilio's clock skipped 100 ms (lost packets), though it arrived on time.
        q.caller_frame(t0 + Duration::from_millis(40), Some(120));
        // Arrived 80 ms late, though stamped in order.
        q.caller_frame(t0 + Duration::from_millis(120), Some(140));
        // Both at once: one gap.
        q.caller_frame(t0 + Duration::from_millis(300), Some(400));
        q.caller_frame(t0 + Duration::from_millis(320), Some(420));
        let f = q.figures(true);
        assert_eq!((f.frames_from_caller, f.caller_gaps), (6, 3));
    }

    #[test]
    fn first_audio_and_responses_come_from_what_reached_the_caller() {
        let mut q = Quality::answered();
        let f = q.figures(true);
        assert_eq!((f.first_audio_ms, f.response_ms_mean), (None, None));
        assert!(f.added_latency_p99_us.is_none());
        q.agent_frame();
        q.relayed_to_caller(Instant::now());
        q.caller_turn_ended();
        q.caller_turn_ended();
        q.agent_frame();
        q.relayed_to_caller(Instant::now());
        q.relayed_to_agent(None);
        q.interruption();
        let f = q.figures(true);
        assert!(f.first_audio_ms.is_some_and(|ms| ms < 2_000));
        assert_eq!(
            f.responses, 1,
            "two transcripts before one answer: one turn"
        );
        assert!(f.response_ms_mean.is_some());
        assert_eq!((f.frames_from_agent, f.frames_to_caller), (2, 2));
        assert_eq!((f.frames_to_agent, f.interruptions), (1, 1));
        assert!(!f.abandoned);
        assert!(f.added_latency_p50_us.is_some());
    }
}
