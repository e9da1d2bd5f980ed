//! `<Dial>` on a live call: rings the dialled "person" (who answers, or not, as the
//! persona of that number does), fetches the `<Number url>` TwiML for them once they
//! answer (signed, with the child leg's parameters) and plays it to them, bridges the
//! two for a while, then requests the `<Dial action>` with `DialCallStatus`, whose
//! TwiML replaces the document (without an action, the document goes on).
use super::{FetchError, LiveCall, Wait};
use crate::personas::{persona_for, Pickup};
use crate::twilio::callbacks::{self, Webhook};
use crate::twilio::store::{new_sid, EndReason};
use crate::twilio::twiml::{DialSpec, NumberSpec, Verb};
use crate::voice;
use parley_twilio::dial::DialCallStatus;

/// Scripted times at speed 1, in ms: a person picks up after two rings; a busy line
/// answers at once; a carrier failure takes a moment.
const ANSWER_MS: u64 = 2_000;
const BUSY_MS: u64 = 1_000;
const FAILED_MS: u64 = 500;
/// The bridged person and callee talk this long.
const TALK_MS: u64 = 5_000;

/// Where a dialled leg stands.
#[derive(Debug)]
pub(super) struct DialLeg {
    spec: DialSpec,
    child_sid: String,
    /// The number that answers (with its whisper URL), or how the ring ends.
    ring: Result<NumberSpec, DialCallStatus>,
    bridged: bool,
    until: u64,
    talk_started: u64,
}

/// How a number's line behaves, from the persona table (the same rule as outbound
/// calls: `+15550100003` never answers, `...04` is busy, `...09` fails, others answer).
fn line(number: &str) -> Result<(), DialCallStatus> {
    match persona_for(number).pickup {
        Pickup::Human | Pickup::Machine => Ok(()),
        Pickup::NoAnswer => Err(DialCallStatus::NoAnswer),
        Pickup::Busy => Err(DialCallStatus::Busy),
        Pickup::InvalidNumber | Pickup::CarrierFailure => Err(DialCallStatus::Failed),
    }
}

impl LiveCall {
    /// Starts ringing every number of `spec` (the first to answer is connected).
    pub(super) fn start_dial(&mut self, spec: DialSpec) {
        let digits: Vec<usize> = spec
            .numbers
            .iter()
            .map(|n| n.number.chars().filter(char::is_ascii_digit).count())
            .collect();
        // Not the numbers themselves: the suite's logs hold no phone number whole.
        tracing::debug!(?digits, "twilio sim: <Dial> ringing");
        {
            let mut store = self.ctx.shared.store.lock().expect("store lock");
            store.update(&self.ctx.facts.sid, |call| {
                call.dialed
                    .extend(spec.numbers.iter().map(|n| n.number.clone()))
            });
        }
        let answering = spec.numbers.iter().find(|n| line(&n.number).is_ok());
        let ring = match answering {
            Some(number) => Ok(number.clone()),
            None => Err(line(&spec.numbers[0].number).unwrap_err()),
        };
        let ms = match ring {
            Ok(_) => ANSWER_MS,
            Err(DialCallStatus::Busy) => BUSY_MS,
            Err(DialCallStatus::Failed) => FAILED_MS,
            Err(_) => u64::from(spec.timeout_secs) * 1000,
        };
        let until = self.tick + self.ticks(ms);
        self.wait = Wait::Dial(Box::new(DialLeg {
            spec,
            child_sid: new_sid("CA"),
            ring,
            bridged: false,
            until,
            talk_started: 0,
        }));
    }

    /// Moves the leg on when its time comes; `Some` when the call ends.
    pub(super) async fn on_dial_tick(&mut self) -> Option<EndReason> {
        let Wait::Dial(leg) = &self.wait else {
            return None;
        };
        if self.tick < leg.until {
            return None;
        }
        let Wait::Dial(mut leg) = std::mem::replace(&mut self.wait, Wait::Ready) else {
            return None;
        };
        let status = match (&leg.ring, leg.bridged) {
            (Err(status), _) => *status,
            (Ok(_), true) => DialCallStatus::Completed,
            (Ok(number), false) => match self.whisper(&leg, number).await {
                Ok(whisper_ms) => {
                    leg.bridged = true;
                    leg.talk_started = self.tick;
                    leg.until = self.tick + self.ticks(whisper_ms + TALK_MS);
                    self.wait = Wait::Dial(leg);
                    return None;
                }
                Err(status) => status,
            },
        };
        self.end_dial(*leg, status).await
    }

