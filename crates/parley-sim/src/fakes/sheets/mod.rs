//! A fake of Google Sheets API v4 `spreadsheets.values.get` and `values.batchUpdate`
//! ([`values`]) and of Google's OAuth2 token endpoint for service accounts ([`auth`]). A
//! spreadsheet is read with an API key (`?key=` or `X-Goog-Api-Key`) when it is shared as
//! "anyone with the link", or with an access token of a service account it is shared
//! with; it is written only with an access token of the read-write scope, by an account it
//! is shared with as an editor. Errors use Google's JSON error body. Written cells are
//! kept and served back, so what Parley writes can be read as Google would show it.
use super::{serve, RunningFake};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod a1;
mod auth;
mod values;

pub const SHEETS_READONLY_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";
/// Reading and writing.
pub const SHEETS_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
/// How a cell entered as a formula (`USER_ENTERED`, starting with `=`) is kept:
/// `{"formula": "=..."}`.
pub const FORMULA_KEY: &str = "formula";
/// Columns and rows of a new Google sheet's grid.
const DEFAULT_GRID: (u32, u32) = (26, 1000);

#[derive(Debug, Clone)]
pub struct FakeSheetsConfig {
    /// The one API key that is valid.
    pub api_key: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
}

impl Default for FakeSheetsConfig {
    fn default() -> Self {
        FakeSheetsConfig {
            api_key: "AIzaSy-sandbox-sheets-key".into(),
            token_ttl: Duration::from_secs(3599),
        }
    }
}

/// A sheet (tab): its title and its cells, row by row, as JSON strings or numbers.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub rows: Vec<Vec<Value>>,
}

/// A spreadsheet and who may read it.
#[derive(Debug, Clone, Default)]
pub struct Spreadsheet {
    pub id: String,
    pub sheets: Vec<Sheet>,
    /// Shared as "anyone with the link can view": readable with an API key.
    pub anyone_with_link: bool,
    /// Service-account emails it is shared with as viewers.
    pub shared_with: Vec<String>,
    /// Service-account emails it is shared with as editors (who may also read).
    pub editors: Vec<String>,
}

impl Spreadsheet {
    /// A spreadsheet of one sheet named `Sheet1`, readable by anyone with the link.
    pub fn public(id: &str, rows: Vec<Vec<Value>>) -> Spreadsheet {
        Spreadsheet {
            id: id.into(),
            sheets: vec![Sheet {
                title: "Sheet1".into(),
                rows,
            }],
            anyone_with_link: true,
            ..Spreadsheet::default()
        }
    }

    fn may_read(&self, account: &str) -> bool {
        self.shared_with
            .iter()
            .chain(&self.editors)
            .any(|a| a == account)
    }

    fn may_edit(&self, account: &str) -> bool {
        self.editors.iter().any(|a| a == account)
    }

    /// The cells of the sheet titled `title`, as stored, row by row.
    pub fn cells(&self, title: &str) -> Option<&[Vec<Value>]> {
        self.sheets
            .iter()
            .find(|s| s.title == title)
            .map(|s| s.rows.as_slice())
    }
}

/// One `values:batchUpdate` the fake applied, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchUpdateRecord {
    pub spreadsheet_id: String,
    pub value_input_option: String,
    /// The ranges written, as Google names them in its answer.
    pub ranges: Vec<String>,
}

/// The spreadsheet the sandbox serves: one contact per simulated callee with the written
/// consent a new campaign requires, the header Parley's import maps, and one row with a
/// number that cannot be dialled, so the per-row report has something to show.
pub const SANDBOX_SPREADSHEET_ID: &str = "parley-sandbox-contacts";
/// The service account the sandbox reads and writes its spreadsheet as (an editor of it).
pub const SANDBOX_SERVICE_ACCOUNT: &str = "parley-sandbox@parley-sandbox.iam.gserviceaccount.com";

