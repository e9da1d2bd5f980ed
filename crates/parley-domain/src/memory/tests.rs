use super::*;
use chrono::TimeZone;
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;

const NY: Tz = New_York;
const BERLIN: Tz = Berlin;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn all() -> RememberPreviousCalls {
    RememberPreviousCalls {
        enabled: true,
        variables: Vec::new(),
    }
}

fn result(name: &str, value_type: ValueType, value: &str) -> RememberedResult {
    RememberedResult {
        name: name.into(),
        value_type,
        value: value.into(),
    }
}

fn facts() -> Remembered {
    Remembered {
        previous: Some(PreviousCall {
            call_id: 7,
            at: utc(2026, 12, 1, 20, 5),
            outcome: Some(CallOutcome::Unsuccessful),
            summary: Some("  Asked about the premium plan.  ".into()),
        }),
        callback_reason: Some("callee busy".into()),
        results: vec![
            result("plan", ValueType::String, "premium"),
            result("seats", ValueType::Number, "12"),
            result("interested", ValueType::Boolean, "true"),
            result("tools", ValueType::Json, "[\"a\"]"),
            result(
                "outcome",
                ValueType::String,
                "a result named like a fixed variable",
            ),
        ],
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

/// Each UTC time reads as given in its zone.
fn reads(cases: &[(DateTime<Utc>, Tz, &str)]) {
    for (at, zone, spoken) in cases {
        assert_eq!(spoken_time(*at, *zone), *spoken, "{at} in {zone}");
    }
}

#[test]
fn a_time_reads_as_spoken_in_the_contacts_zone() {
    reads(&[
        (
            at("2026-12-01T20:05:00Z"),
            NY,
            "Tuesday, December 1 at 3:05 PM",
        ),
        (
            at("2026-12-01T20:05:00Z"),
            BERLIN,
            "Tuesday, December 1 at 9:05 PM",
        ),
    ]);
}

#[test]
fn the_same_utc_time_reads_an_hour_earlier_after_new_york_falls_back() {
    // Daylight saving time ends on Sunday, November 1, 2026 at 2:00 AM in New York.
    reads(&[
        (
            at("2026-10-31T19:05:00Z"),
            NY,
            "Saturday, October 31 at 3:05 PM",
        ),
        (
            at("2026-11-02T19:05:00Z"),
            NY,
            "Monday, November 2 at 2:05 PM",
        ),
    ]);
}

#[test]
fn the_hour_of_the_fall_back_reads_twice_and_the_spring_gap_is_skipped() {
    reads(&[
        // 1:30 AM happens twice on November 1, 2026: EDT (05:30 UTC), then EST (06:30 UTC).
        (
            at("2026-11-01T05:30:00Z"),
            NY,
            "Sunday, November 1 at 1:30 AM",
        ),
        (
            at("2026-11-01T06:30:00Z"),
            NY,
            "Sunday, November 1 at 1:30 AM",
        ),
        // On March 8, 2026 clocks jump from 2:00 to 3:00 AM: 07:30 UTC is 3:30 AM EDT.
        (at("2026-03-08T06:30:00Z"), NY, "Sunday, March 8 at 1:30 AM"),
        (at("2026-03-08T07:30:00Z"), NY, "Sunday, March 8 at 3:30 AM"),
    ]);
}

#[test]
fn berlin_changes_its_clocks_on_another_day_than_new_york() {
    // Europe falls back on October 25, 2026, a week before New York.
    reads(&[
        (
            at("2026-10-26T14:00:00Z"),
            BERLIN,
            "Monday, October 26 at 3:00 PM",
        ),
        (
            at("2026-10-26T14:00:00Z"),
            NY,
            "Monday, October 26 at 10:00 AM",
        ),
    ]);
}

#[test]
fn memory_turned_on_sends_every_variable_it_knows() {
    let vars = all().variables(&facts(), 3, New_York);
    assert_eq!(
        vars["previous_call_summary"],
        "Asked about the premium plan."
    );
    assert_eq!(
        vars["previous_outcome"], "unsuccessful",
        "a result does not replace it"
    );
    assert_eq!(vars["previous_call_at"], "Tuesday, December 1 at 3:05 PM");
    assert_eq!(vars["attempt_number"], 3);
    assert_eq!(vars["callback_reason"], "callee busy");
    assert_eq!(vars["previous_plan"], "premium");
    assert_eq!(vars["previous_seats"], 12);
    assert_eq!(vars["previous_interested"], true);
    assert!(!vars.contains_key("previous_tools"), "lists are not sent");
    assert!(vars
        .values()
        .all(|v| v.is_string() || v.is_number() || v.is_boolean()));
}

#[test]
fn memory_turned_off_sends_nothing_and_a_chosen_list_sends_only_its_variables() {
    let off = RememberPreviousCalls::default();
    assert!(off.variables(&facts(), 2, New_York).is_empty());
    let some = RememberPreviousCalls {
        enabled: true,
        variables: vec![
            MemoryVariable::PreviousCallSummary,
            MemoryVariable::AttemptNumber,
        ],
    };
    let vars = some.variables(&facts(), 2, New_York);
    let names: Vec<&str> = vars.keys().map(String::as_str).collect();
    assert_eq!(names, ["attempt_number", "previous_call_summary"]);
}

#[test]
fn a_first_call_knows_only_its_attempt_number() {
    let vars = all().variables(&Remembered::default(), 1, New_York);
    assert_eq!(vars.len(), 1);
    assert_eq!(vars["attempt_number"], 1);
}

#[test]
fn a_long_summary_is_cut_before_it_is_sent() {
    let mut f = facts();
    f.previous.as_mut().unwrap().summary = Some("x".repeat(5_000));
    let vars = all().variables(&f, 2, New_York);
    let sent = vars["previous_call_summary"].as_str().unwrap();
    assert_eq!(sent.chars().count(), MAX_SUMMARY_CHARS + 1);
    assert!(sent.ends_with('…'));
}

#[test]
fn the_call_record_leaves_out_secrets_hidden_names_and_cuts_long_texts() {
    let sent: Map<String, Value> = serde_json::from_value(serde_json::json!({
        "first_name": "Ann",
        "secret__token": "s3cr3t",
        "account_number": "12345678",
        "visits": 3,
        "nothing": null,
        "notes": "y".repeat(2_000),
    }))
    .unwrap();
    let shown = shown_variables(&sent, &["account_number".to_string()]);
    let names: Vec<&str> = shown.keys().map(String::as_str).collect();
    assert_eq!(names, ["first_name", "notes", "visits"]);
    assert_eq!(
        shown["notes"].as_str().unwrap().chars().count(),
        MAX_SHOWN_CHARS + 1
    );
}
