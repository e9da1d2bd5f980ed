//! Warm transfers: where a campaign's `transfer_to_human` sends the callee, what the
//! person who answers hears first (the whisper), and what happens when no one answers.
//! The targets are rung one after the other; the first to answer hears the whisper and
//! is then connected to the callee.
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// At most this many targets per campaign (each one rings for `ring_seconds`).
pub const MAX_TARGETS: usize = 5;
/// Whisper and fallback texts are at most this long (in characters).
pub const MAX_TEXT_CHARS: usize = 500;
/// Twilio's `<Dial timeout>` allows 5-600 s; beyond two minutes the callee waits too long.
pub const MIN_RING_SECONDS: u32 = 5;
pub const MAX_RING_SECONDS: u32 = 120;
/// A fallback callback is at most a week away.
pub const MAX_CALLBACK_MINUTES: u32 = 7 * 24 * 60;
/// The whisper when a campaign sets none.
pub const DEFAULT_WHISPER: &str =
    "Transferred call from {{contact_name}}, campaign {{campaign}}. Reason: {{reason}}.";

/// A campaign's transfer settings (`transfer` in its settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TransferSettings {
    /// Numbers to ring, E.164, tried in order until one answers. Empty: the server's
    /// `tools.transfer.number`.
    #[schema(example = json!(["+15550109999"]))]
    pub targets: Vec<String>,
    /// Said to the person who answers, before the callee is connected. `{{name}}`
    /// placeholders: `reason` (what the agent gave the tool), `campaign`,
    /// `contact_name`, and the call's dynamic variables (`first_name`, ...); unknown
    /// names say nothing. Default [`DEFAULT_WHISPER`].
    pub whisper: Option<String>,
    /// How long each target rings before the next is tried. 5-120, default 20.
    pub ring_seconds: u32,
    pub fallback: TransferFallback,
}

/// What the callee gets when no target answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TransferFallback {
    /// Said to the callee before the call ends.
    pub voicemail_message: Option<String>,
    /// Call the contact back this many minutes later (moved into the campaign's calling
    /// hours); 1-10080. None: no callback.
    pub schedule_callback_in_minutes: Option<u32>,
}

impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            targets: Vec::new(),
            whisper: None,
            ring_seconds: 20,
            fallback: TransferFallback::default(),
        }
    }
}

impl TransferSettings {
    pub fn validate(&self, e: &mut FieldErrors) {
        if self.targets.len() > MAX_TARGETS {
            e.add("transfer.targets", format!("at most {MAX_TARGETS} numbers"));
        }
        for (i, target) in self.targets.iter().enumerate() {
            if crate::Phone::from_e164(target).is_err() {
                e.add(
                    format!("transfer.targets[{i}]"),
                    "must be a phone number in E.164 form, e.g. +15550109999",
                );
            } else if self.targets[..i].contains(target) {
                e.add(format!("transfer.targets[{i}]"), "is listed twice");
            }
        }
        if !(MIN_RING_SECONDS..=MAX_RING_SECONDS).contains(&self.ring_seconds) {
            e.add(
                "transfer.ring_seconds",
                format!("must be between {MIN_RING_SECONDS} and {MAX_RING_SECONDS}"),
            );
        }
        for (field, text) in [
            ("transfer.whisper", &self.whisper),
            (
                "transfer.fallback.voicemail_message",
                &self.fallback.voicemail_message,
            ),
        ] {
            match text {
                Some(t) if t.trim().is_empty() => e.add(field, "must not be blank"),
                Some(t) if t.chars().count() > MAX_TEXT_CHARS => e.add(
                    field,
                    format!("must be at most {MAX_TEXT_CHARS} characters"),
                ),
                Some(t) if !placeholders_closed(t) => {
                    e.add(field, "has a `{{` without a closing `}}`")
                }
                _ => {}
            }
        }
        if let Some(minutes) = self.fallback.schedule_callback_in_minutes {
            if !(1..=MAX_CALLBACK_MINUTES).contains(&minutes) {
                e.add(
                    "transfer.fallback.schedule_callback_in_minutes",
                    format!("must be between 1 and {MAX_CALLBACK_MINUTES}"),
                );
            }
        }
    }
}

fn placeholders_closed(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        match rest[start + 2..].find("}}") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return false,
        }
    }
    true
}

/// Fills `{{name}}` placeholders (spaces inside the braces allowed) from `values`;
/// unknown names become empty. The result is cut to [`MAX_TEXT_CHARS`] characters, as
/// values may be long.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        if let Some(value) = values.get(after[..end].trim()) {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(MAX_TEXT_CHARS).collect()
}

/// How a transfer ended, as the call records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    /// Targets are being rung.
    InProgress,
    /// A target answered, heard the whisper and was connected.
    Connected,
    /// No target answered (they rang out, or some were busy, or the callee left while
    /// one rang).
    NoAnswer,
    /// Every target rung was busy (Twilio's `DialCallStatus` `busy`): the people are on
    /// other calls, rather than away.
    Busy,
    /// Every target failed to ring (carrier failure), or the transfer could not start.
    Failed,
}

crate::named_enum!(TransferOutcome {
    InProgress => "in_progress",
    Connected => "connected",
    NoAnswer => "no_answer",
    Busy => "busy",
    Failed => "failed",
});

