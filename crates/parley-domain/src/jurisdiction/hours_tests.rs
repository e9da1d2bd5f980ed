//! Each shipped hours rule at its edges and across daylight-saving changes, with the
//! clock given to every check.
use super::{contact_jurisdiction, CustomFields, Jurisdiction};
use crate::campaign::{CallingWindow, CampaignSettings};
use crate::timezones::contact_zone;
use crate::window::CallingRules;
use crate::Phone;
use chrono::Weekday::*;
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A campaign that would call 07:00-23:00 every day: only the law narrows it.
fn wide_open() -> CampaignSettings {
    let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
    CampaignSettings {
        calling_window: CallingWindow {
            start: t("07:00"),
            end: t("23:00"),
            days: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        },
        ..Default::default()
    }
}

/// The rules and zone the dialer uses for a number.
fn for_number(settings: &CampaignSettings, e164: &str) -> (CallingRules, Tz) {
    let phone = Phone::from_e164(e164).unwrap();
    let place = contact_jurisdiction(&CustomFields::new(), &phone);
    (
        CallingRules::for_contact(settings, &place),
        contact_zone(None, &phone),
    )
}

const MIAMI: &str = "+13055550123";
const PENSACOLA: &str = "+18505550123";
const NEW_YORK: &str = "+12125550123";
const BALTIMORE: &str = "+14105550123";
const OKLAHOMA_CITY: &str = "+14055550123";

#[test]
fn florida_calls_end_at_20_00_their_time_and_new_york_calls_at_21_00() {
    let (fl, fl_zone) = for_number(&wide_open(), MIAMI);
    let (ny, ny_zone) = for_number(&wide_open(), NEW_YORK);
    // Monday 2026-06-15, EDT (UTC-4).
    let at_1959 = utc("2026-06-15T23:59:00Z");
    let at_2000 = utc("2026-06-16T00:00:00Z");
    assert!(fl.is_callable(fl_zone, at_1959), "19:59 in Miami");
    assert!(!fl.is_callable(fl_zone, at_2000), "20:00 in Miami");
    assert_eq!(fl.closes_at(fl_zone, at_1959), Some(at_2000));
    assert_eq!(
        fl.next_opening(fl_zone, at_2000),
        Some(utc("2026-06-16T12:00:00Z")),
        "08:00 the next morning"
    );
    assert!(ny.is_callable(ny_zone, at_2000), "20:00 in New York");
    assert!(
        ny.is_callable(ny_zone, utc("2026-06-16T00:59:00Z")),
        "20:59"
    );
    assert!(
        !ny.is_callable(ny_zone, utc("2026-06-16T01:00:00Z")),
        "21:00"
    );
}

#[test]
fn nobody_is_called_before_08_00_their_time() {
    for number in [MIAMI, NEW_YORK] {
        let (r, zone) = for_number(&wide_open(), number);
        assert!(
            !r.is_callable(zone, utc("2026-06-15T11:59:00Z")),
            "07:59 {number}"
        );
        assert!(
            r.is_callable(zone, utc("2026-06-15T12:00:00Z")),
            "08:00 {number}"
        );
    }
}

#[test]
fn the_florida_panhandle_closes_at_20_00_central_time() {
    let (r, zone) = for_number(&wide_open(), PENSACOLA);
    assert_eq!(zone, chrono_tz::America::Chicago);
    // Monday 2026-06-15, CDT (UTC-5).
    assert!(
        r.is_callable(zone, utc("2026-06-16T00:59:00Z")),
        "19:59 CDT"
    );
    assert!(
        !r.is_callable(zone, utc("2026-06-16T01:00:00Z")),
        "20:00 CDT"
    );
}

#[test]
fn maryland_and_oklahoma_calls_end_at_20_00_their_time() {
    // Monday 2026-06-15: Baltimore on EDT (UTC-4), Oklahoma City on CDT (UTC-5).
    let cases = [
        (
            BALTIMORE,
            chrono_tz::America::New_York,
            "2026-06-15T23:59:00Z",
            "2026-06-16T00:00:00Z",
        ),
        (
            OKLAHOMA_CITY,
            chrono_tz::America::Chicago,
            "2026-06-16T00:59:00Z",
            "2026-06-16T01:00:00Z",
        ),
    ];
    for (number, expected_zone, last_minute, closing) in cases {
        let (r, zone) = for_number(&wide_open(), number);
        assert_eq!(zone, expected_zone, "{number}");
        assert!(r.is_callable(zone, utc(last_minute)), "19:59 for {number}");
        assert!(!r.is_callable(zone, utc(closing)), "20:00 for {number}");
        assert_eq!(r.closes_at(zone, utc(last_minute)), Some(utc(closing)));
    }
}

#[test]
fn maryland_hours_follow_the_clocks_when_they_fall_back() {
    let (r, zone) = for_number(&wide_open(), BALTIMORE);
    // Sunday 2026-11-01: EDT ends at 02:00. 19:59 EST is 00:59 UTC on the 2nd.
    assert!(
        r.is_callable(zone, utc("2026-11-02T00:59:00Z")),
        "19:59 EST"
    );
    assert!(
        !r.is_callable(zone, utc("2026-11-02T01:00:00Z")),
        "20:00 EST"
    );
    // The day before, still EDT, 20:00 was an hour earlier in UTC.
    assert!(
        !r.is_callable(zone, utc("2026-11-01T00:00:00Z")),
        "20:00 EDT"
    );
}

