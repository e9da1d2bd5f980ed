//! Callback requests: the time a callee (or the agent's `schedule_callback` tool) asks for,
//! read in the contact's zone, then placed inside the contact's calling window.
//!
//! Understood forms (case-insensitive; `at`, `on`, `this`, `next`, commas are ignored):
//! - RFC 3339 (`2026-03-09T10:00:00-05:00`), or a local `2026-03-09 10:00`,
//!   `2026-03-09T10:00[:00]`, `2026-03-09` (10:00);
//! - `in 2 hours`, `in 30 minutes`, `in 45min`, `in an hour`, `in half an hour`, `in 2 days`
//!   (exact durations from now);
//! - a day, a time of day, or both in either order: `tomorrow 15:00`, `3pm tomorrow`,
//!   `tomorrow afternoon`, `monday 10:00`, `next tuesday`, `tonight`, `today 4:30 pm`.
//!   Days: `today`, `tonight`, `tomorrow`, weekday names (the next such day after today,
//!   never today; `next tuesday` is the coming Tuesday). Times: `HH:MM`, `3pm`,
//!   `3:30 p.m.`, `noon`, `morning` (10:00), `afternoon` (15:00), `evening` (18:00).
//!   A day alone means 10:00; a time alone means today if still ahead, else tomorrow.
use crate::window::{hm, local_to_utc, CallingRules};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono::{Weekday, Weekday::*};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackTimeError {
    #[error("no callback time given")]
    Empty,
    #[error(
        "`{0}` is not a time we understand (try `tomorrow 15:00`, `in 2 hours`, \
         `monday 10:00` or `2026-03-09 10:00`)"
    )]
    Unrecognized(String),
    #[error("`{0}` is in the past")]
    InThePast(String),
}

/// Reads a requested callback time, relative to `now` and in the contact's `zone`.
pub fn parse_callback_time(
    text: &str,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<DateTime<Utc>, CallbackTimeError> {
    let raw = text.trim();
    if raw.is_empty() {
        return Err(CallbackTimeError::Empty);
    }
    let words = words(raw);
    let at = parse_timestamp(raw, zone)
        .or_else(|| parse_relative(&words, now))
        .or_else(|| parse_day_and_time(&words, now, zone))
        .ok_or_else(|| CallbackTimeError::Unrecognized(raw.to_string()))?;
    if at < now {
        return Err(CallbackTimeError::InThePast(raw.to_string()));
    }
    Ok(at)
}

/// When to place a requested callback: at the requested time if the contact may be called
/// then, else at the next opening after it; `None` if the campaign has no window left.
/// The per-day attempt cap does not apply: the callee asked for this call.
pub fn schedule_callback(
    requested: DateTime<Utc>,
    rules: &CallingRules,
    zone: Tz,
) -> Option<DateTime<Utc>> {
    rules.next_opening(zone, requested)
}

const DEFAULT_TIME: NaiveTime = hm(10, 0);

fn parse_timestamp(raw: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M%:z") {
        return Some(t.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(DEFAULT_TIME))
    })?;
    Some(local_to_utc(zone, local))
}

