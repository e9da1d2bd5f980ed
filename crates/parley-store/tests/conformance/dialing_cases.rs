//! The dialer's claims, attempts, rate buckets and requeues.
use parley_domain::campaign::{CampaignAction, ProgressState};
use parley_store::ClaimLimits;
use parley_store::{CallFilter, NewCall, PageRequest, Store};

use super::cases::{contact, phone, running_campaign};

async fn running_campaign_with(
    store: &Store,
    name: &str,
    phones: std::ops::Range<u32>,
) -> (i64, Vec<i64>) {
    let mut contacts = Vec::new();
    for i in phones {
        let p = format!("+1415556{i:04}");
        let c = match store.contact_by_phone(&phone(&p)).await.unwrap() {
            Some(c) => c,
            None => store.create_contact(&contact(&p, "D", &[])).await.unwrap(),
        };
        contacts.push(c.id);
    }
    (running_campaign(store, name, &contacts).await, contacts)
}

/// A call to `to` as the dialer writes it (shared with the frequency cases).
pub(crate) fn attempt_call(to: &str) -> NewCall {
    NewCall {
        to: to.into(),
        from: "+15005550006".into(),
        dynamic_variables: serde_json::json!({}),
        overrides: serde_json::json!({}),
        ..Default::default()
    }
}

pub async fn claims_are_exclusive_and_attempts_start_once(store: Store) {
    use parley_store::{AttemptRefused, Settle};
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "claims", 0..10).await;
    let a = store
        .claim_due_contacts(
            id,
            "node-a",
            now,
            now + 60_000,
            4,
            ClaimLimits::campaign(1_000),
        )
        .await
        .unwrap();
    let b = store
        .claim_due_contacts(
            id,
            "node-b",
            now,
            now + 60_000,
            10,
            ClaimLimits::campaign(1_000),
        )
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (4, 6));
    assert!(
        a.iter()
            .all(|c| b.iter().all(|d| d.contact_id != c.contact_id)),
        "no contact claimed twice"
    );
    assert!(store
        .claim_due_contacts(
            id,
            "node-c",
            now,
            now + 60_000,
            10,
            ClaimLimits::campaign(1_000)
        )
        .await
        .unwrap()
        .is_empty());
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.pending, p.in_progress), (0, 10));

    let claim = &a[0];
    let call = store
        .start_attempt(claim, "node-a", "2026-11-24", &attempt_call(&claim.phone))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((call.attempt, call.campaign_id), (1, Some(id)));
    let again = store
        .start_attempt(claim, "node-a", "2026-11-24", &attempt_call(&claim.phone))
        .await
        .unwrap();
    assert_eq!(
        again.unwrap_err(),
        AttemptRefused::ClaimLost,
        "one attempt per claim"
    );
    let stolen = store
        .start_attempt(&a[1], "node-b", "2026-11-24", &attempt_call(&a[1].phone))
        .await
        .unwrap();
    assert_eq!(
        stolen.unwrap_err(),
        AttemptRefused::ClaimLost,
        "only the claim's owner may dial"
    );
    assert_eq!(store.get_campaign(id).await.unwrap().progress.attempts, 1);

    // A pause between claim and dial: nothing is dialled, the claim goes back.
    store
        .transition_campaign(id, CampaignAction::Pause, "test", None)
        .await
        .unwrap();
    let refused = store
        .start_attempt(&a[1], "node-a", "2026-11-24", &attempt_call(&a[1].phone))
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), AttemptRefused::CampaignNotRunning);
    assert!(store
        .release_claim(id, a[1].contact_id, "node-a", None, None)
        .await
        .unwrap());
    assert!(
        !store
            .release_claim(id, claim.contact_id, "node-a", None, None)
            .await
            .unwrap(),
        "a claim with an attempt settles instead"
    );
    let calls = store
        .list_calls(
            &CallFilter {
                campaign_id: Some(id),
                ..Default::default()
            },
            PageRequest::first(50),
        )
        .await
        .unwrap();
    assert_eq!(
        calls.items.len(),
        1,
        "the refused attempt left no call behind"
    );

    // Settling is once; a retry waits for its time and comes before fresh contacts.
    let retry_at = now + 3_600_000;
    let settle = Settle::RetryAt {
        at: retry_at,
        priority: 1,
    };
    assert!(store
        .settle_attempt(id, claim.contact_id, call.id, "no_answer", &settle)
        .await
        .unwrap());
    assert!(!store
        .settle_attempt(
            id,
            claim.contact_id,
            call.id,
            "no_answer",
            &Settle::Completed
        )
        .await
        .unwrap());
    store
        .transition_campaign(id, CampaignAction::Resume, "test", None)
        .await
        .unwrap();
    let later = store
        .claim_due_contacts(
            id,
            "node-a",
            now + 10,
            now + 60_000,
            1,
            ClaimLimits::campaign(1_000),
        )
        .await
        .unwrap();
    assert_eq!(
        later[0].contact_id, a[1].contact_id,
        "the retry is not due yet"
    );
    store
        .release_claim(id, a[1].contact_id, "node-a", None, None)
        .await
        .unwrap();
    let due = store
        .claim_due_contacts(
            id,
            "node-a",
            retry_at,
            retry_at + 60_000,
            1,
            ClaimLimits::campaign(1_000),
        )
        .await
        .unwrap();
    assert_eq!(
        (due[0].contact_id, due[0].attempts, due[0].priority),
        (claim.contact_id, 1, 1),
        "due retries first"
    );
    let second = store
        .start_attempt(
            &due[0],
            "node-a",
            "2026-11-24",
            &attempt_call(&due[0].phone),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempt, 2);
    let cc = store
        .list_campaign_contacts(id, Some(ProgressState::InProgress), PageRequest::first(50))
        .await
        .unwrap();
    let row = cc
        .items
        .iter()
        .find(|c| c.contact_id == claim.contact_id)
        .unwrap();
    assert_eq!((row.attempts, row.last_call_id), (2, Some(second.id)));
    assert!(store
        .settle_attempt(
            id,
            claim.contact_id,
            second.id,
            "success",
            &Settle::Completed
        )
        .await
        .unwrap());
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.completed, p.attempts, p.total), (1, 2, 10));
    assert_eq!(
        p.pending + p.scheduled + p.in_progress + p.completed + p.failed + p.cancelled,
        p.total
    );
}

