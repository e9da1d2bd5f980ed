//! Writing results back: a sheet's header row read with `values.get`, and cells written
//! with `spreadsheets.values.batchUpdate` (`POST /v4/spreadsheets/{id}/values:batchUpdate`)
//! with `valueInputOption=RAW`, so text a callee said is stored as text, never run as a
//! formula. Writing needs the service account and [`WRITE_SCOPE`]; Google takes no API
//! key for a write, so an API key alone is a configuration error, found before any request.
use super::{quoted_sheet, read_limited, Auth, GoogleErrorBody, SheetsClient, SheetsError};
use super::{ServiceAccount, WRITE_SCOPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// A header row or an error body is small; more than this is not an answer to us.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// One cell to write: its A1 address on a sheet (`'Sheet1'!C5`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellWrite {
    pub range: String,
    pub value: String,
}

impl CellWrite {
    /// The cell at `column` (1-based) and `row` of `sheet`.
    pub fn at(sheet: &str, column: u32, row: i64, value: String) -> CellWrite {
        CellWrite {
            range: format!("{}!{}{row}", quoted_sheet(sheet), column_name(column)),
            value,
        }
    }
}

/// Why cells were not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Parley cannot write as it is configured: fix the settings (nothing in the sheet).
    #[error("Google Sheets write-back is misconfigured: {0}")]
    Configuration(String),
    /// Google refused for good: the spreadsheet, its sharing or the cells need a change.
    #[error("{0}")]
    Refused(String),
    /// Worth trying again later: the quota (429), Google's own trouble (5xx), the network.
    #[error("{message}")]
    Transient {
        message: String,
        /// How long Google asked to wait, when it said.
        retry_after: Option<Duration>,
    },
}

impl WriteError {
    pub fn transient(message: impl Into<String>) -> WriteError {
        WriteError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }
}

#[derive(Deserialize)]
struct HeaderRange {
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

impl SheetsClient {
    /// Whether this client may write at all (a service account is configured).
    pub fn can_write(&self) -> Result<(), WriteError> {
        match &self.auth {
            Auth::ServiceAccount(_) => Ok(()),
            Auth::ApiKey(_) => Err(WriteError::Configuration(
                "an API key can only read; Google accepts no API key for writes. Set \
                 google.service_account_key_file and share the spreadsheet with the service \
                 account as Editor"
                    .into(),
            )),
        }
    }

    /// The cells of row `row` of `sheet`, as text; trailing empty cells left out.
    pub async fn header_row(
        &self,
        spreadsheet_id: &str,
        sheet: &str,
        row: i64,
    ) -> Result<Vec<String>, WriteError> {
        let range = format!("{}!{row}:{row}", quoted_sheet(sheet));
        let url = self
            .url(&["v4", "spreadsheets", spreadsheet_id, "values", &range])
            .map_err(|e| WriteError::Configuration(e.to_string()))?;
        let body = self
            .send_authorized(|http, token| {
                http.get(url.clone())
                    .query(&[
                        ("majorDimension", "ROWS"),
                        ("valueRenderOption", "FORMATTED_VALUE"),
                    ])
                    .bearer_auth(token.expose_secret())
            })
            .await?;
        let header: HeaderRange = serde_json::from_slice(&body)
            .map_err(|e| WriteError::transient(format!("unreadable answer: {e}")))?;
        Ok(header
            .values
            .into_iter()
            .next()
            .unwrap_or_default()
            .iter()
            .map(super::cell_text)
            .collect())
    }

