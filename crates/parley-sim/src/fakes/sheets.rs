//! A fake of Google Sheets API v4 `spreadsheets.values.get`
//! (`GET /v4/spreadsheets/{id}/values/{range}`) and of Google's OAuth2 token endpoint for
//! service accounts (`POST /token` with a JWT-bearer assertion). A spreadsheet is read with
//! an API key (`?key=` or `X-Goog-Api-Key`) when it is shared as "anyone with the link", or with an access token
//! of a service account it is shared with. Assertions are verified as Google does: RS256
//! against the account's public key, audience, issuer, scope and a lifetime of at most an
//! hour. Errors use Google's JSON error body.
use super::{serve, RunningFake};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SHEETS_READONLY_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
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
#[derive(Debug, Clone)]
pub struct Spreadsheet {
    pub id: String,
    pub sheets: Vec<Sheet>,
    /// Shared as "anyone with the link can view": readable with an API key.
    pub anyone_with_link: bool,
    /// Service-account emails it is shared with.
    pub shared_with: Vec<String>,
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
            shared_with: Vec::new(),
        }
    }
}

/// The spreadsheet the sandbox serves: one contact per simulated callee with the written
/// consent a new campaign requires, the header Parley's import maps, and one row with a
/// number that cannot be dialled, so the per-row report has something to show.
pub const SANDBOX_SPREADSHEET_ID: &str = "parley-sandbox-contacts";

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
    Spreadsheet::public(SANDBOX_SPREADSHEET_ID, rows)
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
    /// Access token → (service account, expiry).
    tokens: HashMap<String, (String, Instant)>,
    token_requests: u64,
    value_requests: u64,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/v4/spreadsheets/{id}/values/{range}", get(values))
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

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    assertion: Option<String>,
}

#[derive(Deserialize)]
struct Assertion {
    iss: String,
    scope: Option<String>,
    iat: u64,
    exp: u64,
}

