//! Frequency caps across campaigns, enforced when contacts are claimed.
use parley_domain::activity::{WaitReason, FREQUENCY_CAP_REASON};
use parley_store::{ClaimLimits, ClaimedContact, PageRequest, Store};

use super::cases::{contact, running_campaign};
use super::dialing_cases::attempt_call;

/// Miami: Florida allows three calls to a number in 24 hours.
const FLORIDA: &str = "+13055550140";
const NEW_YORK: &str = "+12125550140";

/// Claims up to ten due contacts of a campaign for a minute (shared with the sheet cases).
pub(crate) async fn claim(store: &Store, campaign_id: i64, now: i64) -> Vec<ClaimedContact> {
    store
        .claim_due_contacts(
            campaign_id,
            "n",
            now,
            now + 60_000,
            10,
            ClaimLimits::campaign(10),
        )
        .await
        .unwrap()
}

pub async fn a_florida_number_gets_three_calls_a_day_across_campaigns_and_single_calls(
    store: Store,
) {
    let fl = store
        .create_contact(&contact(FLORIDA, "Flo", &[]))
        .await
        .unwrap()
        .id;
    let ny = store
        .create_contact(&contact(NEW_YORK, "Nye", &[]))
        .await
        .unwrap()
        .id;
    let (a, b, c) = (
        running_campaign(&store, "a", &[fl, ny]).await,
        running_campaign(&store, "b", &[fl]).await,
        running_campaign(&store, "c", &[fl, ny]).await,
    );
    // Call 1: placed on its own (POST /calls).
    let single = store.create_call(&attempt_call(FLORIDA)).await.unwrap();
    let now = parley_domain::time::now_millis();
    // Call 2: campaign A dials it.
    let claims = claim(&store, a, now).await;
    assert_eq!(claims.len(), 2, "one earlier call is under the cap");
    let florida_claim = claims.iter().find(|k| k.contact_id == fl).unwrap();
    let mut attempt = attempt_call(FLORIDA);
    attempt.campaign_id = Some(a);
    attempt.contact_id = Some(fl);
    store
        .start_attempt(florida_claim, "n", "2026-06-15", &attempt)
        .await
        .unwrap()
        .unwrap();
    // Call 3: campaign B claims it, about to dial.
    let claims = claim(&store, b, now).await;
    assert_eq!(claims.len(), 1, "two earlier calls are under the cap");

    // A fourth, from campaign C, waits; New York has no cap.
    let claims = claim(&store, c, now).await;
    let claimed: Vec<i64> = claims.iter().map(|k| k.contact_id).collect();
    assert_eq!(claimed, vec![ny], "the Florida number is at its cap");
    let progress = store.get_campaign(c).await.unwrap().progress;
    assert_eq!((progress.in_progress, progress.scheduled), (1, 1));
    let rows = store
        .list_campaign_contacts(c, None, PageRequest::first(10))
        .await
        .unwrap();
    let held = rows.items.iter().find(|r| r.contact_id == fl).unwrap();
    assert_eq!(held.reason.as_deref(), Some(FREQUENCY_CAP_REASON));
    assert_eq!(held.waiting_for, Some(WaitReason::FrequencyCap));
    // It may be called once the oldest of the three, the single call, is 24 hours old.
    let eligible = single.created_at.timestamp_millis() + 24 * 3_600_000;
    let w = store.waiting_contacts(c, now).await.unwrap();
    let group = w
        .groups
        .iter()
        .find(|g| g.reason == WaitReason::FrequencyCap)
        .expect("a capped group");
    assert_eq!(group.count, 1);
    assert_eq!(group.next_at.map(|t| t.timestamp_millis()), Some(eligible));
    let first = w.first.expect("the capped contact waits");
    assert_eq!(
        (first.contact_id, first.reason),
        (fl, WaitReason::FrequencyCap)
    );

    // At that time the claim goes through (campaign B's claim still counts as a call,
    // the single call no longer does).
    let later = claim(&store, c, eligible).await;
    assert_eq!(
        later.iter().map(|k| k.contact_id).collect::<Vec<_>>(),
        vec![fl]
    );
}

pub async fn a_contacts_state_field_decides_its_cap(store: Store) {
    // A Miami number whose owner lives in New York: no Florida cap.
    let mut moved = contact(FLORIDA, "Flo", &[]);
    moved
        .fields
        .custom_fields
        .insert("State".into(), "New York".into());
    let moved = store.create_contact(&moved).await.unwrap().id;
    // A New York number whose owner lives in Florida: capped.
    let mut lives_in_florida = contact(NEW_YORK, "Nye", &[]);
    lives_in_florida
        .fields
        .custom_fields
        .insert("state".into(), "FL".into());
    let lives_in_florida = store.create_contact(&lives_in_florida).await.unwrap().id;
    for _ in 0..3 {
        store.create_call(&attempt_call(FLORIDA)).await.unwrap();
        store.create_call(&attempt_call(NEW_YORK)).await.unwrap();
    }
    let id = running_campaign(&store, "s", &[moved, lives_in_florida]).await;
    let claims = claim(&store, id, parley_domain::time::now_millis()).await;
    assert_eq!(
        claims.iter().map(|k| k.contact_id).collect::<Vec<_>>(),
        vec![moved]
    );
}
