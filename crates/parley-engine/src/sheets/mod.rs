//! Reading a range of a Google spreadsheet for contact import: Sheets API v4
//! `spreadsheets.values.get`, authenticated with a service account (a JWT signed with its
//! key, exchanged for an access token that is cached) or, for spreadsheets shared as
//! "anyone with the link", an API key. Writing results back ([`write`]) needs the service
//! account and the read-write scope: Google accepts no API key for writes.
use crate::import::Table;
use crate::oauth::{CachedToken, TokenResponse};
use crate::settings::GoogleSettings;
use futures::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod write;
pub use write::{column_name, CellWrite, WriteError};

/// The first sheet's columns A to ZZ, every row: A1 notation without a sheet name means
/// the first sheet.
pub const FIRST_SHEET: &str = "A:ZZ";
pub const READONLY_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";
/// Reading and writing spreadsheets: asked for only when writing results back.
pub const WRITE_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions that live at most an hour.
const ASSERTION_LIFETIME: u64 = 3600;

/// Why Sheets cannot be used at all, whatever the spreadsheet.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SheetsConfigError {
    #[error("Google Sheets import is not configured: set google.service_account_key_file or google.api_key")]
    NotConfigured,
    #[error("the service account key file {path} is not usable: {reason}")]
    KeyFile { path: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SheetsError {
    #[error(transparent)]
    Config(#[from] SheetsConfigError),
    #[error("no spreadsheet has this id")]
    NotFound,
    #[error("{}", not_shared(.service_account.as_deref()))]
    NotShared { service_account: Option<String> },
    #[error("Google cannot read this range: {0}")]
    BadRange(String),
    #[error("Google refused Parley's credentials: {0}")]
    Credentials(String),
    #[error("Google Sheets answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("Google Sheets could not be reached: {0}")]
    Unreachable(reqwest::Error),
    #[error("the range holds more than {0} MiB")]
    TooLarge(u64),
}

impl From<reqwest::Error> for SheetsError {
    /// Without the URL, which holds the spreadsheet id and range.
    fn from(e: reqwest::Error) -> Self {
        SheetsError::Unreachable(e.without_url())
    }
}

fn not_shared(service_account: Option<&str>) -> String {
    match service_account {
        Some(email) => format!("the spreadsheet is not shared with {email}; share it with that address as a viewer"),
        None => "the spreadsheet is not shared as \"anyone with the link\"; share it so, or configure a service account".into(),
    }
}

/// A service account's JSON key file, as the Google Cloud console downloads it.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: SecretString,
    private_key_id: Option<String>,
    token_uri: String,
}

struct ServiceAccount {
    email: String,
    key_id: Option<String>,
    key: EncodingKey,
    token_uri: String,
    token: CachedToken,
    /// A token of [`WRITE_SCOPE`], kept apart: an import never asks for more than reading.
    write_token: CachedToken,
}

impl ServiceAccount {
    fn read(path: &Path) -> Result<ServiceAccount, SheetsConfigError> {
        let unusable = |reason: String| SheetsConfigError::KeyFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unusable(e.to_string()))?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| unusable(format!("not a service account key: {e}")))?;
        let key = EncodingKey::from_rsa_pem(file.private_key.expose_secret().as_bytes())
            .map_err(|_| unusable("private_key is not an RSA key in PEM".into()))?;
        Ok(ServiceAccount {
            email: file.client_email,
            key_id: file.private_key_id,
            key,
            token_uri: file.token_uri,
            token: CachedToken::default(),
            write_token: CachedToken::default(),
        })
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

enum Auth {
    ServiceAccount(Box<ServiceAccount>),
    ApiKey(SecretString),
}

pub struct SheetsClient {
    http: reqwest::Client,
    base: url::Url,
    auth: Auth,
}

/// Shows where and as whom, never a key.
impl std::fmt::Debug for SheetsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetsClient")
            .field("base", &self.base.as_str())
            .field("service_account", &self.service_account())
            .finish_non_exhaustive()
    }
}

/// The Sheets client, or why there is none.
pub struct Sheets(Result<SheetsClient, SheetsConfigError>);

impl Sheets {
    /// A service account is preferred when both are configured: it can also read
    /// spreadsheets that are not public.
    pub fn from_settings(settings: &GoogleSettings) -> Sheets {
        let auth = match (&settings.service_account_key_file, &settings.api_key) {
            (Some(path), _) => {
                ServiceAccount::read(path).map(|a| Auth::ServiceAccount(Box::new(a)))
            }
            (None, Some(key)) => Ok(Auth::ApiKey(key.clone())),
            (None, None) => Err(SheetsConfigError::NotConfigured),
        };
        Sheets(auth.map(|auth| {
            SheetsClient {
                http: reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap_or_default(),
                base: settings.sheets_api_base_url.clone(),
                auth,
            }
        }))
    }

