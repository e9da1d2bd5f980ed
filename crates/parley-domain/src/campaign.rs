//! Campaigns: settings, their validation, and the campaign state machine.
use crate::{FieldErrors, Phone};
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    /// Started, waiting for its start date.
    Scheduled,
    Running,
    Paused,
    /// Nothing is left to do.
    Completed,
    /// Stopped by a person; final.
    Stopped,
    /// Given up by the system; final.
    Failed,
}

/// What a person (or the system) asks of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignAction {
    Start,
    Pause,
    Resume,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a campaign that is {from}")]
pub struct IllegalTransition {
    pub from: CampaignState,
    pub action: CampaignAction,
}

crate::named_enum!(CampaignState {
    Draft => "draft",
    Scheduled => "scheduled",
    Running => "running",
    Paused => "paused",
    Completed => "completed",
    Stopped => "stopped",
    Failed => "failed",
});

crate::named_enum!(CampaignAction {
    Start => "start",
    Pause => "pause",
    Resume => "resume",
    Stop => "stop",
});

impl CampaignState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CampaignState::Completed | CampaignState::Stopped | CampaignState::Failed
        )
    }

    /// Whether a new attempt may be dialled: only while running (a paused or stopped
    /// campaign lets the calls in progress finish, and starts no others).
    pub fn dials(self) -> bool {
        self == CampaignState::Running
    }

    /// Whether settings may still be edited (not while calls may be placed, not once over).
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            CampaignState::Draft | CampaignState::Paused | CampaignState::Scheduled
        )
    }

    /// The state after `action`. `starts_later` tells whether the campaign's start date is
    /// still in the future, which makes a started campaign wait as `scheduled`.
    pub fn apply(
        self,
        action: CampaignAction,
        starts_later: bool,
    ) -> Result<CampaignState, IllegalTransition> {
        use CampaignAction as A;
        use CampaignState as S;
        let waiting_or_running = if starts_later {
            S::Scheduled
        } else {
            S::Running
        };
        let next = match (self, action) {
            (S::Draft, A::Start) => Some(waiting_or_running),
            (S::Running | S::Scheduled, A::Pause) => Some(S::Paused),
            (S::Paused, A::Resume) => Some(waiting_or_running),
            (S::Draft | S::Scheduled | S::Running | S::Paused, A::Stop) => Some(S::Stopped),
            _ => None,
        };
        next.ok_or(IllegalTransition { from: self, action })
    }
}

/// Local hours and weekdays during which a contact may be called, in the contact's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingWindow {
    /// Local start time, `HH:MM`.
    #[schema(value_type = String, example = "09:00")]
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// Local end time, `HH:MM` (exclusive).
    #[schema(value_type = String, example = "20:00")]
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
    /// Days on which calls may be placed.
    #[schema(value_type = Vec<String>, example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    #[serde(with = "weekdays")]
    pub days: Vec<Weekday>,
}

impl Default for CallingWindow {
    fn default() -> Self {
        CallingWindow {
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            end: NaiveTime::from_hms_opt(20, 0, 0).expect("valid time"),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

/// Local times of day as `HH:MM` (`HH:MM:SS` is accepted on input).
mod hhmm {
    use chrono::NaiveTime;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(&raw, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&raw, "%H:%M:%S"))
            .map_err(|_| D::Error::custom(format!("`{raw}` is not a time of day (HH:MM)")))
    }
}

/// Weekdays as written in settings and rules files: `mon`..`sun` (or any word they begin).
pub(crate) mod weekdays {
    use chrono::Weekday;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    const NAMES: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| {
            NAMES
                .iter()
                .find(|(_, w)| w == d)
                .map(|(n, _)| *n)
                .unwrap_or("mon")
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter()
            .map(|s| {
                let key = s.to_ascii_lowercase();
                NAMES
                    .iter()
                    .find(|(n, _)| key.starts_with(n))
                    .map(|(_, w)| *w)
                    .ok_or_else(|| D::Error::custom(format!("`{s}` is not a weekday")))
            })
            .collect()
    }
}

/// How often, and how long after, to try again after one kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Total attempts allowed for a contact whose attempts end this way (1 = no retry).
    pub max_attempts: u32,
    /// Minutes to wait before the next attempt.
    pub delay_minutes: u32,
}

