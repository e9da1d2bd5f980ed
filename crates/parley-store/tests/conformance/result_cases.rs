//! Typed call results: stored per call, counted per campaign, filtering the calls list.
use super::cases::{campaign, new_call};
use parley_domain::call_result::{
    CallResult, OtherValues, ResultFilter, ResultKind, ValueCount, ValueType, MAX_SUMMARY_VALUES,
};
use parley_store::{CallFilter, PageRequest, Store};
use serde_json::{json, Value};

fn field(kind: ResultKind, name: &str, value: Value) -> CallResult {
    CallResult::bounded(kind, name, &value, Some("because")).unwrap()
}

fn interested(value: &str) -> CallResult {
    field(ResultKind::DataCollection, "interested", json!(value))
}

fn goal_met(verdict: &str) -> CallResult {
    field(ResultKind::Evaluation, "goal_met", json!(verdict))
}

pub async fn call_results_are_typed_and_a_second_copy_replaces_the_first(store: Store) {
    let call = new_call(&store, None).await;
    let results = vec![
        field(ResultKind::DataCollection, "seats", json!(12)),
        field(ResultKind::DataCollection, "callback", json!(null)),
        field(ResultKind::DataCollection, "demo", json!(true)),
        goal_met("success"),
    ];
    store.record_call_results(call, &results).await.unwrap();
    store.record_call_results(call, &results).await.unwrap();
    let stored = store.call_results(call).await.unwrap();
    assert_eq!(
        stored.len(),
        4,
        "the same rows, not twice as many: {stored:?}"
    );
    let names: Vec<_> = stored.iter().map(|r| (r.kind, r.name.as_str())).collect();
    assert_eq!(
        names,
        vec![
            (ResultKind::DataCollection, "callback"),
            (ResultKind::DataCollection, "demo"),
            (ResultKind::DataCollection, "seats"),
            (ResultKind::Evaluation, "goal_met"),
        ]
    );
    assert_eq!(
        (stored[0].value_type, stored[0].value.as_deref()),
        (ValueType::Null, None)
    );
    assert_eq!(
        (stored[1].value_type, stored[1].value.as_deref()),
        (ValueType::Boolean, Some("true"))
    );
    assert_eq!(
        (stored[2].value_type, stored[2].value.as_deref()),
        (ValueType::Number, Some("12"))
    );
    assert_eq!(stored[3].rationale.as_deref(), Some("because"));

    // A later copy with fewer fields leaves only those.
    store
        .record_call_results(call, &[goal_met("failure")])
        .await
        .unwrap();
    let stored = store.call_results(call).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value.as_deref(), Some("failure"));
}

pub async fn campaign_results_count_the_most_frequent_values_and_the_rest(store: Store) {
    let spring = campaign(&store, "Spring").await;
    let other = campaign(&store, "Other").await;
    for i in 0..20 {
        let call = new_call(&store, Some(spring)).await;
        let mut results = vec![
            interested(if i < 12 { "no" } else { "yes" }),
            // 20 distinct notes: the first ones (by value, all counted once) are listed.
            field(
                ResultKind::DataCollection,
                "note",
                json!(format!("n{i:02}")),
            ),
        ];
        if i < 3 {
            results.push(goal_met(if i == 0 { "failure" } else { "success" }));
            // A null is a value of its own.
            let callback = if i < 2 {
                json!(null)
            } else {
                json!("tomorrow")
            };
            results.push(field(ResultKind::DataCollection, "callback", callback));
        }
        store.record_call_results(call, &results).await.unwrap();
    }
    let elsewhere = new_call(&store, Some(other)).await;
    store
        .record_call_results(elsewhere, &[interested("yes")])
        .await
        .unwrap();
    new_call(&store, Some(spring)).await; // a call without results counts nowhere

    let mut fields = store.campaign_results(spring).await.unwrap();
    let names: Vec<_> = fields.iter().map(|f| (f.kind, f.name.as_str())).collect();
    assert_eq!(
        names,
        vec![
            (ResultKind::DataCollection, "callback"),
            (ResultKind::DataCollection, "interested"),
            (ResultKind::DataCollection, "note"),
            (ResultKind::Evaluation, "goal_met"),
        ]
    );
    let count = |v: &str, n| ValueCount {
        value: Some(v.into()),
        count: n,
    };
    let callback = fields.remove(0);
    assert_eq!(callback.calls, 3);
    assert_eq!(
        callback.values,
        vec![
            ValueCount {
                value: None,
                count: 2
            },
            count("tomorrow", 1)
        ]
    );
    assert_eq!(callback.other, None);
    assert_eq!(fields[0].calls, 20);
    assert_eq!(fields[0].values, vec![count("no", 12), count("yes", 8)]);
    assert_eq!(fields[0].other, None);

    assert_eq!(fields[1].calls, 20);
    assert_eq!(fields[1].values.len(), MAX_SUMMARY_VALUES);
    assert_eq!(fields[1].values[0], count("n00", 1));
    assert_eq!(fields[1].values[9], count("n09", 1));
    assert_eq!(
        fields[1].other,
        Some(OtherValues {
            values: 10,
            count: 10
        })
    );

    assert_eq!(fields[2].calls, 3);
    assert_eq!(
        fields[2].values,
        vec![count("success", 2), count("failure", 1)]
    );
    assert!(store
        .campaign_results(other + 100)
        .await
        .unwrap()
        .is_empty());
}

pub async fn calls_filter_by_results_and_every_filter_must_match(store: Store) {
    let spring = campaign(&store, "Spring").await;
    let yes_success = new_call(&store, Some(spring)).await;
    let yes_failure = new_call(&store, Some(spring)).await;
    let no_success = new_call(&store, Some(spring)).await;
    new_call(&store, Some(spring)).await;
    for (call, i, g) in [
        (yes_success, "yes", "success"),
        (yes_failure, "yes", "failure"),
        (no_success, "no", "success"),
    ] {
        store
            .record_call_results(call, &[interested(i), goal_met(g)])
            .await
            .unwrap();
    }
    let ids = |filters: &[&str]| {
        let filter = CallFilter {
            campaign_id: Some(spring),
            results: filters
                .iter()
                .map(|f| ResultFilter::parse(f).unwrap())
                .collect(),
            ..Default::default()
        };
        let store = store.clone();
        async move {
            let page = store
                .list_calls(&filter, PageRequest::first(50))
                .await
                .unwrap();
            let mut ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        ids(&["interested:yes"]).await,
        vec![yes_success, yes_failure]
    );
    assert_eq!(
        ids(&["interested:yes", "goal_met:success"]).await,
        vec![yes_success]
    );
    assert_eq!(
        ids(&["evaluation.goal_met:success"]).await,
        vec![yes_success, no_success]
    );
    assert!(ids(&["data_collection.goal_met:success"]).await.is_empty());
    assert!(
        ids(&["interested:Yes"]).await.is_empty(),
        "values match exactly"
    );
    assert_eq!(ids(&[]).await.len(), 4);
}
