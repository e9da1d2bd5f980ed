//! Why a campaign is or is not dialling right now, and when it next will: the answer the
//! campaign page and the overview give an operator, in words and as data.
use crate::campaign::{Campaign, CampaignState};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

/// The reason the dialer writes on a contact it put back because the contact's own
/// calling window is closed (read back to explain the wait).
pub const OUTSIDE_WINDOW_REASON: &str = "outside the calling window";

/// The reason written on a contact put back because its state's calling hours (stricter
/// than the campaign's window and the federal rule) are closed. The reasons are written
/// into SQL as literals (see `wait_reason_sql`): no quotes in them.
pub const STATE_HOURS_REASON: &str = "outside state calling hours";

/// The reason written on a contact put back because its number had as many calls as a
/// frequency cap allows.
pub const FREQUENCY_CAP_REASON: &str = "at a frequency cap";

/// The reason written on a contact held back because its current consent does not
/// satisfy the campaign's `required_consent`. It waits, undialled, until a consent is
/// recorded for it (or the campaign's requirement changes).
pub const NO_CONSENT_REASON: &str = "no consent";

/// What a waiting contact waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Nothing: it is dialled as soon as a call slot and the pacing allow.
    Due,
    /// Its calling window (in its own time zone) is closed until the next opening.
    OutsideCallingWindow,
    /// Its state's calling hours, stricter than the window, are closed (see `state`).
    StateCallingHours,
    /// Its number had as many calls as its jurisdiction allows in a rolling period
    /// (counted over every campaign); it waits for the oldest to leave the period.
    FrequencyCap,
    /// Its consent does not satisfy the campaign's `required_consent`: it is not dialled
    /// until one that does is recorded.
    NoConsent,
    /// A retry after an earlier attempt, at its scheduled time.
    Retry,
    /// A callback the person asked for, at the time they gave.
    Callback,
}

impl WaitReason {
    pub const ALL: [WaitReason; 7] = [
        WaitReason::Due,
        WaitReason::OutsideCallingWindow,
        WaitReason::StateCallingHours,
        WaitReason::FrequencyCap,
        WaitReason::NoConsent,
        WaitReason::Retry,
        WaitReason::Callback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Due => "due",
            WaitReason::OutsideCallingWindow => "outside_calling_window",
            WaitReason::StateCallingHours => "state_calling_hours",
            WaitReason::FrequencyCap => "frequency_cap",
            WaitReason::NoConsent => "no_consent",
            WaitReason::Retry => "retry",
            WaitReason::Callback => "callback",
        }
    }

    pub fn parse(s: &str) -> Option<WaitReason> {
        WaitReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Waiting contacts that wait for the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WaitingGroup {
    pub reason: WaitReason,
    pub count: i64,
    /// The earliest of them is due then (absent for contacts that are due now).
    pub next_at: Option<DateTime<Utc>>,
}

/// The waiting contact due first, with the time where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NextContact {
    pub contact_id: crate::Id,
    pub reason: WaitReason,
    pub next_at: DateTime<Utc>,
    /// The contact's time zone (IANA name).
    pub timezone: String,
    /// Its local time now, `HH:MM` and the weekday, e.g. `20:04 Wed`.
    pub local_now: String,
    /// Its local time when it is due, e.g. `09:00 Thu`.
    pub local_next_at: String,
    /// The US state whose rules it is under (name), when known.
    pub state: Option<String>,
}

impl NextContact {
    pub fn new(
        contact_id: crate::Id,
        reason: WaitReason,
        next_at: DateTime<Utc>,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> NextContact {
        let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%H:%M %a").to_string();
        NextContact {
            contact_id,
            reason,
            next_at,
            timezone: zone.name().to_string(),
            local_now: local(now),
            local_next_at: local(next_at),
            state: None,
        }
    }

    /// The same, under the rules of `state` (its name).
    pub fn in_state(mut self, state: Option<&str>) -> NextContact {
        self.state = state.map(str::to_string);
        self
    }
}

/// The account's concurrent calls (every campaign, every node) against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountCapacity {
    pub in_use: i64,
    pub limit: i64,
}

