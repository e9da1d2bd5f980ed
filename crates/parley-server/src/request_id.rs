//! A request id for every HTTP request: in the request's log span, in the `X-Request-Id`
//! response header and in every error body, so that an operator (or a user reporting an
//! error) can find the log lines of one request. An id the reverse proxy already gave
//! (`X-Request-Id`, e.g. nginx's `$request_id`) is kept when it looks like one; anything
//! else a client sends there is replaced, so it cannot write into the logs.
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";
/// Longest id taken from a proxy.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being answered on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) async fn assign(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    tracing::Span::current().record("request_id", id.as_str());
    let header = HeaderValue::from_str(&id).expect("an id is visible ASCII");
    let mut response = CURRENT.scope(id, next.run(req)).await;
    response.headers_mut().insert(HEADER, header);
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn a_proxy_id_is_kept_only_when_it_cannot_forge_a_log_line() {
        assert!(acceptable("7f3c2a9e-1b4d-4c5e-8f60-123456789abc"));
        assert!(acceptable("a1b2c3d4e5f60718293a4b5c6d7e8f90"));
        assert!(!acceptable(""));
        assert!(!acceptable("id\nlevel=error msg=forged"));
        assert!(!acceptable("id with spaces"));
        assert!(!acceptable(&"x".repeat(65)));
    }
}
