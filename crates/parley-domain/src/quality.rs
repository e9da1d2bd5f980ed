//! Per-call audio quality and the abandonment rule.
//!
//! The bridge counts, for each call, what crossed it and how fast (see
//! `parley-engine`'s `bridge::quality`); the figures are stored with the end of the call.
//! Here: the types, the fixed-size latency histogram the bridge counts into, and the
//! rules read from the figures (abandoned, outliers, when a campaign pauses).
//!
//! Abandonment follows the FCC's rule, 47 CFR 64.1200(a)(7): no caller may "abandon more
//! than three percent of all telemarketing calls that are answered live by a person, as
//! measured over a 30-day period for a single calling campaign", and a call is abandoned
//! when the person is not connected "within two (2) seconds after the called person's
//! completed greeting" (the rule's text as reproduced at
//! hallikainen.com/FccRules/2021/64/1200 and telemarketingrules.com; the FTC's
//! Telemarketing Sales Rule, 16 CFR 310.4(b)(4), measures the same 3% over 30 days).
//! Parley cannot hear the end of the greeting, so it starts the clock earlier, at the
//! answer: a stricter measure, never a laxer one.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A gap in the caller's audio longer than this (between two media frames, by their
/// Twilio timestamps or by their arrival) is counted.
pub const GAP_MS: u64 = 60;
/// The agent's first audio reaching Twilio later than this after the answer makes the
/// call abandoned (47 CFR 64.1200(a)(7)).
pub const ABANDONED_AFTER_MS: u64 = 2_000;
/// The rolling window the abandonment rate is measured over (47 CFR 64.1200(a)(7)).
pub const ABANDONMENT_WINDOW_DAYS: i64 = 30;
/// The campaign setting's default: pause above 3% (the rule's limit).
pub const DEFAULT_MAX_ABANDONMENT_PCT: f64 = 3.0;
/// Live-answered calls in the window before the rate may pause a campaign. With fewer, one
/// slow pickup is already more than 3% (1 of 19 is 5.3%): a campaign's first minutes
/// would pause it on noise. At 20, one abandoned call is 5%, so a campaign that abandons
/// its first calls still pauses within its first 20 answers.
pub const MIN_LIVE_ANSWERED: i64 = 20;
/// A call whose first agent audio came later than this is counted as a slow pickup
/// (an early warning: half of the abandonment limit).
pub const SLOW_FIRST_AUDIO_MS: u64 = 1_000;
/// A call whose added latency p99 (Parley's own, per relayed frame) is above this is
/// counted as a slow relay: the bridge's target is p99 < 5 ms end to end at 900 calls on
/// one core, so an in-process p99 above it means the node was overloaded.
pub const SLOW_RELAY_P99_US: u64 = 5_000;

/// The reason a campaign pauses with when its abandonment rate passes its threshold; the
/// pause reason starts with it (followed by the figures).
pub const ABANDONMENT_PAUSE: &str = "abandonment_rate";

/// What the bridge measured on one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallQuality {
    /// Media frames received from Twilio (the caller's audio).
    pub frames_from_caller: i64,
    /// Caller frames relayed to the agent (fewer when some were held too long while the
    /// agent connected, or could not be decoded).
    pub frames_to_agent: i64,
    /// Audio messages received from the agent.
    pub frames_from_agent: i64,
    /// Agent audio relayed to Twilio (fewer when interrupted audio was dropped).
    pub frames_to_caller: i64,
    /// Gaps over 60 ms in the caller's audio: between two media frames, by their Twilio
    /// `timestamp`s or by when they arrived, whichever is longer.
    pub caller_gaps: i64,
    /// `interruption` events from the agent (the caller talked over it).
    pub interruptions: i64,
    /// From the answer (the media stream's `start` reaching Parley) to the agent's first
    /// audio sent to Twilio, ms; null when none was sent.
    pub first_audio_ms: Option<i64>,
    /// Mean time from the end of a caller's turn (the agent's `user_transcript` for it) to
    /// the next agent audio sent to Twilio, ms; null when no turn was answered.
    pub response_ms_mean: Option<f64>,
    /// Caller turns answered (the turns `response_ms_mean` averages).
    pub responses: i64,
    /// Parley's own added latency per relayed frame, from reading it off one socket to
    /// having written it to the other, median, microseconds (from a log-linear histogram:
    /// within 12.5%); null when nothing was relayed.
    pub added_latency_p50_us: Option<i64>,
    /// The same, 99th percentile.
    pub added_latency_p99_us: Option<i64>,
    /// The same, largest.
    pub added_latency_max_us: Option<i64>,
    /// Answered by a person as far as Parley knows when the call ended: not an answering
    /// machine or fax by answering-machine detection (calls without detection count as
    /// live).
    pub live_answered: bool,
    /// A live-answered call whose first agent audio came more than 2 s after the answer,
    /// or never came though the call lasted over 2 s (47 CFR 64.1200(a)(7)).
    pub abandoned: bool,
}

