//! What the simulator remembers: a bounded table of call summaries (the REST resource and
//! [`SimCall`] snapshots), the control channel of each live call, bounded finished
//! recordings, and the CPS pacer. Per-call media state lives in the call's task and is
//! dropped when the call ends; only the summary stays here.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

use chrono::{DateTime, Utc};
use parley_twilio::{AnsweredBy, CallStatus};
use tokio::sync::{mpsc, oneshot};

use super::recording::StoredRecording;

/// Summaries kept for `calls()` and the REST API; the oldest finished calls go first.
const MAX_CALLS: usize = 10_000;
/// Finished recordings kept for download; the oldest go first.
const MAX_RECORDINGS: usize = 64;

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The simulated callee hung up (`hangs_up_after_ms`).
    CalleeHungUp,
    /// `POST Calls/{Sid}.json` with `Status=completed` while the call was up.
    ApiHangUp,
    /// Canceled (API `Status=canceled`/`completed`) before it was answered.
    Canceled,
    /// The app closed the media WebSocket and no TwiML followed.
    StreamClosedByApp,
    /// `<Hangup/>` or `<Reject/>`.
    TwimlHangUp,
    /// The TwiML ran out of verbs.
    TwimlEnded,
    /// `TimeLimit` reached.
    TimeLimit,
    /// The TwiML could not be fetched or parsed (Twilio says "an application error has
    /// occurred" and hangs up).
    ApplicationError,
    Busy,
    NoAnswer,
    /// Carrier failure.
    Failed,
}

/// A snapshot of one call, for test assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    /// As the REST resource reports it (never `initiated`).
    pub status: CallStatus,
    pub answered_by: Option<AnsweredBy>,
    pub created: DateTime<Utc>,
    /// When dialling started (after the CPS queue).
    pub started: Option<DateTime<Utc>>,
    pub answered: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// Seconds from answer to hang-up (rounded up), once ended.
    pub duration_secs: Option<u32>,
    /// When the first TwiML request for the call was sent.
    pub twiml_requested: Option<DateTime<Utc>>,
    /// A `<Connect><Stream>` WebSocket was opened and `start` sent.
    pub stream_connected: bool,
    /// When the first `<Connect><Stream>` socket was open and `start` sent.
    pub stream_started: Option<DateTime<Utc>>,
    /// When the first frame of the app's audio arrived on it.
    pub first_app_audio: Option<DateTime<Utc>>,
    /// The close code the app sent on the `<Connect><Stream>` socket, whichever side
    /// closed first: 1005 for a close frame without a code, 1006 when the socket ended
    /// without a close frame (or the app never answered Twilio's). `None` until then.
    pub stream_close_code: Option<u16>,
    pub recording_sid: Option<String>,
    pub end_reason: Option<EndReason>,
    /// How many scripted lines the callee has started saying.
    pub callee_lines_spoken: u32,
    /// Numbers `<Dial>`ed on this call, in order (e.g. after a redirect to a person).
    pub dialed: Vec<String>,
    /// What each answered `<Dial><Number url>` whispered to the called party (the
    /// `<Say>` texts of the fetched TwiML, joined), in order.
    pub whispers: Vec<String>,
    /// The `DialCallStatus` each `<Dial>` ended with, in order.
    pub dial_results: Vec<String>,
}

/// Where new TwiML comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TwimlSource {
    Url { url: String, method_get: bool },
    Inline(String),
}

/// A request from the REST API to a call's task; the task acknowledges once the store
/// shows the effect, so the REST response reflects it.
#[derive(Debug)]
pub(crate) enum Control {
    /// `Status=completed`.
    HangUp(oneshot::Sender<()>),
    /// `Status=canceled`: only affects calls not yet answered.
    Cancel(oneshot::Sender<()>),
    /// `Url` / `Twiml`: run new TwiML.
    Redirect(TwimlSource, oneshot::Sender<()>),
}

pub(crate) struct CallEntry {
    pub summary: SimCall,
    /// Creation order; list pages are cut by it.
    pub seq: u64,
    pub queue_time_ms: u64,
    /// `None` once the call has ended.
    pub control: Option<mpsc::Sender<Control>>,
}

