//! The failure-rate circuit breaker: when most recent calls of a campaign fail at the
//! carrier (bad caller id, carrier outage, misconfiguration), dialling more only burns
//! contacts' attempts, so the campaign pauses and says why.
use crate::call::CallOutcome;

/// How many of a campaign's most recent finished calls are looked at.
pub const WINDOW: usize = 20;
/// Trips when at least this share of them failed.
pub const FAILURE_SHARE: f64 = 0.5;

/// `Some(reason)` when the recent outcomes (newest first) should pause the campaign.
pub fn trips(recent: &[CallOutcome]) -> Option<String> {
    if recent.len() < WINDOW {
        return None;
    }
    let failed = recent
        .iter()
        .take(WINDOW)
        .filter(|o| **o == CallOutcome::Failed)
        .count();
    (failed as f64 >= FAILURE_SHARE * WINDOW as f64).then(|| {
        format!("circuit breaker: {failed} of the last {WINDOW} calls failed at the carrier")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallOutcome::*;

    #[test]
    fn trips_only_on_a_full_window_of_mostly_failures() {
        assert_eq!(trips(&[Failed; 10]), None, "too few calls to judge");
        let mut recent = vec![Failed; 10];
        recent.extend([NoAnswer; 10]);
        assert_eq!(
            trips(&recent).as_deref(),
            Some("circuit breaker: 10 of the last 20 calls failed at the carrier")
        );
        let mut fine = vec![Failed; 9];
        fine.extend([
            Busy,
            NoAnswer,
            Success,
            Voicemail,
            Conversation,
            Success,
            Success,
            Success,
            Success,
            Success,
            Success,
        ]);
        assert_eq!(
            trips(&fine),
            None,
            "busy and unanswered calls are not failures"
        );
    }
}
