//! Rolling frequency caps: when a number that has had `calls` calls within a rolling
//! period may be called again.
use super::FrequencyCap;
use chrono::{DateTime, Utc};

/// The earliest instant at or after `now` at which every cap allows one more call, given
/// the times of the calls already placed (or about to be) to the number, in any order;
/// `None` when a call is allowed now. Also names the cap that binds longest.
pub fn next_eligible<'a>(
    caps: &'a [FrequencyCap],
    calls: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, &'a FrequencyCap)> {
    let mut recent: Vec<DateTime<Utc>> = calls.to_vec();
    // Most recent first.
    recent.sort_unstable_by(|a, b| b.cmp(a));
    caps.iter()
        .filter_map(|cap| {
            let counted: Vec<_> = recent.iter().filter(|t| **t > now - cap.within).collect();
            let n = usize::try_from(cap.calls).unwrap_or(usize::MAX);
            // With `n` or more calls in the period, one more is allowed once the n-th
            // most recent of them leaves it.
            counted.get(n - 1).map(|t| (**t + cap.within, cap))
        })
        .max_by_key(|(at, _)| *at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jurisdiction::RuleBook;
    use chrono::TimeDelta;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn florida() -> Vec<FrequencyCap> {
        RuleBook::shipped().get("US-FL").unwrap().caps.clone()
    }

    #[test]
    fn a_florida_number_takes_three_calls_in_24_hours_and_the_fourth_waits_for_the_first_to_age_out(
    ) {
        let caps = florida();
        let now = utc("2026-06-15T18:00:00Z");
        let calls = [
            utc("2026-06-15T09:00:00Z"),
            utc("2026-06-14T19:00:00Z"),
            utc("2026-06-15T13:00:00Z"),
        ];
        assert_eq!(next_eligible(&caps, &calls[..2], now), None, "two calls");
        let (at, cap) = next_eligible(&caps, &calls, now).expect("a fourth waits");
        assert_eq!(
            at,
            utc("2026-06-15T19:00:00Z"),
            "24 h after the oldest of the three"
        );
        assert_eq!(cap.cited.citation, "Fla. Stat. 501.616(6)(b)");
        // At that instant the oldest no longer counts.
        assert_eq!(next_eligible(&caps, &calls, at), None);
        assert!(next_eligible(&caps, &calls, at - TimeDelta::milliseconds(1)).is_some());
        // Calls older than the period never count.
        let old = [utc("2026-06-13T18:00:00Z"); 5];
        assert_eq!(next_eligible(&caps, &old, now), None);
    }

    #[test]
    fn maryland_and_oklahoma_numbers_also_take_three_calls_in_24_hours() {
        for (code, citation) in [
            ("US-MD", "Md. Code, Com. Law 14-4501 et seq."),
            ("US-OK", "Okla. Stat. tit. 15, 775C.1 et seq."),
        ] {
            let caps = RuleBook::shipped().get(code).unwrap().caps.clone();
            let now = utc("2026-11-01T18:00:00Z");
            // Across the night the clocks fell back: the period is 24 real hours.
            let calls = [
                utc("2026-10-31T20:00:00Z"),
                utc("2026-11-01T09:00:00Z"),
                utc("2026-11-01T14:00:00Z"),
            ];
            assert_eq!(next_eligible(&caps, &calls[1..], now), None, "{code}: two");
            let (at, cap) = next_eligible(&caps, &calls, now).expect("a fourth waits");
            assert_eq!(at, utc("2026-11-01T20:00:00Z"), "{code}");
            assert_eq!(cap.cited.citation, citation);
            assert_eq!(
                next_eligible(&caps, &calls, at),
                None,
                "{code}: at the edge"
            );
            assert!(next_eligible(&caps, &calls, at - TimeDelta::milliseconds(1)).is_some());
        }
    }

    #[test]
    fn with_several_caps_the_one_that_binds_longest_decides() {
        let mut caps = florida();
        let mut weekly = caps[0].clone();
        weekly.calls = 4;
        weekly.within = TimeDelta::days(7);
        caps.push(weekly);
        let now = utc("2026-06-15T18:00:00Z");
        let calls = [
            utc("2026-06-10T12:00:00Z"),
            utc("2026-06-11T12:00:00Z"),
            utc("2026-06-12T12:00:00Z"),
            utc("2026-06-15T12:00:00Z"),
        ];
        let (at, cap) = next_eligible(&caps, &calls, now).unwrap();
        assert_eq!(
            at,
            utc("2026-06-17T12:00:00Z"),
            "7 days after the oldest of four"
        );
        assert_eq!(cap.within, TimeDelta::days(7));
        assert_eq!(next_eligible(&[], &calls, now), None, "no caps, no wait");
    }
}
