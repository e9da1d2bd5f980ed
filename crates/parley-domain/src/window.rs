//! When a contact may be called: the campaign's calling window in the contact's local
//! time, clipped to the hours the law allows where the contact is (the federal rule for
//! everyone, plus their state's: see [`crate::jurisdiction`]), within the campaign's dates.
//! The strictest rule wins: a campaign may tighten the law's hours, never widen them.
//!
//! Daylight-saving changes are resolved per local day, so a 09:00 window opens at 09:00 on
//! both sides of a change. Local times the clocks skip or repeat are resolved by
//! [`local_to_utc`]: a skipped time opens when the clocks jump (a 02:30 start on a
//! spring-forward day in New York opens at 03:00 EDT), a repeated time takes its first
//! occurrence.
use crate::campaign::{CallingWindow, CampaignSettings};
use crate::jurisdiction::{HoursLaw, Jurisdiction, RuleBook};
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub(crate) const fn hm(hour: u32, min: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, min, 0) {
        Some(t) => t,
        None => panic!("invalid time of day"),
    }
}

/// Everything that decides whether a contact may be called at an instant, apart from
/// their zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingRules {
    pub window: CallingWindow,
    /// Lifts the hours laws that do not apply to calls the person invited or permitted
    /// (the federal 08:00-21:00 rule); never a state's stricter hours.
    pub allow_outside_legal_hours: bool,
    /// First local date calls may be placed (inclusive).
    pub start_date: Option<NaiveDate>,
    /// Last local date calls may be placed (inclusive).
    pub end_date: Option<NaiveDate>,
    /// The hours laws where the contact is, from the rules file.
    pub law: Vec<HoursLaw>,
}

impl CallingRules {
    /// The campaign's rules for a contact whose state is unknown: the federal hours only.
    pub fn from_settings(settings: &CampaignSettings) -> Self {
        Self::for_contact(settings, &Jurisdiction::default())
    }

    /// The campaign's rules for a contact in `place`, with the shipped rules.
    pub fn for_contact(settings: &CampaignSettings, place: &Jurisdiction) -> Self {
        CallingRules {
            window: settings.calling_window.clone(),
            allow_outside_legal_hours: settings.allow_outside_legal_hours,
            start_date: settings.start_date,
            end_date: settings.end_date,
            law: RuleBook::shipped().hours_for(place),
        }
    }

    /// The laws that bind: all but those the campaign lifts.
    fn binding_law(&self) -> impl Iterator<Item = &HoursLaw> {
        self.law
            .iter()
            .filter(|l| !(self.allow_outside_legal_hours && l.lifted_by_permission))
    }

    /// The local hours, `[open, close)`, during which calls may be placed on `date` (its
    /// weekday and holidays aside from the campaign's days): the campaign window clipped
    /// to every binding law. `None` if nothing is left.
    pub fn hours_on(&self, date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        let (mut open, mut close) = (self.window.start, self.window.end);
        for law in self.binding_law() {
            let (start, end) = law.hours_on(date)?;
            open = open.max(start);
            close = close.min(end);
        }
        (open < close).then_some((open, close))
    }

    /// The window, as UTC instants `[open, close)`, on one local date of `zone`; `None` if
    /// no calls may be placed that day.
    pub fn window_on(&self, zone: Tz, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let in_dates =
            self.start_date.is_none_or(|s| date >= s) && self.end_date.is_none_or(|e| date <= e);
        if !in_dates || !self.window.days.contains(&date.weekday()) {
            return None;
        }
        let (open, close) = self.hours_on(date)?;
        let open = local_to_utc(zone, date.and_time(open));
        let close = local_to_utc(zone, date.and_time(close));
        // Both ends can land on the same jump when the whole window is skipped.
        (open < close).then_some((open, close))
    }

    /// Whether a call may be placed at `now`.
    pub fn is_callable(&self, zone: Tz, now: DateTime<Utc>) -> bool {
        self.current_or_next(zone, now)
            .is_some_and(|(open, _)| open <= now)
    }

    /// The earliest instant at or after `now` at which a call may be placed; `None` if
    /// never again (past the end date, no days chosen, or no hours left after the law).
    pub fn next_opening(&self, zone: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.current_or_next(zone, now)
            .map(|(open, _)| open.max(now))
    }

    /// When the window open at `now` closes; `None` if it is not open. Lets a dialer avoid
    /// starting calls just before closing.
    pub fn closes_at(&self, zone: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.current_or_next(zone, now)
            .filter(|(open, _)| *open <= now)
            .map(|(_, close)| close)
    }

