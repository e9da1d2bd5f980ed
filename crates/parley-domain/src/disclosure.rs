//! What a campaign's calls must say before anything else: who is calling and that the
//! voice is automated (47 CFR 64.1200(b)(1) asks every artificial-voice message to name
//! the caller at its start), and, where every party must consent to a recording, either a
//! recording notice first or no recording at all.
use crate::jurisdiction::RecordingRule;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A disclosure text is at most this long (in characters).
pub const MAX_DISCLOSURE_CHARS: usize = 500;

/// A campaign's disclosure rules. Off by default, except that calls into all-party-consent
/// jurisdictions are not recorded unless the campaign chooses to say a notice first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Disclosures {
    /// The campaign starts (and resumes) only if its first message contains both
    /// `identification` and `ai_voice` (case and spacing aside).
    pub required: bool,
    /// Who is calling, as the first message must say it, e.g. "Acme Dental".
    pub identification: Option<String>,
    /// The words that tell the callee the voice is automated, e.g. "an AI assistant".
    pub ai_voice: Option<String>,
    /// What a recorded campaign does on calls to a jurisdiction where every party must
    /// consent to a recording (see the rules table).
    pub all_party_recording: AllPartyRecording,
    /// Said before the first message on those calls when `all_party_recording` is
    /// `notice_first`, e.g. "This call is recorded."
    pub recording_notice: Option<String>,
}

/// Recording calls into all-party-consent jurisdictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllPartyRecording {
    /// Those calls are not recorded (the safe default: no notice can be forgotten).
    #[default]
    DoNotRecord,
    /// Those calls are recorded, and the agent says `recording_notice` before its first
    /// message.
    NoticeFirst,
}

/// How one call is recorded and what the agent says first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecording {
    pub record: bool,
    /// The first message to send, the recording notice included when one is due.
    pub first_message: Option<String>,
    /// The rule that kept the call from being recorded, e.g. `Fla. Stat. 934.03`.
    pub withheld_by: Option<String>,
}

impl Disclosures {
    /// Checks the fields' shapes (their use is checked at start, by [`Self::check_start`]).
    pub fn validate(&self, e: &mut FieldErrors) {
        for (field, text) in [
            ("identification", &self.identification),
            ("ai_voice", &self.ai_voice),
            ("recording_notice", &self.recording_notice),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_DISCLOSURE_CHARS)
            {
                e.add(
                    format!("disclosures.{field}"),
                    format!("must be at most {MAX_DISCLOSURE_CHARS} characters"),
                );
            }
        }
        if self.required {
            for (field, text) in [
                ("identification", &self.identification),
                ("ai_voice", &self.ai_voice),
            ] {
                if blank(text) {
                    e.add(
                        format!("disclosures.{field}"),
                        "is required when disclosures are required",
                    );
                }
            }
        }
    }

    /// Whether a campaign with this first message may start: the required disclosures are
    /// in it, and a recording notice has a first message to precede. Errors name the
    /// field to change.
    pub fn check_start(
        &self,
        first_message: Option<&str>,
        record_calls: bool,
    ) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let first = first_message.map(normalise).filter(|m| !m.is_empty());
        if self.required {
            match &first {
                None => e.add(
                    "first_message",
                    "is required: the disclosures must be in the first message, and the \
                     agent's own first message cannot be checked",
                ),
                Some(message) => {
                    for (what, text) in [
                        ("the identification", &self.identification),
                        ("the AI-voice disclosure", &self.ai_voice),
                    ] {
                        let wanted = text.as_deref().map(normalise).unwrap_or_default();
                        if !message.contains(&wanted) {
                            e.add(
                                "first_message",
                                format!(
                                    "must contain {what} \"{}\"",
                                    text.as_deref().unwrap_or_default().trim()
                                ),
                            );
                        }
                    }
                }
            }
        }
        if record_calls && self.all_party_recording == AllPartyRecording::NoticeFirst {
            if blank(&self.recording_notice) {
                e.add(
                    "disclosures.recording_notice",
                    "is required when all_party_recording is notice_first",
                );
            }
            if first.is_none() {
                e.add(
                    "first_message",
                    "is required when all_party_recording is notice_first: the notice is \
                     said before it",
                );
            }
        }
        e.into_result()
    }

    /// How a call is recorded, given the campaign's choice and the all-party-consent rule
    /// of the callee's jurisdiction (if it has one).
    pub fn call_recording(
        &self,
        record_calls: bool,
        first_message: Option<&str>,
        all_party: Option<&RecordingRule>,
    ) -> CallRecording {
        let first_message = first_message.map(str::to_owned);
        let Some(rule) = all_party.filter(|_| record_calls) else {
            return CallRecording {
                record: record_calls,
                first_message,
                withheld_by: None,
            };
        };
        let notice = self.recording_notice.as_deref().map(str::trim);
        match (self.all_party_recording, notice, first_message) {
            (AllPartyRecording::NoticeFirst, Some(notice), Some(first)) if !notice.is_empty() => {
                CallRecording {
                    record: true,
                    first_message: Some(format!("{notice} {first}")),
                    withheld_by: None,
                }
            }
            // Without a notice to say (a setting changed under a running campaign cannot
            // get here past `check_start`, but the call is safe either way): no recording.
            (_, _, first_message) => CallRecording {
                record: false,
                first_message,
                withheld_by: Some(rule.cited.citation.clone()),
            },
        }
    }
}

