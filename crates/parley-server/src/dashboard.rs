//! The web dashboard (`web/`), embedded in the binary and served for every path that no
//! other route claims, so client-side routes like `/calls/42` load the app.
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$PARLEY_DASHBOARD_DIR"]
struct Assets;

/// Vite names files under `assets/` by their content hash: they never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (above all `index.html`, which names the current hashed files) is
/// revalidated on every load so a new release shows at once.
const REVALIDATE: &str = "no-cache";

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
