//! Google's side of authentication: the OAuth2 token endpoint for service accounts
//! (`POST /token` with a JWT-bearer assertion, verified as Google does: RS256 against the
//! account's public key, audience, issuer, scope and a lifetime of at most an hour), and
//! who a Sheets request comes from (an access token's account and scopes, or an API key).
use super::{FakeSheets, SHEETS_READONLY_SCOPE, SHEETS_SCOPE};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An issued access token.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub account: String,
    pub scopes: Vec<String>,
    pub expiry: Instant,
}

/// Who is asking: the API key's anonymous reader or a service account, with the scopes
/// its token was granted.
pub(super) enum Caller {
    Anyone,
    Account { email: String, scopes: Vec<String> },
}

impl Caller {
    /// Whether the token may change spreadsheets (the read-only scope may not).
    pub fn may_write(&self) -> bool {
        match self {
            Caller::Anyone => false,
            Caller::Account { scopes, .. } => scopes.iter().any(|s| s == SHEETS_SCOPE),
        }
    }

    pub fn email(&self) -> Option<&str> {
        match self {
            Caller::Anyone => None,
            Caller::Account { email, .. } => Some(email),
        }
    }
}

/// The caller of a Sheets request, from its bearer token, else its API key (`?key=` or
/// the `X-Goog-Api-Key` header, as Google takes it); or the status and message of
/// Google's error.
pub(super) fn caller(
    fake: &FakeSheets,
    headers: &HeaderMap,
    key_param: Option<&str>,
) -> Result<Caller, (StatusCode, &'static str)> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let api_key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or(key_param);
    match (bearer, api_key) {
        (Some(token), _) => match fake.lock().tokens.get(token) {
            Some(t) if t.expiry > Instant::now() => Ok(Caller::Account {
                email: t.account.clone(),
                scopes: t.scopes.clone(),
            }),
            _ => Err((StatusCode::UNAUTHORIZED, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")),
        },
        (None, Some(key)) if key == fake.config.api_key => Ok(Caller::Anyone),
        (None, Some(_)) => Err((StatusCode::BAD_REQUEST, "API key not valid. Please pass a valid API key.")),
        (None, None) => Err((StatusCode::FORBIDDEN, "The request is missing a valid API key.")),
    }
}

#[derive(Deserialize)]
pub(super) struct TokenRequest {
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

pub(super) async fn token(
    State(fake): State<FakeSheets>,
    Form(form): Form<TokenRequest>,
) -> Response {
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
    let scopes: Vec<String> = claims
        .scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes
        .iter()
        .any(|s| s == SHEETS_READONLY_SCOPE || s == SHEETS_SCOPE)
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
        inner.tokens.retain(|_, token| token.expiry > now);
        inner.tokens.insert(
            access_token.clone(),
            Token {
                account: issuer,
                scopes,
                expiry: now + ttl,
            },
        );
    }
    Json(json!({"access_token": access_token, "expires_in": ttl.as_secs(), "token_type": "Bearer"}))
        .into_response()
}