    /// Writes `cells` in one `values:batchUpdate` request, as raw text.
    pub async fn batch_update(
        &self,
        spreadsheet_id: &str,
        cells: &[CellWrite],
    ) -> Result<(), WriteError> {
        let url = self
            .url(&["v4", "spreadsheets", spreadsheet_id, "values:batchUpdate"])
            .map_err(|e| WriteError::Configuration(e.to_string()))?;
        let body = json!({
            "valueInputOption": "RAW",
            "includeValuesInResponse": false,
            "data": cells
                .iter()
                .map(|c| json!({"range": c.range, "majorDimension": "ROWS", "values": [[c.value]]}))
                .collect::<Vec<_>>(),
        });
        self.send_authorized(|http, token| {
            http.post(url.clone())
                .json(&body)
                .bearer_auth(token.expose_secret())
        })
        .await
        .map(drop)
    }

    /// `base` with `segments` appended.
    pub(super) fn url(&self, segments: &[&str]) -> Result<url::Url, SheetsError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| SheetsError::Upstream {
                status: 0,
                message: "google.sheets_api_base_url cannot take a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends a request with a write-scoped token (a new one once, if Google no longer
    /// takes the cached one) and returns the body of a success.
    async fn send_authorized(
        &self,
        request: impl Fn(&reqwest::Client, &SecretString) -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, WriteError> {
        self.can_write()?;
        let Auth::ServiceAccount(account) = &self.auth else {
            unreachable!("can_write checked the service account");
        };
        let mut response = self.send_once(account, &request).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            account.write_token.forget().await;
            response = self.send_once(account, &request).await?;
        }
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| WriteError::transient(e.to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.write_error(status.as_u16(), &body, retry_after))
    }

    async fn send_once(
        &self,
        account: &ServiceAccount,
        request: &impl Fn(&reqwest::Client, &SecretString) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, WriteError> {
        let token = account
            .write_token
            .get_or_fetch(|| self.fetch_token(account, WRITE_SCOPE))
            .await
            .map_err(|e| match e {
                SheetsError::Unreachable(e) => WriteError::transient(format!(
                    "Google's token endpoint could not be reached: {e}"
                )),
                other => WriteError::Configuration(other.to_string()),
            })?;
        request(&self.http, &token).send().await.map_err(|e| {
            WriteError::transient(format!(
                "Google Sheets could not be reached: {}",
                e.without_url()
            ))
        })
    }

    fn write_error(&self, status: u16, body: &[u8], retry_after: Option<Duration>) -> WriteError {
        let message = serde_json::from_slice::<GoogleErrorBody>(body).map_or_else(
            |_| String::from_utf8_lossy(body).chars().take(300).collect(),
            |b| b.error.message,
        );
        let email = self.service_account().unwrap_or("the service account");
        match status {
            401 => WriteError::Configuration(format!("Google refused the credentials: {message}")),
            403 if message.contains("scope") => WriteError::Configuration(format!(
                "the access token lacks the {WRITE_SCOPE} scope ({message})"
            )),
            403 => WriteError::Refused(format!(
                "the spreadsheet is not shared with {email} as an editor; share it with that \
                 address as Editor ({message})"
            )),
            404 => WriteError::Refused(
                "Google has no spreadsheet with this id (was it deleted?)".into(),
            ),
            429 => WriteError::Transient {
                message: format!("Google's write quota is used up for now: {message}"),
                retry_after,
            },
            400 => WriteError::Refused(format!("Google refused the cells: {message}")),
            _ if status >= 500 => WriteError::Transient {
                message: format!("Google Sheets answered {status}: {message}"),
                retry_after,
            },
            _ => WriteError::Refused(format!("Google Sheets answered {status}: {message}")),
        }
    }
}

/// Column 1 is `A`, 27 is `AA`.
pub fn column_name(mut n: u32) -> String {
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_addressed_in_a1_notation_on_a_quoted_sheet() {
        assert_eq!(column_name(1), "A");
        assert_eq!(column_name(26), "Z");
        assert_eq!(column_name(27), "AA");
        assert_eq!(column_name(702), "ZZ");
        assert_eq!(
            CellWrite::at("Bob's list", 28, 7, "x".into()).range,
            "'Bob''s list'!AB7"
        );
    }
}