/// The token endpoint's OAuth2 error body.
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn token(State(fake): State<FakeSheets>, Form(form): Form<TokenRequest>) -> Response {
    fake.lock().token_requests += 1;
    if form.grant_type.as_deref() != Some(JWT_BEARER) {
        return oauth_error("unsupported_grant_type", "Invalid grant_type: ");
    }
    let Some(assertion) = form.assertion else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    // The issuer picks the key, so read it before the signature is checked.
    let issuer = jsonwebtoken::dangerous::insecure_decode::<Assertion>(&assertion)
        .map(|data| data.claims.iss)
        .ok();
    let account = issuer
        .as_ref()
        .and_then(|iss| fake.lock().accounts.get(iss).cloned());
    let (Some(issuer), Some(account)) = (issuer, account) else {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&account.token_uri]);
    validation.set_issuer(&[&issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<Assertion>(
        &assertion,
        &account.public_key,
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(e) => {
            let description = match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "Invalid JWT Signature.",
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => "Invalid JWT: Failed audience check.",
                _ => "Invalid JWT.",
            };
            return oauth_error("invalid_grant", description);
        }
    };
    if claims.exp.saturating_sub(claims.iat) > 3600 {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    let scopes = claims.scope.unwrap_or_default();
    if !scopes
        .split(' ')
        .any(|s| s == SHEETS_READONLY_SCOPE || s == "https://www.googleapis.com/auth/spreadsheets")
    {
        return oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let access_token = format!("ya29.{}", uuid::Uuid::new_v4().simple());
    let ttl = fake.config.token_ttl;
    {
        let mut inner = fake.lock();
        let now = Instant::now();
        inner.tokens.retain(|_, (_, expiry)| *expiry > now);
        inner
            .tokens
            .insert(access_token.clone(), (issuer, now + ttl));
    }
    Json(json!({"access_token": access_token, "expires_in": ttl.as_secs(), "token_type": "Bearer"}))
        .into_response()
}

/// Google's JSON error body.
fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValuesQuery {
    key: Option<String>,
    major_dimension: Option<String>,
    value_render_option: Option<String>,
}

/// Who is asking: the API key's anonymous reader or a service account.
enum Reader {
    Anyone,
    Account(String),
}

async fn values(
    State(fake): State<FakeSheets>,
    Path((id, range)): Path<(String, String)>,
    Query(query): Query<ValuesQuery>,
    headers: HeaderMap,
) -> Response {
    fake.lock().value_requests += 1;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Google takes an API key as `?key=` or in the `X-Goog-Api-Key` header.
    let api_key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or(query.key.as_deref());
    let reader = match (bearer, api_key) {
        (Some(token), _) => {
            let inner = fake.lock();
            match inner.tokens.get(token) {
                Some((account, expiry)) if *expiry > Instant::now() => {
                    Reader::Account(account.clone())
                }
                _ => {
                    return google_error(
                        StatusCode::UNAUTHORIZED,
                        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                    )
                }
            }
        }
        (None, Some(key)) if key == fake.config.api_key => Reader::Anyone,
        (None, Some(_)) => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "API key not valid. Please pass a valid API key.",
            )
        }
        (None, None) => {
            return google_error(
                StatusCode::FORBIDDEN,
                "The request is missing a valid API key.",
            )
        }
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
    let unformatted = match query.value_render_option.as_deref() {
        None | Some("FORMATTED_VALUE") => false,
        Some("UNFORMATTED_VALUE" | "FORMULA") => true,
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
    let allowed = spreadsheet.anyone_with_link
        || matches!(&reader, Reader::Account(a) if spreadsheet.shared_with.contains(a));
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
                .map(|cell| render(cell, unformatted))
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

/// A cell as `FORMATTED_VALUE` (text, numbers as a plain "Automatic" format shows them)
/// or `UNFORMATTED_VALUE` (numbers and booleans as JSON).
fn render(cell: &Value, unformatted: bool) -> Value {
    match cell {
        Value::Null => Value::String(String::new()),
        Value::Bool(b) if !unformatted => Value::String(b.to_string().to_uppercase()),
        Value::Number(n) if !unformatted => Value::String(n.to_string()),
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

/// A range in A1 notation, resolved against the spreadsheet: 1-based, inclusive.
#[derive(Debug, PartialEq)]
struct A1Range {
    sheet: usize,
    cols: (u32, u32),
    rows: (u32, u32),
}

impl A1Range {
    /// `Sheet1`, `'My list'!A2:D`, `A:C`, `B3`, `2:10`; without a sheet name, the first
    /// sheet. Bounds beyond the grid are clipped to it.
    fn parse(range: &str, sheets: &[Sheet]) -> Option<A1Range> {
        // A sheet name may be quoted ('Bob''s list'), with or without cells after it.
        let find = |name: &str| {
            let title = match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
                Some(quoted) => quoted.replace("''", "'"),
                None => name.to_owned(),
            };
            sheets.iter().position(|s| s.title == title)
        };
        let (sheet, cells) = match range.rsplit_once('!') {
            Some((name, cells)) => (find(name)?, Some(cells)),
            None => match find(range) {
                Some(sheet) => (sheet, None),
                None => (0, Some(range)),
            },
        };
        let data = &sheets.get(sheet)?.rows;
        let grid_cols = DEFAULT_GRID
            .0
            .max(data.iter().map(Vec::len).max().unwrap_or(0) as u32);
        let grid_rows = DEFAULT_GRID.1.max(data.len() as u32);
        let (start, end) = match cells {
            None => ((Some(1), Some(1)), (Some(grid_cols), Some(grid_rows))),
            Some(cells) => {
                let (a, b) = cells.split_once(':').unwrap_or((cells, cells));
                (cell_ref(a)?, cell_ref(b)?)
            }
        };
        let cols = (
            start.0.unwrap_or(1),
            end.0.unwrap_or(grid_cols).min(grid_cols),
        );
        let rows = (
            start.1.unwrap_or(1),
            end.1.unwrap_or(grid_rows).min(grid_rows),
        );
        (cols.0 <= cols.1 && rows.0 <= rows.1).then_some(A1Range { sheet, cols, rows })
    }

    fn to_string(&self, title: &str) -> String {
        let simple = title.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let title = if simple {
            title.to_owned()
        } else {
            format!("'{}'", title.replace('\'', "''"))
        };
        format!(
            "{title}!{}{}:{}{}",
            column_name(self.cols.0),
            self.rows.0,
            column_name(self.cols.1),
            self.rows.1
        )
    }
}

/// `B12` → (2, 12); `B` → (2, none); `12` → (none, 12).
fn cell_ref(s: &str) -> Option<(Option<u32>, Option<u32>)> {
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() && digits.is_empty() {
        return None;
    }
    let col = if letters.is_empty() {
        None
    } else {
        let mut n: u32 = 0;
        for c in letters.chars() {
            if !c.is_ascii_alphabetic() {
                return None;
            }
            n = n.checked_mul(26)? + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1);
        }
        Some(n)
    };
    let row = if digits.is_empty() {
        None
    } else {
        Some(digits.parse::<u32>().ok().filter(|&r| r > 0)?)
    };
    Some((col, row))
}

fn column_name(mut n: u32) -> String {
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheets() -> Vec<Sheet> {
        vec![
            Sheet {
                title: "Sheet1".into(),
                rows: vec![],
            },
            Sheet {
                title: "Bob's list".into(),
                rows: vec![],
            },
        ]
    }

    #[test]
    fn a1_ranges_resolve_as_google_reads_them() {
        let s = sheets();
        let r = |range: &str| A1Range::parse(range, &s);
        let range = |sheet, cols, rows| Some(A1Range { sheet, cols, rows });
        assert_eq!(r("Sheet1"), range(0, (1, 26), (1, 1000)));
        assert_eq!(r("'Bob''s list'"), range(1, (1, 26), (1, 1000)));
        assert_eq!(r("'Bob''s list'!A2:D"), range(1, (1, 4), (2, 1000)));
        assert_eq!(r("B3"), range(0, (2, 2), (3, 3)));
        assert_eq!(r("A:C"), range(0, (1, 3), (1, 1000)));
        assert_eq!(r("2:10"), range(0, (1, 26), (2, 10)));
        assert_eq!(r("Nope!A1"), None);
        assert_eq!(r("A0"), None);
        assert_eq!(r("C1:A1"), None);
        assert_eq!(
            range(1, (1, 28), (2, 9)).unwrap().to_string("Bob's list"),
            "'Bob''s list'!A2:AB9"
        );
    }

    #[test]
    fn columns_are_named_in_base_26_without_zero() {
        assert_eq!(column_name(1), "A");
        assert_eq!(column_name(26), "Z");
        assert_eq!(column_name(27), "AA");
        assert_eq!(column_name(702), "ZZ");
        assert_eq!(cell_ref("ZZ"), Some((Some(702), None)));
    }
}