    /// The state law that keeps a contact from being called at `now` although the
    /// campaign's window and the federal rule would allow it; `None` otherwise.
    pub fn blocking_state_law(&self, zone: Tz, now: DateTime<Utc>) -> Option<&HoursLaw> {
        if self.is_callable(zone, now) {
            return None;
        }
        let federal_only = CallingRules {
            law: self
                .law
                .iter()
                .filter(|l| l.code == crate::jurisdiction::FEDERAL)
                .cloned()
                .collect(),
            ..self.clone()
        };
        if !federal_only.is_callable(zone, now) {
            return None;
        }
        self.binding_law()
            .find(|l| l.code != crate::jurisdiction::FEDERAL)
    }

    /// The first window that has not closed by `now`.
    fn current_or_next(
        &self,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let today = now.with_timezone(&zone).date_naive();
        let mut day = self.start_date.map_or(today, |s| s.max(today));
        // Two weeks reach every weekday again even when today's window has passed and
        // holidays close some of the days between.
        for _ in 0..15 {
            if self.end_date.is_some_and(|end| day > end) {
                return None;
            }
            if let Some((open, close)) = self.window_on(zone, day) {
                if close > now {
                    return Some((open, close));
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// The instant a local wall-clock time in `zone` names. A time repeated when clocks go
/// back takes its first occurrence; a time skipped when clocks go forward takes the
/// moment of the jump (the first instant whose local time is at or after it).
pub fn local_to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => moment_of_jump(zone, local),
    }
}

/// Binary search for the first instant whose local time is at or after `local`. UTC
/// offsets lie within -12h..+14h, which brackets the answer.
fn moment_of_jump(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let shows_at_least = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .is_some_and(|t| t.with_timezone(&zone).naive_local() >= local)
    };
    let as_utc = local.and_utc().timestamp();
    // Whole seconds: transitions fall on them, and the answer stays exact.
    let (mut before, mut after) = (as_utc - 14 * 3600 - 1, as_utc + 12 * 3600);
    while after - before > 1 {
        let mid = before + (after - before) / 2;
        if shows_at_least(mid) {
            after = mid;
        } else {
            before = mid;
        }
    }
    DateTime::from_timestamp(after, 0).unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::{self, *};
    use chrono_tz::{America, Asia, Australia, Europe};

    const WEEKDAYS: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];
    const EVERY_DAY: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rules(start: &str, end: &str, days: &[Weekday]) -> CallingRules {
        let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        CallingRules {
            window: CallingWindow {
                start: t(start),
                end: t(end),
                days: days.to_vec(),
            },
            allow_outside_legal_hours: false,
            start_date: None,
            end_date: None,
            law: RuleBook::shipped().hours_for(&Jurisdiction::default()),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn new_york_weekday_window_opens_and_closes_at_local_times() {
        let r = rules("09:00", "20:00", &WEEKDAYS);
        let ny = America::New_York;
        // Monday 2026-06-15, EDT (UTC-4).
        let early = utc("2026-06-15T12:00:00Z");
        assert!(!r.is_callable(ny, early));
        assert_eq!(r.next_opening(ny, early), Some(utc("2026-06-15T13:00:00Z")));
        assert_eq!(r.closes_at(ny, early), None);

        let open = utc("2026-06-15T13:00:00Z");
        assert!(r.is_callable(ny, open));
        assert_eq!(r.next_opening(ny, open), Some(open));
        assert_eq!(r.closes_at(ny, open), Some(utc("2026-06-16T00:00:00Z")));

        assert!(r.is_callable(ny, utc("2026-06-15T23:59:59Z")));
        let closed = utc("2026-06-16T00:00:00Z");
        assert!(!r.is_callable(ny, closed), "the end is exclusive");
        assert_eq!(
            r.next_opening(ny, closed),
            Some(utc("2026-06-16T13:00:00Z"))
        );
    }

    #[test]
    fn one_instant_is_judged_in_each_contacts_own_zone() {
        let r = rules("09:00", "20:00", &WEEKDAYS);
        // Monday 2026-06-15 17:00 UTC.
        let now = utc("2026-06-15T17:00:00Z");
        assert!(r.is_callable(America::New_York, now), "13:00 EDT");
        assert!(r.is_callable(America::Los_Angeles, now), "10:00 PDT");
        assert!(r.is_callable(Europe::London, now), "18:00 BST");
        // Tuesday 02:00 in Tokyo (UTC+9, no DST): opens at 09:00 JST.
        assert!(!r.is_callable(Asia::Tokyo, now));
        assert_eq!(
            r.next_opening(Asia::Tokyo, now),
            Some(utc("2026-06-16T00:00:00Z"))
        );
        // Tuesday 03:00 in Sydney (AEST, UTC+10 in the southern winter).
        assert_eq!(
            r.next_opening(Australia::Sydney, now),
            Some(utc("2026-06-15T23:00:00Z"))
        );
        // 08:00 PDT is before the window in Los Angeles.
        let la_early = utc("2026-06-15T15:00:00Z");
        assert!(!r.is_callable(America::Los_Angeles, la_early));
        assert_eq!(
            r.next_opening(America::Los_Angeles, la_early),
            Some(utc("2026-06-15T16:00:00Z"))
        );
    }

    #[test]
    fn tokyo_has_no_dst_and_sydney_has_southern_dst() {
        let r = rules("09:00", "20:00", &EVERY_DAY);
        let open = |zone, d: &str| r.window_on(zone, date(d)).unwrap().0;
        assert_eq!(open(Asia::Tokyo, "2026-01-15"), utc("2026-01-15T00:00:00Z"));
        assert_eq!(open(Asia::Tokyo, "2026-07-15"), utc("2026-07-15T00:00:00Z"));
        // Sydney: AEDT (UTC+11) in January, AEST (UTC+10) in July.
        let syd = Australia::Sydney;
        assert_eq!(open(syd, "2026-01-15"), utc("2026-01-14T22:00:00Z"));
        assert_eq!(open(syd, "2026-07-15"), utc("2026-07-14T23:00:00Z"));
        // DST ends there on Sunday 2026-04-05 at 03:00 local.
        assert_eq!(open(syd, "2026-04-04"), utc("2026-04-03T22:00:00Z"));
        assert_eq!(open(syd, "2026-04-05"), utc("2026-04-04T23:00:00Z"));
        // ...and starts on Sunday 2026-10-04 at 02:00 local.
        assert_eq!(open(syd, "2026-10-03"), utc("2026-10-02T23:00:00Z"));
        assert_eq!(open(syd, "2026-10-04"), utc("2026-10-03T22:00:00Z"));
    }

    #[test]
    fn london_window_follows_the_change_to_summer_time() {
        let r = rules("09:00", "20:00", &EVERY_DAY);
        let london = Europe::London;
        // BST starts on Sunday 2026-03-29.
        let sat_evening = utc("2026-03-28T20:00:00Z");
        assert!(!r.is_callable(london, sat_evening));
        assert_eq!(
            r.next_opening(london, sat_evening),
            Some(utc("2026-03-29T08:00:00Z"))
        );
        assert_eq!(
            r.window_on(london, date("2026-03-28")),
            Some((utc("2026-03-28T09:00:00Z"), utc("2026-03-28T20:00:00Z")))
        );
    }

    #[test]
    fn us_spring_forward_day() {
        let r = rules("09:00", "20:00", &EVERY_DAY);
        let ny = America::New_York;
        // Saturday 21:00 EST; clocks go forward at 02:00 on Sunday 2026-03-08.
        let sat_night = utc("2026-03-08T02:00:00Z");
        assert!(!r.is_callable(ny, sat_night));
        assert_eq!(
            r.next_opening(ny, sat_night),
            Some(utc("2026-03-08T13:00:00Z")),
            "09:00 EDT, an hour earlier in UTC than Saturday's 14:00"
        );
        assert_eq!(
            r.closes_at(ny, utc("2026-03-08T13:00:00Z")),
            Some(utc("2026-03-09T00:00:00Z"))
        );

        // 02:30 does not exist that day: a window starting then opens at the jump, 03:00 EDT.
        let mut night = rules("02:30", "05:00", &EVERY_DAY);
        night.allow_outside_legal_hours = true;
        let midnight = utc("2026-03-08T05:00:00Z");
        assert_eq!(
            night.next_opening(ny, midnight),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        assert_eq!(
            night.closes_at(ny, utc("2026-03-08T07:00:00Z")),
            Some(utc("2026-03-08T09:00:00Z"))
        );
        let skipped = date("2026-03-08").and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_to_utc(ny, skipped), utc("2026-03-08T07:00:00Z"));

        // A window wholly inside the skipped hour has nothing that day.
        let mut gone = rules("02:10", "02:50", &EVERY_DAY);
        gone.allow_outside_legal_hours = true;
        assert_eq!(gone.window_on(ny, date("2026-03-08")), None);
        assert_eq!(
            gone.next_opening(ny, midnight),
            Some(utc("2026-03-09T06:10:00Z"))
        );
    }

    #[test]
    fn us_fall_back_day() {
        let r = rules("09:00", "20:00", &EVERY_DAY);
        let ny = America::New_York;
        // Clocks go back at 02:00 on Sunday 2026-11-01.
        assert_eq!(
            r.window_on(ny, date("2026-10-31")),
            Some((utc("2026-10-31T13:00:00Z"), utc("2026-11-01T00:00:00Z")))
        );
        assert_eq!(
            r.window_on(ny, date("2026-11-01")),
            Some((utc("2026-11-01T14:00:00Z"), utc("2026-11-02T01:00:00Z")))
        );
        // 01:30 happens twice; the window opens at the first, 01:30 EDT.
        let mut night = rules("01:30", "04:00", &EVERY_DAY);
        night.allow_outside_legal_hours = true;
        assert_eq!(
            night.next_opening(ny, utc("2026-11-01T04:00:00Z")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        assert!(
            night.is_callable(ny, utc("2026-11-01T06:45:00Z")),
            "01:45 EST"
        );
    }

    #[test]
    fn the_legal_guard_clips_the_window_unless_lifted() {
        let mut r = rules("07:00", "22:00", &WEEKDAYS);
        let ny = America::New_York;
        let monday = date("2026-06-15");
        assert_eq!(r.hours_on(monday), Some((hm(8, 0), hm(21, 0))));
        // Monday 2026-06-15, EDT.
        let at_0730 = utc("2026-06-15T11:30:00Z");
        let at_2130 = utc("2026-06-16T01:30:00Z");
        assert!(!r.is_callable(ny, at_0730));
        assert_eq!(
            r.next_opening(ny, at_0730),
            Some(utc("2026-06-15T12:00:00Z"))
        );
        assert!(!r.is_callable(ny, at_2130));
        assert_eq!(
            r.closes_at(ny, utc("2026-06-15T20:00:00Z")),
            Some(utc("2026-06-16T01:00:00Z"))
        );

        r.allow_outside_legal_hours = true;
        assert_eq!(r.hours_on(monday), Some((hm(7, 0), hm(22, 0))));
        assert!(r.is_callable(ny, at_0730));
        assert!(r.is_callable(ny, at_2130));
        assert!(!r.is_callable(ny, utc("2026-06-16T02:00:00Z")), "22:00");

        let late = rules("21:00", "23:00", &WEEKDAYS);
        assert_eq!(late.hours_on(monday), None, "nothing left inside the guard");
        assert_eq!(late.next_opening(ny, at_0730), None);
    }

    #[test]
    fn weekends_are_skipped() {
        let r = rules("09:00", "20:00", &WEEKDAYS);
        let ny = America::New_York;
        // Friday 2026-03-06 20:30 EST -> Monday 09:00, by then EDT.
        let friday_night = utc("2026-03-07T01:30:00Z");
        assert_eq!(
            r.next_opening(ny, friday_night),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        assert!(
            !r.is_callable(ny, utc("2026-03-07T17:00:00Z")),
            "Saturday noon"
        );
    }

    #[test]
    fn campaign_dates_bound_the_windows() {
        let ny = America::New_York;
        let now = utc("2026-06-15T17:00:00Z"); // Monday 13:00 EDT
        let mut r = rules("09:00", "20:00", &WEEKDAYS);

        r.end_date = Some(date("2026-06-12"));
        assert!(!r.is_callable(ny, now));
        assert_eq!(r.next_opening(ny, now), None, "the campaign has ended");

        r.end_date = Some(date("2026-06-15"));
        assert!(r.is_callable(ny, now), "the end date is inclusive");
        assert_eq!(r.next_opening(ny, utc("2026-06-16T00:00:00Z")), None);

        r.end_date = None;
        r.start_date = Some(date("2026-07-01"));
        assert!(!r.is_callable(ny, now));
        assert_eq!(
            r.next_opening(ny, now),
            Some(utc("2026-07-01T13:00:00Z")),
            "opens on the start date"
        );

        let no_days = rules("09:00", "20:00", &[]);
        assert_eq!(no_days.next_opening(ny, now), None);
    }

    #[test]
    fn rules_come_from_campaign_settings() {
        let settings = CampaignSettings {
            allow_outside_legal_hours: true,
            end_date: Some(date("2026-12-31")),
            ..Default::default()
        };
        let r = CallingRules::from_settings(&settings);
        assert_eq!(r.window, CallingWindow::default());
        assert!(r.allow_outside_legal_hours);
        assert_eq!(r.start_date, None);
        assert_eq!(r.end_date, Some(date("2026-12-31")));
    }
}