fn blank(text: &Option<String>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

/// Lower case with runs of white space as one space, for "contains" checks that ignore
/// case and spacing.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jurisdiction::{Jurisdiction, RuleBook};

    fn required() -> Disclosures {
        Disclosures {
            required: true,
            identification: Some("Acme Dental".into()),
            ai_voice: Some("an AI assistant".into()),
            ..Default::default()
        }
    }

    fn fields(result: Result<(), FieldErrors>) -> Vec<String> {
        result
            .err()
            .map(|e| e.0.into_iter().map(|f| f.message).collect())
            .unwrap_or_default()
    }

    fn florida() -> &'static RecordingRule {
        RuleBook::shipped()
            .all_party_recording_consent(&Jurisdiction::state("FL"))
            .expect("Florida requires every party's consent")
    }

    #[test]
    fn a_first_message_with_both_disclosures_passes_whatever_its_case_and_spacing() {
        let first = "Hi {{first_name}}, this is Sam,  AN AI\nassistant calling for acme dental.";
        assert_eq!(required().check_start(Some(first), false), Ok(()));
    }

    #[test]
    fn a_first_message_missing_the_ai_disclosure_is_refused_with_the_words_it_lacks() {
        let errors =
            fields(required().check_start(Some("Hi, this is Sam from Acme Dental."), false));
        assert_eq!(
            errors,
            vec!["must contain the AI-voice disclosure \"an AI assistant\""]
        );
    }

    #[test]
    fn required_disclosures_need_a_first_message_of_the_campaigns_own() {
        let errors = fields(required().check_start(None, false));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("is required"), "{errors:?}");
    }

    #[test]
    fn disclosures_off_check_nothing() {
        assert_eq!(Disclosures::default().check_start(None, true), Ok(()));
    }

    #[test]
    fn required_disclosures_need_their_texts() {
        let mut e = FieldErrors::new();
        Disclosures {
            required: true,
            ..Default::default()
        }
        .validate(&mut e);
        let named: Vec<String> = e.0.into_iter().map(|f| f.field).collect();
        assert_eq!(
            named,
            ["disclosures.identification", "disclosures.ai_voice"]
        );
    }

    #[test]
    fn a_recording_notice_needs_its_text_and_a_first_message_to_precede() {
        let notice_first = Disclosures {
            all_party_recording: AllPartyRecording::NoticeFirst,
            ..Default::default()
        };
        assert_eq!(fields(notice_first.check_start(None, true)).len(), 2);
        // Nothing is recorded, so there is nothing to announce.
        assert_eq!(notice_first.check_start(None, false), Ok(()));
    }

    #[test]
    fn by_default_a_call_into_an_all_party_consent_state_is_not_recorded_and_says_why() {
        let plan = Disclosures::default().call_recording(true, Some("Hello"), Some(florida()));
        assert!(!plan.record);
        assert_eq!(plan.first_message.as_deref(), Some("Hello"));
        assert_eq!(plan.withheld_by.as_deref(), Some("Fla. Stat. 934.03"));
    }

    #[test]
    fn with_notice_first_the_notice_is_said_before_the_first_message_and_the_call_recorded() {
        let d = Disclosures {
            all_party_recording: AllPartyRecording::NoticeFirst,
            recording_notice: Some(" This call is recorded. ".into()),
            ..Default::default()
        };
        let plan = d.call_recording(true, Some("Hi, this is Sam."), Some(florida()));
        assert!(plan.record);
        assert_eq!(
            plan.first_message.as_deref(),
            Some("This call is recorded. Hi, this is Sam.")
        );
        assert_eq!(plan.withheld_by, None);
    }

    #[test]
    fn calls_elsewhere_and_unrecorded_campaigns_are_left_as_they_are() {
        let d = Disclosures {
            all_party_recording: AllPartyRecording::NoticeFirst,
            recording_notice: Some("This call is recorded.".into()),
            ..Default::default()
        };
        let elsewhere = d.call_recording(true, Some("Hi"), None);
        assert!(elsewhere.record);
        assert_eq!(elsewhere.first_message.as_deref(), Some("Hi"));
        let unrecorded = d.call_recording(false, Some("Hi"), Some(florida()));
        assert!(!unrecorded.record);
        assert_eq!(unrecorded.first_message.as_deref(), Some("Hi"));
        assert_eq!(unrecorded.withheld_by, None);
    }

    #[test]
    fn maryland_calls_are_withheld_from_recording_by_its_own_statute() {
        let maryland = RuleBook::shipped()
            .all_party_recording_consent(&Jurisdiction::state("MD"))
            .expect("Maryland requires every party's consent");
        let plan = Disclosures::default().call_recording(true, None, Some(maryland));
        assert!(!plan.record);
        assert_eq!(
            plan.withheld_by.as_deref(),
            Some("Md. Code, Cts. & Jud. Proc. 10-402(c)(3)")
        );
    }

    #[test]
    fn federal_law_alone_lets_a_call_be_recorded_by_one_party() {
        let rule = RuleBook::shipped().all_party_recording_consent(&Jurisdiction::state("NY"));
        assert!(rule.is_none());
    }
}
