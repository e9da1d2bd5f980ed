//! Batches of one import written at the same time (PostgreSQL writes two at once, each on
//! its own connection): the outcome must be that of writing them one after the other, in
//! file order, and a batch after one that failed must not commit.
use parley_store::{BatchTurn, BatchTurns, Store, StoreError};

use super::cases::{campaign, contact, phone};
use super::import_bulk_cases::row;

/// A contact's id, name and tags by phone.
pub async fn stored(store: &Store, p: &str) -> (i64, Option<String>, Vec<String>) {
    let c = store.contact_by_phone(&phone(p)).await.unwrap().unwrap();
    (c.id, c.first_name, c.tags)
}

/// The second batch is started before the first, shares a new phone and an existing
/// contact with it, and adds a tag the first adds too: it still merges into the first's
/// rows, and the first's contacts still get the lower ids.
pub async fn import_batches_written_at_once_end_as_written_in_order(store: Store) {
    store
        .create_contact(&contact("+14155550800", "Old", &["keep"]))
        .await
        .unwrap();
    let campaign_id = campaign(&store, "at once").await;
    let import = store
        .start_import("csv", Some("f.csv"), Some(campaign_id), "test")
        .await
        .unwrap();
    let mut first = vec![
        row(2, "+14155550801", "A2", &["new", "a"]),
        row(3, "+14155550800", "A3", &["a"]),
    ];
    let mut second = vec![
        row(1000, "+14155550801", "B1000", &["new", "b"]),
        row(1001, "+14155550800", "B1001", &["b"]),
    ];
    for i in 0..200_i64 {
        first.push(row(4 + i, &format!("+1415557{i:04}"), "A", &["new"]));
        second.push(row(1002 + i, &format!("+1415558{i:04}"), "B", &["new"]));
    }
    let mut turns = BatchTurns::new();
    let (turn_one, turn_two) = (turns.next_turn(), turns.next_turn());
    let later = {
        let (store, import) = (store.clone(), import.clone());
        tokio::spawn(async move {
            store
                .import_batch_from(&import, second, vec![], None, turn_two)
                .await
        })
    };
    let one = store
        .import_batch_from(&import, first, vec![], None, turn_one)
        .await
        .unwrap();
    let two = later.await.unwrap().unwrap();
    assert_eq!((one.created, one.updated, one.duplicates), (201, 1, 0));
    assert_eq!((two.created, two.updated, two.duplicates), (200, 0, 2));

    let done = store.finish_import(import.id, None).await.unwrap();
    assert_eq!(
        (done.rows_total, done.created, done.updated, done.duplicates),
        (404, 401, 1, 2)
    );
    let errors = store.import_errors(import.id, 0, 10).await.unwrap();
    let report: Vec<(i64, &str)> = errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(
        report,
        vec![
            (
                1000,
                "same phone as line 2; merged into that contact; kept first_name `A2`, not \
                 this row's `B1000`"
            ),
            (
                1001,
                "same phone as line 3; merged into that contact; kept first_name `A3`, not \
                 this row's `B1001`"
            ),
        ]
    );
    let (shared, name, tags) = stored(&store, "+14155550801").await;
    assert_eq!(name.as_deref(), Some("A2"));
    assert_eq!(tags, vec!["a", "b", "new"]);
    let (_, name, tags) = stored(&store, "+14155550800").await;
    assert_eq!(name.as_deref(), Some("A3"));
    assert_eq!(tags, vec!["a", "b", "keep"]);
    let (last_of_first, ..) = stored(&store, "+14155570199").await;
    let (first_of_second, ..) = stored(&store, "+14155580000").await;
    assert!(shared < last_of_first && last_of_first < first_of_second);
    let enrolled = store.get_campaign(campaign_id).await.unwrap();
    assert_eq!(
        (enrolled.progress.total, enrolled.progress.pending),
        (402, 402)
    );
}

/// A batch whose predecessor failed (here: never written) writes nothing.
pub async fn a_batch_after_a_failed_one_commits_nothing(store: Store) {
    let import = store
        .start_import("csv", Some("f.csv"), None, "test")
        .await
        .unwrap();
    let mut turns = BatchTurns::new();
    drop(turns.next_turn());
    let failed = store
        .import_batch_from(
            &import,
            vec![row(600, "+14155550900", "Late", &["late"])],
            vec![],
            None,
            turns.next_turn(),
        )
        .await;
    assert!(
        matches!(failed, Err(StoreError::EarlierBatchFailed)),
        "{failed:?}"
    );
    assert!(store
        .contact_by_phone(&phone("+14155550900"))
        .await
        .unwrap()
        .is_none());
    let record = store.get_import(import.id).await.unwrap();
    assert_eq!((record.rows_total, record.created), (0, 0));
    // A batch written alone has no one to wait for.
    let alone = store
        .import_batch_from(
            &import,
            vec![row(601, "+14155550901", "Alone", &[])],
            vec![],
            None,
            BatchTurn::alone(),
        )
        .await
        .unwrap();
    assert_eq!(alone.created, 1);
}