/// Lowercase words without punctuation or filler; `p.m.` becomes `pm`.
fn words(raw: &str) -> Vec<String> {
    let text = raw
        .to_lowercase()
        .replace("a.m.", "am")
        .replace("p.m.", "pm")
        .replace([',', ';', '!', '?'], " ");
    text.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `in <amount> <unit>`: an exact duration from now.
fn parse_relative(words: &[String], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest: Vec<&str> = match words.split_first() {
        Some((first, rest)) if first == "in" => rest.iter().map(String::as_str).collect(),
        _ => return None,
    };
    let (amount, unit): (i64, &str) = match rest.as_slice() {
        ["half", "an", "hour"] => return Some(now + TimeDelta::minutes(30)),
        ["a" | "an" | "one", unit] => (1, unit),
        [n, unit] => (n.parse().ok()?, unit),
        // `45min`, `2h`
        [joined] => {
            let split = joined.find(|c: char| !c.is_ascii_digit())?;
            (joined[..split].parse().ok()?, &joined[split..])
        }
        _ => return None,
    };
    let minutes = match unit {
        "minute" | "minutes" | "min" | "mins" | "m" => 1,
        "hour" | "hours" | "hr" | "hrs" | "h" => 60,
        "day" | "days" | "d" => 24 * 60,
        _ => return None,
    };
    // Bounded so absurd amounts are refused rather than overflowing.
    let total = amount
        .checked_mul(minutes)
        .filter(|m| *m <= 366 * 24 * 60)?;
    Some(now + TimeDelta::minutes(total))
}

#[derive(Clone, Copy, PartialEq)]
enum Day {
    Today,
    Tomorrow,
    Weekday(Weekday),
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Morning,
    Noon,
    Afternoon,
    Evening,
}

fn parse_day_and_time(words: &[String], now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
    let mut day = None;
    let mut part = None;
    let mut clock = String::new();
    for w in words {
        let (d, p) = match w.as_str() {
            "at" | "on" | "in" | "the" | "this" | "next" | "around" | "about" => continue,
            "today" => (Some(Day::Today), None),
            "tonight" => (Some(Day::Today), Some(Part::Evening)),
            "tomorrow" | "tmrw" => (Some(Day::Tomorrow), None),
            "morning" => (None, Some(Part::Morning)),
            "noon" | "midday" => (None, Some(Part::Noon)),
            "afternoon" => (None, Some(Part::Afternoon)),
            "evening" => (None, Some(Part::Evening)),
            other => match weekday(other) {
                Some(wd) => (Some(Day::Weekday(wd)), None),
                None => {
                    clock.push_str(other);
                    continue;
                }
            },
        };
        // One day and one part of the day at most: `tomorrow monday` is not a time.
        if (d.is_some() && day.is_some()) || (p.is_some() && part.is_some()) {
            return None;
        }
        day = day.or(d);
        part = part.or(p);
    }
    let clock = if clock.is_empty() {
        None
    } else {
        Some(parse_clock(&clock, part)?)
    };
    let time = clock.or(part.map(Part::time));

    let today = now.with_timezone(&zone).date_naive();
    let at = |date: NaiveDate, time| local_to_utc(zone, date.and_time(time));
    match day {
        Some(day) => {
            let date = match day {
                Day::Today => today,
                Day::Tomorrow => today.succ_opt()?,
                Day::Weekday(wd) => {
                    let ahead = (7 + wd.num_days_from_monday()
                        - today.weekday().num_days_from_monday())
                        % 7;
                    today.checked_add_days(Days::new(if ahead == 0 { 7 } else { ahead.into() }))?
                }
            };
            Some(at(date, time.unwrap_or(DEFAULT_TIME)))
        }
        None => {
            let time = time?;
            let same_day = at(today, time);
            if same_day > now {
                Some(same_day)
            } else {
                Some(at(today.succ_opt()?, time))
            }
        }
    }
}

impl Part {
    fn time(self) -> NaiveTime {
        match self {
            Part::Morning => hm(10, 0),
            Part::Noon => hm(12, 0),
            Part::Afternoon => hm(15, 0),
            Part::Evening => hm(18, 0),
        }
    }
}

/// `15:00`, `9:30`, `3pm`, `3:30pm`. A bare hour needs am/pm. With `afternoon` or
/// `evening` alongside, `3:00` means 15:00.
fn parse_clock(s: &str, part: Option<Part>) -> Option<NaiveTime> {
    let (body, pm) = if let Some(b) = s.strip_suffix("am") {
        (b, Some(false))
    } else if let Some(b) = s.strip_suffix("pm") {
        (b, Some(true))
    } else {
        (s, None)
    };
    let (hour, minute) = match body.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if pm.is_some() => (body.parse::<u32>().ok()?, 0),
        _ => return None,
    };
    let hour = match pm {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(pm) => hour % 12 + if pm { 12 } else { 0 },
        None if hour < 12 && matches!(part, Some(Part::Afternoon | Part::Evening)) => hour + 12,
        None => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn weekday(word: &str) -> Option<Weekday> {
    let day = match word {
        "monday" | "mon" => Mon,
        "tuesday" | "tue" | "tues" => Tue,
        "wednesday" | "wed" => Wed,
        "thursday" | "thu" | "thur" | "thurs" => Thu,
        "friday" | "fri" => Fri,
        "saturday" | "sat" => Sat,
        "sunday" | "sun" => Sun,
        _ => return None,
    };
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::CallingWindow;
    use chrono_tz::{America, Asia};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Monday 2026-06-15 10:00 EDT.
    fn now() -> DateTime<Utc> {
        utc("2026-06-15T14:00:00Z")
    }

    fn ny(text: &str) -> Result<DateTime<Utc>, CallbackTimeError> {
        parse_callback_time(text, now(), America::New_York)
    }

    fn ok(text: &str, expected: &str) {
        assert_eq!(ny(text), Ok(utc(expected)), "`{text}`");
    }

    #[test]
    fn timestamps() {
        ok("2026-06-16T15:00:00-04:00", "2026-06-16T19:00:00Z");
        ok("2026-06-16T19:00:00Z", "2026-06-16T19:00:00Z");
        ok("2026-06-16T15:00-04:00", "2026-06-16T19:00:00Z");
        ok("2026-06-16 15:00", "2026-06-16T19:00:00Z");
        ok("2026-06-16T15:00", "2026-06-16T19:00:00Z");
        ok("2026-06-16 15:00:00", "2026-06-16T19:00:00Z");
        ok("2026-06-16", "2026-06-16T14:00:00Z");
    }

    #[test]
    fn tomorrow_with_a_time_or_a_part_of_the_day() {
        // What the sandbox persona sends: {"when": "tomorrow 15:00", ...}
        ok("tomorrow 15:00", "2026-06-16T19:00:00Z");
        ok("Tomorrow at 3pm", "2026-06-16T19:00:00Z");
        ok("3pm tomorrow", "2026-06-16T19:00:00Z");
        ok("tomorrow, 3:30 p.m.", "2026-06-16T19:30:00Z");
        ok("tomorrow afternoon", "2026-06-16T19:00:00Z");
        ok("tomorrow afternoon at 4:00", "2026-06-16T20:00:00Z");
        ok("tomorrow morning", "2026-06-16T14:00:00Z");
        ok("tomorrow evening", "2026-06-16T22:00:00Z");
        ok("tomorrow at noon", "2026-06-16T16:00:00Z");
        ok("tomorrow", "2026-06-16T14:00:00Z");
    }

    #[test]
    fn relative_durations() {
        ok("in 2 hours", "2026-06-15T16:00:00Z");
        ok("in 30 minutes", "2026-06-15T14:30:00Z");
        ok("in 45min", "2026-06-15T14:45:00Z");
        ok("in an hour", "2026-06-15T15:00:00Z");
        ok("in half an hour", "2026-06-15T14:30:00Z");
        ok("in 2 days", "2026-06-17T14:00:00Z");
        assert!(ny("in 99999999999 days").is_err());
    }

    #[test]
    fn weekdays_mean_the_next_such_day() {
        ok("monday 10:00", "2026-06-22T14:00:00Z"); // said on a Monday: next week
        ok("next tuesday", "2026-06-16T14:00:00Z");
        ok("Friday at 4pm", "2026-06-19T20:00:00Z");
        ok("wed", "2026-06-17T14:00:00Z");
        ok("this thursday afternoon", "2026-06-18T19:00:00Z");
    }

    #[test]
    fn a_time_alone_is_today_if_still_ahead_else_tomorrow() {
        ok("15:00", "2026-06-15T19:00:00Z");
        ok("3pm", "2026-06-15T19:00:00Z");
        ok("09:00", "2026-06-16T13:00:00Z");
        ok("10:00", "2026-06-16T14:00:00Z"); // exactly now is not ahead
        ok("this afternoon", "2026-06-15T19:00:00Z");
        ok("tonight", "2026-06-15T22:00:00Z");
        ok("today 4:30 pm", "2026-06-15T20:30:00Z");
    }

    #[test]
    fn times_are_read_in_the_contacts_zone() {
        // 23:00 in Tokyo: tomorrow there is Tuesday.
        assert_eq!(
            parse_callback_time("tomorrow 15:00", now(), Asia::Tokyo),
            Ok(utc("2026-06-16T06:00:00Z"))
        );
        // Saturday 2026-03-07 in New York (EST); tomorrow 15:00 is already EDT.
        let saturday = utc("2026-03-07T17:00:00Z");
        assert_eq!(
            parse_callback_time("tomorrow 15:00", saturday, America::New_York),
            Ok(utc("2026-03-08T19:00:00Z"))
        );
        // Durations are exact across the jump: 01:30 EST + 2 h = 04:30 EDT.
        let before_jump = utc("2026-03-08T06:30:00Z");
        assert_eq!(
            parse_callback_time("in 2 hours", before_jump, America::New_York),
            Ok(utc("2026-03-08T08:30:00Z"))
        );
    }

    #[test]
    fn bad_or_past_times_are_refused() {
        use CallbackTimeError as E;
        assert_eq!(ny("  "), Err(E::Empty));
        for text in [
            "whenever",
            "tomorrow 25:00",
            "13pm",
            "tomorrow 3",
            "tomorrow monday",
            "in 2 fortnights",
        ] {
            assert_eq!(ny(text), Err(E::Unrecognized(text.into())), "`{text}`");
        }
        assert_eq!(ny("today 09:00"), Err(E::InThePast("today 09:00".into())));
        assert_eq!(
            ny("2026-06-01 10:00"),
            Err(E::InThePast("2026-06-01 10:00".into()))
        );
        assert!(E::Unrecognized("x".into())
            .to_string()
            .contains("tomorrow 15:00"));
    }

    #[test]
    fn a_callback_is_placed_inside_the_window() {
        let rules = CallingRules {
            window: CallingWindow::default(), // 09:00-20:00, Monday to Friday
            allow_outside_legal_hours: false,
            start_date: None,
            end_date: Some("2026-06-30".parse().unwrap()),
            law: crate::jurisdiction::RuleBook::shipped().hours_for(&Default::default()),
        };
        let zone = America::New_York;
        let inside = utc("2026-06-16T19:00:00Z"); // Tuesday 15:00
        assert_eq!(schedule_callback(inside, &rules, zone), Some(inside));
        let late = utc("2026-06-16T01:30:00Z"); // Monday 21:30
        assert_eq!(
            schedule_callback(late, &rules, zone),
            Some(utc("2026-06-16T13:00:00Z"))
        );
        let saturday = utc("2026-06-20T15:00:00Z");
        assert_eq!(
            schedule_callback(saturday, &rules, zone),
            Some(utc("2026-06-22T13:00:00Z"))
        );
        let after_end = utc("2026-07-01T15:00:00Z");
        assert_eq!(schedule_callback(after_end, &rules, zone), None);
    }
}
