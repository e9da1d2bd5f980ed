//! One call from creation to answer (or not): the CPS queue, `initiated`, `ringing`, then
//! the persona's outcome — answered (handed to [`super::twiml_exec`]), `busy`, `no-answer`
//! after the request's `Timeout`, or `failed`; `canceled` if the API cancels it first.
//! Status callbacks go out as the request asked (B.3).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use parley_twilio::callbacks::StatusCallback;
use parley_twilio::CallStatus;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::callbacks::{self, CallFacts, CallbackQueue, Outgoing};
use super::params::CallRequest;
use super::store::{Control, EndReason, TwimlSource};
use super::twiml_exec::LiveCall;
use super::Shared;
use crate::personas::{persona_for, Persona, Pickup};

/// Scripted delays at speed 1, in ms.
const INITIATED_TO_RINGING_MS: u64 = 800;
const HUMAN_RINGS_MS: u64 = 2_500;
const MACHINE_RINGS_MS: u64 = 3_500;
const BUSY_AFTER_MS: u64 = 1_000;
const CARRIER_FAILS_AFTER_MS: u64 = 1_500;

/// Everything a call carries through its life; owned by the call's task.
pub(crate) struct CallContext {
    pub shared: Arc<Shared>,
    pub facts: CallFacts,
    pub request: CallRequest,
    pub persona: &'static Persona,
    pub control: mpsc::Receiver<Control>,
    pub callbacks: CallbackQueue,
    /// Next status callback `SequenceNumber`.
    sequence: u32,
}

impl CallContext {
    pub fn new(
        shared: Arc<Shared>,
        facts: CallFacts,
        request: CallRequest,
        control: mpsc::Receiver<Control>,
        chaos_seed: Option<u64>,
    ) -> Self {
        let callbacks = CallbackQueue::spawn(
            (shared.http.clone(), shared.config.network_delay),
            shared.config.auth_token.clone(),
            chaos_seed,
        );
        Self {
            persona: shared
                .config
                .callee
                .unwrap_or_else(|| persona_for(&request.to)),
            shared,
            facts,
            request,
            control,
            callbacks,
            sequence: 0,
        }
    }

    /// A real-time duration for a scripted one.
    pub fn scaled(&self, ms: u64) -> Duration {
        self.shared.config.scaled(ms)
    }

    /// Sends the status callback for `status` if the request asked for that event.
    pub async fn report(&mut self, status: CallStatus, fill: impl FnOnce(&mut StatusCallback)) {
        let events = self.request.status_events;
        let wanted = match status {
            CallStatus::Queued => false,
            CallStatus::Initiated => events.initiated,
            CallStatus::Ringing => events.ringing,
            CallStatus::InProgress => events.answered,
            _ => events.completed,
        };
        let Some(hook) = self.request.status_callback.clone().filter(|_| wanted) else {
            return;
        };
        let mut callback = callbacks::status_callback(&self.facts, status, self.sequence);
        self.sequence += 1;
        fill(&mut callback);
        let mut params = callback.to_params();
        callbacks::push_voice_extras(&self.facts, &mut params);
        self.callbacks.send(Outgoing { hook, params }).await;
    }

    fn set_status(&self, status: CallStatus) {
        let mut store = self.shared.store.lock().expect("store lock");
        store.update(&self.facts.sid, |call| {
            call.status = status;
            if status == CallStatus::Ringing && call.started.is_none() {
                call.started = Some(Utc::now());
            }
        });
    }
}

/// How dialling ended.
enum Dialled {
    Answered,
    NotAnswered {
        status: CallStatus,
        sip: u16,
        reason: EndReason,
        ack: Option<oneshot::Sender<()>>,
    },
}

