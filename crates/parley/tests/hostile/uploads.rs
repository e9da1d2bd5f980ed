//! Crafted contact files (the inputs of parley-server's `import_bounds` tests): each is
//! refused with the standard error naming its bound (README, "Imports"), and nothing of
//! them is stored.
use crate::node::{assert_error, read, Node};
use crate::Tally;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::Value;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

/// Each file is sent this many times at once: more than the two workbooks a node reads
/// at a time.
const COPIES: usize = 3;

pub struct Files {
    far: Vec<u8>,
    bomb: Vec<u8>,
    cut: Vec<u8>,
    long_line: Vec<u8>,
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

/// The workbook plus 300 MiB of zeros in one more file: a few hundred KiB packed.
fn zip_bomb() -> Vec<u8> {
    let book = workbook(|_| {});
    let mut source = zip::ZipArchive::new(Cursor::new(&book[..])).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..source.len() {
        out.raw_copy_file(source.by_index_raw(i).unwrap()).unwrap();
    }
    out.start_file("xl/media/zeros.bin", SimpleFileOptions::default())
        .unwrap();
    let block = vec![0u8; 1024 * 1024];
    for _ in 0..300 {
        out.write_all(&block).unwrap();
    }
    out.finish().unwrap().into_inner()
}

impl Files {
    /// Built before the attack (compressing the bomb takes a while).
    pub fn build() -> Files {
        let mut cut = workbook(|_| {});
        cut.truncate(cut.len() / 2);
        // Just past the 64 KiB line bound, not import_bounds' 10 MiB: the node answers
        // 413 as soon as the line is past, and with megabytes still in flight it then
        // closes with a reset that the client sometimes gets before the answer (about one
        // upload in 200 here). That is the connection layer's to fix (a lingering close);
        // this suite checks the bound.
        let mut long_line = b"phone,tags\n+14155550101,hostile\n+14155550102,".to_vec();
        long_line.extend(std::iter::repeat_n(b'x', 65 * 1024));
        long_line.extend(b"\n+14155550103,hostile\n");
        Files {
            // Declares A1:XFD1048576: 17 billion cells for a dense range, in under 10 KB.
            far: workbook(|sheet| {
                sheet.write_string(1_048_575, 16_383, "far").unwrap();
            }),
            bomb: zip_bomb(),
            cut,
            long_line,
        }
    }

    pub fn sizes(&self) -> String {
        format!(
            "far.xlsx {} B, bomb.xlsx {} B (300 MiB unpacked), long.csv {} B",
            self.far.len(),
            self.bomb.len(),
            self.long_line.len()
        )
    }
}

async fn upload(node: &Node, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = Part::bytes(bytes).file_name(name.to_owned());
    let resp = node
        .http
        .post(node.url("/api/v1/contacts/import"))
        .bearer_auth(&node.operator)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}: no answer: {e:?}"));
    read(resp).await
}

/// A 413 naming `setting` in the message and in `details`.
fn refused_by(name: &str, status: u16, body: &Value, setting: &str) {
    assert_error(name, status, body, (413, "payload_too_large"));
    assert_eq!(
        body["error"]["details"]["setting"], setting,
        "{name}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(setting), "{name}: {message}");
}

pub async fn attack(node: &Node, files: &Files) -> Tally {
    let mut tally = Tally::default();
    let mut sent = Vec::new();
    for _ in 0..COPIES {
        sent.push(("far.xlsx", files.far.clone()));
        sent.push(("bomb.xlsx", files.bomb.clone()));
        sent.push(("cut.xlsx", files.cut.clone()));
        sent.push(("long.csv", files.long_line.clone()));
    }
    let answers = futures::future::join_all(
        sent.into_iter()
            .map(|(name, bytes)| async move { (name, upload(node, name, bytes).await) }),
    )
    .await;
    for (name, (status, body)) in answers {
        let answer = match name {
            "far.xlsx" => {
                refused_by(name, status, &body, "import.xlsx.max_columns");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.contains("XFD1048576"), "{message}");
                "413 payload_too_large import.xlsx.max_columns"
            }
            "bomb.xlsx" => {
                refused_by(name, status, &body, "import.xlsx.max_entry_mb");
                "413 payload_too_large import.xlsx.max_entry_mb"
            }
            "long.csv" => {
                refused_by(name, status, &body, "import.max_line_kb");
                assert_eq!(body["error"]["details"]["import"]["state"], "failed");
                "413 payload_too_large import.max_line_kb"
            }
            _ => {
                assert_error(name, status, &body, (422, "validation_failed"));
                "422 validation_failed (broken workbook)"
            }
        };
        tally.add(answer);
    }
    let (status, list) = node
        .api(&node.operator, Method::GET, "/contacts?tag=hostile", None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "nothing of a refused file is stored: {list}"
    );
    tally
}