impl TransferOutcome {
    /// Whether the transfer is over: every outcome but `InProgress` is final.
    pub fn is_settled(self) -> bool {
        self != TransferOutcome::InProgress
    }

    /// Whether a call's transfer at `self` may become `next`. Only a transfer whose
    /// targets ring moves on (to the next target, or to how it ended); a settled one
    /// never changes, so a late, repeated or out-of-order Twilio request cannot rewrite
    /// it. The store turns this into its update's `WHERE`.
    pub fn may_become(self, next: TransferOutcome) -> bool {
        use TransferOutcome::*;
        // Spelled out, so that a new outcome needs a decision here to compile.
        match (self, next) {
            (InProgress, InProgress | Connected | NoAnswer | Busy | Failed) => true,
            (Connected | NoAnswer | Busy | Failed, _) => false,
        }
    }

    /// What the call's termination reason says once its transfer settled so (the agent's
    /// part ended with [`TRANSFERRED_REASON`] when it began).
    pub fn termination_reason(self) -> &'static str {
        match self {
            TransferOutcome::InProgress | TransferOutcome::Connected => TRANSFERRED_REASON,
            TransferOutcome::NoAnswer => "transferred to a person; no one answered",
            TransferOutcome::Busy => "transferred to a person; every line was busy",
            TransferOutcome::Failed => "the transfer to a person failed",
        }
    }

    /// Whether a call never transferred may start its transfer at `self`: a transfer
    /// starts by ringing, so it cannot be settled before it began.
    pub fn may_start(self) -> bool {
        self == TransferOutcome::InProgress
    }
}

/// The termination reason the agent's transfer gives a call: its conversation ends
/// when the transfer starts.
pub const TRANSFERRED_REASON: &str = "transferred to a person";

/// Whether a transfer standing at target `from` may move to target `to`: targets ring in
/// order, so a ring the transfer has moved past cannot move it back or settle it.
pub fn target_may_move(from: i64, to: i64) -> bool {
    to >= from
}

/// One target rung during a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransferAttempt {
    /// 0-based position in the transfer's targets.
    pub index: i64,
    pub number: String,
    /// The person answered and the whisper was fetched for them.
    pub whisper_heard: bool,
    /// Twilio's `DialCallStatus` once the ringing or the talk ended (`completed`,
    /// `no-answer`, `busy`, `failed`, `canceled`); null while it goes on.
    pub dial_status: Option<String>,
}

/// A call's warm transfer, as the call page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CallTransfer {
    pub outcome: TransferOutcome,
    /// The outcome in a person's words (see the README's glossary).
    #[schema(example = "Connected")]
    pub outcome_label: &'static str,
    /// The target that connected, or the last one tried.
    pub target_index: Option<i64>,
    pub targets: Vec<String>,
    pub reason: String,
    /// The whisper text the targets hear.
    pub whisper: String,
    /// The targets rung so far, in order.
    pub attempts: Vec<TransferAttempt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(settings: &TransferSettings) -> Vec<String> {
        let mut e = FieldErrors::new();
        settings.validate(&mut e);
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        assert!(errors(&TransferSettings::default()).is_empty());
        let bad = TransferSettings {
            targets: vec![
                "+15550109999".into(),
                "555-0100".into(),
                "+15550109999".into(),
            ],
            whisper: Some("Hi {{name".into()),
            ring_seconds: 2,
            fallback: TransferFallback {
                voicemail_message: Some("  ".into()),
                schedule_callback_in_minutes: Some(0),
            },
        };
        assert_eq!(
            errors(&bad),
            [
                "transfer.targets[1]",
                "transfer.targets[2]",
                "transfer.ring_seconds",
                "transfer.whisper",
                "transfer.fallback.voicemail_message",
                "transfer.fallback.schedule_callback_in_minutes",
            ]
        );
        let many = TransferSettings {
            targets: (0..6).map(|i| format!("+1555010999{i}")).collect(),
            ..TransferSettings::default()
        };
        assert_eq!(errors(&many), ["transfer.targets"]);
    }

    #[test]
    fn a_settled_transfer_never_changes_and_a_ringing_one_only_moves_forward() {
        use TransferOutcome::*;
        assert!(InProgress.may_become(InProgress), "the next target rings");
        for &settled in &[Connected, NoAnswer, Busy, Failed] {
            assert!(InProgress.may_become(settled));
            for &next in TransferOutcome::ALL {
                assert!(!settled.may_become(next), "{settled} -> {next}");
            }
            assert!(!settled.may_start(), "{settled} before any ring");
        }
        assert!(InProgress.may_start());
        assert!(target_may_move(0, 1) && target_may_move(1, 1));
        assert!(!target_may_move(2, 1), "a ring moved past");
    }

    #[test]
    fn renders_known_names_and_drops_unknown_ones() {
        let values = BTreeMap::from([
            ("reason".to_string(), "wants a person".to_string()),
            ("first_name".to_string(), "Ada".to_string()),
        ]);
        assert_eq!(
            render(
                "Call from {{ first_name }} ({{company}}): {{reason}}.",
                &values
            ),
            "Call from Ada (): wants a person."
        );
        assert_eq!(render("open {{reason", &values), "open {{reason");
        let long = "x".repeat(900);
        let values = BTreeMap::from([("reason".to_string(), long)]);
        assert_eq!(
            render("{{reason}}", &values).chars().count(),
            MAX_TEXT_CHARS
        );
    }
}
