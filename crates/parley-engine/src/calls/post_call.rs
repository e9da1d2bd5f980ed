//! The agent's account of a finished conversation: the signed post-call webhook, or, when
//! none arrives in time, the conversation fetched from the ElevenLabs API.
use super::{AfterCommit, CallError};
use crate::background::Stopping;
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::TurnRole;
use parley_domain::call_result::{CallResult, ResultKind};
use parley_elevenlabs::conversation::{Conversation, Role, Verdict};
use parley_elevenlabs::webhook::WebhookEvent;
use parley_store::PostCall;
use parley_store::StoreError;
use std::time::Duration;

/// Why a post-call record was not applied.
#[derive(Debug, thiserror::Error)]
pub enum PostCallError {
    #[error("malformed webhook body: {0}")]
    Malformed(String),
    /// The database could not apply it now; nothing was changed and a redelivery will be.
    #[error("the analysis could not be stored: {0}")]
    Unavailable(#[from] StoreError),
}

/// The call event that marks a conversation's analysis as applied: the first copy of a
/// post-call record wins; replays and the REST fallback change nothing after it.
const POST_CALL_EVENT: &str = "post_call";

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "success",
        Verdict::Failure => "failure",
        Verdict::Unknown => "unknown",
    }
}

/// Maps ElevenLabs' conversation record onto what Parley stores.
fn post_call_of(conversation: &Conversation) -> PostCall {
    let analysis = conversation.analysis.as_ref();
    let turns = conversation
        .transcript
        .iter()
        .filter_map(|t| {
            let role = match t.role {
                Role::User => TurnRole::User,
                Role::Agent => TurnRole::Agent,
                Role::Unknown => return None,
            };
            let text = t.message.clone().filter(|m| !m.trim().is_empty())?;
            Some((role, text, Some(t.time_in_call_secs as f64)))
        })
        .collect();
    let mut analysis_json = serde_json::json!({});
    if let Some(a) = analysis {
        analysis_json = serde_json::json!({
            "call_successful": verdict(a.call_successful),
            "transcript_summary": a.transcript_summary,
            "evaluation_criteria_results": a.evaluation_criteria_results,
            "data_collection_results": a.data_collection_results,
        });
    }
    analysis_json["termination_reason"] =
        serde_json::json!(conversation.metadata.termination_reason);
    analysis_json["call_duration_secs"] =
        serde_json::json!(conversation.metadata.call_duration_secs);
    PostCall {
        summary: analysis.and_then(|a| a.transcript_summary.clone()),
        analysis: analysis_json,
        cost: conversation.metadata.cost.map(|c| c as f64),
        turns,
    }
}

/// The analysis' data-collection values and evaluation verdicts as typed, bounded fields
/// (see [`CallResult::bounded_all`] for what is cut or dropped).
fn results_of(conversation: &Conversation) -> Vec<CallResult> {
    let Some(a) = conversation.analysis.as_ref() else {
        return Vec::new();
    };
    let mut results = CallResult::bounded_all(
        ResultKind::DataCollection,
        a.data_collection_results
            .iter()
            .map(|(name, r)| (name.as_str(), &r.value, r.rationale.as_deref())),
    );
    let verdicts: Vec<(&str, serde_json::Value, Option<&str>)> = a
        .evaluation_criteria_results
        .iter()
        .map(|(name, r)| {
            (
                name.as_str(),
                verdict(r.result).into(),
                r.rationale.as_deref(),
            )
        })
        .collect();
    results.extend(CallResult::bounded_all(
        ResultKind::Evaluation,
        verdicts.iter().map(|(n, v, r)| (*n, v, *r)),
    ));
    results
}

