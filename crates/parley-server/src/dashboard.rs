//! The web dashboard (`web/`), embedded in the binary and served for every path that no
//! other route claims, so client-side routes like `/calls/42` load the app; and the
//! security headers of every response.
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use tower::layer::util::Stack;
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(RustEmbed)]
#[folder = "$PARLEY_DASHBOARD_DIR"]
struct Assets;

/// Vite names files under `assets/` by their content hash: they never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (above all `index.html`, which names the current hashed files) is
/// revalidated on every load so a new release shows at once.
const REVALIDATE: &str = "no-cache";

/// The built app loads only its own hashed scripts and stylesheets (Vite emits no inline
/// script or style; React sets styles through the DOM, which CSP allows), its favicon is
/// a `data:` SVG, and it talks only to this server (`'self'` covers the live-events
/// WebSocket on the same host). Nothing may frame it.
const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The API docs page (Swagger UI): its own scripts, inline styles it sets on elements,
/// `data:` icons in its stylesheet.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'";
/// Everything else is data (JSON, XML, files): no document, no framing.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Pages send only the origin, never a path or query (which may hold phone numbers),
/// and only over HTTPS from HTTPS. Not `no-referrer`: that turns the `Origin` of the
/// app's own POSTs into `null`, defeating any origin check.
const PAGE_REFERRER_POLICY: &str = "strict-origin";

type HeaderLayer = SetResponseHeaderLayer<HeaderValue>;

/// Headers for every response that does not set its own: a CSP that allows nothing (so a
/// response rendered as a page could run nothing), `nosniff`, no referrer.
pub fn default_headers() -> Stack<HeaderLayer, Stack<HeaderLayer, HeaderLayer>> {
    Stack::new(
        SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ),
        Stack::new(
            SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ),
    )
}

/// Headers of the API docs page.
pub fn docs_headers() -> Stack<HeaderLayer, HeaderLayer> {
    Stack::new(
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        ),
        SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static(PAGE_REFERRER_POLICY),
        ),
    )
}

/// Fallback handler: an embedded file if the path names one, else the app's `index.html`.
pub async fn serve(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if let Some(response) = file(path) {
        return response;
    }
    // A missing hashed asset is a real 404: answering index.html would hand the browser
    // HTML where it expects a script.
    if path.starts_with("assets/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    file("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

fn file(path: &str) -> Option<Response> {
    if path.is_empty() {
        return None;
    }
    let asset = Assets::get(path)?;
    let cache = if path.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mime = asset.metadata.mimetype();
    let mut response = Body::from(asset.data).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DASHBOARD_CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(PAGE_REFERRER_POLICY),
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_app_paths_get_the_index_without_caching() {
        let response = serve(Method::GET, Uri::from_static("/campaigns/7")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], REVALIDATE);
        assert!(response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }

    #[tokio::test]
    async fn missing_hashed_assets_are_not_found() {
        let response = serve(Method::GET, Uri::from_static("/assets/nope-123.js")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
