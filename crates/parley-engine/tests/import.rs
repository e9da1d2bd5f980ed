//! Imports through the engine: a cancelled one does not stay `running`, and a file gives
//! the same answer on both backends.
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

/// What an import left: its counters, every reported row, and each contact's fields
/// and tags by phone.
async fn import_on(store: &Store, rows: &[Vec<String>]) -> (Vec<i64>, Vec<String>, Vec<String>) {
    use parley_domain::import::ColumnMap;
    use parley_engine::import::RowWriter;
    let import = Running::start(store, "csv", Some("same.csv"), None, "test")
        .await
        .unwrap();
    let header = ["phone", "first_name", "email", "tags", "plan"];
    let columns = ColumnMap::from_headers(header.iter().copied()).unwrap();
    RowWriter::new(store, &import.record, columns, Default::default())
        .write_table(1, rows.iter().cloned())
        .await
        .unwrap();
    let r = import.finish(None).await.unwrap();
    let counts = vec![r.rows_total, r.created, r.updated, r.duplicates, r.rejected];
    let mut report = Vec::new();
    let mut after = 0;
    loop {
        let page = store.import_errors(r.id, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.line;
        report.extend(
            page.iter()
                .map(|e| format!("{} {} {}", e.line, e.reason, e.message)),
        );
    }
    let mut contacts = Vec::new();
    for n in 0..(rows.len() as u64) {
        let phone = parley_domain::Phone::from_e164(&format!("+1415{:07}", 2_000_000 + n)).unwrap();
        if let Some(c) = store.contact_by_phone(&phone).await.unwrap() {
            contacts.push(format!(
                "{} {:?} {:?} {:?} {:?}",
                c.phone, c.first_name, c.email, c.custom_fields, c.tags
            ));
        }
    }
    (counts, report, contacts)
}

/// One file, imported on SQLite and on PostgreSQL (whose batches are larger and go
/// through COPY), gives the same counts, the same report line by line and the same
/// contacts, with duplicates inside a batch, across batch boundaries and of contacts
/// that existed before.
#[tokio::test]
async fn a_file_gives_the_same_report_on_sqlite_and_postgres() {
    let rows: Vec<Vec<String>> = (0..12_000_u64)
        .map(|i| {
            // Every 7th row repeats a phone from about 4,997 rows back: in the same
            // batch on PostgreSQL, an earlier batch on SQLite; every 13th is bad.
            let n = if i % 7 == 6 && i > 4_997 {
                i - 4_997
            } else {
                i
            };
            let phone = if i % 13 == 12 {
                "not a phone".to_string()
            } else {
                format!("+1415{:07}", 2_000_000 + n)
            };
            let tags = ["a", "b;c", "", "d"][(i % 4) as usize];
            vec![
                phone,
                format!("F{i}\t{}", i % 3),
                if i % 5 == 0 {
                    String::new()
                } else {
                    format!("e{i}@x.org")
                },
                tags.to_string(),
                format!("plan \"{}\"", i % 2),
            ]
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite://{}", dir.path().join("a.db").display()))
        .await
        .unwrap();
    let db = parley_store::testing::TestDatabase::create("parley_import").await;
    let postgres = Store::open(&db.url).await.unwrap();
    for store in [&sqlite, &postgres] {
        // A contact that existed before the import, met again by row 3.
        store
            .create_contact(&parley_domain::contact::NewContact {
                phone: parley_domain::Phone::from_e164("+14152000003").unwrap(),
                fields: parley_domain::contact::ContactFields {
                    first_name: Some("Before".into()),
                    tags: vec!["old".into()],
                    ..Default::default()
                },
            })
            .await
            .unwrap();
    }
    let on_sqlite = import_on(&sqlite, &rows).await;
    let on_postgres = import_on(&postgres, &rows).await;
    assert_eq!(on_sqlite.0, on_postgres.0, "counters");
    assert_eq!(on_sqlite.0[0], 12_000);
    assert!(on_sqlite.0[3] > 0 && on_sqlite.0[4] > 0 && on_sqlite.0[2] == 1);
    assert_eq!(on_sqlite.1, on_postgres.1, "the report");
    assert_eq!(on_sqlite.2, on_postgres.2, "the contacts");
    sqlite.close().await;
    postgres.close().await;
}