pub async fn concurrent_claimers_never_share_a_contact(store: Store) {
    let now = parley_domain::time::now_millis();
    let (id, contacts) = running_campaign_with(&store, "race", 100..160).await;
    let mut tasks = Vec::new();
    for node in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("node-{node}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_due_contacts(
                        id,
                        &owner,
                        now,
                        now + 60_000,
                        3,
                        ClaimLimits::campaign(1_000),
                    )
                    .await
                    .unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|c| c.contact_id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a contact was claimed twice");
    let mut expected = contacts.clone();
    expected.sort();
    assert_eq!(all, expected, "every contact was claimed");
    assert_eq!(
        store.get_campaign(id).await.unwrap().progress.in_progress,
        60
    );
}

pub async fn lost_claims_come_back_and_opt_outs_cancel_everywhere(store: Store) {
    let now = parley_domain::time::now_millis();
    let (first, contacts) = running_campaign_with(&store, "one", 200..204).await;
    let (second, _) = running_campaign_with(&store, "two", 200..202).await;
    let claims = store
        .claim_due_contacts(
            first,
            "gone-node",
            now,
            now + 1_000,
            4,
            ClaimLimits::campaign(1_000),
        )
        .await
        .unwrap();
    store
        .start_attempt(
            &claims[0],
            "gone-node",
            "2026-11-24",
            &attempt_call(&claims[0].phone),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.recover_expired_claims(now + 500).await.unwrap(),
        0,
        "leases still valid"
    );
    assert_eq!(
        store.recover_expired_claims(now + 2_000).await.unwrap(),
        3,
        "the dialled one waits for reconciling"
    );
    let p = store.get_campaign(first).await.unwrap().progress;
    assert_eq!((p.pending, p.in_progress), (3, 1));

    // Waiting elsewhere: scheduled for later.
    store
        .release_claim(
            first,
            claims[0].contact_id,
            "gone-node",
            Some(now + 60_000),
            Some("window closed"),
        )
        .await
        .unwrap();
    let opted = store.get_contact(contacts[1]).await.unwrap();
    let cancelled = store
        .cancel_waiting_for_phone(&phone(&opted.phone), "opted out")
        .await
        .unwrap();
    assert_eq!(cancelled, 2, "pending in both campaigns");
    for campaign_id in [first, second] {
        let p = store.get_campaign(campaign_id).await.unwrap().progress;
        assert_eq!(p.cancelled, 1, "campaign {campaign_id}");
        assert_eq!(
            p.pending + p.scheduled + p.in_progress + p.completed + p.failed + p.cancelled,
            p.total
        );
    }
}

