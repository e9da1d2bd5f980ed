//! Sign-in, sign-out and "who am I".
use super::client_address::{limiter_key, ClientAddresses};
use super::{secrets, Credential, Principal, SESSION_COOKIE};
use crate::error::extract::Json;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_domain::time::now_millis;
use parley_domain::Role;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use utoipa::ToSchema;

/// Limits sign-in attempts per email, and (more loosely, since offices share addresses)
/// per client address: neither many guesses at one account nor one address trying many
/// accounts get far. Behind a load balancer the client address comes from
/// `X-Forwarded-For`, believed only from `http.trusted_proxies`.
pub struct SignInLimiter {
    by_email: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<String>,
    pub(crate) clients: ClientAddresses,
}

/// Longest email accepted (RFC 5321's limit on a forward path), checked before the email
/// becomes a limiter key or reaches the database.
pub const MAX_EMAIL_CHARS: usize = 254;

/// How many more attempts one address gets than one email.
const ADDRESS_FACTOR: u32 = 5;

impl SignInLimiter {
    pub fn per_minute(n: u32, clients: ClientAddresses) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"));
        SignInLimiter {
            by_email: RateLimiter::keyed(quota(n)),
            by_address: RateLimiter::keyed(quota(n.saturating_mul(ADDRESS_FACTOR))),
            clients,
        }
    }

    /// From `auth.sign_in_attempts_per_minute` and `http.trusted_proxies`. Proxies that do
    /// not parse (settings built without validation) are ignored: the peer is then the
    /// client, which never lets a forged header through.
    pub fn from_settings(settings: &parley_engine::settings::Settings) -> Self {
        let trusted = settings.http.trusted_proxy_networks().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "http.trusted_proxies ignored");
            Vec::new()
        });
        Self::per_minute(
            settings.auth.sign_in_attempts_per_minute,
            ClientAddresses::new(trusted),
        )
    }

    pub(crate) fn check(&self, ip: &str, email: &str) -> ApiResult<()> {
        for (limiter, key) in [(&self.by_address, ip), (&self.by_email, email)] {
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                let mut e = ApiError::new(
                    ErrorCode::RateLimited,
                    "too many sign-in attempts; wait a minute and try again",
                );
                e.retry_after = Some(wait.as_secs().max(1));
                return Err(e);
            }
        }
        Ok(())
    }
}

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub role: Role,
    /// Send as `X-CSRF-Token` with every state-changing request made with the session
    /// cookie. Absent for API keys, which need none.
    pub csrf_token: Option<String>,
}

/// Signs in with email and password; sets an HttpOnly session cookie.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth", request_body = SignInRequest, security(()),
    responses((status = 200, body = Me), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SignInRequest>,
) -> ApiResult<impl IntoResponse> {
    let email = req.email.trim();
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::field(
            "email",
            format!("must be at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let email = email.to_lowercase();
    let limiter = &state.sign_in_limiter;
    let client = limiter_key(limiter.clients.client_ip(peer.ip(), &headers));
    limiter.check(&client, &email)?;
    let user = state.store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .map_or(secrets::dummy_hash(), |u| u.password_hash.as_str())
        .to_string();
    let valid = secrets::verify_sign_in(req.password, hash)
        .await
        .map_err(hashing_error)?;
    let user = match user {
        Some(u) if valid && !u.disabled => u,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "that email and password do not match an account",
            ))
        }
    };
    let token = secrets::random_token();
    let csrf = secrets::random_token();
    let ttl_ms = i64::from(state.settings.auth.session_ttl_hours) * 3_600_000;
    state
        .store
        .create_session(
            &secrets::sha256_hex(&token),
            user.id,
            &csrf,
            now_millis() + ttl_ms,
        )
        .await?;
    let secure = state.settings.public_base_url().scheme() == "https";
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/")
        .build();
    tracing::info!(user_id = user.id, "signed in");
    let me = Me {
        user_id: Some(user.id),
        email: Some(user.email),
        role: user.role,
        csrf_token: Some(csrf),
    };
    Ok((jar.add(cookie), axum::Json(me)))
}

/// A busy hasher is a rate limit (come back shortly); anything else is internal.
pub(crate) fn hashing_error(e: secrets::HashingError) -> ApiError {
    match e {
        secrets::HashingError::Busy => {
            let mut e = ApiError::new(
                ErrorCode::RateLimited,
                "too many sign-ins are being checked right now; try again in a moment",
            );
            e.retry_after = Some(1);
            e
        }
        other => ApiError::internal(other),
    }
}

/// Ends the current session (API keys have nothing to end).
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    jar: CookieJar,
) -> ApiResult<impl IntoResponse> {
    if let Credential::Session { token_hash, .. } = &principal.credential {
        state.store.delete_session(token_hash).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT))
}

/// The caller's identity and role.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(Extension(principal): Extension<Principal>) -> ApiResult<axum::Json<Me>> {
    let email = match principal.user_id {
        Some(_) => principal.actor.strip_prefix("user:").map(str::to_string),
        None => None,
    };
    Ok(axum::Json(Me {
        user_id: principal.user_id,
        email,
        role: principal.role,
        csrf_token: match principal.credential {
            Credential::Session { csrf_token, .. } => Some(csrf_token),
            Credential::ApiKey { .. } => None,
        },
    }))
}
