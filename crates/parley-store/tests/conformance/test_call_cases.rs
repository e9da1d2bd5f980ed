//! Test calls ("Call me" on a campaign): kept with the campaign, counted in none of its
//! results.
use super::cases::{campaign, new_call};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::call_result::{CallResult, ResultKind};
use parley_domain::time::now_millis;
use parley_store::{CallFilter, NewCall, PageRequest, StatsRange, StatusChange, Store};
use serde_json::json;

/// Takes call `id` through to a completed conversation of `seconds`, with a result.
async fn completed(store: &Store, id: i64, seconds: i64) {
    for (status, duration_seconds) in [
        (CallStatus::InProgress, None),
        (CallStatus::Completed, Some(seconds)),
    ] {
        let change = StatusChange {
            status,
            duration_seconds,
            error_code: None,
            error_message: None,
        };
        store.advance_call_status(id, &change).await.unwrap();
    }
    store.set_answered_by(id, "human").await.unwrap();
    store.set_outcome(id, CallOutcome::Success).await.unwrap();
    let result = CallResult::bounded(
        ResultKind::DataCollection,
        "interested",
        &json!("yes"),
        None,
    );
    store
        .record_call_results(id, &[result.unwrap()])
        .await
        .unwrap();
}

pub async fn test_calls_stay_out_of_the_campaigns_counters_and_results(store: Store) {
    let a = campaign(&store, "A").await;
    let real = new_call(&store, Some(a)).await;
    completed(&store, real, 30).await;
    let test = store
        .create_call(&NewCall {
            campaign_id: Some(a),
            attempt: 1,
            to: "+15550100009".into(),
            from: "+15005550006".into(),
            dynamic_variables: json!({}),
            overrides: json!({}),
            is_test: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(test.is_test);
    // No attempt counts it in the campaign's calls in progress: the account's load does.
    assert_eq!(store.account_load().await.unwrap().single_calls, 1);
    completed(&store, test.id, 90).await;
    assert_eq!(store.account_load().await.unwrap().single_calls, 0);

    let now = now_millis();
    for campaign_id in [Some(a), None] {
        let range = StatsRange {
            from: now - 3_600_000,
            to: now + 3_600_000,
            campaign_id,
        };
        let counts = store.call_counts(&range).await.unwrap();
        assert_eq!(
            (counts.dialed, counts.successful, counts.duration_seconds),
            (1, 1, 30),
            "only the real call counts ({campaign_id:?})"
        );
    }
    let results = store.campaign_results(a).await.unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].calls, 1, "{results:?}");
    assert_eq!(store.call_results(test.id).await.unwrap().len(), 1);

    let mut tx = store.begin().await.unwrap();
    let outcomes = tx.recent_outcomes(a, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcomes, vec!["success".to_string()]);

    let only = |test| CallFilter {
        campaign_id: Some(a),
        test,
        ..CallFilter::default()
    };
    let page = PageRequest::first(10);
    let ids =
        |calls: Vec<parley_domain::call::Call>| calls.iter().map(|c| c.id).collect::<Vec<_>>();
    let tests = store.list_calls(&only(Some(true)), page).await.unwrap();
    assert_eq!(ids(tests.items), vec![test.id]);
    let real_calls = store.list_calls(&only(Some(false)), page).await.unwrap();
    assert_eq!(ids(real_calls.items), vec![real]);
    let every = store.list_calls(&only(None), page).await.unwrap();
    assert_eq!(ids(every.items), vec![test.id, real]);

    // Deleting both (retention) takes out what each added: nothing for the test call.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete_calls_before(now + 60_000, 10).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let range = StatsRange {
        from: now - 3_600_000,
        to: now + 3_600_000,
        campaign_id: None,
    };
    assert_eq!(store.call_counts(&range).await.unwrap().dialed, 0);
}

/// One live test call per campaign and number, held by the database: a second while the
/// first rings is a conflict (also when two requests race); once the first is over, or
/// for another number or campaign, a test may be placed.
pub async fn a_second_live_test_call_to_the_same_number_is_refused(store: Store) {
    let (a, b) = (campaign(&store, "A").await, campaign(&store, "B").await);
    let test = |campaign_id: i64, to: &str| NewCall {
        campaign_id: Some(campaign_id),
        attempt: 1,
        to: to.into(),
        from: "+15005550006".into(),
        dynamic_variables: json!({}),
        overrides: json!({}),
        is_test: true,
        ..Default::default()
    };
    let first = store.create_call(&test(a, "+15550100010")).await.unwrap();
    let again = store.create_call(&test(a, "+15550100010")).await;
    assert!(
        matches!(again, Err(parley_store::StoreError::Conflict(_))),
        "{again:?}"
    );
    store.create_call(&test(a, "+15550100011")).await.unwrap();
    store.create_call(&test(b, "+15550100010")).await.unwrap();
    completed(&store, first.id, 5).await;
    store.create_call(&test(a, "+15550100010")).await.unwrap();
}