#[derive(Default)]
pub(crate) struct Store {
    calls: HashMap<String, CallEntry>,
    order: VecDeque<String>,
    recordings: HashMap<String, Arc<StoredRecording>>,
    recording_order: VecDeque<String>,
    next_seq: u64,
}

impl Store {
    pub fn insert(&mut self, summary: SimCall, queue_time_ms: u64, control: mpsc::Sender<Control>) {
        self.next_seq += 1;
        let sid = summary.sid.clone();
        self.calls.insert(
            sid.clone(),
            CallEntry {
                summary,
                seq: self.next_seq,
                queue_time_ms,
                control: Some(control),
            },
        );
        self.order.push_back(sid);
        self.evict_calls();
    }

    fn evict_calls(&mut self) {
        while self.calls.len() > MAX_CALLS {
            let oldest_ended = self.order.iter().position(|sid| {
                self.calls
                    .get(sid)
                    .is_none_or(|entry| entry.control.is_none())
            });
            let Some(index) = oldest_ended else { break };
            if let Some(sid) = self.order.remove(index) {
                self.calls.remove(&sid);
            }
        }
    }

    pub fn get(&self, sid: &str) -> Option<&CallEntry> {
        self.calls.get(sid)
    }

    /// Applies `change` to a call's summary; a call already evicted is ignored.
    pub fn update(&mut self, sid: &str, change: impl FnOnce(&mut SimCall)) {
        if let Some(entry) = self.calls.get_mut(sid) {
            change(&mut entry.summary);
        }
    }

    /// Marks the call ended: no more control messages reach it.
    pub fn end(&mut self, sid: &str, change: impl FnOnce(&mut SimCall)) {
        if let Some(entry) = self.calls.get_mut(sid) {
            change(&mut entry.summary);
            entry.control = None;
        }
    }

    /// Calls in creation order.
    pub fn snapshot(&self) -> Vec<SimCall> {
        self.order
            .iter()
            .filter_map(|sid| self.calls.get(sid))
            .map(|entry| entry.summary.clone())
            .collect()
    }

    /// Calls newest first (Twilio's list order).
    pub fn newest_first(&self) -> impl Iterator<Item = &CallEntry> {
        self.order
            .iter()
            .rev()
            .filter_map(|sid| self.calls.get(sid))
    }

    pub fn add_recording(&mut self, recording: StoredRecording) {
        let sid = recording.sid.clone();
        self.recordings.insert(sid.clone(), Arc::new(recording));
        self.recording_order.push_back(sid);
        while self.recording_order.len() > MAX_RECORDINGS {
            if let Some(old) = self.recording_order.pop_front() {
                self.recordings.remove(&old);
            }
        }
    }

    pub fn recording(&self, sid: &str) -> Option<Arc<StoredRecording>> {
        self.recordings.get(sid).cloned()
    }
}

/// Spaces dialling out at the configured calls per second, like Twilio's CPS queue.
pub(crate) struct Pacer {
    next_free: Option<Instant>,
}

impl Pacer {
    pub fn new() -> Self {
        Self { next_free: None }
    }

    /// The instant the next created call may start dialling.
    pub fn reserve(&mut self, now: Instant, interval: std::time::Duration) -> Instant {
        let slot = self.next_free.map_or(now, |free| free.max(now));
        self.next_free = Some(slot + interval);
        slot
    }
}

pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn pacer_queues_calls_beyond_the_rate() {
        let mut pacer = Pacer::new();
        let now = Instant::now();
        let second = Duration::from_millis(500);
        assert_eq!(pacer.reserve(now, second), now);
        assert_eq!(pacer.reserve(now, second), now + second);
        assert_eq!(pacer.reserve(now, second), now + second * 2);
        let later = now + Duration::from_secs(10);
        assert_eq!(
            pacer.reserve(later, second),
            later,
            "an idle queue dials at once"
        );
    }

    #[test]
    fn sids_look_like_twilio_sids() {
        let sid = new_sid("CA");
        assert_eq!(sid.len(), 34);
        assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