impl Engine {
    /// A verified post-call webhook body. Unknown conversations are ignored (they may be
    /// other applications' on the same ElevenLabs account).
    pub async fn on_post_call_webhook(&self, body: &[u8]) -> Result<(), PostCallError> {
        let event =
            WebhookEvent::parse(body).map_err(|e| PostCallError::Malformed(e.to_string()))?;
        match event {
            WebhookEvent::PostCallTranscription { data, .. } => {
                self.apply_conversation(&data).await
            }
            other => {
                tracing::debug!(conversation_id = ?other.conversation_id(), "post-call event ignored");
                Ok(())
            }
        }
    }

    /// Applies a conversation's record in one transaction: the dedupe mark, analysis,
    /// typed results and transcript, `call.analyzed`, the outcome and the attempt's settlement.
    async fn apply_conversation(&self, conversation: &Conversation) -> Result<(), PostCallError> {
        let id = &conversation.conversation_id;
        let mut tx = self.store.begin().await?;
        let Some(call) = tx.call_by_conversation(id).await? else {
            tracing::debug!(conversation_id = %id, "post-call for an unknown conversation");
            return Ok(());
        };
        let dedupe = format!("{POST_CALL_EVENT}:{id}");
        let mark = serde_json::json!({ "conversation_id": id });
        if !tx
            .add_call_event(call.id, POST_CALL_EVENT, Some(&dedupe), &mark)
            .await?
        {
            tracing::debug!(call_id = call.id, "post-call record already applied");
            return Ok(());
        }
        tx.record_post_call(call.id, &post_call_of(conversation))
            .await?;
        tx.record_call_results(call.id, &results_of(conversation))
            .await?;
        let call = self.settle_outcome(&mut tx, call.id).await?;
        let mut after = AfterCommit::default();
        after.publish(LiveEvent::CallAnalyzed {
            call_id: call.id,
            outcome: call.outcome,
            summary: call.summary.clone(),
        });
        self.settle_campaign_call(&mut tx, &mut after, call.id, false)
            .await?;
        self.commit(tx, after).await?;
        tracing::info!(call_id = call.id, outcome = ?call.outcome, "post-call analysis stored");
        Ok(())
    }

    /// Fetches the conversations of ended calls whose webhook did not come in time.
    pub async fn fetch_missing_analyses(&self) -> Result<usize, CallError> {
        let wait_ms = self.settings.calls.post_call_wait_secs as i64 * 1000;
        let before = parley_domain::time::now_millis() - wait_ms;
        let calls = self.store.calls_awaiting_analysis(before, 50).await?;
        let mut stored = 0;
        for call in calls {
            let Some(conversation_id) = call.conversation_id.as_deref() else {
                continue;
            };
            self.store.mark_post_call_checked(call.id).await?;
            match self
                .telephony
                .elevenlabs
                .get_conversation(conversation_id)
                .await
            {
                Ok(conversation) if conversation.is_final() => {
                    if let Err(e) = self.apply_conversation(&conversation).await {
                        tracing::warn!(call_id = call.id, error = %e, "storing fetched conversation failed");
                    } else {
                        stored += 1;
                    }
                }
                Ok(_) => tracing::debug!(call_id = call.id, "conversation not finished yet"),
                Err(e) => {
                    tracing::warn!(call_id = call.id, error = %e, "fetching conversation failed")
                }
            }
        }
        Ok(stored)
    }
}

/// Fetches the analyses and recordings whose callbacks did not arrive, until the node
/// stops (see [`crate::background`]).
pub async fn run_fallback_fetcher(engine: Engine, mut stopping: Stopping) {
    let every = Duration::from_secs((engine.settings.calls.post_call_wait_secs / 4).clamp(1, 30));
    let mut tick = tokio::time::interval(every);
    while stopping.before_tick(&mut tick).await {
        if let Err(e) = engine.fetch_missing_analyses().await {
            tracing::warn!(error = %e, "post-call fallback failed");
        }
        // A download normally ends within seconds of its callback; give it a minute.
        let before = parley_domain::time::now_millis() - 60_000;
        if let Err(e) = engine.fetch_missing_recordings(before).await {
            tracing::warn!(error = %e, "fetching missing recordings failed");
        }
    }
}
