//! Import batches at the edges a set-based write could get wrong (PostgreSQL copies its
//! batches in and merges them in a few statements; SQLite binds them row by row): the
//! same file must give the same counts, report lines, contacts, tags and consents.
use chrono::{TimeDelta, Utc};
use parley_domain::consent::{
    ConsentKind, ConsentSource, ConsentSourceKind, ConsentType, NewConsent,
};
use parley_store::{ContactFilter, ImportError, ImportRow, PageRequest, Store, INVALID_CONSENT};

use super::cases::{campaign, contact, phone};

fn grant(detail: &str, days_ago: i64) -> NewConsent {
    NewConsent {
        kind: ConsentKind::Grant,
        consent_type: Some(ConsentType::ExpressWritten),
        source: ConsentSource::new(ConsentSourceKind::Import, detail),
        captured_at: Some(Utc::now() - TimeDelta::days(days_ago)),
        text: Some("I agree to calls from Acme, including by an AI voice.".into()),
        url: None,
    }
}

pub fn row(line: i64, p: &str, first: &str, tags: &[&str]) -> ImportRow {
    ImportRow {
        line,
        contact: contact(p, first, tags),
        consent: Ok(None),
        left_out: vec![],
    }
}

fn rejected(line: i64, reason: &str) -> ImportError {
    ImportError {
        line,
        reason: reason.into(),
        message: format!("{reason} here"),
    }
}

/// Every contact carrying `tag`, by paging through them.
async fn tagged(store: &Store, tag: &str) -> usize {
    let filter = ContactFilter {
        tag: Some(tag.into()),
        ..Default::default()
    };
    let (mut count, mut before_id) = (0, None);
    loop {
        let page = store
            .list_contacts(
                &filter,
                PageRequest {
                    before_id,
                    limit: 500,
                },
            )
            .await
            .unwrap();
        count += page.items.len();
        match page.next_before_id {
            Some(next) => before_id = Some(next),
            None => return count,
        }
    }
}

/// An import's counters once finished: rows, created, updated, duplicates, rejected.
async fn finished(store: &Store, id: i64) -> [i64; 5] {
    let r = store.finish_import(id, None).await.unwrap();
    assert_eq!(r.state, "completed");
    [r.rows_total, r.created, r.updated, r.duplicates, r.rejected]
}

async fn history_len(store: &Store, id: i64) -> usize {
    store
        .consent_history(id, PageRequest::first(50))
        .await
        .unwrap()
        .items
        .len()
}