impl CallQuality {
    /// The first audio came late enough to warn of (see [`SLOW_FIRST_AUDIO_MS`]).
    pub fn slow_first_audio(&self) -> bool {
        self.first_audio_ms
            .is_some_and(|ms| ms > SLOW_FIRST_AUDIO_MS as i64)
    }

    /// The relay's p99 was over [`SLOW_RELAY_P99_US`].
    pub fn slow_relay(&self) -> bool {
        self.added_latency_p99_us
            .is_some_and(|us| us > SLOW_RELAY_P99_US as i64)
    }
}

/// Whether an `answered_by` verdict (Twilio's AMD) leaves the call live-answered.
pub fn is_live(answered_by: Option<&str>) -> bool {
    !answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax")
}

/// Whether a call is abandoned: `first_audio_ms` after the answer, in a call that lasted
/// `lasted_ms` from the answer.
pub fn is_abandoned(live: bool, first_audio_ms: Option<i64>, lasted_ms: i64) -> bool {
    let limit = ABANDONED_AFTER_MS as i64;
    live && first_audio_ms.map_or(lasted_ms > limit, |ms| ms > limit)
}

/// A campaign's calls over the rolling window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct CampaignQuality {
    /// The window, days back from now (30: 47 CFR 64.1200(a)(7)).
    pub window_days: i64,
    /// Calls bridged in the window (with quality figures).
    pub calls: i64,
    /// Of them, answered by a person (the rate's denominator).
    pub live_answered: i64,
    /// Of those, abandoned.
    pub abandoned: i64,
    /// `abandoned / live_answered`, 0-1; null without live-answered calls.
    pub abandonment_rate: Option<f64>,
    /// Calls whose agent first audio came over 1 s after the answer.
    pub slow_first_audio: i64,
    /// Calls whose added latency p99 was over 5 ms.
    pub slow_relay: i64,
}

/// Counts over a window, as the store adds them up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QualityCounts {
    pub calls: i64,
    pub live_answered: i64,
    pub abandoned: i64,
    pub slow_first_audio: i64,
    pub slow_relay: i64,
}

impl QualityCounts {
    /// What one call adds.
    pub fn of(q: &CallQuality) -> QualityCounts {
        QualityCounts {
            calls: 1,
            live_answered: q.live_answered.into(),
            abandoned: q.abandoned.into(),
            slow_first_audio: q.slow_first_audio().into(),
            slow_relay: q.slow_relay().into(),
        }
    }

    pub fn campaign_quality(&self) -> CampaignQuality {
        CampaignQuality {
            window_days: ABANDONMENT_WINDOW_DAYS,
            calls: self.calls,
            live_answered: self.live_answered,
            abandoned: self.abandoned,
            abandonment_rate: (self.live_answered > 0)
                .then(|| self.abandoned as f64 / self.live_answered as f64),
            slow_first_audio: self.slow_first_audio,
            slow_relay: self.slow_relay,
        }
    }
}

/// `Some(reason)` when a campaign's counts over the window should pause it: at least
/// [`MIN_LIVE_ANSWERED`] live-answered calls, and abandoned above `max_pct` percent of
/// them. The reason starts with [`ABANDONMENT_PAUSE`].
pub fn abandonment_trips(counts: &QualityCounts, max_pct: f64) -> Option<String> {
    if counts.live_answered < MIN_LIVE_ANSWERED {
        return None;
    }
    let pct = counts.abandoned as f64 * 100.0 / counts.live_answered as f64;
    (pct > max_pct).then(|| {
        format!(
            "{ABANDONMENT_PAUSE}: {} of {} live-answered calls in the last {ABANDONMENT_WINDOW_DAYS} days \
             were abandoned ({pct:.1}%, above the campaign's {max_pct}%)",
            counts.abandoned, counts.live_answered
        )
    })
}

/// Latencies counted in place into fixed log-linear buckets (8 per power of two,
/// microseconds, up to about a second): recording is O(1) and never allocates, and the
/// whole histogram is 608 bytes, kept for a call's length. A quantile is the upper edge of
/// its bucket (clamped to the largest value seen), so within 12.5% above the true value.
#[derive(Clone)]
pub struct LatencyHistogram {
    buckets: [u32; BUCKETS],
    count: u64,
    max_us: u64,
}

