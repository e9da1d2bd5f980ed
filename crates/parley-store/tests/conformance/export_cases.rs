//! Reads for exports: pages, names beside ids, and the JSON keys that become columns.
use crate::cases::{campaign, contact};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_store::{CallFilter, ContactFilter, PastCall, Store};
use serde_json::json;

fn past(
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    n: i64,
    analysis: Option<serde_json::Value>,
) -> PastCall {
    PastCall {
        campaign_id,
        contact_id,
        to: "+15550100001".into(),
        from: "+15005550006".into(),
        status: CallStatus::Completed,
        answered_by: Some("human".into()),
        outcome: Some(CallOutcome::Success),
        duration_seconds: Some(n),
        created_at: 1_700_000_000_000 + n,
        answered_at: None,
        ended_at: None,
        summary: None,
        analysis,
    }
}

pub async fn exports_page_calls_and_find_their_analysis_keys(store: Store) {
    let spring = campaign(&store, "Spring").await;
    let ann = store
        .create_contact(&contact("+14155550101", "Ann", &[]))
        .await
        .unwrap();
    let calls = vec![
        past(
            Some(spring),
            Some(ann.id),
            1,
            Some(json!({"data_collection_results": null})),
        ),
        past(
            Some(spring),
            None,
            2,
            Some(json!({"data_collection_results": [1, 2]})),
        ),
        past(Some(spring), None, 3, None),
        past(
            Some(spring),
            None,
            4,
            Some(json!({
                "data_collection_results": {"b": {"value": 1}, "a": {"value": "x"}},
                "evaluation_criteria_results": {"goal": {"result": "success"}}
            })),
        ),
        past(
            None,
            None,
            5,
            Some(json!({"data_collection_results": {"elsewhere": {}}})),
        ),
    ];
    store.insert_past_calls(&calls).await.unwrap();
    let filter = CallFilter {
        campaign_id: Some(spring),
        ..Default::default()
    };
    let keys = store.call_analysis_keys(&filter).await.unwrap();
    assert_eq!(keys.data_collection, ["a", "b"], "non-objects are skipped");
    assert_eq!(keys.evaluation_criteria, ["goal"]);

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.export_calls_page(&filter, before, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|r| r.call.id);
        seen.extend(page);
    }
    let durations: Vec<i64> = seen
        .iter()
        .map(|r| r.call.duration_seconds.unwrap())
        .collect();
    assert_eq!(
        durations,
        [4, 3, 2, 1],
        "the campaign's calls, newest first"
    );
    assert!(seen
        .iter()
        .all(|r| r.campaign_name.as_deref() == Some("Spring")));
    assert_eq!(seen[3].contact_name.as_deref(), Some("Ann"));
    assert_eq!(seen[0].contact_name, None);
}

pub async fn exports_page_contacts_with_progress_and_custom_field_keys(store: Store) {
    let mut with_fields = contact("+14155550102", "Bob", &["vip"]);
    with_fields.fields.custom_fields = [("plan".to_string(), "gold".to_string())].into();
    let bob = store.create_contact(&with_fields).await.unwrap();
    store
        .create_contact(&contact("+14155550103", "Cy", &[]))
        .await
        .unwrap();
    let all = ContactFilter::default();
    assert_eq!(
        store.contact_custom_field_keys(&all).await.unwrap(),
        ["plan"]
    );
    let vip = ContactFilter {
        tag: Some("vip".into()),
        ..Default::default()
    };
    let page = store.export_contacts_page(&vip, None, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].contact.id, bob.id);
    assert_eq!(page[0].contact.tags, ["vip"]);
    assert_eq!((page[0].attempts, page[0].last_outcome.clone()), (0, None));
    assert_eq!(page[0].standing, None, "in no campaign, it stands nowhere");
    let everyone = store.export_contacts_page(&all, None, 10).await.unwrap();
    assert_eq!(everyone.len(), 2);
}
