use super::*;
use CampaignAction as A;
use CampaignState as S;

#[test]
fn the_state_machine_allows_only_its_edges() {
    assert_eq!(S::Draft.apply(A::Start, false), Ok(S::Running));
    assert_eq!(S::Draft.apply(A::Start, true), Ok(S::Scheduled));
    assert_eq!(S::Running.apply(A::Pause, false), Ok(S::Paused));
    assert_eq!(S::Paused.apply(A::Resume, false), Ok(S::Running));
    assert_eq!(S::Paused.apply(A::Stop, false), Ok(S::Stopped));
    let err = S::Running.apply(A::Start, false).unwrap_err();
    assert_eq!(err.from, S::Running);
    assert_eq!(err.to_string(), "cannot start a campaign that is running");
    for fin in [S::Completed, S::Stopped, S::Failed] {
        for a in [A::Start, A::Pause, A::Resume, A::Stop] {
            assert!(fin.apply(a, false).is_err(), "{fin} must be final");
        }
    }
    assert!(S::Draft.apply(A::Resume, false).is_err());
    assert!(S::Draft.apply(A::Pause, false).is_err());
}

#[test]
fn defaults_are_valid_and_respect_twilio_cps() {
    let s = CampaignSettings::default();
    assert!(s.validate().is_ok());
    assert!(s.calls_per_second <= 1.0);
    assert!(!s.allow_outside_legal_hours);
}

#[test]
fn validation_names_each_bad_field() {
    let mut s = CampaignSettings {
        max_concurrent_calls: 0,
        calls_per_second: 0.0,
        ..Default::default()
    };
    s.calling_window.start = NaiveTime::from_hms_opt(21, 0, 0).unwrap();
    s.answering_machine.policy = MachinePolicy::LeaveVoicemail;
    let fields: Vec<String> = s
        .validate()
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        vec![
            "max_concurrent_calls",
            "calls_per_second",
            "calling_window.end",
            "answering_machine.voicemail_message"
        ]
    );
}

#[test]
fn settings_parse_from_json_with_weekday_names_and_reject_unknown_keys() {
    let s: CampaignSettings = serde_json::from_value(serde_json::json!({
        "caller_ids": ["+15005550006"],
        "calling_window": {"start": "10:00:00", "end": "18:30:00", "days": ["Sat", "sunday"]}
    }))
    .unwrap();
    assert_eq!(s.calling_window.days, vec![Weekday::Sat, Weekday::Sun]);
    assert_eq!(s.max_concurrent_calls, 5);
    let err = serde_json::from_value::<CampaignSettings>(serde_json::json!({"max_calls": 3}));
    assert!(err.is_err());
}
