//! Conformance cases for the webhook outbox: fan-out in the causing transaction, leases,
//! the retry and dead states, replays, retention.
use parley_domain::campaign::CampaignAction;
use parley_domain::time::now_millis;
use parley_domain::webhook::EventType;
use parley_domain::{phone::Region, Phone};
use parley_store::{
    AttemptRecord, AttemptVerdict, DeliveryState, NewSubscription, PageRequest, Store,
    OPT_OUT_SOURCE,
};

fn subscription(url: &str, types: &[EventType], enabled: bool) -> NewSubscription {
    NewSubscription {
        url: url.into(),
        secret: "whsec_test".into(),
        event_types: types.to_vec(),
        description: None,
        enabled,
    }
}

fn record(status: Option<i64>) -> AttemptRecord {
    AttemptRecord {
        url: "http://crm.test/hook".into(),
        request_headers: serde_json::json!({"Idempotency-Key": "k"}),
        response_status: status,
        duration_ms: 12,
        error: status.filter(|s| *s >= 300).map(|s| format!("HTTP {s}")),
    }
}

pub async fn webhook_outbox_fans_out_in_the_causing_transaction(store: Store) {
    let campaign = super::cases::campaign_with_contact(&store, "autumn", "+14155550199").await;
    // Before anyone subscribes, changes write nothing to send.
    store
        .transition_campaign(campaign, CampaignAction::Start, "ann", None)
        .await
        .unwrap();
    let states = store
        .create_subscription(
            &subscription("http://a.test", &[EventType::CampaignStateChanged], true),
            "ann",
        )
        .await
        .unwrap();
    let calls_only = store
        .create_subscription(
            &subscription("http://b.test", &[EventType::CallCompleted], true),
            "ann",
        )
        .await
        .unwrap();
    let off = store
        .create_subscription(
            &subscription("http://c.test", &[EventType::CampaignStateChanged], false),
            "ann",
        )
        .await
        .unwrap();
    let opt_outs = store
        .create_subscription(
            &subscription("http://d.test", &[EventType::ContactOptedOut], true),
            "ann",
        )
        .await
        .unwrap();
    assert_eq!(states.event_types, vec![EventType::CampaignStateChanged]);

    store
        .transition_campaign(campaign, CampaignAction::Pause, "bob", Some("lunch"))
        .await
        .unwrap();
    let first = PageRequest::first(10);
    let list = store.list_deliveries(states.id, first).await.unwrap().items;
    assert_eq!(list.len(), 1, "only the change after subscribing");
    assert_eq!(list[0].event_type, "campaign.state_changed");
    assert_eq!(list[0].state, DeliveryState::Pending);
    assert!(list[0].event_id.starts_with("evt_"));
    assert!(store
        .list_deliveries(calls_only.id, first)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .list_deliveries(off.id, first)
        .await
        .unwrap()
        .items
        .is_empty());

    // A refused transition rolls back and writes no event either.
    assert!(store
        .transition_campaign(campaign, CampaignAction::Pause, "bob", None)
        .await
        .is_err());
    assert_eq!(
        store
            .list_deliveries(states.id, first)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Opt-outs are events; numbers put on a list by an operator are not, nor repeats.
    let phone = Phone::parse("+14155550100", Region::default()).unwrap();
    store
        .add_dnc(&phone, None, Some("asked"), OPT_OUT_SOURCE)
        .await
        .unwrap();
    store
        .add_dnc(&phone, None, Some("asked"), OPT_OUT_SOURCE)
        .await
        .unwrap();
    let other = Phone::parse("+14155550101", Region::default()).unwrap();
    store.add_dnc(&other, None, None, "api").await.unwrap();
    let opted = store
        .list_deliveries(opt_outs.id, first)
        .await
        .unwrap()
        .items;
    assert_eq!(opted.len(), 1);

    let now = now_millis();
    let claimed = store
        .claim_due_deliveries("n1", now, now + 1000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let change = claimed
        .iter()
        .find(|d| d.event_type == "campaign.state_changed")
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&change.payload).unwrap();
    assert_eq!(data["from"], "running");
    assert_eq!(data["to"], "paused");
    assert_eq!(data["actor"], "bob");
    assert_eq!(data["name"], "autumn");
    assert_eq!(change.url, "http://a.test");
    assert_eq!(change.secret, "whsec_test");
    assert_eq!(change.attempts, 1);
    let opt_out = claimed
        .iter()
        .find(|d| d.event_type == "contact.opted_out")
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&opt_out.payload).unwrap();
    assert_eq!(data["phone"], "+14155550100");
}

