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

/// Reads one HTTP/1.1 response with a `Content-Length` body: its status and body.
async fn read_response(tcp: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, Value) {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Duration::from_secs(20);
    loop {
        let n = tokio::time::timeout(deadline, tcp.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("the response arrives, not a reset");
        assert!(n > 0, "the connection closed before a whole response");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        let Some(split) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..split].to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a Content-Length");
        let body = &seen[split + 4..];
        if body.len() >= length {
            let status = text[9..12].parse().unwrap();
            return (status, serde_json::from_slice(&body[..length]).unwrap());
        }
    }
}

/// An upload refused part-way (a line over the limit, 4 MiB into the file) is read to
/// its end in the background, so the client's whole upload is taken, its 413 arrives
/// intact, and the connection serves the next request instead of being reset.
#[tokio::test]
async fn a_refused_upload_is_drained_so_its_413_arrives_and_the_connection_lives_on() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start().await;
    let boundary = "parley-drain-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nphone\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'9', 4 * 1024 * 1024));
    body.extend(format!("\n\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /api/v1/contacts/import HTTP/1.1\r\nHost: parley\r\n\
         Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        app.operator_key,
        body.len()
    );
    let tcp = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&body).await?;
        Ok::<_, std::io::Error>(writer)
    });
    let (status, answer) = read_response(&mut reader).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(error_code(&answer), "payload_too_large");
    let writer = sending
        .await
        .unwrap()
        .expect("the whole upload is taken, not cut off by a reset");
    let mut tcp = reader.reunite(writer).unwrap();
    assert!(
        crate::connections::healthz(&mut tcp).await,
        "the same connection serves the next request"
    );
}
