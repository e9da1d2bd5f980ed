use super::*;
use std::collections::HashSet;

fn standing(state: ProgressState, outcome: Option<&str>, reason: Option<&str>) -> &'static str {
    ContactStanding::of(state, outcome, reason).label()
}

#[test]
fn a_finished_contact_reads_as_its_last_call_left_it() {
    use ProgressState::*;
    let exhausted = Some("voicemail after 3 attempts");
    assert_eq!(
        standing(Failed, Some("voicemail"), exhausted),
        "Not reached: voicemail"
    );
    assert_eq!(
        standing(Failed, Some("no_answer"), None),
        "Not reached: no answer"
    );
    assert_eq!(standing(Failed, Some("busy"), None), "Not reached: busy");
    assert_eq!(
        standing(Failed, Some("short_call"), None),
        "Not reached: call too short"
    );
    assert_eq!(
        standing(
            Failed,
            Some("failed"),
            Some("the carrier refused the number")
        ),
        "Not reached: call failed"
    );
    assert_eq!(standing(Completed, Some("success"), None), "Reached");
    // Tries used up on conversations the agent judged unsuccessful: still reached.
    assert_eq!(standing(Failed, Some("unsuccessful"), None), "Reached");
}

#[test]
fn a_taken_out_contact_says_why() {
    use ProgressState::Cancelled;
    assert_eq!(
        standing(Cancelled, Some("opted_out"), Some(OPTED_OUT_REASON)),
        "Opted out"
    );
    // Opted out on a call of another campaign: cancelled while waiting, no call of its own.
    assert_eq!(
        standing(Cancelled, None, Some(OPTED_OUT_REASON)),
        "Opted out"
    );
    assert_eq!(
        standing(Cancelled, Some("canceled"), Some(DO_NOT_CALL_REASON)),
        "Do not call"
    );
    assert_eq!(
        standing(Cancelled, None, Some("the phone number is not valid")),
        "Taken out"
    );
}

#[test]
fn a_waiting_contact_is_not_judged_by_its_last_call() {
    use ProgressState::*;
    assert_eq!(standing(Pending, None, None), "Ready");
    assert_eq!(standing(Scheduled, Some("no_answer"), None), "Scheduled");
    assert_eq!(standing(InProgress, Some("busy"), None), "Being called");
}

#[test]
fn no_word_means_two_things_within_an_enum() {
    for (name, values) in labels() {
        let words: HashSet<_> = values.iter().map(|(_, l)| *l).collect();
        assert_eq!(words.len(), values.len(), "{name} repeats a word");
        assert!(values.iter().all(|(w, _)| !w.is_empty()), "{name}");
    }
    // The campaign page shows progress states and call outcomes side by side.
    let states: HashSet<_> = ProgressState::ALL.iter().map(|s| s.label()).collect();
    for o in CallOutcome::ALL {
        assert!(!states.contains(o.label()), "{} is both", o.label());
    }
}

#[test]
fn the_wire_values_are_the_serde_names() {
    assert_eq!(ContactStanding::DoNotCall.wire(), "do_not_call");
    assert_eq!(CallStatus::InProgress.wire(), "in-progress");
    for o in CallOutcome::ALL {
        assert_eq!(o.wire(), o.as_str());
    }
    for s in ProgressState::ALL {
        assert_eq!(s.wire(), s.as_str());
    }
}

#[test]
fn the_readme_holds_the_glossary() {
    let glossary = glossary_markdown();
    assert_eq!(
        crate::readme::section(GLOSSARY_BEGIN, GLOSSARY_END),
        glossary.trim(),
        "the README's glossary is stale: paste this between the markers:\n{glossary}"
    );
}