#[test]
fn florida_hours_follow_the_clocks_across_spring_forward_and_fall_back() {
    let (r, zone) = for_number(&wide_open(), MIAMI);
    // Clocks go forward at 02:00 on Sunday 2026-03-08.
    assert!(
        r.is_callable(zone, utc("2026-03-08T00:59:00Z")),
        "Sat 19:59 EST"
    );
    assert!(
        !r.is_callable(zone, utc("2026-03-08T01:00:00Z")),
        "Sat 20:00 EST"
    );
    assert_eq!(
        r.next_opening(zone, utc("2026-03-08T01:00:00Z")),
        Some(utc("2026-03-08T12:00:00Z")),
        "Sun 08:00 EDT, an hour earlier in UTC"
    );
    assert_eq!(
        r.closes_at(zone, utc("2026-03-08T12:00:00Z")),
        Some(utc("2026-03-09T00:00:00Z")),
        "Sun 20:00 EDT"
    );
    // Clocks go back at 02:00 on Sunday 2026-11-01.
    assert!(
        !r.is_callable(zone, utc("2026-11-01T00:00:00Z")),
        "Sat 20:00 EDT"
    );
    assert_eq!(
        r.next_opening(zone, utc("2026-11-01T00:00:00Z")),
        Some(utc("2026-11-01T13:00:00Z")),
        "Sun 08:00 EST"
    );
    assert!(
        r.is_callable(zone, utc("2026-11-02T00:59:00Z")),
        "Sun 19:59 EST"
    );
    assert!(
        !r.is_callable(zone, utc("2026-11-02T01:00:00Z")),
        "Sun 20:00 EST"
    );
}

#[test]
fn the_federal_hours_follow_the_clocks_across_dst_too() {
    let (r, zone) = for_number(&wide_open(), NEW_YORK);
    assert!(
        r.is_callable(zone, utc("2026-03-08T01:59:00Z")),
        "Sat 20:59 EST"
    );
    assert!(
        !r.is_callable(zone, utc("2026-03-08T02:00:00Z")),
        "Sat 21:00 EST"
    );
    assert!(
        r.is_callable(zone, utc("2026-03-09T00:59:00Z")),
        "Sun 20:59 EDT"
    );
    assert!(
        !r.is_callable(zone, utc("2026-03-09T01:00:00Z")),
        "Sun 21:00 EDT"
    );
    assert!(
        !r.is_callable(zone, utc("2026-11-01T12:59:00Z")),
        "Sun 07:59 EST"
    );
    assert!(
        r.is_callable(zone, utc("2026-11-01T13:00:00Z")),
        "Sun 08:00 EST"
    );
}

#[test]
fn a_campaign_lifts_the_federal_hours_but_never_floridas() {
    let mut settings = wide_open();
    settings.allow_outside_legal_hours = true;
    let (ny, ny_zone) = for_number(&settings, NEW_YORK);
    let (fl, fl_zone) = for_number(&settings, MIAMI);
    // Monday 2026-06-15 22:00 EDT and 07:30 EDT.
    let late = utc("2026-06-16T02:00:00Z");
    let early = utc("2026-06-15T11:30:00Z");
    assert!(ny.is_callable(ny_zone, late) && ny.is_callable(ny_zone, early));
    assert!(!fl.is_callable(fl_zone, late) && !fl.is_callable(fl_zone, early));
    assert!(
        !fl.is_callable(fl_zone, utc("2026-06-16T00:30:00Z")),
        "20:30"
    );
}

#[test]
fn a_campaign_window_narrower_than_the_law_is_kept() {
    let mut settings = wide_open();
    settings.calling_window.start = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
    settings.calling_window.end = NaiveTime::from_hms_opt(17, 0, 0).unwrap();
    let (r, zone) = for_number(&settings, MIAMI);
    assert!(!r.is_callable(zone, utc("2026-06-15T13:59:00Z")), "09:59");
    assert!(r.is_callable(zone, utc("2026-06-15T14:00:00Z")), "10:00");
    assert!(!r.is_callable(zone, utc("2026-06-15T21:00:00Z")), "17:00");
}

#[test]
fn the_state_law_that_blocks_a_contact_is_named_only_when_it_alone_blocks() {
    let (fl, fl_zone) = for_number(&wide_open(), MIAMI);
    let (ny, ny_zone) = for_number(&wide_open(), NEW_YORK);
    let at_2030 = utc("2026-06-16T00:30:00Z");
    assert_eq!(
        fl.blocking_state_law(fl_zone, at_2030)
            .map(|l| l.name.as_str()),
        Some("Florida")
    );
    assert_eq!(ny.blocking_state_law(ny_zone, at_2030), None, "callable");
    let at_2200 = utc("2026-06-16T02:00:00Z");
    assert_eq!(
        fl.blocking_state_law(fl_zone, at_2200),
        None,
        "the federal rule is closed as well"
    );
    // A Miami number whose owner lives in New York follows New York's rules.
    let moved: CustomFields = [("state".to_string(), "NY".to_string())].into();
    let phone = Phone::from_e164(MIAMI).unwrap();
    let place = contact_jurisdiction(&moved, &phone);
    assert_eq!(place, Jurisdiction::state("NY"));
    let r = CallingRules::for_contact(&wide_open(), &place);
    assert!(r.is_callable(fl_zone, at_2030));
}
