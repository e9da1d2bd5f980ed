//! Hostile imports get the standard error naming the bound they hit, store nothing, and
//! leave the calls on the node alone.
use crate::calls_e2e::{place, sandbox, wait_for};
use crate::harness::{error_code, read, Db, TestApp};
use parley_engine::events::LiveEvent;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

async fn upload(app: &TestApp, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = Part::bytes(bytes).file_name(name.to_owned());
    let resp = app
        .req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// A contact tagged `hostile` under a header, and whatever `extra` writes.
fn workbook(extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, text) in ["phone", "tags"].into_iter().enumerate() {
        sheet.write_string(0, col as u16, text).unwrap();
    }
    sheet.write_string(1, 0, "+14155550199").unwrap();
    sheet.write_string(1, 1, "hostile").unwrap();
    extra(sheet);
    book.save_to_buffer().unwrap()
}

/// The workbook with 300 MiB of zeros streamed into one more file (a few hundred KiB
/// packed; the test never holds the zeros).
fn zip_bomb() -> Vec<u8> {
    let book = workbook(|_| {});
    let mut source = zip::ZipArchive::new(Cursor::new(&book[..])).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..source.len() {
        out.raw_copy_file(source.by_index_raw(i).unwrap()).unwrap();
    }
    let options = SimpleFileOptions::default();
    out.start_file("xl/media/zeros.bin", options).unwrap();
    let block = vec![0u8; 1024 * 1024];
    for _ in 0..300 {
        out.write_all(&block).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Asserts a 413 naming `setting`; returns the message.
fn refused_by(status: u16, body: &Value, setting: &str) -> String {
    assert_eq!(
        (status, error_code(body)),
        (413, "payload_too_large"),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["setting"], setting, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(setting), "{message}");
    message
}

async fn tagged_hostile(app: &TestApp) -> usize {
    let (_, list) = app
        .call(Method::GET, "/api/v1/contacts?tag=hostile", None)
        .await;
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn hostile_workbooks_are_refused_while_a_call_on_the_node_goes_on() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let call = place(&app, json!({"to": "+15550100001"})).await;
    // The call is bridged: the agent is talking.
    wait_for(&mut events, call, |e| {
        matches!(e, LiveEvent::Transcript { .. })
    })
    .await;

    // Declares A1:XFD1048576 (17 billion cells for a dense range) in under 10 KB.
    let far = workbook(|sheet| {
        sheet.write_string(1_048_575, 16_383, "far").unwrap();
    });
    let (status, body) = upload(&app, "far.xlsx", far).await;
    let message = refused_by(status, &body, "import.xlsx.max_columns");
    assert!(message.contains("XFD1048576"), "{message}");
    assert_eq!(body["error"]["details"]["limit"], 200);

    let (status, body) = upload(&app, "bomb.xlsx", zip_bomb()).await;
    let message = refused_by(status, &body, "import.xlsx.max_entry_mb");
    assert!(message.contains("xl/media/zeros.bin"), "{message}");

    // Broken, not too big: 422 on the file.
    let mut cut = workbook(|_| {});
    cut.truncate(cut.len() / 2);
    let (status, body) = upload(&app, "cut.xlsx", cut).await;
    assert_eq!(
        (status, error_code(&body)),
        (422, "validation_failed"),
        "{body}"
    );
    assert_eq!(
        tagged_hostile(&app).await,
        0,
        "nothing of a refused workbook is stored"
    );

    let ended = wait_for(&mut events, call, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, record) = app
        .call(Method::GET, &format!("/api/v1/calls/{call}"), None)
        .await;
    assert_eq!(record["status"], "completed", "{ended:?} {record}");
    assert_eq!(record["termination_source"], "agent", "{record}");
    app.stop().await;
}

async fn a_csv_line_past_the_bound_stops_the_import(db: Db) {
    let app = TestApp::start_on(db, |_| {}).await;
    let mut csv = b"phone,tags\n+14155550101,hostile\n+14155550102,".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    csv.extend(b"\n+14155550103,hostile\n");
    let (status, body) = upload(&app, "long.csv", csv).await;
    let message = refused_by(status, &body, "import.max_line_kb");
    assert_eq!(message, "line 3 is longer than 64 KiB (import.max_line_kb)");
    let import = &body["error"]["details"]["import"];
    assert_eq!(import["state"], "failed", "{body}");
    assert_eq!(import["error"], message.as_str());
    let (_, record) = app
        .call(
            Method::GET,
            &format!("/api/v1/imports/{}", import["id"]),
            None,
        )
        .await;
    assert_eq!(record["state"], "failed");
    // The rows before it had not made a batch yet: none were written.
    assert_eq!(tagged_hostile(&app).await, 0);

    // A line within the bound whose one field is past the field bound.
    let csv = format!("phone,notes\n+14155550104,{}\n", "y".repeat(17 * 1024));
    let (status, body) = upload(&app, "wide.csv", csv.into_bytes()).await;
    let message = refused_by(status, &body, "import.max_field_kb");
    assert!(message.starts_with("line 2 "), "{message}");
    app.stop().await;
}

#[tokio::test]
async fn a_csv_line_past_the_bound_stops_the_import_sqlite() {
    a_csv_line_past_the_bound_stops_the_import(Db::Sqlite).await;
}

#[tokio::test]
async fn a_csv_line_past_the_bound_stops_the_import_postgres() {
    a_csv_line_past_the_bound_stops_the_import(Db::Postgres).await;
}