    pub fn client(&self) -> Result<&SheetsClient, SheetsConfigError> {
        self.0.as_ref().map_err(Clone::clone)
    }

    /// Checks a key file when settings are loaded, so a bad one stops Parley at start.
    pub fn check_key_file(path: &Path) -> Result<(), SheetsConfigError> {
        ServiceAccount::read(path).map(drop)
    }
}

#[derive(Deserialize)]
struct ValueRange {
    range: String,
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct GoogleErrorBody {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    message: String,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

impl SheetsClient {
    /// The service account's email, for telling users whom to share a spreadsheet with.
    pub fn service_account(&self) -> Option<&str> {
        match &self.auth {
            Auth::ServiceAccount(account) => Some(&account.email),
            Auth::ApiKey(_) => None,
        }
    }

    /// The cells of `range` (A1 notation, e.g. `Contacts!A1:H` or `Sheet1`) as text, as
    /// the spreadsheet shows them, numbered as it numbers its rows, with the title of the
    /// sheet they are on. Fails with [`SheetsError::TooLarge`] past `max_bytes`.
    pub async fn values(
        &self,
        spreadsheet_id: &str,
        range: &str,
        max_bytes: u64,
    ) -> Result<SheetValues, SheetsError> {
        let mut response = self.get_values(spreadsheet_id, range).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            if let Auth::ServiceAccount(account) = &self.auth {
                // Revoked before it expired: one more try with a new token.
                account.token.forget().await;
                response = self.get_values(spreadsheet_id, range).await?;
            }
        }
        let status = response.status();
        let body = read_limited(response, max_bytes).await?;
        if !status.is_success() {
            return Err(self.error(status.as_u16(), &body));
        }
        // Up to `max_bytes` of JSON is seconds of CPU: parse it off the async workers,
        // which also carry live audio bridges.
        let status = status.as_u16();
        tokio::task::spawn_blocking(move || parse_table(status, &body))
            .await
            .map_err(|e| SheetsError::Upstream {
                status,
                message: format!("parsing the answer stopped: {e}"),
            })?
    }

    async fn get_values(
        &self,
        spreadsheet_id: &str,
        range: &str,
    ) -> Result<reqwest::Response, SheetsError> {
        let mut url = self.url(&["v4", "spreadsheets", spreadsheet_id, "values", range])?;
        url.query_pairs_mut()
            .append_pair("majorDimension", "ROWS")
            .append_pair("valueRenderOption", "FORMATTED_VALUE");
        let request = match &self.auth {
            // In a header rather than `?key=`, so no URL Parley logs carries it.
            Auth::ApiKey(key) => self
                .http
                .get(url)
                .header("x-goog-api-key", key.expose_secret()),
            Auth::ServiceAccount(account) => {
                let token = account
                    .token
                    .get_or_fetch(|| self.fetch_token(account, READONLY_SCOPE))
                    .await?;
                self.http.get(url).bearer_auth(token.expose_secret())
            }
        };
        Ok(request.send().await?)
    }

    /// Exchanges a freshly signed assertion for an access token.
    async fn fetch_token(
        &self,
        account: &ServiceAccount,
        scope: &str,
    ) -> Result<TokenResponse, SheetsError> {
        let iat = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Assertion {
            iss: &account.email,
            scope,
            aud: &account.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = account.key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &account.key)
            .map_err(|e| SheetsError::Credentials(format!("cannot sign the assertion: {e}")))?;
        let response = self
            .http
            .post(&account.token_uri)
            .form(&[("grant_type", JWT_BEARER), ("assertion", &assertion)])
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let reason = serde_json::from_slice::<OAuthError>(&body).map_or_else(
                |_| String::from_utf8_lossy(&body).into_owned(),
                |e| e.error_description.unwrap_or(e.error),
            );
            return Err(SheetsError::Credentials(format!(
                "the token endpoint answered {status}: {reason}"
            )));
        }
        Ok(response.json().await?)
    }

    fn error(&self, status: u16, body: &[u8]) -> SheetsError {
        let message = serde_json::from_slice::<GoogleErrorBody>(body).map_or_else(
            |_| String::from_utf8_lossy(body).chars().take(300).collect(),
            |b| b.error.message,
        );
        match status {
            404 => SheetsError::NotFound,
            403 if message.contains("API key") => SheetsError::Credentials(message),
            403 => SheetsError::NotShared {
                service_account: self.service_account().map(str::to_owned),
            },
            401 => SheetsError::Credentials(message),
            400 if message.contains("API key") => SheetsError::Credentials(message),
            400 => SheetsError::BadRange(message),
            _ => SheetsError::Upstream { status, message },
        }
    }
}

