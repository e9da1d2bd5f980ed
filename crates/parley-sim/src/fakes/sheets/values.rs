//! `spreadsheets.values.get` (`GET /v4/spreadsheets/{id}/values/{range}`) and
//! `spreadsheets.values.batchUpdate` (`POST /v4/spreadsheets/{id}/values:batchUpdate`),
//! with Google's checks: who may read, who may write (an editor, with a token of the
//! read-write scope; never an API key), ranges in A1 notation within the sheet's grid,
//! and `valueInputOption` (`RAW` stores text as it is; `USER_ENTERED` parses it as if
//! typed: numbers, booleans, formulas).
use super::a1::{grid, A1Range, BeyondGrid};
use super::auth::caller;
use super::{google_error, BatchUpdateRecord, FakeSheets, FORMULA_KEY};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ValuesQuery {
    key: Option<String>,
    major_dimension: Option<String>,
    value_render_option: Option<String>,
}

pub(super) async fn values(
    State(fake): State<FakeSheets>,
    Path((id, range)): Path<(String, String)>,
    Query(query): Query<ValuesQuery>,
    headers: HeaderMap,
) -> Response {
    fake.lock().value_requests += 1;
    let caller = match caller(&fake, &headers, query.key.as_deref()) {
        Ok(caller) => caller,
        Err((status, message)) => return google_error(status, message),
    };
    if query
        .major_dimension
        .as_deref()
        .is_some_and(|d| d != "ROWS" && d != "COLUMNS")
    {
        return google_error(
            StatusCode::BAD_REQUEST,
            "Invalid value at 'major_dimension'",
        );
    }
    let render_option = match query.value_render_option.as_deref() {
        None | Some("FORMATTED_VALUE") => Render::Formatted,
        Some("UNFORMATTED_VALUE") => Render::Unformatted,
        Some("FORMULA") => Render::Formula,
        Some(_) => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "Invalid value at 'value_render_option'",
            )
        }
    };
    let Some(spreadsheet) = fake.lock().spreadsheets.get(&id).cloned() else {
        return google_error(StatusCode::NOT_FOUND, "Requested entity was not found.");
    };
    let allowed =
        spreadsheet.anyone_with_link || caller.email().is_some_and(|a| spreadsheet.may_read(a));
    if !allowed {
        return google_error(StatusCode::FORBIDDEN, "The caller does not have permission");
    }
    let Some(a1) = A1Range::parse(&range, &spreadsheet.sheets) else {
        return google_error(
            StatusCode::BAD_REQUEST,
            &format!("Unable to parse range: {range}"),
        );
    };
    let sheet = &spreadsheet.sheets[a1.sheet];
    let mut rows: Vec<Vec<Value>> = (a1.rows.0..=a1.rows.1)
        .map(|r| {
            let row = sheet
                .rows
                .get(r as usize - 1)
                .map_or(&[][..], Vec::as_slice);
            // Cells past the row's last are empty, and would be left out below.
            let end = (a1.cols.1 as usize).min(row.len());
            let start = (a1.cols.0 as usize - 1).min(end);
            let mut cells: Vec<Value> = row[start..end]
                .iter()
                .map(|cell| render(cell, render_option))
                .collect();
            // Google leaves out trailing empty cells and rows.
            while cells.last().is_some_and(is_empty) {
                cells.pop();
            }
            cells
        })
        .collect();
    while rows.last().is_some_and(Vec::is_empty) {
        rows.pop();
    }
    if query.major_dimension.as_deref() == Some("COLUMNS") {
        rows = transpose(rows);
    }
    let mut body = json!({
        "range": a1.to_string(&sheet.title),
        "majorDimension": query.major_dimension.as_deref().unwrap_or("ROWS"),
    });
    if !rows.is_empty() {
        body["values"] = json!(rows);
    }
    Json(body).into_response()
}

