//! Live events for dashboards and tests: what happens to calls as it happens. In-process
//! broadcast; slow subscribers lose old events (they resynchronise from the API) rather
//! than slowing calls down.
use parley_domain::call::{CallOutcome, CallStatus, TerminationSource, TurnRole};
use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    CallStarted {
        call_id: i64,
        campaign_id: Option<i64>,
    },
    CallUpdated {
        call_id: i64,
        status: CallStatus,
        answered_by: Option<String>,
    },
    Transcript {
        call_id: i64,
        role: TurnRole,
        text: String,
        time_in_call_secs: f64,
    },
    CallEnded {
        call_id: i64,
        status: CallStatus,
        outcome: Option<CallOutcome>,
        termination_source: Option<TerminationSource>,
        duration_seconds: Option<i64>,
    },
    CallAnalyzed {
        call_id: i64,
        outcome: Option<CallOutcome>,
        summary: Option<String>,
    },
    RecordingReady {
        call_id: i64,
    },
    CampaignChanged {
        campaign_id: i64,
        state: parley_domain::campaign::CampaignState,
    },
    /// A campaign's progress counters moved.
    ProgressChanged {
        campaign_id: i64,
    },
    ContactOptedOut {
        call_id: i64,
    },
    /// The media stream and the agent session are both gone (whatever ended them).
    StreamEnded {
        call_id: i64,
    },
}

impl LiveEvent {
    /// The call this event is about; 0 for campaign events.
    pub fn call_id(&self) -> i64 {
        match self {
            LiveEvent::CampaignChanged { .. } | LiveEvent::ProgressChanged { .. } => 0,
            LiveEvent::ContactOptedOut { call_id } => *call_id,
            LiveEvent::CallStarted { call_id, .. }
            | LiveEvent::CallUpdated { call_id, .. }
            | LiveEvent::Transcript { call_id, .. }
            | LiveEvent::CallEnded { call_id, .. }
            | LiveEvent::CallAnalyzed { call_id, .. }
            | LiveEvent::RecordingReady { call_id }
            | LiveEvent::StreamEnded { call_id } => *call_id,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<LiveEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: LiveEvent) {
        // No subscribers is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}