    /// Fetches and "plays" the `<Number url>` TwiML to the person who answered; how long
    /// it takes, or why the leg ends there.
    async fn whisper(&self, leg: &DialLeg, number: &NumberSpec) -> Result<u64, DialCallStatus> {
        let Some(url) = number.url.as_deref() else {
            return Ok(0);
        };
        let url = self.resolve(url).map_err(|error| {
            tracing::warn!(%error, "twilio sim: <Number url> unusable");
            DialCallStatus::Failed
        })?;
        let facts = &self.ctx.facts;
        let from = leg.spec.caller_id.as_deref().unwrap_or(&facts.from);
        // The child leg's request: its own SID, the parent's as `ParentCallSid`.
        let params: Vec<(String, String)> = [
            ("CallSid", leg.child_sid.as_str()),
            ("AccountSid", facts.account_sid.as_str()),
            ("ParentCallSid", facts.sid.as_str()),
            ("From", from),
            ("To", number.number.as_str()),
            ("CallStatus", "in-progress"),
            ("ApiVersion", "2010-04-01"),
            ("Direction", "outbound-dial"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let hook = Webhook {
            url,
            method_get: number.method_get,
        };
        // UNCONFIRMED: what the parent hears when the whisper cannot be fetched; the leg
        // is taken as failed.
        let verbs = self.request_twiml(&hook, &params).await.map_err(|error| {
            tracing::warn!(%error, "twilio sim: whisper twiml failed");
            DialCallStatus::Failed
        })?;
        let mut said = Vec::new();
        let mut ms = 0;
        for verb in &verbs {
            match verb {
                Verb::Say { text, loops } => {
                    ms += voice::speaking_ms(text) * u64::from((*loops).min(10));
                    said.push(text.clone());
                }
                Verb::Pause { secs } => ms += u64::from(*secs) * 1000,
                Verb::Play { loops, .. } => ms += 1_000 * u64::from((*loops).min(10)),
                // UNCONFIRMED: the person hung up during the whisper; taken as not
                // answered, so the caller's flow moves on.
                Verb::Hangup | Verb::Reject => return Err(DialCallStatus::NoAnswer),
                _ => {}
            }
        }
        let mut store = self.ctx.shared.store.lock().expect("store lock");
        store.update(&facts.sid, |call| call.whispers.push(said.join(" ")));
        Ok(ms)
    }

    /// Reports the end of the leg to the action URL and runs its TwiML, or goes on.
    async fn end_dial(&mut self, leg: DialLeg, status: DialCallStatus) -> Option<EndReason> {
        {
            let mut store = self.ctx.shared.store.lock().expect("store lock");
            store.update(&self.ctx.facts.sid, |call| {
                call.dial_results.push(status.as_str().to_owned())
            });
        }
        let Some(action) = leg.spec.action.as_deref() else {
            return self.advance().await;
        };
        let url = match self.resolve(action) {
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(%error, "twilio sim: dial action unusable");
                return Some(EndReason::ApplicationError);
            }
        };
        let mut params = callbacks::twiml_request_params(&self.ctx.facts, None);
        params.push(("DialCallStatus".into(), status.as_str().into()));
        if leg.ring.is_ok() || status != DialCallStatus::Failed {
            params.push(("DialCallSid".into(), leg.child_sid.clone()));
        }
        if status.connected() {
            let talked = self.tick.saturating_sub(leg.talk_started);
            let secs = (talked as f64 * 0.02 * self.ctx.shared.config.speed_factor()).ceil();
            params.push((
                "DialCallDuration".into(),
                (secs.max(1.0) as u32).to_string(),
            ));
        }
        let hook = Webhook {
            url: url.clone(),
            method_get: leg.spec.method_get,
        };
        match self.request_twiml(&hook, &params).await {
            Ok(verbs) => self.run_document(verbs, Some(url)).await,
            Err(error) => {
                let error: FetchError = error;
                tracing::warn!(%error, "twilio sim: dial action failed: application error");
                Some(EndReason::ApplicationError)
            }
        }
    }
}