pub async fn rate_buckets_limit_calls_per_second_for_everyone(store: Store) {
    use parley_store::Bucket;
    let account = Bucket {
        key: "account".into(),
        rate: 1.0,
        burst: 1.0,
    };
    let fast = Bucket {
        key: "campaign:1".into(),
        rate: 10.0,
        burst: 10.0,
    };
    let t0 = 1_000_000;
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0)
            .await
            .unwrap(),
        10,
        "a full bucket bursts to its size"
    );
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0 + 500)
            .await
            .unwrap(),
        5,
        "refills at its rate"
    );
    // Both limits at once: the account's 1/s caps a 10/s campaign.
    let both = [
        account.clone(),
        Bucket {
            key: "campaign:2".into(),
            rate: 10.0,
            burst: 10.0,
        },
    ];
    assert_eq!(store.take_tokens(&both, 5, t0).await.unwrap(), 1);
    assert_eq!(store.take_tokens(&both, 5, t0 + 999).await.unwrap(), 0);
    assert_eq!(store.take_tokens(&both, 5, t0 + 2_000).await.unwrap(), 1);
    // Concurrent takers never get more than the bucket holds in total.
    let shared = Bucket {
        key: "campaign:3".into(),
        rate: 0.001,
        burst: 20.0,
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, shared) = (store.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = 0;
            for _ in 0..10 {
                got += store
                    .take_tokens(std::slice::from_ref(&shared), 2, t0)
                    .await
                    .unwrap();
            }
            got
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 20);
}

pub async fn claims_never_exceed_the_concurrency_limit(store: Store) {
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "capped", 300..320).await;
    let mut tasks = Vec::new();
    for node in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_due_contacts(
                    id,
                    &format!("node-{node}"),
                    now,
                    now + 60_000,
                    10,
                    ClaimLimits::campaign(5),
                )
                .await
                .unwrap()
                .len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(
        total, 5,
        "four claimers together stay within the limit of 5"
    );
    assert_eq!(
        store.get_campaign(id).await.unwrap().progress.in_progress,
        5
    );
    let more = store
        .claim_due_contacts(
            id,
            "node-9",
            now,
            now + 60_000,
            10,
            ClaimLimits::campaign(5),
        )
        .await
        .unwrap();
    assert!(more.is_empty());
}

