//! The words a person reads for contact states, call and transfer outcomes: the one
//! source of them for the API's labels (and the OpenAPI document's `x-labels`), exports, webhooks, the
//! dashboard (checked against the OpenAPI document) and the README's glossary (checked
//! against [`glossary_markdown`]). Wire values never change; only these words may.
use crate::activity::WaitReason;
use crate::call::{CallOutcome, CallStatus};
use crate::campaign::ProgressState;
use crate::transfer::TransferOutcome;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The reason a contact is cancelled with when its callee opts out.
pub const OPTED_OUT_REASON: &str = "opted out";
/// The reason a contact is cancelled with when its number is on a do-not-call list.
pub const DO_NOT_CALL_REASON: &str = "on a do-not-call list";

/// An enum with person-readable words for each value: a short `label` and a sentence
/// saying what it means.
pub trait Worded: Copy + Serialize + 'static {
    /// Every value, in the order a glossary lists them.
    fn every() -> &'static [Self];
    fn label(self) -> &'static str;
    fn meaning(self) -> &'static str;

    /// The value as it is on the wire (its serde name).
    fn wire(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }
}

/// Implements [`Worded`] from one table; the matches are exhaustive, so a value added to
/// an enum without words does not compile.
macro_rules! words {
    ($ty:ident { $($variant:ident => $label:literal, $meaning:literal;)+ }) => {
        impl Worded for $ty {
            fn every() -> &'static [Self] {
                &[$($ty::$variant),+]
            }
            fn label(self) -> &'static str {
                match self { $($ty::$variant => $label),+ }
            }
            fn meaning(self) -> &'static str {
                match self { $($ty::$variant => $meaning),+ }
            }
        }
    };
}

/// Where a contact stands in a campaign, in a person's terms: its progress state read
/// together with its last outcome and the reason it was given up or taken out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactStanding {
    Ready,
    Scheduled,
    BeingCalled,
    Reached,
    NoAnswer,
    Busy,
    Voicemail,
    TooShort,
    CallFailed,
    OptedOut,
    DoNotCall,
    TakenOut,
}

words!(ContactStanding {
    Ready => "Ready", "Waiting for its turn: it is called as soon as its calling hours and the pacing allow.";
    Scheduled => "Scheduled", "Held back until later: a retry, a callback the callee asked for, its calling hours, a frequency cap or missing consent (what it waits for says which).";
    BeingCalled => "Being called", "Being dialled or on a call right now.";
    Reached => "Reached", "A conversation was held, whatever the agent's verdict; nothing more to try.";
    NoAnswer => "Not reached: no answer", "Its calls rang out unanswered, and no tries are left.";
    Busy => "Not reached: busy", "Its line was busy, and no tries are left.";
    Voicemail => "Not reached: voicemail", "Its calls reached a voicemail or answering machine, and no tries are left.";
    TooShort => "Not reached: call too short", "Answered, but the call was shorter than the campaign's short-call threshold, and no tries are left.";
    CallFailed => "Not reached: call failed", "Its calls could not be connected (a carrier or network error, or the number was refused), and no tries are left.";
    OptedOut => "Opted out", "The callee asked not to be called again; no campaign calls this number.";
    DoNotCall => "Do not call", "The number is on a do-not-call list, so it is not called.";
    TakenOut => "Taken out", "Taken out of the campaign for another reason (its reason says which, e.g. the number is not valid, or no calling time is left).";
});

impl ContactStanding {
    /// The standing of a contact in `state` whose last call ended with `last_outcome`
    /// (wire name) and that was given up or taken out for `reason`.
    pub fn of(
        state: ProgressState,
        last_outcome: Option<&str>,
        reason: Option<&str>,
    ) -> ContactStanding {
        use CallOutcome as O;
        use ContactStanding as S;
        let outcome = last_outcome.and_then(CallOutcome::parse);
        match state {
            ProgressState::Pending => S::Ready,
            ProgressState::Scheduled => S::Scheduled,
            ProgressState::InProgress => S::BeingCalled,
            ProgressState::Cancelled => match (reason, outcome) {
                (Some(OPTED_OUT_REASON), _) | (_, Some(O::OptedOut)) => S::OptedOut,
                (Some(DO_NOT_CALL_REASON), _) => S::DoNotCall,
                _ => S::TakenOut,
            },
            // A finished contact stands where its last call left it.
            ProgressState::Completed | ProgressState::Failed => match outcome {
                Some(O::Success | O::Unsuccessful | O::Conversation) => S::Reached,
                Some(O::OptedOut) => S::OptedOut,
                Some(O::NoAnswer) => S::NoAnswer,
                Some(O::Busy) => S::Busy,
                Some(O::Voicemail) => S::Voicemail,
                Some(O::ShortCall) => S::TooShort,
                Some(O::Failed | O::Canceled) => S::CallFailed,
                None if state == ProgressState::Completed => S::Reached,
                None => S::CallFailed,
            },
        }
    }
}

words!(ProgressState {
    Pending => "Ready", "Waiting for its turn: called as soon as its calling hours and the pacing allow.";
    Scheduled => "Scheduled", "Held back until later: a retry, a callback, its calling hours, a frequency cap or missing consent.";
    InProgress => "Being called", "Being dialled or on a call right now.";
    Completed => "Done", "Finished: reached, or ended by an outcome that needs no more tries.";
    Failed => "Gave up", "Not reached, and no tries are left (or the number was refused).";
    Cancelled => "Taken out", "Taken out of the campaign: opted out, on a do-not-call list, or not callable.";
});