fn is_empty(cell: &Value) -> bool {
    cell.is_null() || cell.as_str() == Some("")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Render {
    Formatted,
    Unformatted,
    Formula,
}

/// A cell as `FORMATTED_VALUE` (text, numbers as a plain "Automatic" format shows them),
/// `UNFORMATTED_VALUE` (numbers and booleans as JSON) or `FORMULA` (a formula's text).
/// The fake computes no formula: its value reads as `#NAME?`.
fn render(cell: &Value, option: Render) -> Value {
    if let Some(formula) = cell.get(FORMULA_KEY) {
        return match option {
            Render::Formula => formula.clone(),
            _ => Value::String("#NAME?".into()),
        };
    }
    match cell {
        Value::Null => Value::String(String::new()),
        Value::Bool(b) if option == Render::Formatted => {
            Value::String(b.to_string().to_uppercase())
        }
        Value::Number(n) if option == Render::Formatted => Value::String(n.to_string()),
        other => other.clone(),
    }
}

fn transpose(rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..width)
        .map(|c| {
            let mut column: Vec<Value> = rows
                .iter()
                .map(|r| r.get(c).cloned().unwrap_or(Value::String(String::new())))
                .collect();
            while column.last().is_some_and(is_empty) {
                column.pop();
            }
            column
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchUpdateRequest {
    value_input_option: Option<String>,
    #[serde(default)]
    data: Vec<ValueRangeIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueRangeIn {
    range: String,
    major_dimension: Option<String>,
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

/// What a cell typed in the sheet's UI becomes (`USER_ENTERED`): a number, a boolean, a
/// formula, or text (a leading apostrophe keeps the rest as text).
fn user_entered(cell: Value) -> Value {
    let Value::String(text) = cell else {
        return cell;
    };
    if let Some(rest) = text.strip_prefix('\'') {
        return Value::String(rest.to_owned());
    }
    if text.starts_with('=') {
        let mut formula = serde_json::Map::new();
        formula.insert(FORMULA_KEY.into(), Value::String(text));
        return Value::Object(formula);
    }
    match text.to_ascii_uppercase().as_str() {
        "TRUE" => return Value::Bool(true),
        "FALSE" => return Value::Bool(false),
        _ => {}
    }
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => json!(n),
        _ => Value::String(text),
    }
}

/// One checked range: where it goes and the cells, rows first.
struct Resolved {
    a1: A1Range,
    rows: Vec<Vec<Value>>,
}

pub(super) async fn batch_update(
    State(fake): State<FakeSheets>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(request): Json<BatchUpdateRequest>,
) -> Response {
    fake.lock().write_requests += 1;
    // Google takes no API key for a write: it asks for a principal.
    let caller = match caller(&fake, &headers, None) {
        Ok(super::auth::Caller::Anyone) => {
            return google_error(
                StatusCode::UNAUTHORIZED,
                "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication",
            )
        }
        Ok(caller) => caller,
        Err((status, message)) => return google_error(status, message),
    };
    if !caller.may_write() {
        return google_error(
            StatusCode::FORBIDDEN,
            "Request had insufficient authentication scopes.",
        );
    }
    if fake.take_quota_failure() {
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'sheets.googleapis.com'.",
        );
    }
    let raw = match request.value_input_option.as_deref() {
        Some("RAW") => true,
        Some("USER_ENTERED") => false,
        None => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "'valueInputOption' is required but not specified",
            )
        }
        Some(_) => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "Invalid value at 'value_input_option'",
            )
        }
    };
    let mut inner = fake.lock();
    let Some(spreadsheet) = inner.spreadsheets.get_mut(&id) else {
        return google_error(StatusCode::NOT_FOUND, "Requested entity was not found.");
    };
    if !caller.email().is_some_and(|a| spreadsheet.may_edit(a)) {
        return google_error(StatusCode::FORBIDDEN, "The caller does not have permission");
    }
    // Every range is checked before any cell changes: a refused request writes nothing.
    let mut resolved = Vec::with_capacity(request.data.len());
    for range in request.data {
        let a1 = match A1Range::resolve(&range.range, &spreadsheet.sheets, false) {
            Ok(a1) => a1,
            Err(Some(BeyondGrid { max_rows, max_cols })) => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                    "Range ({}) exceeds grid limits. Max rows: {max_rows}, max columns: {max_cols}",
                    range.range
                ),
                )
            }
            Err(None) => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Unable to parse range: {}", range.range),
                )
            }
        };
        let rows = match range.major_dimension.as_deref() {
            None | Some("ROWS") => range.values,
            Some("COLUMNS") => transpose(range.values),
            Some(_) => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid value at 'data[0].major_dimension'",
                )
            }
        };
        let height = (a1.rows.1 - a1.rows.0 + 1) as usize;
        let width = (a1.cols.1 - a1.cols.0 + 1) as usize;
        if rows.len() > height || rows.iter().any(|r| r.len() > width) {
            return google_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Requested writing within range [{}], but tried writing more rows or columns than it holds",
                    range.range
                ),
            );
        }
        resolved.push(Resolved { a1, rows });
    }
    let mut responses = Vec::with_capacity(resolved.len());
    let mut cells_total = 0;
    let mut sheets_updated: Vec<usize> = resolved.iter().map(|r| r.a1.sheet).collect();
    sheets_updated.sort_unstable();
    sheets_updated.dedup();
    for Resolved { a1, rows } in resolved {
        let sheet = &mut spreadsheet.sheets[a1.sheet];
        debug_assert!(a1.rows.1 <= grid(sheet).1);
        let mut updated = 0;
        for (i, row) in rows.iter().enumerate() {
            let r = a1.rows.0 as usize - 1 + i;
            if sheet.rows.len() <= r {
                sheet.rows.resize(r + 1, Vec::new());
            }
            for (j, cell) in row.iter().enumerate() {
                let c = a1.cols.0 as usize - 1 + j;
                let target = &mut sheet.rows[r];
                if target.len() <= c {
                    target.resize(c + 1, Value::String(String::new()));
                }
                target[c] = if raw {
                    cell.clone()
                } else {
                    user_entered(cell.clone())
                };
                updated += 1;
            }
        }
        cells_total += updated;
        responses.push(json!({
            "spreadsheetId": id,
            "updatedRange": a1.to_string(&sheet.title),
            "updatedRows": rows.len(),
            "updatedColumns": rows.iter().map(Vec::len).max().unwrap_or(0),
            "updatedCells": updated,
        }));
    }
    inner.batch_updates.push(BatchUpdateRecord {
        spreadsheet_id: id.clone(),
        value_input_option: if raw { "RAW" } else { "USER_ENTERED" }.into(),
        ranges: responses
            .iter()
            .filter_map(|r| r["updatedRange"].as_str().map(str::to_owned))
            .collect(),
    });
    Json(json!({
        "spreadsheetId": id,
        "totalUpdatedCells": cells_total,
        "totalUpdatedSheets": sheets_updated.len(),
        "responses": responses,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::super::auth::Token;
    use super::super::{Sheet, Spreadsheet, SHEETS_READONLY_SCOPE, SHEETS_SCOPE};
    use super::*;
    use std::time::{Duration, Instant};

    const ACCOUNT: &str = "a@p.iam.gserviceaccount.com";

    /// A running fake with one sheet its account may edit, and a token of `scope`.
    async fn fake_with_token(scope: &str) -> (super::super::RunningFake<FakeSheets>, String) {
        let fake = FakeSheets::spawn(Default::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        fake.state.add_spreadsheet(Spreadsheet {
            id: "s".into(),
            sheets: vec![Sheet {
                title: "Sheet1".into(),
                rows: vec![vec![json!("phone")]],
            }],
            editors: vec![ACCOUNT.into()],
            ..Spreadsheet::default()
        });
        fake.state.lock().tokens.insert(
            "t".into(),
            Token {
                account: ACCOUNT.into(),
                scopes: vec![scope.into()],
                expiry: Instant::now() + Duration::from_secs(600),
            },
        );
        (fake, "t".into())
    }

    async fn write(
        base: &str,
        token: &str,
        option: &str,
        range: &str,
        value: &str,
    ) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{base}/v4/spreadsheets/s/values:batchUpdate"))
            .bearer_auth(token)
            .json(&json!({"valueInputOption": option,
                          "data": [{"range": range, "values": [[value]]}]}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    #[tokio::test]
    async fn a_read_only_token_may_not_write() {
        let (fake, token) = fake_with_token(SHEETS_READONLY_SCOPE).await;
        let (status, body) = write(&fake.base_url, &token, "RAW", "Sheet1!B1", "x").await;
        assert_eq!(status, 403);
        assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("insufficient authentication scopes"));
        assert_eq!(fake.state.batch_updates(), vec![]);
        fake.stop().await;
    }

    #[tokio::test]
    async fn raw_keeps_text_user_entered_parses_it_and_the_grid_bounds_writes() {
        let (fake, token) = fake_with_token(SHEETS_SCOPE).await;
        let (status, _) = write(&fake.base_url, &token, "RAW", "Sheet1!B2", "=1+1").await;
        assert_eq!(status, 200);
        let (status, _) = write(
            &fake.base_url,
            &token,
            "USER_ENTERED",
            "'Sheet1'!C2",
            "=1+1",
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = write(&fake.base_url, &token, "USER_ENTERED", "Sheet1!D2", "42").await;
        assert_eq!(status, 200);
        let rows = fake.state.spreadsheet("s").unwrap().sheets[0].rows.clone();
        assert_eq!(rows[1][1], json!("=1+1"), "RAW: text as it was");
        assert_eq!(
            rows[1][2],
            json!({"formula": "=1+1"}),
            "USER_ENTERED: a formula"
        );
        assert_eq!(rows[1][3], json!(42.0));
        assert_eq!(rows[0], vec![json!("phone")], "no other cell");

        let (status, body) = write(&fake.base_url, &token, "RAW", "Sheet1!AA1", "x").await;
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds grid limits"));
        let (status, _) = write(&fake.base_url, &token, "RAW", "Nope!A1", "x").await;
        assert_eq!(status, 400);
        let (status, _) = write(&fake.base_url, &token, "SOMETIMES", "Sheet1!A1", "x").await;
        assert_eq!(status, 400);
        fake.state.exhaust_write_quota(1);
        let (status, body) = write(&fake.base_url, &token, "RAW", "Sheet1!B3", "x").await;
        assert_eq!(
            (status, body["error"]["status"].as_str()),
            (429, Some("RESOURCE_EXHAUSTED"))
        );
        let (status, _) = write(&fake.base_url, &token, "RAW", "Sheet1!B3", "x").await;
        assert_eq!(status, 200, "the quota refills");

        // An API key reads a public sheet but never writes.
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v4/spreadsheets/s/values:batchUpdate",
                fake.base_url
            ))
            .header("x-goog-api-key", fake.state.config().api_key.clone())
            .json(&json!({"valueInputOption": "RAW", "data": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        fake.stop().await;
    }
}
