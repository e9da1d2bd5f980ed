//! Contact import from XLSX uploads and Google Sheets: the same mapping and report as CSV.
use crate::harness::{error_code, read, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::Value;
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
