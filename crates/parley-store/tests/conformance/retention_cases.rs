//! Retention: old transcripts and call records go in batches; recent and live calls stay.
use parley_domain::call::{CallStatus, TurnRole};
use parley_store::{NewCall, StatusChange, Store, StoreError};

async fn ended_call(store: &Store, to: &str, ended: bool) -> i64 {
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: to.into(),
            from: "+15005550006".into(),
            dynamic_variables: serde_json::json!({}),
            overrides: serde_json::json!({}),
            ..Default::default()
        })
        .await
        .unwrap();
    for (i, text) in ["Hello!", "Hi", "Bye"].iter().enumerate() {
        store
            .add_transcript_turn(
                call.id,
                TurnRole::Agent,
                text,
                Some(i as f64),
                Some(i as i64),
            )
            .await
            .unwrap();
    }
    if ended {
        store
            .advance_call_status(
                call.id,
                &StatusChange {
                    status: CallStatus::Completed,
                    duration_seconds: Some(30),
                    error_code: None,
                    error_message: None,
                },
            )
            .await
            .unwrap();
    }
    call.id
}

pub async fn transcripts_then_call_records_past_retention_are_deleted_in_batches(store: Store) {
    let old_a = ended_call(&store, "+15550100001", true).await;
    let old_b = ended_call(&store, "+15550100002", true).await;
    let live = ended_call(&store, "+15550100003", false).await;
    let cutoff = parley_domain::time::now_millis() + 1_000;

    assert_eq!(
        store
            .delete_transcripts_before(cutoff - 60_000, 10)
            .await
            .unwrap(),
        0,
        "calls that ended after the cutoff keep their transcript"
    );
    assert_eq!(store.delete_transcripts_before(cutoff, 4).await.unwrap(), 4);
    assert_eq!(store.delete_transcripts_before(cutoff, 4).await.unwrap(), 2);
    for id in [old_a, old_b] {
        assert!(store.transcript(id).await.unwrap().is_empty());
        assert_eq!(store.get_call(id).await.unwrap().duration_seconds, Some(30));
    }
    assert_eq!(store.transcript(live).await.unwrap().len(), 3);

    assert_eq!(store.delete_calls_before(cutoff, 1).await.unwrap(), 1);
    assert_eq!(store.delete_calls_before(cutoff, 10).await.unwrap(), 1);
    assert_eq!(store.delete_calls_before(cutoff, 10).await.unwrap(), 0);
    for id in [old_a, old_b] {
        assert!(matches!(
            store.get_call(id).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(
        store.get_call(live).await.unwrap().status,
        CallStatus::Queued,
        "a call that has not ended stays, with its transcript"
    );
    assert_eq!(store.transcript(live).await.unwrap().len(), 3);
}
