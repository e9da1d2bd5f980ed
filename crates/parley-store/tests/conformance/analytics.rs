//! Analytics counters: every call counted exactly once, whatever order its news arrives in.
use super::cases::new_call;
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::time::now_millis;
use parley_store::{CallCounts, PastCall, StatsRange, StatusChange, Store};

async fn advance(store: &Store, id: i64, status: CallStatus, duration_seconds: Option<i64>) {
    store
        .advance_call_status(
            id,
            &StatusChange {
                status,
                duration_seconds,
                error_code: None,
                error_message: None,
            },
        )
        .await
        .unwrap();
}

/// A call answered by `answered_by` that lasted `seconds` and ended as `outcome`.
async fn answered_call(
    store: &Store,
    campaign_id: Option<i64>,
    answered_by: &str,
    seconds: i64,
    outcome: CallOutcome,
) -> i64 {
    let id = new_call(store, campaign_id).await;
    advance(store, id, CallStatus::Initiated, None).await;
    advance(store, id, CallStatus::Ringing, None).await;
    advance(store, id, CallStatus::InProgress, None).await;
    store.set_answered_by(id, answered_by).await.unwrap();
    advance(store, id, CallStatus::Completed, Some(seconds)).await;
    store.set_outcome(id, outcome).await.unwrap();
    id
}

pub async fn analytics_count_each_call_once(store: Store) {
    let a = crate::cases::campaign(&store, "A").await;
    let b = crate::cases::campaign(&store, "B").await;

    let success = answered_call(&store, Some(a), "human", 61, CallOutcome::Success).await;
    answered_call(
        &store,
        Some(a),
        "machine_end_beep",
        20,
        CallOutcome::Voicemail,
    )
    .await;
    let unanswered = new_call(&store, Some(b)).await;
    advance(&store, unanswered, CallStatus::NoAnswer, Some(0)).await;
    store
        .set_outcome(unanswered, CallOutcome::NoAnswer)
        .await
        .unwrap();
    let busy = new_call(&store, None).await;
    advance(&store, busy, CallStatus::Busy, None).await;
    store.set_outcome(busy, CallOutcome::Busy).await.unwrap();
    let live = new_call(&store, Some(b)).await;
    advance(&store, live, CallStatus::Ringing, None).await;

    // Callbacks repeated and out of order change nothing.
    advance(&store, success, CallStatus::Completed, Some(61)).await;
    advance(&store, success, CallStatus::InProgress, None).await;
    store.set_answered_by(success, "human").await.unwrap();
    store
        .set_outcome(success, CallOutcome::Success)
        .await
        .unwrap();
    store.touch_call(success).await.unwrap();

    let now = now_millis();
    let range = |campaign_id| StatsRange {
        from: now - 3_600_000,
        to: now + 3_600_000,
        campaign_id,
    };
    let all = store.call_counts(&range(None)).await.unwrap();
    assert_eq!(
        all,
        CallCounts {
            dialed: 5,
            answered: 2,
            human: 1,
            machine: 1,
            conversations: 1,
            successful: 1,
            failed: 0,
            no_answer: 1,
            busy: 1,
            voicemail: 1,
            duration_seconds: 81,
            billed_minutes: 3,
        }
    );
    let of_a = store.call_counts(&range(Some(a))).await.unwrap();
    assert_eq!(
        (of_a.dialed, of_a.answered, of_a.successful, of_a.voicemail),
        (2, 2, 1, 1)
    );
    let of_b = store.call_counts(&range(Some(b))).await.unwrap();
    assert_eq!((of_b.dialed, of_b.answered, of_b.no_answer), (2, 0, 1));

    // A verdict that changes moves the call between counters instead of adding it twice.
    store
        .set_outcome(success, CallOutcome::Unsuccessful)
        .await
        .unwrap();
    let moved = store.call_counts(&range(None)).await.unwrap();
    assert_eq!((moved.successful, moved.conversations), (0, 1));

    assert_eq!(store.calls_in_progress(None).await.unwrap(), 1);
    assert_eq!(store.calls_in_progress(Some(b)).await.unwrap(), 1);
    assert_eq!(store.calls_in_progress(Some(a)).await.unwrap(), 0);

    let hours = store.call_counts_by_hour(&range(None)).await.unwrap();
    assert_eq!(hours.iter().map(|h| h.counts.dialed).sum::<i64>(), 5);
    assert!(hours.iter().all(|h| h.hour % 3_600_000 == 0));

    let later = StatsRange {
        from: now + 3_600_000,
        to: now + 7_200_000,
        campaign_id: None,
    };
    assert_eq!(
        store.call_counts(&later).await.unwrap(),
        CallCounts::default()
    );
    assert!(store.call_counts_by_hour(&later).await.unwrap().is_empty());

    let per_campaign = store.campaign_call_counts(&range(None)).await.unwrap();
    let dialed: Vec<(i64, &str, i64)> = per_campaign
        .iter()
        .map(|c| (c.campaign_id, c.name.as_str(), c.counts.dialed))
        .collect();
    assert_eq!(dialed, [(b, "B", 2), (a, "A", 2)], "newest first");
    let idle = store.campaign_call_counts(&later).await.unwrap();
    assert!(idle.iter().all(|c| c.counts == CallCounts::default()));

    // Deleting a campaign keeps its calls in the totals of every call.
    store.delete_campaign(a, "test").await.unwrap();
    assert_eq!(store.call_counts(&range(None)).await.unwrap().dialed, 5);
    assert_eq!(store.call_counts(&range(Some(a))).await.unwrap().dialed, 0);
}

pub async fn past_calls_are_counted_like_live_ones(store: Store) {
    let campaign = crate::cases::campaign(&store, "History").await;
    let hour = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;
    let call = |status: CallStatus, outcome, answered_by: Option<&str>, duration| PastCall {
        campaign_id: Some(campaign),
        contact_id: None,
        to: "+15550100001".into(),
        from: "+15005550006".into(),
        status,
        answered_by: answered_by.map(String::from),
        outcome: Some(outcome),
        duration_seconds: duration,
        created_at: hour + 60_000,
        answered_at: duration.map(|_| hour + 70_000),
        ended_at: Some(hour + 200_000),
        summary: None,
        analysis: None,
    };
    let calls = vec![
        call(
            CallStatus::Completed,
            CallOutcome::Success,
            Some("human"),
            Some(120),
        ),
        call(
            CallStatus::Completed,
            CallOutcome::Voicemail,
            Some("fax"),
            Some(5),
        ),
        call(CallStatus::NoAnswer, CallOutcome::NoAnswer, None, None),
    ];
    assert_eq!(store.insert_past_calls(&calls).await.unwrap(), 3);
    let counts = store
        .call_counts(&StatsRange {
            from: hour,
            to: hour + 3_600_000,
            campaign_id: Some(campaign),
        })
        .await
        .unwrap();
    assert_eq!(
        counts,
        CallCounts {
            dialed: 3,
            answered: 2,
            human: 1,
            machine: 1,
            conversations: 1,
            successful: 1,
            failed: 0,
            no_answer: 1,
            busy: 0,
            voicemail: 1,
            duration_seconds: 125,
            billed_minutes: 3,
        }
    );
    assert_eq!(store.calls_in_progress(None).await.unwrap(), 0);
}
