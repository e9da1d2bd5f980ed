//! Google Sheets write-back: contacts remember their sheet row, a settlement queues one
//! write in its own transaction, newer values replace waiting ones, leases and retries.
use super::cases::{contact, running_campaign};
use super::dialing_cases::attempt_call;
use super::frequency_cases::claim;
use parley_domain::call_result::{CallResult, ResultKind};
use parley_domain::write_back::{SheetWriteBack, WriteBackColumn, WriteBackField};
use parley_store::{
    BatchTurn, ImportRow, Settle, SheetOrigin, SheetWriteCounts, SheetWriteVerdict, Store,
};

fn write_back() -> SheetWriteBack {
    let mut interested = WriteBackColumn::of(WriteBackField::DataCollection);
    interested.name = Some("interested".into());
    SheetWriteBack {
        enabled: true,
        columns: vec![
            WriteBackColumn::of(WriteBackField::Status),
            WriteBackColumn::of(WriteBackField::Outcome),
            interested,
        ],
    }
}

/// Two contacts imported from rows 3 and 4 of a sheet (header on row 2), one created by
/// hand; all enrolled in a running campaign. Returns (campaign, [sheet contacts], other).
async fn sheet_campaign(store: &Store) -> (i64, Vec<i64>, i64) {
    let import = store
        .start_import("sheets", Some("sheet-1 Leads"), None, "test")
        .await
        .unwrap();
    let origin = SheetOrigin {
        spreadsheet_id: "sheet-1".into(),
        sheet_name: "Leads".into(),
        header_row: 2,
    };
    let rows = vec![
        ImportRow {
            line: 3,
            contact: contact("+14155550301", "A", &[]),
            consent: Ok(None),
            left_out: vec![],
        },
        ImportRow {
            line: 4,
            contact: contact("+14155550302", "B", &[]),
            consent: Ok(None),
            left_out: vec![],
        },
    ];
    store
        .import_batch_from(&import, rows, vec![], Some(&origin), BatchTurn::alone())
        .await
        .unwrap();
    let mut from_sheet = Vec::new();
    for p in ["+14155550301", "+14155550302"] {
        let phone = super::cases::phone(p);
        from_sheet.push(store.contact_by_phone(&phone).await.unwrap().unwrap().id);
    }
    let other = store
        .create_contact(&contact("+14155550303", "C", &[]))
        .await
        .unwrap()
        .id;
    let all = [from_sheet.clone(), vec![other]].concat();
    (
        running_campaign(store, "write back", &all).await,
        from_sheet,
        other,
    )
}

/// Claims `contact_id`'s attempt and starts its call; returns the call id.
async fn attempt(store: &Store, campaign_id: i64, contact_id: i64, now: i64) -> i64 {
    let claims = claim(store, campaign_id, now).await;
    let claim = claims
        .iter()
        .find(|c| c.contact_id == contact_id)
        .expect("the contact is due");
    let call = store
        .start_attempt(claim, "n", "2026-12-03", &attempt_call(&claim.phone))
        .await
        .unwrap()
        .unwrap();
    // The other claims go back.
    store.recover_expired_claims(i64::MAX).await.unwrap();
    call.id
}

/// Settles a call and queues its write in one transaction, committed or not.
async fn settle(store: &Store, campaign_id: i64, contact_id: i64, call_id: i64, commit: bool) {
    let mut tx = store.begin().await.unwrap();
    let settled = tx
        .settle_attempt(
            campaign_id,
            contact_id,
            call_id,
            "success",
            &Settle::Completed,
        )
        .await
        .unwrap();
    assert!(settled);
    let interested = CallResult::bounded(
        ResultKind::DataCollection,
        "interested",
        &serde_json::json!("yes"),
        None,
    )
    .unwrap();
    tx.record_call_results(call_id, &[interested])
        .await
        .unwrap();
    let queued = tx
        .queue_sheet_write(campaign_id, contact_id, call_id, &write_back(), 1_000)
        .await
        .unwrap();
    assert!(queued);
    if commit {
        tx.commit().await.unwrap();
    }
}

