//! A contact's history: every call to it, newest first, with what each led to
//! (outcome, summary, callbacks asked for, an opt-out, the agent's tool actions).
use crate::call::{CallOutcome, CallStatus};
use crate::tool::ToolCallRecord;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// At most this many tool actions are listed per call (the call's page has them all).
pub const MAX_TOOL_ACTIONS_PER_CALL: usize = 20;
/// At most this many callback requests are listed per call.
pub const MAX_CALLBACKS_PER_CALL: usize = 10;
/// Tools that only read, left out of the actions.
pub const READ_ONLY_TOOLS: &[&str] = &["get_current_time"];

/// One call to the contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactCall {
    pub id: crate::Id,
    pub campaign_id: Option<crate::Id>,
    /// The campaign's name, while it exists.
    pub campaign_name: Option<String>,
    pub attempt: i64,
    pub status: CallStatus,
    pub outcome: Option<CallOutcome>,
    pub answered_by: Option<String>,
    pub duration_seconds: Option<i64>,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether a transcript was stored.
    pub has_transcript: bool,
    /// Whether a playable recording was stored.
    pub has_recording: bool,
    /// Callbacks the callee asked for on this call, oldest first.
    pub callbacks: Vec<CallbackRequest>,
    /// The callee asked not to be called again on this call.
    pub opted_out: bool,
    /// What the agent did on this call (bookings, emails, opt-out, transfer, callbacks),
    /// oldest first; tools that only read are left out.
    pub tool_actions: Vec<ToolCallRecord>,
}

/// A callback the callee asked for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallbackRequest {
    /// When the call back was scheduled for (inside the calling window).
    pub at: Option<DateTime<Utc>>,
    /// The time as asked for ("tomorrow 15:00").
    pub requested: Option<String>,
    pub reason: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}

/// The call event a callback request is recorded as (`requested`, `reason`, `at_ms`).
pub const CALLBACK_EVENT: &str = "callback_requested";
