//! A call's warm-transfer state and the transfer counts (migration 0022).
use super::cases::{campaign, new_call};
use parley_domain::time::now_millis;
use parley_domain::transfer::TransferOutcome;
use parley_store::{StatsRange, Store, StoreError, TransferCounts};

async fn set(store: &Store, call: i64, outcome: TransferOutcome, target: i64) {
    let mut tx = store.begin().await.unwrap();
    tx.set_transfer(call, outcome, target).await.unwrap();
    tx.commit().await.unwrap();
}

pub async fn transfers_are_kept_per_call_and_counted_per_campaign(store: Store) {
    let a = campaign(&store, "A").await;
    let b = campaign(&store, "B").await;
    let connected = new_call(&store, Some(a)).await;
    let unanswered = new_call(&store, Some(a)).await;
    let elsewhere = new_call(&store, Some(b)).await;
    let untouched = new_call(&store, Some(a)).await;

    assert_eq!(store.call_transfer_state(untouched).await.unwrap(), None);
    set(&store, connected, TransferOutcome::InProgress, 0).await;
    set(&store, connected, TransferOutcome::InProgress, 1).await;
    set(&store, connected, TransferOutcome::Connected, 1).await;
    assert_eq!(
        store.call_transfer_state(connected).await.unwrap(),
        Some((TransferOutcome::Connected, 1))
    );
    set(&store, unanswered, TransferOutcome::NoAnswer, 2).await;
    set(&store, elsewhere, TransferOutcome::Connected, 0).await;

    // A transfer for a call that does not exist changes nothing and says so.
    let mut tx = store.begin().await.unwrap();
    let missing = tx.set_transfer(999_999, TransferOutcome::Failed, 0).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    drop(tx);
    assert!(matches!(
        store.call_transfer_state(999_999).await,
        Err(StoreError::NotFound)
    ));

    let now = now_millis();
    let range = |campaign_id| StatsRange {
        from: now - 3_600_000,
        to: now + 60_000,
        campaign_id,
    };
    let counts = |attempted, connected| TransferCounts {
        attempted,
        connected,
    };
    assert_eq!(
        store.transfer_counts(&range(None)).await.unwrap(),
        counts(3, 2)
    );
    assert_eq!(
        store.transfer_counts(&range(Some(a))).await.unwrap(),
        counts(2, 1)
    );
    assert_eq!(
        store.transfer_counts(&range(Some(b))).await.unwrap(),
        counts(1, 1)
    );
    let before = StatsRange {
        from: now - 7_200_000,
        to: now - 3_600_000,
        campaign_id: None,
    };
    assert_eq!(store.transfer_counts(&before).await.unwrap(), counts(0, 0));
}
