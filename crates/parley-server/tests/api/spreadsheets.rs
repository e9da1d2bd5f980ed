//! Contact import from XLSX uploads and Google Sheets: the same mapping and report as CSV.
use crate::harness::{error_code, read, Db, TestApp};
use parley_sim::fakes::sheets::{
    FakeSheets, FakeSheetsConfig, Sheet, Spreadsheet, SANDBOX_SPREADSHEET_ID,
};
use parley_sim::fakes::RunningFake;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A workbook whose first sheet has a header in row 1 and, below it: a good row, a phone
/// typed as a number, a bad phone, a missing phone, a blank row, a repeated phone. A second
/// sheet must be ignored.
fn workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows: [[&str; 4]; 7] = [
        ["Phone", "First Name", "tags", "plan"],
        ["+14155550101", "Ann", "xlsx;vip", "gold"],
        ["", "Bob", "xlsx", ""],
        ["not a phone", "Cy", "", ""],
        ["", "Dee", "", ""],
        ["", "", "", ""],
        ["+14155550101", "Ann again", "", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    // Bob's phone as a spreadsheet number, as people type them.
    sheet.write_number(2, 0, 14155550102.0).unwrap();
    let other = book.add_worksheet();
    other.write_string(0, 0, "not the contacts").unwrap();
    book.save_to_buffer().unwrap()
}

async fn upload(app: &TestApp, part: Part) -> (u16, Value) {
    let resp = app
        .req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    read(resp).await
}

fn problems(report: &Value) -> BTreeMap<i64, String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_xlsx_upload_imports_its_first_sheet_with_row_numbers() {
    let app = TestApp::start().await;
    let part = Part::bytes(workbook())
        .file_name("contacts.xlsx")
        .mime_str("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .unwrap();
    let (status, report) = upload(&app, part).await;
    assert_eq!(status, 200, "{report}");
    let import = &report["import"];
    assert_eq!(import["state"], "completed");
    assert_eq!(import["filename"], "contacts.xlsx");
    assert_eq!(
        (import["created"].as_i64(), import["duplicates"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(import["rows_total"], 5, "the blank row is not a row");
    let expected: BTreeMap<i64, String> =
        [(4, "invalid_phone"), (5, "missing_phone"), (7, "duplicate")]
            .into_iter()
            .map(|(l, r)| (l, r.to_string()))
            .collect();
    assert_eq!(problems(&report), expected);

    let (_, list) = app
        .call(Method::GET, "/api/v1/contacts?tag=xlsx", None)
        .await;
    let mut phones: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap())
        .collect();
    phones.sort();
    assert_eq!(phones, ["+14155550101", "+14155550102"]);
    let ann = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == "+14155550101")
        .unwrap();
    assert_eq!(ann["custom_fields"]["plan"], "gold");

    // Told by its contents when neither the name nor the type says so.
    let part = Part::bytes(workbook()).file_name("upload");
    let (status, report) = upload(&app, part).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["import"]["updated"].as_i64(), Some(2));

    // A broken workbook is refused with nothing imported.
    let mut broken = workbook();
    broken.truncate(broken.len() / 2);
    let part = Part::bytes(broken).file_name("broken.xlsx");
    let (status, body) = upload(&app, part).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "validation_failed");
    app.stop().await;
}

const ACCOUNT: &str = "parley-import@crm-project.iam.gserviceaccount.com";

/// A private spreadsheet shared with the service account. Its contacts sheet has a title
/// in row 1, a blank row 2, the header in row 3 and below it: a good row, a phone typed as
/// a number, a blank row, a bad phone, a repeated phone.
async fn sheets_fake() -> RunningFake<FakeSheets> {
    let fake = FakeSheets::spawn(FakeSheetsConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let contacts = vec![
        vec![json!("Leads from the fair")],
        vec![],
        vec![
            json!("Phone"),
            json!("First Name"),
            json!("tags"),
            json!("booth"),
        ],
        vec![
            json!("+14155550111"),
            json!("Ann"),
            json!("fair"),
            json!("B12"),
        ],
        vec![json!(14155550112u64), json!("Bob"), json!("fair")],
        vec![],
        vec![json!("call me"), json!("Cy")],
        vec![json!("+1 415 555 0111"), json!("Ann again")],
    ];
    fake.state.add_spreadsheet(Spreadsheet {
        id: "1FairLeads_x-9".into(),
        sheets: vec![
            Sheet {
                title: "Notes".into(),
                rows: vec![vec![json!("not the contacts")]],
            },
            Sheet {
                title: "Fair leads".into(),
                rows: contacts,
            },
        ],
        anyone_with_link: false,
        shared_with: vec![ACCOUNT.into()],
        editors: vec![],
    });
    fake
}

/// An app that reads Google Sheets as a service account, through `fake`.
async fn app_with_service_account(
    db: Db,
    fake: &RunningFake<FakeSheets>,
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("service-account.json");
    let key = fake
        .state
        .create_service_account(ACCOUNT, &format!("{}/token", fake.base_url));
    std::fs::write(&key_file, key).unwrap();
    let base = fake.base_url.parse().unwrap();
    let app = TestApp::start_on(db, move |s| {
        s.dialer.enabled = false;
        s.google.service_account_key_file = Some(key_file);
        s.google.sheets_api_base_url = base;
    })
    .await;
    (app, dir)
}

async fn import_sheet(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let resp = app
        .req(Method::POST, "/api/v1/contacts/import/sheets", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

async fn sheets_import_maps_and_reports_like_csv(db: Db) {
    let fake = sheets_fake().await;
    let (app, _dir) = app_with_service_account(db, &fake).await;
    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Fair"})),
        )
        .await;
    let campaign_id = campaign["id"].as_i64().unwrap();
    let request = json!({
        "spreadsheet": "https://docs.google.com/spreadsheets/d/1FairLeads_x-9/edit#gid=7",
        "range": "'Fair leads'!A3:D",
        "campaign_id": campaign_id,
    });
    let (status, report) = import_sheet(&app, &app.operator_key, request.clone()).await;
    assert_eq!(status, 200, "{report}");
    let import = &report["import"];
    assert_eq!(import["state"], "completed");
    assert_eq!(import["source"], "sheets");
    assert_eq!(
        (import["created"].as_i64(), import["duplicates"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(import["rows_total"], 4, "the blank row is not a row");
    // Problems carry the row numbers the spreadsheet shows.
    let expected: BTreeMap<i64, String> = [(7, "invalid_phone"), (8, "duplicate")]
        .into_iter()
        .map(|(l, r)| (l, r.to_string()))
        .collect();
    assert_eq!(problems(&report), expected);

    let (_, list) = app
        .call(Method::GET, "/api/v1/contacts?tag=fair", None)
        .await;
    let items = list["items"].as_array().unwrap();
    let mut phones: Vec<&str> = items.iter().map(|c| c["phone"].as_str().unwrap()).collect();
    phones.sort();
    assert_eq!(phones, ["+14155550111", "+14155550112"]);
    let ann = items.iter().find(|c| c["phone"] == "+14155550111").unwrap();
    assert_eq!(ann["custom_fields"]["booth"], "B12");
    let (_, campaign) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{campaign_id}"),
            None,
        )
        .await;
    assert_eq!(campaign["progress"]["total"], 2, "both enrolled");

    // Importing again updates the same contacts, with the token Google issued first.
    let (status, report) = import_sheet(&app, &app.operator_key, request).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["import"]["updated"].as_i64(), Some(2));
    assert_eq!(fake.state.token_requests(), 1);

    // A viewer may read contacts but not import them.
    let (status, body) = import_sheet(
        &app,
        &app.viewer_key,
        json!({"spreadsheet": "1FairLeads_x-9"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn sheets_import_maps_and_reports_like_csv_on_sqlite() {
    sheets_import_maps_and_reports_like_csv(Db::Sqlite).await;
}

#[tokio::test]
async fn sheets_import_maps_and_reports_like_csv_on_postgres() {
    sheets_import_maps_and_reports_like_csv(Db::Postgres).await;
}

#[tokio::test]
async fn sheets_import_errors_name_the_field_and_import_nothing() {
    let fake = sheets_fake().await;
    fake.state.add_spreadsheet(Spreadsheet {
        id: "not-shared".into(),
        sheets: vec![Sheet {
            title: "Sheet1".into(),
            rows: vec![vec![json!("phone")], vec![json!("+14155550199")]],
        }],
        anyone_with_link: false,
        shared_with: vec![],
        editors: vec![],
    });
    let (app, _dir) = app_with_service_account(Db::Sqlite, &fake).await;
    let cases = [
        (
            json!({"spreadsheet": "no/such id"}),
            422,
            "spreadsheet",
            "id or its docs.google.com URL",
        ),
        (
            json!({"spreadsheet": "missing-sheet"}),
            422,
            "spreadsheet",
            "no spreadsheet",
        ),
        (
            json!({"spreadsheet": "not-shared"}),
            422,
            "spreadsheet",
            ACCOUNT,
        ),
        (
            json!({"spreadsheet": "1FairLeads_x-9", "range": "Nope!A1:B"}),
            422,
            "range",
            "Unable to parse range",
        ),
        (
            // The whole sheet: its first row is a title, not the header.
            json!({"spreadsheet": "1FairLeads_x-9", "range": "'Fair leads'"}),
            422,
            "range",
            "not a usable header",
        ),
        (
            json!({"spreadsheet": "1FairLeads_x-9", "default_region": "Atlantis"}),
            422,
            "default_region",
            "",
        ),
    ];
    for (body, status, field, says) in cases {
        let (got, answer) = import_sheet(&app, &app.operator_key, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(error_code(&answer), "validation_failed", "{answer}");
        let named = answer["error"]["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == field && f["message"].as_str().unwrap().contains(says));
        assert!(named, "{body}: {answer}");
    }
    let (status, answer) = import_sheet(
        &app,
        &app.operator_key,
        json!({"spreadsheet": "x", "sheet": 1}),
    )
    .await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "bad_request"),
        "an unknown field cannot be read: {answer}"
    );
    let (status, answer) = import_sheet(
        &app,
        &app.operator_key,
        json!({"spreadsheet": "1FairLeads_x-9", "campaign_id": 404}),
    )
    .await;
    assert_eq!(
        (status, error_code(&answer)),
        (404, "not_found"),
        "{answer}"
    );

    // Google down: a gateway error, not the user's fault.
    fake.stop().await;
    let (status, answer) = import_sheet(
        &app,
        &app.operator_key,
        json!({"spreadsheet": "1FairLeads_x-9"}),
    )
    .await;
    assert_eq!((status, error_code(&answer)), (502, "upstream"), "{answer}");
    assert!(!answer.to_string().contains("BEGIN PRIVATE KEY"));

    let (_, list) = app.call(Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing imported"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_sandbox_serves_a_spreadsheet_of_its_simulated_callees() {
    let app = TestApp::start().await;
    let (status, report) = import_sheet(
        &app,
        &app.operator_key,
        json!({"spreadsheet": SANDBOX_SPREADSHEET_ID}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let callees = parley_sim::personas::PERSONAS.len() as i64;
    assert_eq!(report["import"]["created"].as_i64(), Some(callees));
    let reasons: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["invalid_phone"]);
    // With the written consent a new campaign requires, from the sheet's row.
    let (_, list) = app
        .call(Method::GET, "/api/v1/contacts?tag=sheets&limit=1", None)
        .await;
    let consent = &list["items"][0]["consent"];
    assert_eq!(consent["consent_type"], "express_written", "{list}");
    assert_eq!(consent["source"]["kind"], "sheet");
    assert!(
        consent["source"]["detail"]
            .as_str()
            .unwrap()
            .contains(" row "),
        "{consent}"
    );
    app.stop().await;
}