/// A phone met within a batch, across batches and from before the import; a rejected row
/// between good ones; a tag shared by hundreds of rows; consent columns on new contacts,
/// on a contact whose consent in force they repeat, and on a duplicate row; a row both
/// duplicate and with unreadable consent; and a batch of rejected rows only.
pub async fn import_batches_merge_at_every_edge_alike(store: Store) {
    let mut before = contact("+14155550700", "Old", &["keep"]);
    before.fields.email = Some("old@example.com".into());
    before.fields.custom_fields = [("plan".to_string(), "gold".to_string())].into();
    let existing = store.create_contact(&before).await.unwrap();
    let signed = grant("signup form", 10);
    let stored = store
        .append_consent(existing.id, &signed, "test")
        .await
        .unwrap();
    // As stored (to the millisecond).
    let in_force = NewConsent {
        captured_at: Some(stored.captured_at),
        ..signed
    };
    let campaign_id = campaign(&store, "bulk target").await;
    let import = store
        .start_import("csv", Some("f.csv"), Some(campaign_id), "test")
        .await
        .unwrap();

    let mut first = vec![
        ImportRow {
            consent: Ok(Some(grant("f.csv line 2", 3))),
            ..row(2, "+14155550701", "N1", &["shared", "a"])
        },
        ImportRow {
            // Repeats the consent in force: nothing is appended.
            consent: Ok(Some(in_force.clone())),
            ..row(3, "+14155550700", "E3", &["shared"])
        },
        // Line 4 is rejected (below).
        ImportRow {
            consent: Err("`maybe` is not a consent type".into()),
            ..row(5, "+14155550701", "N1b", &["b", "shared"])
        },
        row(6, "+14155550700", "E6", &[]),
    ];
    first[2].contact.fields.email = Some("n1@example.com".into());
    first[3].contact.fields.custom_fields = [("seats".to_string(), "4".to_string())].into();
    for i in 0..300_i64 {
        first.push(row(
            7 + i,
            &format!("+1415556{i:04}"),
            &format!("Bulk{i}"),
            &["shared", "bulk"],
        ));
    }
    let one = store
        .import_batch(&import, first, vec![rejected(4, "invalid_phone")])
        .await
        .unwrap();
    assert_eq!((one.created, one.updated, one.duplicates), (301, 1, 2));

    let two = store
        .import_batch(
            &import,
            vec![
                ImportRow {
                    consent: Ok(Some(grant("f.csv line 307", 1))),
                    ..row(307, "+14155550701", "N1c", &["c"])
                },
                row(308, "+14155550700", "E308", &["late"]),
                row(310, "+14155550702", "N2", &[]),
            ],
            vec![rejected(309, "missing_phone")],
        )
        .await
        .unwrap();
    assert_eq!((two.created, two.updated, two.duplicates), (1, 0, 2));
    let three = store
        .import_batch(
            &import,
            vec![],
            vec![
                rejected(311, "invalid_phone"),
                rejected(312, "invalid_field"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((three.created, three.updated, three.duplicates), (0, 0, 0));

    assert_eq!(finished(&store, import.id).await, [311, 302, 1, 4, 4]);
    let errors = store.import_errors(import.id, 0, 100).await.unwrap();
    let report: Vec<(i64, &str, &str)> = errors
        .iter()
        .map(|e| (e.line, e.reason.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        report,
        vec![
            (4, "invalid_phone", "invalid_phone here"),
            (
                5,
                INVALID_CONSENT,
                "`maybe` is not a consent type; the contact was imported without consent; \
                 same phone as line 2; merged into that contact; kept first_name `N1`, not \
                 this row's `N1b`"
            ),
            (
                6,
                "duplicate",
                "same phone as line 3; merged into that contact; kept first_name `E3`, not \
                 this row's `E6`"
            ),
            (
                307,
                "duplicate",
                "same phone as line 2; merged into that contact; kept first_name `N1`, not \
                 this row's `N1c`"
            ),
            (
                308,
                "duplicate",
                "same phone as line 3; merged into that contact; kept first_name `E3`, not \
                 this row's `E308`"
            ),
            (309, "missing_phone", "missing_phone here"),
            (311, "invalid_phone", "invalid_phone here"),
            (312, "invalid_field", "invalid_field here"),
        ]
    );

    let n1 = store
        .contact_by_phone(&phone("+14155550701"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        n1.first_name.as_deref(),
        Some("N1"),
        "a duplicate row never renames the contact its first row wrote"
    );
    assert_eq!(n1.email.as_deref(), Some("n1@example.com"));
    assert_eq!(n1.tags, vec!["a", "b", "c", "shared"]);
    assert_eq!(history_len(&store, n1.id).await, 2, "lines 2 and 307");
    let e = store.get_contact(existing.id).await.unwrap();
    assert_eq!(
        e.first_name.as_deref(),
        Some("E3"),
        "updated by line 3 only"
    );
    assert_eq!(e.email.as_deref(), Some("old@example.com"), "kept");
    assert_eq!(
        e.custom_fields,
        [
            ("plan".to_string(), "gold".to_string()),
            ("seats".to_string(), "4".to_string())
        ]
        .into()
    );
    assert_eq!(e.tags, vec!["keep", "late", "shared"]);
    assert_eq!(
        history_len(&store, e.id).await,
        1,
        "the repeat adds nothing"
    );
    let bulk = store
        .contact_by_phone(&phone("+14155560299"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bulk.first_name.as_deref(), Some("Bulk299"));
    assert_eq!(bulk.tags, vec!["bulk", "shared"]);
    assert_eq!(tagged(&store, "shared").await, 302);
    assert_eq!(tagged(&store, "bulk").await, 300);

    let c = store.get_campaign(campaign_id).await.unwrap();
    assert_eq!((c.progress.total, c.progress.pending), (303, 303));

    // Deleting a contact takes its tag links with it.
    store.delete_contact(bulk.id).await.unwrap();
    assert_eq!(tagged(&store, "bulk").await, 299);
}

/// The same contacts imported again, by a second import: every one is updated (its
/// fields merged, new tags added to the old, its line now the new import's), none is a
/// duplicate; a phone repeated in that second file is one.
pub async fn a_file_imported_again_updates_its_contacts(store: Store) {
    let rows = |first: &str, tag: &str| -> Vec<ImportRow> {
        (0..700_i64)
            .map(|i| {
                let mut r = row(
                    2 + i,
                    &format!("+1415557{i:04}"),
                    &format!("{first}{i}"),
                    &[tag],
                );
                if i % 2 == 0 {
                    r.contact.fields.company = Some(format!("Co{i}"));
                }
                r
            })
            .collect()
    };
    let first = store
        .start_import("csv", Some("a.csv"), None, "test")
        .await
        .unwrap();
    let one = store
        .import_batch(&first, rows("A", "first"), vec![])
        .await
        .unwrap();
    assert_eq!((one.created, one.updated, one.duplicates), (700, 0, 0));

    let again = store
        .start_import("csv", Some("b.csv"), None, "test")
        .await
        .unwrap();
    let mut second = rows("B", "second");
    for r in second.iter_mut() {
        r.contact.fields.company = None;
    }
    second.push(row(702, "+14155570005", "Twice", &["twice"]));
    let two = store.import_batch(&again, second, vec![]).await.unwrap();
    assert_eq!((two.created, two.updated, two.duplicates), (0, 700, 1));
    let errors = store.import_errors(again.id, 0, 10).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].message.as_str()),
        (
            702,
            "same phone as line 7; merged into that contact; kept first_name `B5`, not this \
             row's `Twice`"
        )
    );
    assert!(store
        .import_errors(first.id, 0, 10)
        .await
        .unwrap()
        .is_empty());

    let c4 = store
        .contact_by_phone(&phone("+14155570004"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c4.first_name.as_deref(), Some("B4"));
    assert_eq!(
        c4.company.as_deref(),
        Some("Co4"),
        "an empty cell keeps the value"
    );
    assert_eq!(c4.tags, vec!["first", "second"]);
    let c5 = store
        .contact_by_phone(&phone("+14155570005"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c5.first_name.as_deref(),
        Some("B5"),
        "updated by the new file's first row, not renamed by its duplicate"
    );
    assert_eq!(c5.tags, vec!["first", "second", "twice"]);
    assert_eq!(tagged(&store, "second").await, 700);
    // Found by its new name.
    let found = store
        .list_contacts(
            &ContactFilter {
                q: Some("b699".into()),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}
