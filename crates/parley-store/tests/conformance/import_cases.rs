//! Import batches and abandoned imports.
use parley_store::{ImportError, ImportRow, Store};

use super::cases::{campaign, contact, phone};

pub async fn import_batches_merge_duplicates_and_count(store: Store) {
    let before = store
        .create_contact(&contact("+14155550999", "Old", &["keep"]))
        .await
        .unwrap();
    let campaign_id = campaign(&store, "import target").await;
    let import = store
        .start_import("csv", Some("people.csv"), Some(campaign_id), "test")
        .await
        .unwrap();
    let row = |line: i64, p: &str, name: &str, tags: &[&str]| ImportRow {
        line,
        contact: contact(p, name, tags),
        consent: Ok(None),
        left_out: vec![],
    };
    let first = store
        .import_batch(
            &import,
            vec![
                row(2, "+14155550001", "A", &["new"]),
                row(3, "+14155550002", "B", &[]),
                row(4, "+14155550001", "A2", &["other"]), // duplicate inside the batch
                row(5, "+14155550999", "Updated", &["new"]), // existed before the import
            ],
            vec![ImportError {
                line: 6,
                reason: "invalid_phone".into(),
                message: "bad".into(),
            }],
        )
        .await
        .unwrap();
    assert_eq!((first.created, first.updated, first.duplicates), (2, 1, 1));
    // A later batch repeats line 3's phone: recognised through the database.
    let second = store
        .import_batch(
            &import,
            vec![row(7, "+14155550002", "B2", &["late"])],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        (second.created, second.updated, second.duplicates),
        (0, 0, 1)
    );
    let done = store.finish_import(import.id, None).await.unwrap();
    assert_eq!(done.state, "completed");
    assert_eq!(
        (
            done.rows_total,
            done.created,
            done.updated,
            done.duplicates,
            done.rejected
        ),
        (6, 2, 1, 2, 1)
    );
    let errors = store.import_errors(import.id, 0, 100).await.unwrap();
    let lines: Vec<(i64, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(
        lines,
        vec![(4, "duplicate"), (6, "invalid_phone"), (7, "duplicate")]
    );
    assert!(
        errors[0].message.contains("line 2"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[2].message.contains("line 3"),
        "{}",
        errors[2].message
    );

    let a = store
        .contact_by_phone(&phone("+14155550001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a.first_name.as_deref(),
        Some("A"),
        "a duplicate fills blanks but never renames"
    );
    assert!(
        errors[0]
            .message
            .contains("kept first_name `A`, not this row's `A2`"),
        "{}",
        errors[0].message
    );
    assert_eq!(a.tags, vec!["new", "other"]);
    let b = store
        .contact_by_phone(&phone("+14155550002"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.tags, vec!["late"]);
    let old = store.get_contact(before.id).await.unwrap();
    assert_eq!(old.first_name.as_deref(), Some("Updated"));
    assert_eq!(old.tags, vec!["keep", "new"], "existing tags stay");

    let c = store.get_campaign(campaign_id).await.unwrap();
    assert_eq!((c.progress.total, c.progress.pending), (3, 3));
}

pub async fn imports_left_running_are_failed_once_abandoned(store: Store) {
    let running = store
        .start_import("csv", Some("cut.csv"), None, "test")
        .await
        .unwrap();
    let done = store
        .start_import("csv", Some("done.csv"), None, "test")
        .await
        .unwrap();
    store.finish_import(done.id, None).await.unwrap();
    let hour_ago = parley_domain::time::now_millis() - 3_600_000;
    assert_eq!(store.fail_abandoned_imports(hour_ago).await.unwrap(), 0);
    let later = parley_domain::time::now_millis() + 1;
    assert_eq!(store.fail_abandoned_imports(later).await.unwrap(), 1);
    let failed = store.get_import(running.id).await.unwrap();
    assert_eq!(failed.state, "failed");
    assert!(failed.error.unwrap().starts_with("abandoned"));
    assert!(failed.finished_at.is_some());
    assert_eq!(store.get_import(done.id).await.unwrap().state, "completed");
}

/// Text with COPY's delimiters and escapes (tab, newline, backslash, `\N`), quotes and
/// non-ASCII survives an import exactly, and a large batch (more rows than a SQLite
/// batch, with duplicates inside it and against an earlier batch) reports the same
/// lines, counts and tags on both backends.
pub async fn import_rows_keep_their_text_and_report_alike(store: Store) {
    let import = store
        .start_import("csv", Some("odd.csv"), None, "test")
        .await
        .unwrap();
    let odd = "tab\there, new\nline, back\\slash, \\N, \"quoted\", Zoë 日本";
    let mut first = contact("+14155550100", odd, &["odd"]);
    first.fields.last_name = Some("\\".into());
    first.fields.custom_fields = [("note".to_string(), "a\tb\\c\"d\r\ne".to_string())].into();
    let mut rows = vec![ImportRow {
        line: 2,
        contact: first,
        consent: Ok(None),
        left_out: vec![],
    }];
    // Lines 3..=1202: 1,200 contacts, every tenth repeating the phone of the row before.
    let mut expected_dups = vec![];
    for i in 0..1200_i64 {
        let line = 3 + i;
        let n = if i % 10 == 9 { i - 1 } else { i };
        if n != i {
            expected_dups.push((line, line - 1));
        }
        let tags: &[&str] = if i % 2 == 0 {
            &["even", "bulk"]
        } else {
            &["bulk"]
        };
        rows.push(ImportRow {
            line,
            contact: contact(&format!("+1415556{n:04}"), &format!("N{i}"), tags),
            consent: Ok(None),
            left_out: vec![],
        });
    }
    let outcome = store.import_batch(&import, rows, vec![]).await.unwrap();
    assert_eq!(
        (outcome.created, outcome.updated, outcome.duplicates),
        (1081, 0, 120)
    );
    // A second batch repeats line 2's phone and a bulk one: recognised from the database.
    let again = store
        .import_batch(
            &import,
            vec![
                ImportRow {
                    line: 1203,
                    contact: contact("+14155550100", "Later", &["late"]),
                    consent: Ok(None),
                    left_out: vec![],
                },
                ImportRow {
                    line: 1204,
                    contact: contact("+14155560000", "Again", &[]),
                    consent: Ok(None),
                    left_out: vec![],
                },
            ],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!((again.created, again.updated, again.duplicates), (0, 0, 2));
    let done = store.finish_import(import.id, None).await.unwrap();
    assert_eq!(
        (
            done.rows_total,
            done.created,
            done.updated,
            done.duplicates,
            done.rejected
        ),
        (1203, 1081, 0, 122, 0)
    );

    let errors = store.import_errors(import.id, 0, 1000).await.unwrap();
    expected_dups.push((1203, 2));
    expected_dups.push((1204, 3));
    let reported: Vec<(i64, i64)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e.reason, "duplicate");
            let first: i64 = e
                .message
                .trim_start_matches("same phone as line ")
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (e.line, first)
        })
        .collect();
    assert_eq!(reported, expected_dups);

    let odd_contact = store
        .contact_by_phone(&phone("+14155550100"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(odd_contact.first_name.as_deref(), Some(odd), "not renamed");
    assert_eq!(odd_contact.last_name.as_deref(), Some("\\"));
    assert_eq!(
        odd_contact.custom_fields.get("note").map(String::as_str),
        Some("a\tb\\c\"d\r\ne")
    );
    assert_eq!(odd_contact.tags, vec!["late", "odd"]);
    let found = store
        .list_contacts(
            &parley_store::ContactFilter {
                q: Some("\\".into()),
                ..Default::default()
            },
            parley_store::PageRequest {
                before_id: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let ids: Vec<i64> = found.items.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![odd_contact.id], "search text keeps the backslash");
    let merged = store
        .contact_by_phone(&phone("+14155560008"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        merged.first_name.as_deref(),
        Some("N8"),
        "the first row's name stays"
    );
    assert_eq!(merged.tags, vec!["bulk", "even"], "tags of both rows");
    let even = store
        .contact_by_phone(&phone("+14155560001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(even.tags, vec!["bulk"]);
}