pub async fn webhook_deliveries_lease_retry_die_and_replay(store: Store) {
    let sub = store
        .create_subscription(
            &subscription("http://a.test", &[EventType::CallAnalyzed], true),
            "ann",
        )
        .await
        .unwrap();
    store
        .enqueue_event(EventType::CallAnalyzed, &serde_json::json!({"call_id": 1}))
        .await
        .unwrap();
    let now = now_millis();
    let mut claimed = store
        .claim_due_deliveries("n1", now, now + 1000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let first = claimed.remove(0);
    // Leased: no one else gets it meanwhile.
    assert!(store
        .claim_due_deliveries("n2", now, now + 1000, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .finish_delivery_attempt(
            &first,
            "n1",
            &record(Some(500)),
            AttemptVerdict::RetryAt(now + 500)
        )
        .await
        .unwrap());
    let d = store.get_delivery(first.id).await.unwrap();
    assert_eq!(
        (d.state, d.attempts, d.last_status),
        (DeliveryState::Failed, 1, Some(500))
    );
    assert!(store
        .claim_due_deliveries("n2", now + 100, now + 1100, 10)
        .await
        .unwrap()
        .is_empty());

    let second = store
        .claim_due_deliveries("n2", now + 600, now + 1600, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((second.attempts, &second.event_id), (2, &first.event_id));
    // A stale report (lease lost) is logged but changes nothing.
    let stale = parley_store::ClaimedDelivery { ..second.clone() };
    assert!(!store
        .finish_delivery_attempt(&stale, "n1", &record(Some(200)), AttemptVerdict::Delivered)
        .await
        .unwrap());
    // The owner crashed mid-send: the lease runs out and another node takes it.
    let third = store
        .claim_due_deliveries("n3", now + 1700, now + 2700, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((third.attempts, &third.event_id), (3, &first.event_id));
    assert!(store
        .finish_delivery_attempt(&third, "n3", &record(Some(204)), AttemptVerdict::Delivered)
        .await
        .unwrap());
    let d = store.get_delivery(first.id).await.unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    assert!(d.delivered_at.is_some());
    let log = store.delivery_attempts(first.id, 10).await.unwrap();
    assert_eq!(
        log.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(log[2].response_status, Some(204));
    assert!(store
        .claim_due_deliveries("n1", now + 99_999, now + 100_999, 10)
        .await
        .unwrap()
        .is_empty());

    // Replay: due again now, a fresh schedule, the same event id.
    let replayed = store.replay_delivery(first.id, "ann").await.unwrap();
    assert_eq!(
        (replayed.state, replayed.attempts),
        (DeliveryState::Pending, 0)
    );
    let again = store
        .claim_due_deliveries("n1", now_millis(), now_millis() + 1000, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((again.attempts, &again.event_id), (1, &first.event_id));
    assert!(store
        .finish_delivery_attempt(&again, "n1", &record(None), AttemptVerdict::Dead)
        .await
        .unwrap());
    assert_eq!(
        store.get_delivery(first.id).await.unwrap().state,
        DeliveryState::Dead
    );
    assert!(store
        .claim_due_deliveries("n1", now + 99_999, now + 100_999, 10)
        .await
        .unwrap()
        .is_empty());

    // A disabled subscription's deliveries wait; deleting it removes them.
    store
        .enqueue_event(EventType::CallAnalyzed, &serde_json::json!({"call_id": 2}))
        .await
        .unwrap();
    store
        .update_subscription(
            sub.id,
            &parley_store::SubscriptionUpdate {
                enabled: Some(false),
                ..Default::default()
            },
            "ann",
        )
        .await
        .unwrap();
    assert!(store
        .claim_due_deliveries("n1", now + 99_999, now + 100_999, 10)
        .await
        .unwrap()
        .is_empty());
    store.delete_subscription(sub.id, "ann").await.unwrap();
    assert!(store.get_delivery(first.id).await.is_err());
}

pub async fn finished_webhook_events_are_purged_after_retention(store: Store) {
    let sub = store
        .create_subscription(
            &subscription("http://a.test", &[EventType::CallAnalyzed], true),
            "ann",
        )
        .await
        .unwrap();
    for call_id in 1..=3 {
        store
            .enqueue_event(
                EventType::CallAnalyzed,
                &serde_json::json!({ "call_id": call_id }),
            )
            .await
            .unwrap();
    }
    let now = now_millis();
    let mut claimed = store
        .claim_due_deliveries("n1", now, now + 1000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let (delivered, dead, retrying) = (claimed.remove(0), claimed.remove(0), claimed.remove(0));
    for (delivery, verdict) in [
        (&delivered, AttemptVerdict::Delivered),
        (&dead, AttemptVerdict::Dead),
        (&retrying, AttemptVerdict::RetryAt(now + 60_000)),
    ] {
        assert!(store
            .finish_delivery_attempt(delivery, "n1", &record(Some(500)), verdict)
            .await
            .unwrap());
    }

    // Nothing is older than a day yet.
    let day_ago = now - 86_400_000;
    assert_eq!(store.purge_webhook_events(day_ago, 100).await.unwrap(), 0);
    // With every event past the cutoff: the finished ones go, in batches; the one still
    // being retried stays, with its log.
    let later = now_millis() + 1;
    assert_eq!(store.purge_webhook_events(later, 1).await.unwrap(), 1);
    assert_eq!(store.purge_webhook_events(later, 1).await.unwrap(), 1);
    assert_eq!(store.purge_webhook_events(later, 1).await.unwrap(), 0);
    let left = store
        .list_deliveries(sub.id, PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(
        left.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![retrying.id]
    );
    assert_eq!(
        store
            .delivery_attempts(retrying.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.get_delivery(delivered.id).await.is_err());
    assert!(store
        .delivery_attempts(dead.id, 10)
        .await
        .unwrap()
        .is_empty());
}
