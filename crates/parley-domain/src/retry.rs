//! What follows an attempt: nothing (the contact was reached), another attempt at a time
//! inside the contact's window, or giving up.
use crate::call::CallOutcome;
use crate::campaign::{RetryPolicy, RetryRule};
use crate::window::{local_to_utc, CallingRules};
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Reached, or asked not to be called again: nothing more to try.
    Done,
    /// Call again at this instant, which is inside the contact's window.
    RetryAt(DateTime<Utc>),
    /// No more attempts; `reason` says why in words.
    GiveUp { reason: String },
}

/// The retry rule for an outcome, and how to say the outcome in a reason; `None` for
/// outcomes that end the contact's run. A canceled call (ended before it connected,
/// usually by us) follows the `failed` rule: nobody was reached, and it deserves no more
/// tries than a call that failed.
pub fn rule_for(policy: &RetryPolicy, outcome: CallOutcome) -> Option<(RetryRule, &'static str)> {
    use CallOutcome as O;
    match outcome {
        O::Success | O::Conversation | O::OptedOut => None,
        O::NoAnswer => Some((policy.no_answer, "no answer")),
        O::Busy => Some((policy.busy, "busy")),
        O::Failed => Some((policy.failed, "call failed")),
        O::Canceled => Some((policy.failed, "call canceled")),
        O::Voicemail => Some((policy.voicemail, "voicemail")),
        O::ShortCall => Some((policy.short_call, "call too short")),
        O::Unsuccessful => Some((policy.unsuccessful, "agent judged unsuccessful")),
    }
}

/// Decides what follows an attempt that ended with `outcome` at `now`.
///
/// `attempts_so_far` counts every attempt on this contact, this one included;
/// `attempts_today` those within the contact's current local day, this one included.
/// A retry comes `delay_minutes` after `now`, moved to the next window opening when that
/// falls outside the window; once the day's cap is reached it waits for the contact's next
/// local day.
pub fn next_step(
    policy: &RetryPolicy,
    outcome: CallOutcome,
    attempts_so_far: u32,
    attempts_today: u32,
    now: DateTime<Utc>,
    rules: &CallingRules,
    zone: Tz,
) -> NextStep {
    let Some((rule, what)) = rule_for(policy, outcome) else {
        return NextStep::Done;
    };
    if attempts_so_far >= rule.max_attempts {
        let plural = if attempts_so_far == 1 { "" } else { "s" };
        return NextStep::GiveUp {
            reason: format!("{what} after {attempts_so_far} attempt{plural}"),
        };
    }
    let mut earliest = now + TimeDelta::minutes(rule.delay_minutes.into());
    if attempts_today >= policy.max_attempts_per_day {
        earliest = earliest.max(start_of_next_local_day(zone, now));
    }
    match rules.next_opening(zone, earliest) {
        Some(at) => NextStep::RetryAt(at),
        None => NextStep::GiveUp {
            reason: format!("{what}, and no calling window is left before the campaign ends"),
        },
    }
}