impl RetryRule {
    const fn new(max_attempts: u32, delay_minutes: u32) -> Self {
        RetryRule {
            max_attempts,
            delay_minutes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    pub no_answer: RetryRule,
    pub busy: RetryRule,
    pub failed: RetryRule,
    pub voicemail: RetryRule,
    /// A call that connected but lasted less than `short_call_seconds`.
    pub short_call: RetryRule,
    pub short_call_seconds: u32,
    /// The agent's analysis judged the call unsuccessful.
    pub unsuccessful: RetryRule,
    /// At most this many attempts per contact per local day.
    pub max_attempts_per_day: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            no_answer: RetryRule::new(3, 240),
            busy: RetryRule::new(3, 30),
            failed: RetryRule::new(2, 60),
            voicemail: RetryRule::new(2, 1440),
            short_call: RetryRule::new(2, 120),
            short_call_seconds: 10,
            unsuccessful: RetryRule::new(1, 1440),
            max_attempts_per_day: 2,
        }
    }
}

/// What to do when answering-machine detection says a machine answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachinePolicy {
    /// No detection: the agent talks to whoever answers.
    Off,
    /// Hang up as soon as a machine is detected.
    HangUp,
    /// Wait for the beep, leave `voicemail_message`, hang up.
    LeaveVoicemail,
    /// Detect (and record the verdict) but let the agent talk anyway.
    AgentTalks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AnsweringMachine {
    pub policy: MachinePolicy,
    /// Spoken after the beep when `policy` is `leave_voicemail`.
    pub voicemail_message: Option<String>,
}

impl Default for AnsweringMachine {
    fn default() -> Self {
        AnsweringMachine {
            policy: MachinePolicy::HangUp,
            voicemail_message: None,
        }
    }
}