pub fn sandbox_spreadsheet() -> Spreadsheet {
    let header = [
        "phone",
        "first_name",
        "last_name",
        "email",
        "timezone",
        "tags",
        "consent_type",
        "consent_at",
        "consent_url",
    ];
    let mut rows: Vec<Vec<Value>> = vec![header.iter().map(|h| json!(h)).collect()];
    for persona in crate::personas::PERSONAS.iter() {
        rows.push(vec![
            json!(persona.number),
            json!("Sandbox"),
            json!(persona.name),
            json!(format!("{}@sandbox.example", persona.name)),
            json!("America/New_York"),
            json!("sandbox, sheets"),
            json!("express_written"),
            json!("2026-01-15"),
            json!("https://sandbox.example/consent-form"),
        ]);
    }
    rows.push(vec![json!("555-CALL-NOW"), json!("Not"), json!("Dialable")]);
    Spreadsheet {
        editors: vec![SANDBOX_SERVICE_ACCOUNT.into()],
        ..Spreadsheet::public(SANDBOX_SPREADSHEET_ID, rows)
    }
}

/// A service account the fake knows, and the key file Google would have issued for it.
#[derive(Clone)]
struct Account {
    public_key: DecodingKey,
    token_uri: String,
}

#[derive(Default)]
struct Inner {
    spreadsheets: HashMap<String, Spreadsheet>,
    accounts: HashMap<String, Account>,
    tokens: HashMap<String, auth::Token>,
    token_requests: u64,
    value_requests: u64,
    write_requests: u64,
    batch_updates: Vec<BatchUpdateRecord>,
    /// The next this many writes are refused with 429, as a used-up quota is.
    quota_failures: u32,
}

#[derive(Clone)]
pub struct FakeSheets {
    config: Arc<FakeSheetsConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSheets {
    pub fn new(config: FakeSheetsConfig) -> Self {
        FakeSheets {
            config: Arc::new(config),
            inner: Arc::default(),
        }
    }

    pub fn config(&self) -> &FakeSheetsConfig {
        &self.config
    }

    pub fn add_spreadsheet(&self, spreadsheet: Spreadsheet) {
        self.lock()
            .spreadsheets
            .insert(spreadsheet.id.clone(), spreadsheet);
    }

    /// Creates a service account with a fresh RSA key and returns its JSON key file, as
    /// the Google Cloud console downloads it. `token_uri` is this fake's `/token` URL.
    pub fn create_service_account(&self, client_email: &str, token_uri: &str) -> String {
        let private =
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("generate an RSA key");
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encode a private key");
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("encode a public key");
        let public_key =
            DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("read back a public key");
        self.lock().accounts.insert(
            client_email.to_owned(),
            Account {
                public_key,
                token_uri: token_uri.to_owned(),
            },
        );
        let key_id = uuid::Uuid::new_v4().simple().to_string();
        json!({
            "type": "service_account",
            "project_id": "parley-sandbox",
            "private_key_id": key_id,
            "private_key": private_pem.as_str(),
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
        .to_string()
    }

    /// Invalidates every issued access token, as revoking a key does.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    pub fn value_requests(&self) -> u64 {
        self.lock().value_requests
    }

    /// `values:batchUpdate` requests received, refused ones included.
    pub fn write_requests(&self) -> u64 {
        self.lock().write_requests
    }

    /// The `values:batchUpdate` requests applied, oldest first.
    pub fn batch_updates(&self) -> Vec<BatchUpdateRecord> {
        self.lock().batch_updates.clone()
    }

    /// Refuses the next `n` writes with 429 `RESOURCE_EXHAUSTED`, as Google does once the
    /// per-minute write quota is used up.
    pub fn exhaust_write_quota(&self, n: u32) {
        self.lock().quota_failures = n;
    }

    fn take_quota_failure(&self) -> bool {
        let mut inner = self.lock();
        let refuse = inner.quota_failures > 0;
        inner.quota_failures = inner.quota_failures.saturating_sub(1);
        refuse
    }

    /// A spreadsheet as it is now, written cells included.
    pub fn spreadsheet(&self, id: &str) -> Option<Spreadsheet> {
        self.lock().spreadsheets.get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(auth::token))
            .route("/v4/spreadsheets/{id}/values/{range}", get(values::values))
            .route(
                "/v4/spreadsheets/{id}/values:batchUpdate",
                post(values::batch_update),
            )
            .with_state(self.clone())
    }

    pub async fn spawn(
        config: FakeSheetsConfig,
        addr: SocketAddr,
    ) -> std::io::Result<RunningFake<FakeSheets>> {
        let fake = FakeSheets::new(config);
        serve("sheets", fake.router(), fake.clone(), addr).await
    }
}

/// Google's JSON error body.
fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, Json(body)).into_response()
}
