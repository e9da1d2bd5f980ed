//! A campaign's calls split by A/B variant, summed from the calls themselves.
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::time::now_millis;
use parley_store::{CallCounts, NewCall, StatsRange, StatusChange, Store};

/// A call of `campaign_id` with `variant` that ended as `outcome` after `seconds`.
async fn variant_call(
    store: &Store,
    campaign_id: i64,
    variant: Option<&str>,
    outcome: CallOutcome,
    seconds: i64,
) -> i64 {
    let id = store
        .create_call(&NewCall {
            campaign_id: Some(campaign_id),
            attempt: 1,
            to: "+15550100001".into(),
            from: "+15005550006".into(),
            dynamic_variables: serde_json::json!({}),
            overrides: serde_json::json!({}),
            variant: variant.map(str::to_owned),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    for status in [CallStatus::InProgress, CallStatus::Completed] {
        store
            .advance_call_status(
                id,
                &StatusChange {
                    status,
                    duration_seconds: Some(seconds),
                    error_code: None,
                    error_message: None,
                },
            )
            .await
            .unwrap();
    }
    store.set_answered_by(id, "human").await.unwrap();
    store.set_outcome(id, outcome).await.unwrap();
    id
}

pub async fn a_campaigns_calls_are_counted_per_variant(store: Store) {
    let campaign = crate::cases::campaign(&store, "ab").await;
    let other = crate::cases::campaign(&store, "other").await;
    let a = Some("A");
    let b = Some("B");
    variant_call(&store, campaign, a, CallOutcome::Success, 61).await;
    variant_call(&store, campaign, a, CallOutcome::Unsuccessful, 30).await;
    variant_call(&store, campaign, b, CallOutcome::Success, 10).await;
    // Neither another campaign's nor a call without a variant is counted.
    variant_call(&store, other, a, CallOutcome::Success, 10).await;
    variant_call(&store, campaign, None, CallOutcome::Success, 10).await;
    let call = store
        .get_call(variant_call(&store, campaign, b, CallOutcome::Voicemail, 5).await)
        .await
        .unwrap();
    assert_eq!(call.variant.as_deref(), Some("B"));

    let now = now_millis();
    let range = |campaign_id| StatsRange {
        from: now - 3_600_000,
        to: now + 3_600_000,
        campaign_id,
    };
    let split = store
        .variant_call_counts(&range(Some(campaign)))
        .await
        .unwrap();
    let names: Vec<&str> = split.iter().map(|v| v.variant.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(
        split[0].counts,
        CallCounts {
            dialed: 2,
            answered: 2,
            human: 2,
            machine: 0,
            conversations: 2,
            successful: 1,
            failed: 0,
            no_answer: 0,
            busy: 0,
            voicemail: 0,
            duration_seconds: 91,
            billed_minutes: 3,
        }
    );
    assert_eq!(
        (
            split[1].counts.dialed,
            split[1].counts.successful,
            split[1].counts.voicemail,
            split[1].counts.conversations,
        ),
        (2, 1, 1, 1)
    );
    // The hourly counters agree with the split for the calls that have a variant.
    let whole = store.call_counts(&range(Some(campaign))).await.unwrap();
    assert_eq!(whole.dialed, 5);
    // Outside the range, or without a campaign: nothing.
    let later = StatsRange {
        from: now + 7_200_000,
        to: now + 9_000_000,
        campaign_id: Some(campaign),
    };
    assert!(store.variant_call_counts(&later).await.unwrap().is_empty());
    assert!(store
        .variant_call_counts(&range(None))
        .await
        .unwrap()
        .is_empty());
}