/// What the campaign does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    /// A draft: nothing happens until it is started.
    NotStarted,
    /// Started, waiting for its start date.
    WaitingForStartDate,
    /// Paused (by a person, the breaker or the end date: see the reason).
    Paused,
    /// Over: completed, stopped or failed.
    Finished,
    /// Contacts are due and call slots are free: calls are being placed (paced).
    Dialling,
    /// Contacts are due but every call slot is in use.
    SlotsFull,
    /// Contacts are due but the account's capacity is in use (by this and other
    /// campaigns, or calls placed on their own).
    AccountFull,
    /// Nothing is due now; the next contact is due at `next_contact.next_at`.
    Waiting,
    /// Nothing waits; the calls in progress are the last ones.
    Finishing,
    /// Nothing is due or scheduled but contacts held for want of the consent the
    /// campaign requires: they are dialled once it is recorded.
    WaitingForConsent,
}

/// Why a campaign is or is not dialling, and when it next will.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignActivity {
    pub campaign_id: crate::Id,
    pub state: CampaignState,
    pub next_action: NextAction,
    /// The same, in a sentence for a person.
    pub message: String,
    pub in_progress: i64,
    pub max_concurrent_calls: u32,
    pub account: AccountCapacity,
    /// Waiting contacts by what they wait for (groups with no contact are left out).
    pub waiting: Vec<WaitingGroup>,
    pub next_contact: Option<NextContact>,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Explains a campaign from its state, its waiting contacts and the one due first.
pub fn explain(
    campaign: &Campaign,
    account: AccountCapacity,
    waiting: Vec<WaitingGroup>,
    next_contact: Option<NextContact>,
) -> CampaignActivity {
    let in_progress = campaign.progress.in_progress;
    let max = campaign.settings.max_concurrent_calls;
    let due: i64 = waiting
        .iter()
        .filter(|g| g.reason == WaitReason::Due)
        .map(|g| g.count)
        .sum();
    let waiting_total: i64 = waiting.iter().map(|g| g.count).sum();
    let held_for_consent: i64 = waiting
        .iter()
        .filter(|g| g.reason == WaitReason::NoConsent)
        .map(|g| g.count)
        .sum();
    let reason = campaign.state_reason.as_deref();
    let (next_action, message) = match campaign.state {
        CampaignState::Draft => (
            NextAction::NotStarted,
            "Not started: nothing is dialled until it is started.".to_string(),
        ),
        CampaignState::Scheduled => (
            NextAction::WaitingForStartDate,
            match campaign.settings.start_date {
                Some(d) => format!("Started; the first calls are placed on its start date, {d}."),
                None => "Started; waiting for its start date.".to_string(),
            },
        ),
        CampaignState::Paused => (
            NextAction::Paused,
            match reason {
                Some(r) => format!("Paused: {r}. Nothing is dialled until it is resumed."),
                None => "Paused. Nothing is dialled until it is resumed.".to_string(),
            },
        ),
        CampaignState::Completed | CampaignState::Stopped | CampaignState::Failed => (
            NextAction::Finished,
            match reason {
                Some(r) => format!("Finished ({}): {r}.", campaign.state.as_str()),
                None => format!("Finished ({}).", campaign.state.as_str()),
            },
        ),
        CampaignState::Running if due > 0 && in_progress >= i64::from(max) => (
            NextAction::SlotsFull,
            format!(
                "Every call slot is in use ({in_progress} of {max}); {} due and dialled as \
                 calls end.",
                plural(due, "contact is", "contacts are"),
            ),
        ),
        CampaignState::Running if due > 0 && account.in_use >= account.limit => (
            NextAction::AccountFull,
            format!(
                "The account's capacity is in use ({} of {} calls, across campaigns); {} due \
                 and dialled as calls end.",
                account.in_use,
                account.limit,
                plural(due, "contact is", "contacts are"),
            ),
        ),
        CampaignState::Running if due > 0 => (
            NextAction::Dialling,
            format!(
                "Dialling: {} due, paced at {} calls per second.",
                plural(due, "contact is", "contacts are"),
                campaign.settings.calls_per_second
            ),
        ),
        CampaignState::Running => match &next_contact {
            Some(next) => (
                NextAction::Waiting,
                waiting_message(next, waiting_total, in_progress),
            ),
            None if held_for_consent > 0 => (
                NextAction::WaitingForConsent,
                format!(
                    "Nothing is due; {} in progress.",
                    plural(in_progress, "call is", "calls are")
                ),
            ),
            None => (
                NextAction::Finishing,
                format!(
                    "Nothing is waiting; {} in progress.",
                    plural(in_progress, "call is", "calls are")
                ),
            ),
        },
    };
    let mut message = message;
    if campaign.state == CampaignState::Running && held_for_consent > 0 {
        message.push_str(&format!(
            " {} not dialled: no consent on record that satisfies the campaign's \
             requirement ({}); each is dialled once one is recorded.",
            plural(held_for_consent, "contact is", "contacts are"),
            campaign.settings.required_consent,
        ));
    }
    CampaignActivity {
        campaign_id: campaign.id,
        state: campaign.state,
        next_action,
        message,
        in_progress,
        max_concurrent_calls: max,
        account,
        waiting: waiting.into_iter().filter(|g| g.count > 0).collect(),
        next_contact,
    }
}

