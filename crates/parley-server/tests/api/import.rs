//! CSV import as a new user would try it: 10,000 rows, about 5% bad.
use crate::harness::{error_code, Db, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the generated file should produce.
struct Expected {
    good: usize,
    problems: BTreeMap<i64, &'static str>,
}

/// 10,000 data rows; every 20th is bad in one of three ways, rotating.
fn generate(rows: usize) -> (String, Expected) {
    let mut csv = String::from("phone,first_name,last_name,email,tags,plan\n");
    let mut problems = BTreeMap::new();
    let mut good = 0;
    for i in 0..rows {
        let line = i as i64 + 2;
        let phone = format!("+1415{:07}", 1_000_000 + i);
        if i % 20 == 19 {
            match (i / 20) % 3 {
                0 => {
                    csv.push_str(&format!("call me maybe,Bad{i},Row,,,\n"));
                    problems.insert(line, "invalid_phone");
                }
                1 => {
                    csv.push_str(&format!(",Missing{i},Phone,,,\n"));
                    problems.insert(line, "missing_phone");
                }
                _ => {
                    // Repeats the phone of the row just before: merged, reported.
                    let prev = format!("+1415{:07}", 1_000_000 + i - 1);
                    csv.push_str(&format!("{prev},Dup{i},Row,,extra,\n"));
                    problems.insert(line, "duplicate");
                }
            }
        } else {
            good += 1;
            csv.push_str(&format!(
                "{phone},First{i},\"Last, {i}\",p{i}@example.com,wave1;csv,basic\n"
            ));
        }
    }
    (csv, Expected { good, problems })
}

async fn upload(app: &TestApp, csv: String, query: &str) -> (u16, Value) {
    let part = Part::text(csv)
        .file_name("contacts.csv")
        .mime_str("text/csv")
        .unwrap();
    upload_part(app, part, query).await
}

async fn upload_part(app: &TestApp, file: Part, query: &str) -> (u16, Value) {
    let form = Form::new().part("file", file);
    let resp = app
        .req(
            Method::POST,
            &format!("/api/v1/contacts/import{query}"),
            &app.operator_key,
        )
        .multipart(form)
        .send()
        .await
        .unwrap();
    crate::harness::read(resp).await
}

async fn ten_thousand_rows(db: Db) {
    let app = TestApp::start_on(db, |_| {}).await;
    let (csv, expected) = generate(10_000);
    let (status, report) = upload(&app, csv, "").await;
    assert_eq!(status, 200, "{report}");
    let import = &report["import"];
    assert_eq!(import["state"], "completed");
    assert_eq!(import["rows_total"], 10_000);
    assert_eq!(import["created"].as_u64().unwrap() as usize, expected.good);
    let dups = expected
        .problems
        .values()
        .filter(|r| **r == "duplicate")
        .count();
    assert_eq!(import["duplicates"].as_u64().unwrap() as usize, dups);
    assert_eq!(
        import["rejected"].as_u64().unwrap() as usize,
        expected.problems.len() - dups
    );

    // Every bad row is reported with its line and reason, in line order.
    let id = import["id"].as_i64().unwrap();
    let mut reported = BTreeMap::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .call(
                Method::GET,
                &format!("/api/v1/imports/{id}/errors?after_line={after}&limit=200"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        for e in page["items"].as_array().unwrap() {
            reported.insert(
                e["line"].as_i64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            );
        }
        match page["next_after_line"].as_i64() {
            Some(l) => after = l,
            None => break,
        }
    }
    let expected_problems: BTreeMap<i64, String> = expected
        .problems
        .iter()
        .map(|(l, r)| (*l, r.to_string()))
        .collect();
    assert_eq!(reported, expected_problems);
    assert_eq!(
        report["errors"].as_array().unwrap().len(),
        expected.problems.len()
    );

    // Every good row is stored, with quoted commas intact and tags applied.
    let (_, tags) = app.call(Method::GET, "/api/v1/tags", None).await;
    let wave1 = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "wave1")
        .unwrap();
    assert_eq!(wave1["contacts"].as_u64().unwrap() as usize, expected.good);
    let (_, one) = app
        .call(Method::GET, "/api/v1/contacts?q=p10%40example.com", None)
        .await;
    assert_eq!(one["items"][0]["last_name"], "Last, 10");
    assert_eq!(one["items"][0]["custom_fields"]["plan"], "basic");
    let (_, merged) = app
        .call(Method::GET, "/api/v1/contacts?q=%2B14151000058", None)
        .await;
    assert_eq!(
        merged["items"][0]["first_name"], "First58",
        "a duplicate row never renames the contact"
    );
    assert_eq!(
        merged["items"][0]["tags"],
        serde_json::json!(["csv", "extra", "wave1"]),
        "its tags are added"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_email_or_time_zone_is_left_out_and_the_contact_kept() {
    let app = TestApp::start().await;
    let csv = "phone,first_name,email,timezone,tags\n\
               4155550001,Ann,not-an-email,Mars/Base,vip;<b>\n\
               4155550002,Bob,bob@example.com,America/Chicago,\n"
        .to_string();
    let (status, report) = upload(&app, csv, "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["import"]["created"], 2, "{report}");
    assert_eq!(report["import"]["rejected"], 0, "{report}");
    let problem = &report["errors"][0];
    assert_eq!(problem["line"], 2);
    assert_eq!(problem["reason"], "field_left_out");
    let message = problem["message"].as_str().unwrap();
    for said in ["`not-an-email` is not an email address", "Mars/Base", "<b>"] {
        assert!(message.contains(said), "{message}");
    }
    let (_, ann) = app.call(Method::GET, "/api/v1/contacts?q=Ann", None).await;
    let ann = &ann["items"][0];
    assert_eq!(ann["first_name"], "Ann");
    assert_eq!(
        (ann["email"].clone(), ann["timezone"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(ann["tags"], serde_json::json!(["vip"]));
    app.stop().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_table_is_named_and_nothing_is_imported() {
    let app = TestApp::start().await;
    for (bytes, name, said) in [
        (
            &b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj"[..],
            "contacts.csv",
            "a PDF document",
        ),
        (
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
            "contacts.csv",
            "a PNG image",
        ),
        (
            &b"\xD0\xCF\x11\xE0\xA1\xB1\x1a\xE1"[..],
            "contacts.xlsx",
            "old Excel (.xls)",
        ),
    ] {
        let part = Part::bytes(bytes.to_vec()).file_name(name);
        let (status, body) = upload_part(&app, part, "").await;
        assert_eq!(
            (status, error_code(&body)),
            (422, "validation_failed"),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(said) && message.contains("not a CSV or XLSX file"),
            "{message}"
        );
    }
    let (status, _) = app.call(Method::GET, "/api/v1/imports/1", None).await;
    assert_eq!(status, 404, "no import was started");
    app.stop().await;
}

#[tokio::test]
async fn ten_thousand_rows_with_five_percent_bad_on_sqlite() {
    ten_thousand_rows(Db::Sqlite).await;
}

#[tokio::test]
async fn ten_thousand_rows_with_five_percent_bad_on_postgres() {
    ten_thousand_rows(Db::Postgres).await;
}

#[tokio::test]
async fn a_file_without_a_phone_column_is_refused_and_changes_nothing() {
    let app = TestApp::start().await;
    let (status, body) = upload(&app, "name,email\nAnn,a@example.com\n".into(), "").await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    assert!(body["error"]["message"].as_str().unwrap().contains("phone"));
    let (_, list) = app.call(Method::GET, "/api/v1/contacts", None).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let no_file = app
        .req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
        .multipart(Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), 400);
    // A multipart content type without its boundary: the API's JSON error, not plain text.
    let (status, body) = crate::harness::read(
        app.req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
            .header("content-type", "multipart/form-data")
            .body("phone\n+14155550100\n")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"));
    app.stop().await;
}

#[tokio::test]
async fn uploads_over_the_limit_get_413() {
    let app = TestApp::start_on(Db::Sqlite, |s| s.import.max_upload_mb = 1).await;
    let (csv, _) = generate(40_000);
    assert!(csv.len() > 1024 * 1024);
    let (status, body) = upload(&app, csv, "").await;
    assert_eq!((status, error_code(&body)), (413, "payload_too_large"));
    let (_, list) = app.call(Method::GET, "/api/v1/contacts", None).await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "a refused upload stores nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn import_into_a_campaign_enrols_the_contacts() {
    let app = TestApp::start().await;
    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(serde_json::json!({"name": "imported"})),
        )
        .await;
    let id = campaign["id"].as_i64().unwrap();
    let (status, report) = upload(
        &app,
        "phone\n4155550001\n4155550002\n".into(),
        &format!("?campaign_id={id}"),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["progress"]["total"], 2);
    let (status, _) = upload(&app, "phone\n4155550003\n".into(), "?campaign_id=999").await;
    assert_eq!(status, 404);
    let (status, _) = upload(&app, "phone\n4155550003\n".into(), "?default_region=ZZ").await;
    assert_eq!(status, 422);
    app.stop().await;
}

/// The import as soon as `until` holds for it (or as it is after 10 s): read again on
/// each change to an import record, never on a timer.
async fn import_when(app: &TestApp, id: i64, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut changes = parley_engine::import::changes();
    loop {
        // Seen before the read: a change made after it wakes the wait below.
        changes.borrow_and_update();
        let (_, import) = app
            .call(Method::GET, &format!("/api/v1/imports/{id}"), None)
            .await;
        if until(&import) {
            return import;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => return import,
        }
    }
}

#[tokio::test]
async fn an_upload_cut_off_midway_is_recorded_as_failed_not_left_running() {
    let app = TestApp::start().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let part = Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("cut.csv");
    let request = app
        .req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
        .multipart(Form::new().part("file", part))
        .send();
    let upload = tokio::spawn(request);
    let (csv, _) = generate(2_000);
    tx.send(Ok(csv.into_bytes())).await.unwrap();
    // Rows are being written: the import is running. Then the client goes away.
    let running = import_when(&app, 1, |i| i["rows_total"].as_i64() > Some(0)).await;
    assert_eq!(running["state"], "running", "{running}");
    upload.abort();
    drop(tx);
    let import = import_when(&app, 1, |i| i["state"] != "running").await;
    assert_eq!(import["state"], "failed", "{import}");
    assert!(
        import["error"].as_str().unwrap().contains("interrupted"),
        "{import}"
    );
    app.stop().await;
}