pub async fn failed_contacts_can_be_requeued(store: Store) {
    use parley_store::Settle;
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "requeue", 400..403).await;
    let claims = store
        .claim_due_contacts(id, "n", now, now + 60_000, 3, ClaimLimits::campaign(10))
        .await
        .unwrap();
    for c in &claims {
        let call = store
            .start_attempt(c, "n", "2026-11-24", &attempt_call(&c.phone))
            .await
            .unwrap()
            .unwrap();
        let reason = "no answer after 1 attempt".to_string();
        store
            .settle_attempt(
                id,
                c.contact_id,
                call.id,
                "no_answer",
                &Settle::Failed { reason },
            )
            .await
            .unwrap();
    }
    assert_eq!(store.get_campaign(id).await.unwrap().progress.failed, 3);
    assert_eq!(
        store
            .requeue_contacts(id, ProgressState::InProgress)
            .await
            .unwrap(),
        0,
        "in-progress is never requeued"
    );
    assert_eq!(
        store
            .requeue_contacts(id, ProgressState::Failed)
            .await
            .unwrap(),
        3
    );
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.failed, p.pending), (0, 3));
    let again = store
        .claim_due_contacts(id, "n", now, now + 60_000, 3, ClaimLimits::campaign(10))
        .await
        .unwrap();
    assert!(again.iter().all(|c| c.attempts == 0), "a fresh round");
    assert_eq!(
        store.recover_expired_claims(i64::MAX).await.unwrap(),
        3,
        "release every claim without an attempt"
    );
}

pub async fn waiting_contacts_say_what_they_wait_for(store: Store) {
    use parley_domain::activity::{WaitReason, OUTSIDE_WINDOW_REASON};
    let (id, contacts) = running_campaign_with(&store, "waits", 300..303).await;
    let now = parley_domain::time::now_millis();
    let claims = store
        .claim_due_contacts(id, "n1", now, now + 60_000, 2, ClaimLimits::campaign(10))
        .await
        .unwrap();
    assert_eq!(claims.len(), 2);
    // One put back until its window opens in an hour, one for a retry in two.
    let (window, retry) = (claims[0].contact_id, claims[1].contact_id);
    store
        .release_claim(
            id,
            window,
            "n1",
            Some(now + 3_600_000),
            Some(OUTSIDE_WINDOW_REASON),
        )
        .await
        .unwrap();
    store
        .release_claim(id, retry, "n1", Some(now + 7_200_000), None)
        .await
        .unwrap();
    let w = store.waiting_contacts(id, now).await.unwrap();
    let by: Vec<(WaitReason, i64)> = w.groups.iter().map(|g| (g.reason, g.count)).collect();
    assert_eq!(
        by,
        vec![
            (WaitReason::Due, 1),
            (WaitReason::OutsideCallingWindow, 1),
            (WaitReason::Retry, 1)
        ]
    );
    assert!(w.groups[0].next_at.is_none(), "due now has no time");
    let first = w.first.expect("a contact waits");
    assert_eq!(
        (first.contact_id, first.reason),
        (window, WaitReason::OutsideCallingWindow)
    );
    assert_eq!(first.next_at.timestamp_millis(), now + 3_600_000);
    // The same words per contact; once its time has come a contact is due.
    let listed = store
        .list_campaign_contacts(id, None, PageRequest::first(10))
        .await
        .unwrap();
    let of = |c: i64| listed.items.iter().find(|r| r.contact_id == c).unwrap();
    assert_eq!(
        of(window).waiting_for,
        Some(WaitReason::OutsideCallingWindow)
    );
    assert_eq!(of(retry).waiting_for, Some(WaitReason::Retry));
    assert_eq!(of(window).timezone.as_deref(), Some("America/Los_Angeles"));
    let due_one = contacts
        .iter()
        .find(|c| ![window, retry].contains(c))
        .unwrap();
    assert_eq!(of(*due_one).waiting_for, Some(WaitReason::Due));
    let later = store.waiting_contacts(id, now + 7_200_000).await.unwrap();
    assert_eq!(later.groups.len(), 1);
    assert_eq!(
        (later.groups[0].reason, later.groups[0].count),
        (WaitReason::Due, 3)
    );
    assert!(later.first.is_none());
}