/// Every setting of a campaign. Defaults are safe: one call per second (Twilio's default
/// account limit), business hours on weekdays, the legal-hours guard on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignSettings {
    /// ElevenLabs agent id (optional in sandbox mode).
    pub agent_id: Option<String>,
    /// Numbers calls are placed from, E.164; used in turn.
    #[schema(value_type = Vec<String>, example = json!(["+15005550006"]))]
    pub caller_ids: Vec<Phone>,
    pub max_concurrent_calls: u32,
    pub calls_per_second: f64,
    pub calling_window: CallingWindow,
    /// Lifts the federal 08:00-21:00 local-time guard (and any rule marked
    /// `lifted_by_permission`), never a state's hours. Only for contacts who agreed to it.
    pub allow_outside_legal_hours: bool,
    #[schema(value_type = Option<String>, example = "2026-12-01")]
    pub start_date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, example = "2026-12-31")]
    pub end_date: Option<NaiveDate>,
    pub retry: RetryPolicy,
    pub answering_machine: AnsweringMachine,
    pub record_calls: bool,
    pub max_call_duration_seconds: u32,
    /// Agent dynamic variable name -> contact field (`first_name`, `company`, or any
    /// custom field name).
    pub dynamic_variables: BTreeMap<String, String>,
    /// Give the agent what earlier calls to the contact learned, as dynamic variables.
    pub remember_previous_calls: crate::memory::RememberPreviousCalls,
    /// Dynamic variables sent to the agent but left out of call records (as are all
    /// named `secret__...`).
    pub hidden_variables: Vec<String>,
    pub first_message: Option<String>,
    pub prompt: Option<String>,
    /// The consent a contact must have to be called (`express_written` by default: AI
    /// voices need prior express written consent for marketing calls). Contacts without
    /// it wait, undialled, with the reason `no_consent`.
    pub required_consent: crate::consent::ConsentType,
    /// Results written back to the Google Sheet the contacts were imported from.
    pub sheet_write_back: crate::write_back::SheetWriteBack,
    /// The campaign pauses itself (reason `abandonment_rate`) when more than this
    /// percentage of its live-answered calls over the last 30 days were abandoned (the
    /// agent's first audio over 2 s after the answer), once it has 20 such calls
    /// (47 CFR 64.1200(a)(7) allows 3%). 0-100.
    pub max_abandonment_rate_pct: f64,
    /// What the first message must say, and how calls into all-party-consent
    /// jurisdictions are recorded.
    pub disclosures: crate::disclosure::Disclosures,
    /// A/B variants: each contact gets one (by a stable hash, by weight), whose agent,
    /// first message and prompt replace the campaign's. Empty: no test.
    pub variants: Vec<crate::variants::Variant>,
    /// Contact fields the language, voice and first message of each call are read from
    /// (when set and usable), over the campaign's and its variant's.
    pub contact_overrides: crate::overrides::ContactOverrides,
    /// Where `transfer_to_human` rings, the whisper, and the fallback (warm transfer).
    pub transfer: crate::transfer::TransferSettings,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings {
            agent_id: None,
            caller_ids: Vec::new(),
            max_concurrent_calls: 5,
            calls_per_second: 1.0,
            calling_window: CallingWindow::default(),
            allow_outside_legal_hours: false,
            start_date: None,
            end_date: None,
            retry: RetryPolicy::default(),
            answering_machine: AnsweringMachine::default(),
            record_calls: true,
            max_call_duration_seconds: 600,
            dynamic_variables: BTreeMap::new(),
            remember_previous_calls: Default::default(),
            hidden_variables: Vec::new(),
            first_message: None,
            prompt: None,
            required_consent: crate::consent::CAMPAIGN_DEFAULT,
            sheet_write_back: Default::default(),
            max_abandonment_rate_pct: crate::quality::DEFAULT_MAX_ABANDONMENT_PCT,
            disclosures: Default::default(),
            variants: Vec::new(),
            contact_overrides: Default::default(),
            transfer: Default::default(),
        }
    }
}

pub const MAX_CONCURRENT_CALLS: u32 = 1000;
pub const MAX_CALLS_PER_SECOND: f64 = 100.0;
pub const MAX_CALL_DURATION_SECONDS: u32 = 4 * 3600;

