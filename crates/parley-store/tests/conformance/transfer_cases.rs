//! A call's warm-transfer state and the transfer counts (migration 0022).
use super::cases::{campaign, new_call};
use parley_domain::call::{CallStatus, TerminationSource};
use parley_domain::time::now_millis;
use parley_domain::transfer::{TransferOutcome, TRANSFERRED_REASON};
use parley_store::{StatsRange, StatusChange, Store, StoreError, TransferCounts};

/// Moves `call`'s transfer; returns whether the store let it.
async fn set(store: &Store, call: i64, outcome: TransferOutcome, target: i64) -> bool {
    let mut tx = store.begin().await.unwrap();
    let moved = tx.set_transfer(call, outcome, target).await.unwrap();
    tx.commit().await.unwrap();
    moved
}

pub async fn transfers_are_kept_per_call_and_counted_per_campaign(store: Store) {
    let a = campaign(&store, "A").await;
    let b = campaign(&store, "B").await;
    let connected = new_call(&store, Some(a)).await;
    let unanswered = new_call(&store, Some(a)).await;
    let elsewhere = new_call(&store, Some(b)).await;
    let untouched = new_call(&store, Some(a)).await;

    assert_eq!(store.call_transfer_state(untouched).await.unwrap(), None);
    assert!(set(&store, connected, TransferOutcome::InProgress, 0).await);
    assert!(set(&store, connected, TransferOutcome::InProgress, 1).await);
    assert!(set(&store, connected, TransferOutcome::Connected, 1).await);
    assert_eq!(
        store.call_transfer_state(connected).await.unwrap(),
        Some((TransferOutcome::Connected, 1))
    );
    assert!(set(&store, unanswered, TransferOutcome::InProgress, 2).await);
    assert!(set(&store, unanswered, TransferOutcome::NoAnswer, 2).await);
    assert!(set(&store, elsewhere, TransferOutcome::InProgress, 0).await);
    assert!(set(&store, elsewhere, TransferOutcome::Connected, 0).await);

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

/// The domain's rule as the update's guard: a settled transfer never changes, a ringing
/// one only moves forward, and a transfer starts by ringing.
pub async fn a_settled_transfer_is_never_rewritten_by_a_late_request(store: Store) {
    use TransferOutcome::*;
    let a = campaign(&store, "A").await;
    let call = new_call(&store, Some(a)).await;
    let state = || async { store.call_transfer_state(call).await.unwrap() };

    assert!(
        !set(&store, call, Connected, 0).await,
        "settled before it rang"
    );
    assert_eq!(state().await, None);
    assert!(set(&store, call, InProgress, 0).await);
    assert!(
        set(&store, call, InProgress, 1).await,
        "the next target rings"
    );
    assert!(!set(&store, call, InProgress, 0).await, "a ring moved past");
    assert!(
        !set(&store, call, NoAnswer, 0).await,
        "settled by a ring moved past"
    );
    assert_eq!(state().await, Some((InProgress, 1)));
    assert!(set(&store, call, NoAnswer, 1).await);
    // Late, repeated or out of order: nothing moves a settled transfer.
    for (outcome, target) in [(Connected, 1), (Failed, 2), (InProgress, 2), (NoAnswer, 1)] {
        assert!(
            !set(&store, call, outcome, target).await,
            "{outcome} at {target}"
        );
    }
    assert_eq!(state().await, Some((NoAnswer, 1)));
}

/// A call `new_call` made, moved to `status`, whose agent started a transfer.
async fn transferring_call(store: &Store, status: CallStatus) -> i64 {
    let call = new_call(store, None).await;
    let mut tx = store.begin().await.unwrap();
    for step in [CallStatus::InProgress, status] {
        let change = StatusChange {
            status: step,
            duration_seconds: None,
            error_code: None,
            error_message: None,
        };
        tx.advance_call_status(call, &change).await.unwrap();
    }
    assert!(tx
        .set_termination(call, TerminationSource::Agent, Some(TRANSFERRED_REASON))
        .await
        .unwrap());
    tx.commit().await.unwrap();
    call
}

async fn restate(store: &Store, call: i64, outcome: TransferOutcome, goes_on: bool) -> bool {
    let mut tx = store.begin().await.unwrap();
    let changed = tx
        .restate_transfer_termination(call, outcome.termination_reason(), goes_on)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    changed
}

async fn termination(store: &Store, call: i64) -> (Option<TerminationSource>, Option<String>) {
    let call = store.get_call(call).await.unwrap();
    (call.termination_source, call.error_message)
}

/// The termination of a transferred call says how the transfer went: a failed one
/// that left the agent talking no longer claims to have ended the call; one that ended
/// the call says how it ended; what ended the call before the transfer stays.
pub async fn a_transfer_termination_says_how_the_transfer_went(store: Store) {
    let agent = Some(TerminationSource::Agent);
    let talking = transferring_call(&store, CallStatus::InProgress).await;
    assert!(restate(&store, talking, TransferOutcome::Failed, true).await);
    assert_eq!(termination(&store, talking).await, (None, None));
    // Now the call's own ending is recorded.
    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .set_termination(talking, TerminationSource::Callee, None)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert!(!restate(&store, talking, TransferOutcome::Failed, true).await);
    assert_eq!(
        termination(&store, talking).await,
        (Some(TerminationSource::Callee), None)
    );

    // Refused while the call was ending: it ended on the failed transfer.
    let ended = transferring_call(&store, CallStatus::Completed).await;
    assert!(restate(&store, ended, TransferOutcome::Failed, true).await);
    assert_eq!(
        termination(&store, ended).await,
        (agent, Some("the transfer to a person failed".into()))
    );

    let unanswered = transferring_call(&store, CallStatus::InProgress).await;
    assert!(restate(&store, unanswered, TransferOutcome::NoAnswer, false).await);
    assert_eq!(
        termination(&store, unanswered).await,
        (
            agent,
            Some("transferred to a person; no one answered".into())
        )
    );

    // Something else ended the call first: its cause stays.
    let hung_up = new_call(&store, None).await;
    let mut tx = store.begin().await.unwrap();
    tx.set_termination(hung_up, TerminationSource::Callee, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!restate(&store, hung_up, TransferOutcome::Failed, true).await);
    assert!(!restate(&store, hung_up, TransferOutcome::NoAnswer, false).await);
    assert_eq!(
        termination(&store, hung_up).await,
        (Some(TerminationSource::Callee), None)
    );
}