fn waiting_message(next: &NextContact, waiting: i64, in_progress: i64) -> String {
    let at = next.next_at.format("%Y-%m-%d %H:%M UTC");
    let what =
        match next.reason {
            WaitReason::OutsideCallingWindow => format!(
                "Outside calling hours: it is {} in {}; the next call is at {} their time ({at})",
                next.local_now, next.timezone, next.local_next_at
            ),
            WaitReason::StateCallingHours => format!(
            "Outside {} calling hours: it is {} in {}; the next call is at {} their time ({at})",
            next.state.as_deref().map_or("the state's".to_string(), |s| format!("{s}'s")),
            next.local_now,
            next.timezone,
            next.local_next_at
        ),
            WaitReason::FrequencyCap => {
                format!(
            "At {} frequency cap: the number had as many calls as allowed; the next call is \
             at {} their time ({}, {at})",
            next.state.as_deref().map_or("a".to_string(), |s| format!("{s}'s")),
            next.local_next_at,
            next.timezone
        )
            }
            WaitReason::NoConsent => format!(
                "Waiting for consent the campaign requires ({}, {at})",
                next.timezone
            ),
            WaitReason::Callback => format!(
                "Waiting for a requested callback at {} their time ({}, {at})",
                next.local_next_at, next.timezone
            ),
            WaitReason::Retry | WaitReason::Due => format!(
                "Waiting to retry: the next retry is at {} their time ({}, {at})",
                next.local_next_at, next.timezone
            ),
        };
    let calls = if in_progress > 0 {
        format!(
            "; {} in progress",
            plural(in_progress, "call is", "calls are")
        )
    } else {
        String::new()
    };
    format!(
        "{what}. {} waiting{calls}.",
        plural(waiting, "contact is", "contacts are")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{CampaignProgress, CampaignSettings};
    use chrono::TimeZone;

    fn campaign(state: CampaignState, in_progress: i64) -> Campaign {
        Campaign {
            id: 7,
            name: "c".into(),
            description: None,
            state,
            state_reason: None,
            settings: CampaignSettings {
                max_concurrent_calls: 2,
                ..Default::default()
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
            started_at: None,
            finished_at: None,
            progress: CampaignProgress {
                in_progress,
                ..Default::default()
            },
        }
    }

    const ROOM: AccountCapacity = AccountCapacity {
        in_use: 0,
        limit: 10,
    };

    fn group(reason: WaitReason, count: i64) -> WaitingGroup {
        WaitingGroup {
            reason,
            count,
            next_at: None,
        }
    }

    #[test]
    fn a_campaign_started_at_eight_pm_their_time_says_when_the_window_opens() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 20:04 on Wednesday 2 December in New York; the window opens at 09:00 Thursday.
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 1, 4, 0).unwrap();
        let opens = Utc.with_ymd_and_hms(2026, 12, 3, 14, 0, 0).unwrap();
        let next = NextContact::new(3, WaitReason::OutsideCallingWindow, opens, zone, now);
        let a = explain(
            &campaign(CampaignState::Running, 0),
            ROOM,
            vec![group(WaitReason::OutsideCallingWindow, 15)],
            Some(next),
        );
        assert_eq!(a.next_action, NextAction::Waiting);
        assert_eq!(
            a.message,
            "Outside calling hours: it is 20:04 Wed in America/New_York; the next call is at \
             09:00 Thu their time (2026-12-03 14:00 UTC). 15 contacts are waiting."
        );
    }

    #[test]
    fn a_florida_contact_after_eight_pm_says_it_waits_for_floridas_hours() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 20:30 on Monday 15 June in Miami; Florida opens at 08:00 Tuesday.
        let now = Utc.with_ymd_and_hms(2026, 6, 16, 0, 30, 0).unwrap();
        let opens = Utc.with_ymd_and_hms(2026, 6, 16, 12, 0, 0).unwrap();
        let next = NextContact::new(3, WaitReason::StateCallingHours, opens, zone, now)
            .in_state(Some("Florida"));
        let a = explain(
            &campaign(CampaignState::Running, 0),
            ROOM,
            vec![group(WaitReason::StateCallingHours, 1)],
            Some(next.clone()),
        );
        assert_eq!(
            a.message,
            "Outside Florida's calling hours: it is 20:30 Mon in America/New_York; the next \
             call is at 08:00 Tue their time (2026-06-16 12:00 UTC). 1 contact is waiting."
        );
        let capped = NextContact {
            reason: WaitReason::FrequencyCap,
            ..next
        };
        let a = explain(
            &campaign(CampaignState::Running, 0),
            ROOM,
            vec![group(WaitReason::FrequencyCap, 1)],
            Some(capped),
        );
        assert!(
            a.message.starts_with("At Florida's frequency cap: "),
            "{}",
            a.message
        );
    }

    #[test]
    fn due_contacts_with_every_slot_taken_wait_for_a_slot() {
        let a = explain(
            &campaign(CampaignState::Running, 2),
            ROOM,
            vec![group(WaitReason::Due, 4)],
            None,
        );
        assert_eq!(a.next_action, NextAction::SlotsFull);
        assert_eq!(
            a.message,
            "Every call slot is in use (2 of 2); 4 contacts are due and dialled as calls end."
        );
        let free = explain(
            &campaign(CampaignState::Running, 1),
            ROOM,
            vec![group(WaitReason::Due, 1)],
            None,
        );
        assert_eq!(free.next_action, NextAction::Dialling);
        let full = explain(
            &campaign(CampaignState::Running, 1),
            AccountCapacity {
                in_use: 4,
                limit: 4,
            },
            vec![group(WaitReason::Due, 1)],
            None,
        );
        assert_eq!(full.next_action, NextAction::AccountFull);
        assert_eq!(
            full.message,
            "The account's capacity is in use (4 of 4 calls, across campaigns); 1 contact is \
             due and dialled as calls end."
        );
    }

    #[test]
    fn a_paused_campaign_gives_the_pause_reason() {
        let mut c = campaign(CampaignState::Paused, 0);
        c.state_reason = Some("carrier account problem: suspended".into());
        let a = explain(&c, ROOM, vec![group(WaitReason::Due, 3)], None);
        assert_eq!(a.next_action, NextAction::Paused);
        assert_eq!(
            a.message,
            "Paused: carrier account problem: suspended. Nothing is dialled until it is resumed."
        );
    }

    #[test]
    fn a_running_campaign_with_nothing_waiting_is_finishing_and_empty_groups_are_left_out() {
        let a = explain(
            &campaign(CampaignState::Running, 1),
            ROOM,
            vec![group(WaitReason::Retry, 0)],
            None,
        );
        assert_eq!(a.next_action, NextAction::Finishing);
        assert_eq!(a.message, "Nothing is waiting; 1 call is in progress.");
        assert!(a.waiting.is_empty());
    }

    #[test]
    fn contacts_without_the_required_consent_are_said_to_wait_for_it() {
        let a = explain(
            &campaign(CampaignState::Running, 0),
            ROOM,
            vec![group(WaitReason::NoConsent, 3)],
            None,
        );
        assert_eq!(a.next_action, NextAction::WaitingForConsent);
        assert_eq!(
            a.message,
            "Nothing is due; 0 calls are in progress. 3 contacts are not dialled: no consent on \
             record that satisfies the campaign's requirement (express_written); each is \
             dialled once one is recorded."
        );
    }

    #[test]
    fn reasons_written_into_sql_have_no_quotes() {
        for r in [
            OUTSIDE_WINDOW_REASON,
            STATE_HOURS_REASON,
            FREQUENCY_CAP_REASON,
            NO_CONSENT_REASON,
        ] {
            assert!(!r.contains(['\'', '"', '\\']), "{r}");
        }
    }

    #[test]
    fn wait_reasons_read_back_what_they_write() {
        for r in WaitReason::ALL {
            assert_eq!(WaitReason::parse(r.as_str()), Some(r));
        }
    }
}