impl CampaignSettings {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.agent_id.as_ref().is_some_and(|a| a.trim().is_empty()) {
            e.add("agent_id", "must not be blank");
        }
        if !(1..=MAX_CONCURRENT_CALLS).contains(&self.max_concurrent_calls) {
            e.add(
                "max_concurrent_calls",
                format!("must be between 1 and {MAX_CONCURRENT_CALLS}"),
            );
        }
        if !(self.calls_per_second > 0.0 && self.calls_per_second <= MAX_CALLS_PER_SECOND) {
            e.add(
                "calls_per_second",
                format!("must be above 0 and at most {MAX_CALLS_PER_SECOND}"),
            );
        }
        let w = &self.calling_window;
        if w.start >= w.end {
            e.add("calling_window.end", "must be later than the start");
        }
        if w.days.is_empty() {
            e.add("calling_window.days", "choose at least one day");
        }
        if let (Some(s), Some(end)) = (self.start_date, self.end_date) {
            if end < s {
                e.add("end_date", "must not be before the start date");
            }
        }
        let r = &self.retry;
        for (name, rule) in [
            ("no_answer", r.no_answer),
            ("busy", r.busy),
            ("failed", r.failed),
            ("voicemail", r.voicemail),
            ("short_call", r.short_call),
            ("unsuccessful", r.unsuccessful),
        ] {
            if !(1..=20).contains(&rule.max_attempts) {
                e.add(
                    format!("retry.{name}.max_attempts"),
                    "must be between 1 and 20",
                );
            }
            if rule.delay_minutes > 60 * 24 * 30 {
                e.add(
                    format!("retry.{name}.delay_minutes"),
                    "must be at most 30 days",
                );
            }
        }
        if !(1..=20).contains(&r.max_attempts_per_day) {
            e.add("retry.max_attempts_per_day", "must be between 1 and 20");
        }
        if self.answering_machine.policy == MachinePolicy::LeaveVoicemail
            && self
                .answering_machine
                .voicemail_message
                .as_ref()
                .is_none_or(|m| m.trim().is_empty())
        {
            e.add(
                "answering_machine.voicemail_message",
                "is required when the policy is leave_voicemail",
            );
        }
        if !(10..=MAX_CALL_DURATION_SECONDS).contains(&self.max_call_duration_seconds) {
            e.add(
                "max_call_duration_seconds",
                format!("must be between 10 and {MAX_CALL_DURATION_SECONDS}"),
            );
        }
        if !(0.0..=100.0).contains(&self.max_abandonment_rate_pct) {
            e.add("max_abandonment_rate_pct", "must be between 0 and 100");
        }
        for (var, field) in &self.dynamic_variables {
            if var.trim().is_empty() || field.trim().is_empty() {
                e.add(
                    "dynamic_variables",
                    "variable names and contact fields must not be blank",
                );
                break;
            }
        }
        self.sheet_write_back.validate(&mut e);
        self.disclosures.validate(&mut e);
        self.transfer.validate(&mut e);
        crate::memory::validate_hidden(&self.hidden_variables, &mut e);
        crate::variants::validate(&self.variants, &mut e);
        self.contact_overrides.validate(&mut e);
        e.into_result()
    }
}

/// Where one contact stands within one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgressState {
    /// Ready to be called as soon as its window and the pacing allow.
    Pending,
    /// Waiting for a retry or callback time.
    Scheduled,
    /// Claimed by a dialer or on a call.
    InProgress,
    /// Done: reached, or nothing more to try that the outcomes allow.
    Completed,
    /// Given up: permanent error or attempts exhausted.
    Failed,
    /// Taken out: do-not-call, opt-out, or removed from the campaign.
    Cancelled,
}

crate::named_enum!(ProgressState {
    Pending => "pending",
    Scheduled => "scheduled",
    InProgress => "in_progress",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

impl ProgressState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ProgressState::Completed | ProgressState::Failed | ProgressState::Cancelled
        )
    }
}

/// Counters kept per campaign, updated in the same transaction as the progress rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignProgress {
    pub total: i64,
    pub pending: i64,
    pub scheduled: i64,
    pub in_progress: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Calls placed so far.
    pub attempts: i64,
}

#[cfg(test)]
mod tests;

/// A campaign as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: crate::Id,
    pub name: String,
    pub description: Option<String>,
    pub state: CampaignState,
    /// Why the campaign is in its state, when the system or a person said so.
    pub state_reason: Option<String>,
    pub settings: CampaignSettings,
    pub progress: CampaignProgress,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One contact's standing in one campaign.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignContact {
    pub contact_id: crate::Id,
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub state: ProgressState,
    /// Where the contact stands, read from its state, last outcome and reason.
    pub standing: crate::vocabulary::ContactStanding,
    /// The standing in a person's words (see the README's glossary).
    pub standing_label: &'static str,
    pub attempts: i64,
    pub last_outcome: Option<String>,
    pub last_call_id: Option<crate::Id>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the contact failed or was cancelled, or was put back.
    pub reason: Option<String>,
    /// What a waiting (pending or scheduled) contact waits for; absent otherwise.
    pub waiting_for: Option<crate::activity::WaitReason>,
    /// The contact's time zone (IANA name), in which its calling window is read.
    pub timezone: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
