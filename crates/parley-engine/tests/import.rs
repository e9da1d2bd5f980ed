//! An import whose request is cancelled part-way does not stay `running`.
use parley_engine::import::Running;
use parley_store::Store;
use std::time::Duration;

#[tokio::test]
async fn an_import_dropped_before_it_finishes_is_recorded_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("parley.db").display());
    let store = Store::open(&url).await.unwrap();
    let finished = Running::start(&store, "csv", Some("done.csv"), None, "test")
        .await
        .unwrap()
        .finish(None)
        .await
        .unwrap();
    assert_eq!(finished.state, "completed");

    let cancelled = Running::start(&store, "csv", Some("cut.csv"), None, "test")
        .await
        .unwrap();
    let id = cancelled.record.id;
    drop(cancelled);
    // The drop hands the update to the runtime; wait for it to land.
    let record = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let record = store.get_import(id).await.unwrap();
            if record.state != "running" {
                return record;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the cancelled import is closed");
    assert_eq!(record.state, "failed");
    assert!(record.error.unwrap().contains("interrupted"));
    assert_eq!(
        store.get_import(finished.id).await.unwrap().state,
        "completed"
    );
    store.close().await;
}