/// Local midnight after `now` in `zone` (or the jump, where midnight is skipped).
fn start_of_next_local_day(zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    now.with_timezone(&zone)
        .date_naive()
        .succ_opt()
        .map_or(DateTime::<Utc>::MAX_UTC, |day| {
            local_to_utc(zone, day.and_time(NaiveTime::MIN))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::CallingWindow;
    use chrono_tz::America;
    use CallOutcome as O;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rules() -> CallingRules {
        CallingRules {
            window: CallingWindow::default(), // 09:00-20:00, Monday to Friday
            allow_outside_legal_hours: false,
            start_date: None,
            end_date: None,
            law: crate::jurisdiction::RuleBook::shipped().hours_for(&Default::default()),
        }
    }

    /// The default policy in New York, after an attempt on Monday 2026-06-15 10:00 EDT.
    fn step(outcome: CallOutcome, attempts: u32, today: u32) -> NextStep {
        next_step(
            &RetryPolicy::default(),
            outcome,
            attempts,
            today,
            utc("2026-06-15T14:00:00Z"),
            &rules(),
            America::New_York,
        )
    }

    fn give_up(reason: &str) -> NextStep {
        NextStep::GiveUp {
            reason: reason.into(),
        }
    }

    #[test]
    fn reached_contacts_are_done() {
        for o in [O::Success, O::Conversation, O::OptedOut] {
            assert_eq!(step(o, 1, 1), NextStep::Done, "{o}");
        }
    }

    #[test]
    fn each_outcome_retries_after_its_own_delay() {
        let at = |s| NextStep::RetryAt(utc(s));
        assert_eq!(step(O::NoAnswer, 1, 1), at("2026-06-15T18:00:00Z"), "4 h");
        assert_eq!(step(O::Busy, 1, 1), at("2026-06-15T14:30:00Z"), "30 min");
        assert_eq!(step(O::Failed, 1, 1), at("2026-06-15T15:00:00Z"), "1 h");
        assert_eq!(
            step(O::Canceled, 1, 1),
            at("2026-06-15T15:00:00Z"),
            "as failed"
        );
        assert_eq!(step(O::ShortCall, 1, 1), at("2026-06-15T16:00:00Z"), "2 h");
        assert_eq!(
            step(O::Voicemail, 1, 1),
            at("2026-06-16T14:00:00Z"),
            "1 day"
        );
        let mut policy = RetryPolicy::default();
        policy.unsuccessful.max_attempts = 2;
        assert_eq!(
            next_step(
                &policy,
                O::Unsuccessful,
                1,
                1,
                utc("2026-06-15T14:00:00Z"),
                &rules(),
                America::New_York
            ),
            at("2026-06-16T14:00:00Z")
        );
    }

    #[test]
    fn attempts_run_out_with_a_reason() {
        assert_eq!(
            step(O::NoAnswer, 3, 1),
            give_up("no answer after 3 attempts")
        );
        assert_eq!(step(O::Busy, 3, 1), give_up("busy after 3 attempts"));
        assert_eq!(
            step(O::Failed, 2, 1),
            give_up("call failed after 2 attempts")
        );
        assert_eq!(
            step(O::Canceled, 2, 1),
            give_up("call canceled after 2 attempts")
        );
        assert_eq!(
            step(O::Voicemail, 2, 1),
            give_up("voicemail after 2 attempts")
        );
        assert_eq!(
            step(O::ShortCall, 2, 1),
            give_up("call too short after 2 attempts")
        );
        assert_eq!(
            step(O::Unsuccessful, 1, 1),
            give_up("agent judged unsuccessful after 1 attempt")
        );
        assert_eq!(
            step(O::NoAnswer, 2, 1),
            NextStep::RetryAt(utc("2026-06-15T18:00:00Z"))
        );
    }

    #[test]
    fn a_retry_outside_the_window_moves_to_the_next_opening() {
        let policy = RetryPolicy::default();
        let ny = America::New_York;
        // Monday 18:00 EDT + 4 h = 22:00: Tuesday 09:00 EDT instead.
        let evening = utc("2026-06-15T22:00:00Z");
        assert_eq!(
            next_step(&policy, O::NoAnswer, 1, 1, evening, &rules(), ny),
            NextStep::RetryAt(utc("2026-06-16T13:00:00Z"))
        );
        // Friday 19:45 EDT + 30 min: Monday 09:00.
        let friday = utc("2026-06-19T23:45:00Z");
        assert_eq!(
            next_step(&policy, O::Busy, 1, 1, friday, &rules(), ny),
            NextStep::RetryAt(utc("2026-06-22T13:00:00Z"))
        );
    }

    #[test]
    fn the_daily_cap_rolls_to_the_contacts_next_local_day() {
        assert_eq!(
            step(O::Busy, 2, 2),
            NextStep::RetryAt(utc("2026-06-16T13:00:00Z")),
            "Tuesday 09:00 EDT, not 10:30 today"
        );
        // Monday 19:00 PDT is already Tuesday in UTC; the next day is the contact's.
        let policy = RetryPolicy::default();
        let la = America::Los_Angeles;
        let now = utc("2026-06-16T02:00:00Z");
        assert_eq!(
            next_step(&policy, O::Busy, 2, 2, now, &rules(), la),
            NextStep::RetryAt(utc("2026-06-16T16:00:00Z")),
            "Tuesday 09:00 PDT"
        );
        assert_eq!(
            next_step(&policy, O::Busy, 1, 1, now, &rules(), la),
            NextStep::RetryAt(utc("2026-06-16T02:30:00Z")),
            "under the cap: 19:30 PDT the same day"
        );
    }

    #[test]
    fn no_window_left_gives_up() {
        let mut r = rules();
        r.end_date = Some("2026-06-15".parse().unwrap());
        let evening = utc("2026-06-15T22:00:00Z");
        let step = next_step(
            &RetryPolicy::default(),
            O::NoAnswer,
            1,
            1,
            evening,
            &r,
            America::New_York,
        );
        assert_eq!(
            step,
            give_up("no answer, and no calling window is left before the campaign ends")
        );
    }
}
