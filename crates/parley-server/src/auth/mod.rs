//! Who is calling: a session cookie (people, from the dashboard) or an API key (programs).
//! Every `/api/v1` route passes through [`authenticate`]; writes additionally need a role
//! that may operate, and administration routes need `admin`.
pub mod client_address;
pub mod password;
pub mod routes;
pub mod secrets;

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use parley_domain::time::now_millis;
use parley_domain::Role;

pub const SESSION_COOKIE: &str = "parley_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request proved who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Session {
        token_hash: String,
        csrf_token: String,
    },
    ApiKey {
        id: i64,
        /// Kept to re-check the key for sockets that outlive their handshake.
        key_hash: String,
    },
}

/// The authenticated caller, available to handlers as `Extension<Principal>`.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    /// For the audit log: `user:<email>` or `api_key:<id>`.
    pub actor: String,
    pub user_id: Option<i64>,
    pub credential: Credential,
}

impl Principal {
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.role.can_administer() {
            Ok(())
        } else {
            Err(ApiError::forbidden("this needs the admin role"))
        }
    }
}

/// Authenticates the request or answers 401. Also enforces CSRF protection for
/// state-changing requests made with the session cookie.
pub async fn authenticate(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = match bearer_token(request.headers()) {
        Some(key) => principal_from_api_key(&state, key).await?,
        None => match jar.get(SESSION_COOKIE) {
            Some(cookie) => principal_from_session(&state, cookie.value()).await?,
            None => return Err(ApiError::unauthorized()),
        },
    };
    if let Credential::Session { csrf_token, .. } = &principal.credential {
        if !is_safe_method(request.method()) {
            let sent = request
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !secrets::constant_time_eq(sent, csrf_token) {
                return Err(ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header (get it from GET /api/v1/auth/me)",
                ));
            }
        }
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

/// Lets reads through for every role; anything else needs a role that may operate.
pub async fn require_operator_for_writes(
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !is_safe_method(request.method()) {
        let role = request.extensions().get::<Principal>().map(|p| p.role);
        if !role.is_some_and(Role::can_operate) {
            return Err(ApiError::forbidden(
                "your role may read but not change anything",
            ));
        }
    }
    Ok(next.run(request).await)
}

pub async fn require_admin(request: Request, next: Next) -> Result<Response, ApiError> {
    match request.extensions().get::<Principal>() {
        Some(p) => p.require_admin()?,
        None => return Err(ApiError::unauthorized()),
    }
    Ok(next.run(request).await)
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

const KEY_UNUSABLE: &str = "this API key was revoked or has expired";
const SESSION_ENDED: &str = "your session has ended; sign in again";

/// Why a credential accepted earlier no longer holds (a revoked or expired key; a
/// session signed out, expired, or whose user was disabled), or `None` while it holds.
/// For sockets, which outlive the request that authenticated them.
pub(crate) async fn revoked(
    state: &AppState,
    credential: &Credential,
) -> ApiResult<Option<&'static str>> {
    Ok(match credential {
        Credential::ApiKey { key_hash, .. } => state
            .store
            .api_key_by_hash(key_hash)
            .await?
            .is_none_or(|key| !key.is_usable_at(now_millis()))
            .then_some(KEY_UNUSABLE),
        Credential::Session { token_hash, .. } => state
            .store
            .session(token_hash)
            .await?
            .is_none()
            .then_some(SESSION_ENDED),
    })
}

async fn principal_from_api_key(state: &AppState, key: &str) -> ApiResult<Principal> {
    let hash = secrets::sha256_hex(key);
    let now = now_millis();
    let Some(api_key) = state.store.api_key_by_hash(&hash).await? else {
        return Err(ApiError::unauthorized());
    };
    if !api_key.is_usable_at(now) {
        return Err(ApiError::new(
            crate::error::ErrorCode::Unauthorized,
            KEY_UNUSABLE,
        ));
    }
    // Record use at most once a minute per key: a write per request would be wasteful.
    if api_key.last_used_at.is_none_or(|t| now - t > 60_000) {
        state.store.touch_api_key(api_key.id, now).await?;
    }
    Ok(Principal {
        role: api_key.role,
        actor: format!("api_key:{}", api_key.id),
        user_id: None,
        credential: Credential::ApiKey {
            id: api_key.id,
            key_hash: hash,
        },
    })
}

async fn principal_from_session(state: &AppState, token: &str) -> ApiResult<Principal> {
    let token_hash = secrets::sha256_hex(token);
    let Some(session) = state.store.session(&token_hash).await? else {
        return Err(ApiError::new(
            crate::error::ErrorCode::Unauthorized,
            SESSION_ENDED,
        ));
    };
    Ok(Principal {
        role: session.user.role,
        actor: format!("user:{}", session.user.email),
        user_id: Some(session.user.id),
        credential: Credential::Session {
            token_hash,
            csrf_token: session.csrf_token,
        },
    })
}