/// Values below 16 us get a bucket each; above, 8 sub-buckets per power of two.
const LINEAR: u64 = 16;
const SUB_BITS: u32 = 3;
/// 16 linear buckets, then 8 for each power of two from 2^4 to 2^20 us (about 1 s); larger
/// values count in the last bucket (and in the maximum).
const BUCKETS: usize = 16 + 17 * 8;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: [0; BUCKETS],
            count: 0,
            max_us: 0,
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count)
            .field("max_us", &self.max_us)
            .finish_non_exhaustive()
    }
}

fn bucket_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let power = 63 - us.leading_zeros(); // >= 4
    let sub = (us >> (power - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    let index = LINEAR as usize + (power as usize - 4) * (1 << SUB_BITS) + sub as usize;
    index.min(BUCKETS - 1)
}

/// The largest value a bucket holds.
fn upper_edge(index: usize) -> u64 {
    if (index as u64) < LINEAR {
        return index as u64;
    }
    let i = index - LINEAR as usize;
    let power = (i >> SUB_BITS) as u32 + 4;
    let sub = (i & ((1 << SUB_BITS) - 1)) as u64;
    let width = 1u64 << (power - SUB_BITS);
    (1u64 << power) + (sub + 1) * width - 1
}

impl LatencyHistogram {
    pub fn record_us(&mut self, us: u64) {
        self.count += 1;
        self.max_us = self.max_us.max(us);
        self.buckets[bucket_of(us)] += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Quantile `q` (0..=1) in microseconds; `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank {
                // The last bucket holds everything beyond the others: its edge says nothing.
                let edge = if i == BUCKETS - 1 {
                    u64::MAX
                } else {
                    upper_edge(i)
                };
                return Some(edge.min(self.max_us));
            }
        }
        Some(self.max_us)
    }

    pub fn max_us(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for us in 0..2_000_000u64 {
            let b = bucket_of(us);
            assert!(b >= last, "{us}");
            last = b;
            if b < BUCKETS - 1 {
                assert!(us <= upper_edge(b), "{us} above its bucket's edge");
                if b > 0 {
                    assert!(us > upper_edge(b - 1), "{us} belongs to an earlier bucket");
                }
                // Within 12.5%.
                assert!(upper_edge(b) as f64 <= us as f64 * 1.125 + 1.0, "{us}");
            }
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile_us(0.5), None);
        for us in 1..=100 {
            h.record_us(us * 10);
        }
        let p50 = h.quantile_us(0.5).unwrap();
        assert!((500..=563).contains(&p50), "{p50}");
        let p99 = h.quantile_us(0.99).unwrap();
        assert!((990..=1000).contains(&p99), "{p99}");
        assert_eq!(h.max_us(), Some(1000));
        h.record_us(5_000_000);
        assert_eq!(h.quantile_us(1.0), Some(5_000_000));
        assert_eq!(h.count(), 101);
    }

    #[test]
    fn abandoned_means_live_and_over_two_seconds_to_the_first_audio() {
        assert!(!is_abandoned(true, Some(2_000), 60_000));
        assert!(is_abandoned(true, Some(2_001), 60_000));
        assert!(!is_abandoned(false, Some(5_000), 60_000), "a machine");
        assert!(is_abandoned(true, None, 2_500), "hung up on silence");
        assert!(!is_abandoned(true, None, 1_500), "hung up within 2 s");
        assert!(is_live(None) && is_live(Some("human")) && is_live(Some("unknown")));
        assert!(!is_live(Some("machine_end_beep")) && !is_live(Some("fax")));
    }

    #[test]
    fn the_rate_pauses_only_over_a_minimum_sample() {
        let counts = |live, abandoned| QualityCounts {
            calls: live,
            live_answered: live,
            abandoned,
            ..Default::default()
        };
        assert_eq!(abandonment_trips(&counts(19, 19), 3.0), None);
        assert_eq!(
            abandonment_trips(&counts(100, 3), 3.0),
            None,
            "3% is allowed"
        );
        let reason = abandonment_trips(&counts(20, 1), 3.0).unwrap();
        assert!(reason.starts_with("abandonment_rate: 1 of 20"), "{reason}");
        assert_eq!(abandonment_trips(&counts(20, 1), 5.0), None);
        let q = counts(4, 1).campaign_quality();
        assert_eq!(q.abandonment_rate, Some(0.25));
        assert_eq!(counts(0, 0).campaign_quality().abandonment_rate, None);
    }
}
