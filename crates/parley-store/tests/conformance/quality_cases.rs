//! Per-call quality figures and the abandonment rate they add up to per campaign.
use super::cases::{campaign_with_contact, new_call};
use parley_domain::campaign::{CampaignAction, CampaignState};
use parley_domain::quality::{abandonment_trips, CallQuality, ABANDONMENT_PAUSE};
use parley_domain::time::now_millis;
use parley_domain::webhook::EventType;
use parley_store::{AuditFilter, PageRequest, Store};

const DAY_MS: i64 = 86_400_000;

fn figures(first_audio_ms: i64) -> CallQuality {
    CallQuality {
        frames_from_caller: 500,
        frames_to_agent: 498,
        frames_from_agent: 400,
        frames_to_caller: 390,
        caller_gaps: 2,
        interruptions: 1,
        first_audio_ms: Some(first_audio_ms),
        response_ms_mean: Some(812.5),
        responses: 4,
        added_latency_p50_us: Some(90),
        added_latency_p99_us: Some(7_000),
        added_latency_max_us: Some(9_000),
        live_answered: true,
        abandoned: first_audio_ms > 2_000,
    }
}

pub async fn call_quality_is_stored_once_and_counted_per_campaign(store: Store) {
    let campaign = campaign_with_contact(&store, "Quality", "+15550100001").await;
    let now = now_millis();
    let call = new_call(&store, Some(campaign)).await;
    let q = figures(2_500);
    assert!(store
        .record_call_quality(call, Some(campaign), now, &q)
        .await
        .unwrap());
    assert!(
        !store
            .record_call_quality(call, Some(campaign), now, &figures(100))
            .await
            .unwrap(),
        "a call has one record"
    );
    assert_eq!(store.call_quality(call).await.unwrap(), Some(q.clone()));
    let unbridged = new_call(&store, Some(campaign)).await;
    assert_eq!(store.call_quality(unbridged).await.unwrap(), None);
    let both = store.qualities_of(&[call, unbridged]).await.unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(both.get(&call), Some(&q));

    // A machine, and a call from 31 days ago (outside the window).
    let machine = new_call(&store, Some(campaign)).await;
    let not_live = CallQuality {
        live_answered: false,
        abandoned: false,
        ..figures(3_000)
    };
    store
        .record_call_quality(machine, Some(campaign), now, &not_live)
        .await
        .unwrap();
    let old = new_call(&store, Some(campaign)).await;
    store
        .record_call_quality(old, Some(campaign), now - 31 * DAY_MS, &figures(5_000))
        .await
        .unwrap();
    let counts = store
        .campaign_quality_counts(campaign, now - 30 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        (counts.calls, counts.live_answered, counts.abandoned),
        (2, 1, 1),
        "the repeat counted nothing, the old call is out of the window: {counts:?}"
    );
    assert_eq!(
        (counts.slow_first_audio, counts.slow_relay),
        (2, 2),
        "both calls in the window were slow (first audio over 1 s, p99 over 5 ms)"
    );
    let all = store
        .all_campaign_quality_counts(now - 30 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(all, vec![(campaign, counts)]);
    assert_eq!(
        counts.campaign_quality().abandonment_rate,
        Some(1.0),
        "{counts:?}"
    );
}

/// The call that takes the rate over the limit pauses the campaign in the transaction
/// that stores its figures: rolled back, neither happened; committed, both did, with the
/// audit row and the `campaign.state_changed` event.
pub async fn the_abandoned_call_that_tips_the_rate_pauses_the_campaign_in_its_transaction(
    store: Store,
) {
    let subscription =
        parley_store::testing::subscribe(&store, vec![EventType::CampaignStateChanged]).await;
    let campaign = campaign_with_contact(&store, "Slow agent", "+15550100001").await;
    store
        .transition_campaign(campaign, CampaignAction::Start, "test", None)
        .await
        .unwrap();
    let now = now_millis();
    let since = now - 30 * DAY_MS;
    let limit = store
        .get_campaign(campaign)
        .await
        .unwrap()
        .settings
        .max_abandonment_rate_pct;
    assert_eq!(limit, 3.0, "the default");
    // 18 calls on time, one abandoned: 1 of 19, under the minimum sample.
    for first_audio in std::iter::repeat_n(600, 18).chain([2_600]) {
        let call = new_call(&store, Some(campaign)).await;
        store
            .record_call_quality(call, Some(campaign), now, &figures(first_audio))
            .await
            .unwrap();
    }
    let counts = store
        .campaign_quality_counts(campaign, since)
        .await
        .unwrap();
    assert_eq!((counts.live_answered, counts.abandoned), (19, 1));
    assert_eq!(abandonment_trips(&counts, limit), None, "19 calls: too few");

    // The 20th, abandoned: 2 of 20 is 10%.
    let tipping = new_call(&store, Some(campaign)).await;
    let apply = |store: Store| async move {
        let mut tx = store.begin().await.unwrap();
        assert!(tx
            .record_call_quality(tipping, Some(campaign), now, &figures(4_000))
            .await
            .unwrap());
        let counts = tx.campaign_quality_counts(campaign, since).await.unwrap();
        let reason = abandonment_trips(&counts, limit).expect("over the limit");
        tx.transition_campaign(campaign, CampaignAction::Pause, "system", Some(&reason))
            .await
            .unwrap();
        (tx, reason)
    };
    let (rolled_back, _) = apply(store.clone()).await;
    drop(rolled_back);
    assert_eq!(store.call_quality(tipping).await.unwrap(), None);
    assert_eq!(
        store.get_campaign(campaign).await.unwrap().state,
        CampaignState::Running
    );
    assert_eq!(
        store
            .campaign_quality_counts(campaign, since)
            .await
            .unwrap(),
        counts,
        "nothing of the rolled-back call was counted"
    );

    let (tx, reason) = apply(store.clone()).await;
    tx.commit().await.unwrap();
    assert!(
        reason.starts_with(&format!("{ABANDONMENT_PAUSE}: 2 of 20 live-answered calls")),
        "{reason}"
    );
    let paused = store.get_campaign(campaign).await.unwrap();
    assert_eq!(paused.state, CampaignState::Paused);
    assert_eq!(paused.state_reason.as_deref(), Some(reason.as_str()));
    assert!(store.call_quality(tipping).await.unwrap().is_some());
    let audit = store
        .list_audit(
            &AuditFilter::target("campaign", Some(campaign.to_string().as_str())),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let pause = audit
        .items
        .iter()
        .map(|a| {
            (
                a,
                serde_json::from_str::<serde_json::Value>(&a.details).unwrap(),
            )
        })
        .find(|(_, details)| details["to"] == "paused")
        .expect("the pause is audited");
    assert_eq!(pause.0.actor, "system");
    assert_eq!(pause.1["reason"], reason.as_str());
    let deliveries = store
        .list_deliveries(subscription, PageRequest::first(10))
        .await
        .unwrap();
    let state_changes: Vec<_> = deliveries
        .items
        .iter()
        .filter(|d| d.event_type == "campaign.state_changed")
        .collect();
    assert_eq!(
        state_changes.len(),
        2,
        "started, then paused: {deliveries:?}"
    );
}