pub async fn a_settled_call_queues_one_sheet_write_in_its_transaction(store: Store) {
    let now = parley_domain::time::now_millis();
    let (campaign_id, from_sheet, other) = sheet_campaign(&store).await;
    let call = attempt(&store, campaign_id, from_sheet[0], now).await;

    // Rolled back with its settlement: nothing queued.
    settle(&store, campaign_id, from_sheet[0], call, false).await;
    assert_eq!(
        store.sheet_write_counts(campaign_id).await.unwrap(),
        SheetWriteCounts::default()
    );
    settle(&store, campaign_id, from_sheet[0], call, true).await;
    let counts = store.sheet_write_counts(campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.written), (1, 0));

    // A contact that did not come from a sheet gets nothing.
    let call = attempt(&store, campaign_id, other, now).await;
    let mut tx = store.begin().await.unwrap();
    assert!(!tx
        .queue_sheet_write(campaign_id, other, call, &write_back(), 1_000)
        .await
        .unwrap());
    drop(tx);

    let claimed = store
        .claim_due_sheet_writes("w", 1_000, 61_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "exactly one write");
    let w = &claimed[0];
    assert_eq!(
        (w.spreadsheet_id.as_str(), w.sheet_name.as_str()),
        ("sheet-1", "Leads")
    );
    assert_eq!((w.row_number, w.header_row, w.attempts), (3, 2, 1));
    assert_eq!(
        w.cells,
        vec![
            ("status".to_owned(), "completed".to_owned()),
            ("outcome".to_owned(), "success".to_owned()),
            ("interested".to_owned(), "yes".to_owned()),
        ]
    );
}

pub async fn newer_values_replace_waiting_sheet_writes_and_leases_finish_their_version(
    store: Store,
) {
    let now = parley_domain::time::now_millis();
    let (campaign_id, from_sheet, _) = sheet_campaign(&store).await;
    let first = attempt(&store, campaign_id, from_sheet[0], now).await;
    settle(&store, campaign_id, from_sheet[0], first, true).await;
    let claimed = store
        .claim_due_sheet_writes("w", 1_000, 61_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_due_sheet_writes("w2", 1_000, 61_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "a leased write is no one else's"
    );

    // The contact is called again while the first write is in flight: its new values
    // replace the old, and wait for the lease.
    store
        .requeue_contacts(
            campaign_id,
            parley_domain::campaign::ProgressState::Completed,
        )
        .await
        .unwrap();
    let second = attempt(&store, campaign_id, from_sheet[0], now).await;
    settle(&store, campaign_id, from_sheet[0], second, true).await;
    assert_eq!(
        store.sheet_write_counts(campaign_id).await.unwrap().pending,
        1
    );
    assert!(store
        .claim_due_sheet_writes("w2", 2_000, 62_000, 10)
        .await
        .unwrap()
        .is_empty());

    // The first write lands: it wrote old values, so the row is due again at once.
    let applied = store
        .finish_sheet_writes("w", &claimed, SheetWriteVerdict::Written, None, 3_000)
        .await
        .unwrap();
    assert_eq!(applied, 0, "the version changed meanwhile");
    let again = store
        .claim_due_sheet_writes("w", 3_000, 63_000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].version, claimed[0].version + 1);
    assert_eq!(again[0].attempts, 1, "a fresh schedule for new values");

    // A retry waits for its time; a lease that runs out gives the write to another node.
    store
        .finish_sheet_writes(
            "w",
            &again,
            SheetWriteVerdict::RetryAt(10_000),
            Some("quota"),
            4_000,
        )
        .await
        .unwrap();
    let counts = store.sheet_write_counts(campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.retrying), (1, 1));
    assert_eq!(counts.last_error.as_deref(), Some("quota"));
    assert!(store
        .claim_due_sheet_writes("w", 9_999, 70_000, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = store
        .claim_due_sheet_writes("w", 10_000, 20_000, 10)
        .await
        .unwrap();
    assert_eq!(retried[0].attempts, 2);
    let taken_over = store
        .claim_due_sheet_writes("other-node", 20_000, 80_000, 10)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 1, "the lease ran out");
    assert_eq!(
        store
            .finish_sheet_writes("w", &retried, SheetWriteVerdict::Written, None, 20_001)
            .await
            .unwrap(),
        0,
        "a lost lease changes nothing"
    );
    store
        .finish_sheet_writes(
            "other-node",
            &taken_over,
            SheetWriteVerdict::Failed,
            Some("not shared"),
            21_000,
        )
        .await
        .unwrap();
    let counts = store.sheet_write_counts(campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.failed), (0, 1));
    assert_eq!(counts.last_error.as_deref(), Some("not shared"));

    // Retried by hand after the sheet was shared, it is written.
    assert_eq!(
        store
            .retry_failed_sheet_writes(campaign_id, 30_000)
            .await
            .unwrap(),
        1
    );
    let last = store
        .claim_due_sheet_writes("w", 30_000, 90_000, 10)
        .await
        .unwrap();
    store
        .finish_sheet_writes("w", &last, SheetWriteVerdict::Written, None, 31_000)
        .await
        .unwrap();
    let counts = store.sheet_write_counts(campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.failed, counts.written), (0, 0, 1));
    assert_eq!(counts.last_error, None);
    assert_eq!(counts.last_written_at, Some(31_000));
    assert!(!store.sheet_writes_due(i64::MAX).await.unwrap());
}
