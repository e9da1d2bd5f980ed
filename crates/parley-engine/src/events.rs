//! Live events for dashboards and tests: what happens to calls and campaigns as it
//! happens. Broadcast in-process, and to the other nodes through the database
//! (PostgreSQL NOTIFY), so a dashboard on any node sees every node's events. Slow
//! subscribers lose old events (they resynchronise from the API) rather than slowing
//! calls down.
use parley_domain::call::{CallOutcome, CallStatus, TerminationSource, TurnRole};
use parley_store::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The agent was cut off: the turn whose text was `original_text` (the latest such
    /// turn of `role`) now reads `text`, what the caller heard.
    TranscriptCorrected {
        call_id: i64,
        role: TurnRole,
        original_text: String,
        text: String,
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
    /// Rows of a campaign's Google Sheets write-back were written, retried or given up.
    SheetWritesChanged {
        campaign_id: i64,
    },
    ContactOptedOut {
        call_id: i64,
    },
    /// A webhook delivery's attempt was recorded (delivered, to be retried, or dead).
    WebhookDeliveryChanged {
        delivery_id: i64,
    },
    /// The media stream and the agent session are both gone (whatever ended them).
    StreamEnded {
        call_id: i64,
    },
}

impl LiveEvent {
    /// The call this event is about; `None` for campaign events.
    pub fn call_id(&self) -> Option<i64> {
        match self {
            LiveEvent::CampaignChanged { .. }
            | LiveEvent::ProgressChanged { .. }
            | LiveEvent::SheetWritesChanged { .. }
            | LiveEvent::WebhookDeliveryChanged { .. } => None,
            LiveEvent::ContactOptedOut { call_id } => Some(*call_id),
            LiveEvent::CallStarted { call_id, .. }
            | LiveEvent::CallUpdated { call_id, .. }
            | LiveEvent::Transcript { call_id, .. }
            | LiveEvent::TranscriptCorrected { call_id, .. }
            | LiveEvent::CallEnded { call_id, .. }
            | LiveEvent::CallAnalyzed { call_id, .. }
            | LiveEvent::RecordingReady { call_id }
            | LiveEvent::StreamEnded { call_id } => Some(*call_id),
        }
    }
}

/// How an event travels between nodes.
#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: LiveEvent,
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<LiveEvent>,
    /// Events on their way to the other nodes; `None` when there are none (SQLite).
    to_nodes: Option<tokio::sync::mpsc::Sender<LiveEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            to_nodes: None,
        }
    }
}

impl EventBus {
    /// A bus that also carries events to and from the other nodes on `store` (PostgreSQL).
    pub async fn connected(store: &Store) -> EventBus {
        let mut bus = EventBus::default();
        let incoming = match store.node_events().await {
            Ok(Some(stream)) => stream,
            Ok(None) => return bus,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' events; events stay on this node");
                return bus;
            }
        };
        let node = crate::secrets::random_token();
        let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<LiveEvent>(1024);
        bus.to_nodes = Some(out_tx);
        let sender_store = store.clone();
        let me = node.clone();
        tokio::spawn(async move {
            while let Some(event) = out_rx.recv().await {
                let Ok(mut payload) = serde_json::to_string(&Envelope {
                    node: me.clone(),
                    event,
                }) else {
                    continue;
                };
                if payload.len() > parley_store::MAX_EVENT_PAYLOAD {
                    // Too big to NOTIFY (a long transcript turn): other nodes miss it and
                    // read the turn from the API.
                    payload.clear();
                }
                if !payload.is_empty() {
                    if let Err(e) = sender_store.notify_nodes(&payload).await {
                        tracing::debug!(error = %e, "event not sent to other nodes");
                    }
                }
            }
        });
        let local = bus.tx.clone();
        tokio::spawn(async move {
            let mut incoming = incoming;
            use futures::StreamExt;
            while let Some(payload) = incoming.next().await {
                if let Ok(envelope) = serde_json::from_str::<Envelope>(&payload) {
                    if envelope.node != node {
                        let _ = local.send(envelope.event);
                    }
                }
            }
        });
        bus
    }

    pub fn publish(&self, event: LiveEvent) {
        if let Some(to_nodes) = &self.to_nodes {
            // Full: other nodes miss this one rather than slowing this node down.
            let _ = to_nodes.try_send(event.clone());
        }
        // No subscribers is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}

/// Waits for an event of `events` that `wakes`, or for `poll` to pass, whichever comes
/// first: how background workers look again at once after a change that concerns them.
pub async fn wake_or_poll(
    events: &mut broadcast::Receiver<LiveEvent>,
    poll: std::time::Duration,
    wakes: impl Fn(&LiveEvent) -> bool,
) {
    use broadcast::error::RecvError;
    let wake = async {
        loop {
            match events.recv().await {
                Ok(event) if wakes(&event) => return,
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(poll) => {}
        _ = wake => {}
    }
}