/// A range's cells and the sheet they are on.
#[derive(Debug, PartialEq)]
pub struct SheetValues {
    /// The sheet's (tab's) title, as Google names it in the returned range.
    pub sheet: String,
    pub table: Table,
}

/// A `values` answer as a table of cell texts.
fn parse_table(status: u16, body: &[u8]) -> Result<SheetValues, SheetsError> {
    let values: ValueRange = serde_json::from_slice(body).map_err(|e| SheetsError::Upstream {
        status,
        message: format!("unreadable answer: {e}"),
    })?;
    Ok(SheetValues {
        sheet: sheet_title(&values.range),
        table: Table {
            first_line: first_row(&values.range),
            rows: values
                .values
                .into_iter()
                .map(|row| row.iter().map(cell_text).collect())
                .collect(),
        },
    })
}

/// The sheet a returned range is on: `'Bob''s list'!A1:C3` → `Bob's list`.
fn sheet_title(range: &str) -> String {
    let name = range.rsplit_once('!').map_or(range, |(name, _)| name);
    match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
        Some(quoted) => quoted.replace("''", "'"),
        None => name.to_owned(),
    }
}

/// A sheet's title in A1 notation, always quoted (any title may be).
pub fn quoted_sheet(title: &str) -> String {
    format!("'{}'", title.replace('\'', "''"))
}

async fn read_limited(response: reqwest::Response, max_bytes: u64) -> Result<Vec<u8>, SheetsError> {
    let limit_mb = max_bytes / (1024 * 1024);
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(SheetsError::TooLarge(limit_mb));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(SheetsError::TooLarge(limit_mb));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The row a returned range starts at: `Sheet1!A2:D10` → 2; `Sheet1!A:D` → 1.
fn first_row(range: &str) -> i64 {
    let cells = range.rsplit_once('!').map_or(range, |(_, cells)| cells);
    let start = cells.split(':').next().unwrap_or_default();
    start
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(1)
}

/// A cell as text. Formatted values are strings already; numbers and booleans are
/// accepted too, whole numbers without a decimal point (a phone typed as a number).
fn cell_text(cell: &Value) -> String {
    match cell {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string().to_uppercase(),
        other => other.to_string(),
    }
}

/// The spreadsheet id in what a user pasted: the id itself or the spreadsheet's URL
/// (`https://docs.google.com/spreadsheets/d/{id}/edit#gid=0`).
pub fn spreadsheet_id(input: &str) -> Option<&str> {
    let input = input.trim();
    let id = match input.split_once("/spreadsheets/d/") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or_default(),
        None => input,
    };
    let valid = !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_is_found_in_a_pasted_url_or_taken_as_is() {
        let id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";
        assert_eq!(spreadsheet_id(id), Some(id));
        assert_eq!(
            spreadsheet_id(&format!(
                " https://docs.google.com/spreadsheets/d/{id}/edit#gid=0 "
            )),
            Some(id)
        );
        assert_eq!(
            spreadsheet_id(&format!("https://docs.google.com/spreadsheets/d/{id}")),
            Some(id)
        );
        assert_eq!(spreadsheet_id(""), None);
        assert_eq!(spreadsheet_id("../admin"), None);
        assert_eq!(
            spreadsheet_id("https://docs.google.com/spreadsheets/d/"),
            None
        );
    }

    #[test]
    fn rows_are_numbered_from_where_the_returned_range_starts() {
        assert_eq!(first_row("Sheet1!A2:D10"), 2);
        assert_eq!(first_row("'My list'!B17:C"), 17);
        assert_eq!(first_row("Sheet1!A:D"), 1);
        assert_eq!(first_row("A5"), 5);
    }

    #[test]
    fn the_sheet_is_named_by_the_returned_range() {
        assert_eq!(sheet_title("Sheet1!A1:ZZ1000"), "Sheet1");
        assert_eq!(sheet_title("'Bob''s list'!B17:C"), "Bob's list");
        assert_eq!(quoted_sheet("Bob's list"), "'Bob''s list'");
    }

    #[test]
    fn cells_read_as_the_text_a_csv_export_holds() {
        assert_eq!(cell_text(&json!("+1 415 555 0100")), "+1 415 555 0100");
        assert_eq!(cell_text(&json!(14155550100.0)), "14155550100");
        assert_eq!(cell_text(&json!(14155550100u64)), "14155550100");
        assert_eq!(cell_text(&json!(2.5)), "2.5");
        assert_eq!(cell_text(&json!(true)), "TRUE");
        assert_eq!(cell_text(&Value::Null), "");
    }
}