/// Runs the call to its end.
pub(crate) async fn run(mut ctx: CallContext, dial_at: Instant) {
    match dial(&mut ctx, dial_at).await {
        Dialled::Answered => LiveCall::new(ctx).run().await,
        Dialled::NotAnswered {
            status,
            sip,
            reason,
            ack,
        } => {
            {
                let mut store = ctx.shared.store.lock().expect("store lock");
                store.end(&ctx.facts.sid, |call| {
                    call.status = status;
                    call.ended = Some(Utc::now());
                    call.end_reason = Some(reason);
                });
            }
            if let Some(ack) = ack {
                let _ = ack.send(());
            }
            ctx.report(status, |cb| {
                cb.call_duration_secs = Some(0);
                cb.billed_minutes = Some(0);
                cb.sip_response_code = Some(sip);
            })
            .await;
        }
    }
}

/// Waits until `deadline` unless the API cancels the call; a redirect only replaces the
/// TwiML to run on answer.
async fn wait(ctx: &mut CallContext, deadline: Instant) -> Option<oneshot::Sender<()>> {
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return None,
            Some(control) = ctx.control.recv() => match control {
                Control::HangUp(ack) | Control::Cancel(ack) => return Some(ack),
                Control::Redirect(source, ack) => {
                    ctx.request.instructions = source;
                    let _ = ack.send(());
                }
            },
        }
    }
}

fn canceled(ack: oneshot::Sender<()>) -> Dialled {
    Dialled::NotAnswered {
        status: CallStatus::Canceled,
        sip: 487,
        reason: EndReason::Canceled,
        ack: Some(ack),
    }
}

async fn dial(ctx: &mut CallContext, dial_at: Instant) -> Dialled {
    // Queued behind the CPS limit.
    if let Some(ack) = wait(ctx, dial_at).await {
        return canceled(ack);
    }
    {
        let mut store = ctx.shared.store.lock().expect("store lock");
        store.update(&ctx.facts.sid, |call| call.started = Some(Utc::now()));
    }
    ctx.report(CallStatus::Initiated, |_| {}).await;
    if let Some(ack) = wait(ctx, Instant::now() + ctx.scaled(INITIATED_TO_RINGING_MS)).await {
        return canceled(ack);
    }
    ctx.set_status(CallStatus::Ringing);
    ctx.report(CallStatus::Ringing, |_| {}).await;

    let ring_timeout_ms = u64::from(ctx.request.timeout_secs) * 1000;
    let (ring_ms, outcome) = match ctx.persona.pickup {
        Pickup::Human => (HUMAN_RINGS_MS, None),
        Pickup::Machine => (MACHINE_RINGS_MS, None),
        Pickup::Busy => (
            BUSY_AFTER_MS,
            Some((CallStatus::Busy, 486, EndReason::Busy)),
        ),
        Pickup::CarrierFailure => (
            CARRIER_FAILS_AFTER_MS,
            Some((CallStatus::Failed, 503, EndReason::Failed)),
        ),
        // Refused at creation; treated as unreachable should it ever get here.
        Pickup::InvalidNumber => (0, Some((CallStatus::Failed, 404, EndReason::Failed))),
        Pickup::NoAnswer => (ring_timeout_ms, Some(no_answer())),
    };
    // Nobody picks up after the caller's Timeout.
    let (ring_ms, outcome) = if ring_ms > ring_timeout_ms {
        (ring_timeout_ms, Some(no_answer()))
    } else {
        (ring_ms, outcome)
    };
    if let Some(ack) = wait(ctx, Instant::now() + ctx.scaled(ring_ms)).await {
        return canceled(ack);
    }
    match outcome {
        Some((status, sip, reason)) => Dialled::NotAnswered {
            status,
            sip,
            reason,
            ack: None,
        },
        None => Dialled::Answered,
    }
}

fn no_answer() -> (CallStatus, u16, EndReason) {
    (CallStatus::NoAnswer, 487, EndReason::NoAnswer)
}

/// What a redirect or the initial request points at, for the TwiML fetcher.
pub(crate) fn describe(source: &TwimlSource) -> &str {
    match source {
        TwimlSource::Url { url, .. } => url,
        TwimlSource::Inline(_) => "inline twiml",
    }
}
