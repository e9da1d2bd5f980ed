//! PostgreSQL only: what PostgreSQL does its own way.
//! - An import batch copies its new contacts straight into `contacts`; a phone inserted
//!   by another transaction after the batch looked its phones up must still end merged
//!   into that contact, not fail the batch or make a second contact. (SQLite has one
//!   writer: no other transaction can insert while a batch writes.)
//! - `contact_tags` keeps its foreign keys' rules with statement triggers (migrations
//!   0018 and 0024) where SQLite has foreign keys.
use parley_store::testing::TestDatabase;
use parley_store::Store;
use std::time::Duration;

use super::cases::contact;
use super::import_bulk_cases::row;
use super::import_turn_cases::stored;

/// Waits until a session of the test's database waits for a row or transaction lock.
async fn until_a_session_waits_on_a_lock(watch: &sqlx::PgPool) {
    let waiting = async {
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(watch)
            .await
            .unwrap();
            if n > 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the batch waits on the other transaction's insert within 30 s");
}

#[tokio::test]
async fn a_phone_inserted_by_another_writer_while_a_batch_copies_is_merged_into_it() {
    let db = TestDatabase::create("parley_test").await;
    let store = Store::open(&db.url).await.expect("open postgres store");
    let other = sqlx::PgPool::connect(&db.url).await.unwrap();
    let import = store
        .start_import("csv", Some("f.csv"), None, "test")
        .await
        .unwrap();

    // Another writer inserts the middle phone and has not committed yet: the batch's
    // lookup cannot see it, and its copy waits on that phone's unique index entry.
    let mut by_hand = other.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO contacts (phone, first_name, created_at, updated_at) \
         VALUES ('+14155550901', 'Hand', 0, 0)",
    )
    .execute(&mut *by_hand)
    .await
    .unwrap();
    let batch = {
        let (store, import) = (store.clone(), import.clone());
        tokio::spawn(async move {
            let rows = vec![
                row(2, "+14155550900", "A", &["wave"]),
                row(3, "+14155550901", "B", &["wave"]),
                row(4, "+14155550902", "C", &["wave"]),
            ];
            store.import_batch(&import, rows, vec![]).await
        })
    };
    until_a_session_waits_on_a_lock(&other).await;
    by_hand.commit().await.unwrap();

    let outcome = batch.await.unwrap().expect("the batch commits");
    assert_eq!(
        (outcome.created, outcome.updated, outcome.duplicates),
        (2, 1, 0)
    );
    let wave = vec!["wave".to_owned()];
    let (_, name, tags) = stored(&store, "+14155550901").await;
    assert_eq!((name.as_deref(), &tags), (Some("B"), &wave));
    let (first, _, first_tags) = stored(&store, "+14155550900").await;
    let (last, _, last_tags) = stored(&store, "+14155550902").await;
    assert!(first < last, "ids follow the file");
    assert_eq!((first_tags, last_tags), (wave.clone(), wave));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&other)
        .await
        .unwrap();
    assert_eq!(count, 3);
    other.close().await;
    store.close().await;
}

/// A statement's error code, or none when it succeeded.
async fn refused(pool: &sqlx::PgPool, statement: &str) -> Option<String> {
    let err = sqlx::query(statement).execute(pool).await.err()?;
    Some(err.as_database_error()?.code()?.into_owned())
}

async fn links(pool: &sqlx::PgPool) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT contact_id, tag_id FROM contact_tags ORDER BY contact_id, tag_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn links_must_name_a_contact_and_a_tag_and_go_with_either() {
    let db = TestDatabase::create("parley_test").await;
    let store = Store::open(&db.url).await.expect("open postgres store");
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut ids = Vec::new();
    for p in ["+14155550910", "+14155550911"] {
        let created = store.create_contact(&contact(p, "T", &["a", "b"])).await;
        ids.push(created.unwrap().id);
    }
    let (one, two) = (ids[0], ids[1]);
    let (a, b): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT id FROM tags WHERE name = 'a'), (SELECT id FROM tags WHERE name = 'b')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        links(&pool).await,
        vec![(one, a), (one, b), (two, a), (two, b)]
    );

    // A link naming a contact or a tag that does not exist is refused as a foreign key
    // would refuse it, in a statement of many rows as in one of one, and adds nothing.
    let untagged = store
        .create_contact(&contact("+14155550912", "T", &[]))
        .await;
    let untagged = untagged.unwrap().id;
    let missing = untagged + 1000;
    let many = format!(
        "INSERT INTO contact_tags (contact_id, tag_id) \
         SELECT {untagged}, id FROM tags UNION ALL SELECT {missing}, {a}"
    );
    for statement in [
        format!("INSERT INTO contact_tags (contact_id, tag_id) VALUES ({missing}, {a})"),
        format!(
            "INSERT INTO contact_tags (contact_id, tag_id) VALUES ({one}, {})",
            b + 1000
        ),
        format!("UPDATE contact_tags SET contact_id = {missing} WHERE contact_id = {two}"),
        many,
    ] {
        assert_eq!(refused(&pool, &statement).await.as_deref(), Some("23503"));
    }
    assert_eq!(
        links(&pool).await,
        vec![(one, a), (one, b), (two, a), (two, b)]
    );

    // Deleting a contact, or a tag, deletes its links and no others.
    assert_eq!(
        refused(&pool, &format!("DELETE FROM contacts WHERE id = {one}")).await,
        None
    );
    assert_eq!(links(&pool).await, vec![(two, a), (two, b)]);
    assert_eq!(
        refused(&pool, &format!("DELETE FROM tags WHERE id = {b}")).await,
        None
    );
    assert_eq!(links(&pool).await, vec![(two, a)]);
    pool.close().await;
    store.close().await;
}