words!(CallOutcome {
    Success => "Successful", "A conversation the agent judged successful.";
    Unsuccessful => "Unsuccessful", "A conversation the agent judged unsuccessful.";
    Conversation => "Conversation", "A conversation with no verdict from the agent.";
    ShortCall => "Short call", "Answered, but shorter than the campaign's short-call threshold.";
    Voicemail => "Voicemail", "Reached a voicemail or answering machine.";
    NoAnswer => "No answer", "Rang out without being answered.";
    Busy => "Busy", "The line was busy.";
    Failed => "Call failed", "Could not be connected: a carrier or network error, or the number was refused.";
    Canceled => "Call cancelled", "Ended before it connected, usually by Parley (e.g. the number went on a do-not-call list).";
    OptedOut => "Opted out", "The callee asked not to be called again.";
});

words!(CallStatus {
    Queued => "Queued", "Written by Parley; the carrier not yet asked to place it.";
    Initiated => "Dialing", "The carrier accepted the call and is dialling.";
    Ringing => "Ringing", "The callee's phone is ringing.";
    InProgress => "In progress", "Answered; the call is going on.";
    Completed => "Completed", "The call was answered and has ended.";
    Busy => "Busy", "The line was busy.";
    NoAnswer => "No answer", "Rang out without being answered.";
    Failed => "Call failed", "The carrier could not place the call.";
    Canceled => "Call cancelled", "Ended before it was answered, by Parley.";
});

words!(WaitReason {
    Due => "Due now", "Nothing: dialled as soon as a call slot and the pacing allow.";
    OutsideCallingWindow => "Outside calling hours", "The campaign's calling window, in the contact's time zone, is closed until its next opening.";
    StateCallingHours => "Outside the state's calling hours", "Its state's calling hours, stricter than the window, are closed.";
    FrequencyCap => "At a frequency cap", "Its number had as many calls as its jurisdiction allows in a rolling period.";
    NoConsent => "No consent", "Its consent does not satisfy the campaign's required consent.";
    Retry => "Retry", "A retry after an earlier attempt, at its scheduled time.";
    Callback => "Callback requested", "A callback the callee asked for, at the time they gave.";
});

words!(TransferOutcome {
    InProgress => "Ringing", "Its numbers are being rung, one after the other.";
    Connected => "Connected", "A person answered, heard the whisper and was connected to the callee.";
    NoAnswer => "No one answered", "No number answered (they rang out, some were busy, or the callee hung up while one rang); the callee heard the fallback.";
    Busy => "Every line busy", "Every number rung was busy; the callee heard the fallback.";
    Failed => "Failed", "Every number failed to ring, or the carrier refused the redirect (then the agent talked on).";
});

/// Every worded enum under its OpenAPI schema name, each value as `(wire, label)`.
pub fn labels() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    fn of<T: Worded>() -> Vec<(String, &'static str)> {
        T::every().iter().map(|v| (v.wire(), v.label())).collect()
    }
    vec![
        ("ContactStanding", of::<ContactStanding>()),
        ("ProgressState", of::<ProgressState>()),
        ("CallOutcome", of::<CallOutcome>()),
        ("CallStatus", of::<CallStatus>()),
        ("WaitReason", of::<WaitReason>()),
        ("TransferOutcome", of::<TransferOutcome>()),
    ]
}

/// Where the glossary sits in the README.
pub const GLOSSARY_BEGIN: &str =
    "<!-- glossary:begin (generated from the domain's words; see parley-domain/src/vocabulary.rs) -->";
pub const GLOSSARY_END: &str = "<!-- glossary:end -->";

/// The README's glossary: contact standings, progress states, call outcomes and transfer
/// outcomes, each a table of the word, the API value and what it means.
pub fn glossary_markdown() -> String {
    fn table<T: Worded>(out: &mut String, title: &str, intro: &str) {
        out.push_str(&format!(
            "**{title}** {intro}\n\n| word | API value | meaning |\n|---|---|---|\n"
        ));
        for v in T::every() {
            out.push_str(&format!(
                "| {} | `{}` | {} |\n",
                v.label(),
                v.wire(),
                v.meaning()
            ));
        }
        out.push('\n');
    }
    let mut out = String::new();
    table::<ContactStanding>(
        &mut out,
        "Contact standings.",
        "Where a contact stands in a campaign (`standing` on a campaign's contacts, the \
         contacts export's `standing` column, `contact_standing` in `call.completed`): its \
         state read with its last outcome and reason.",
    );
    table::<ProgressState>(
        &mut out,
        "Contact states.",
        "The coarse state behind a standing (`state`), and the campaign's progress counters.",
    );
    table::<CallOutcome>(
        &mut out,
        "Call outcomes.",
        "How one call ended (`outcome`, with its words in `outcome_label`).",
    );
    table::<TransferOutcome>(
        &mut out,
        "Transfer outcomes.",
        "How a warm transfer to a person went (`transfer.outcome` on a call and in `call.transferred`, with its words in `outcome_label`).",
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
