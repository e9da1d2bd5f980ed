//! The embedded dashboard: app routes load the app, `/api` stays the JSON API.
use crate::harness::{error_code, read, TestApp};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use reqwest::Method;

#[tokio::test]
async fn app_paths_load_the_dashboard_and_api_paths_stay_json() {
    let app = TestApp::start().await;
    for path in ["/", "/campaigns/42", "/calls?status=completed"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-cache", "{path}");
        assert!(resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.text().await.unwrap().contains("<title>Parley</title>"));
    }
    // Unknown API paths are the API's JSON 401 (no credentials) or 404 (with them).
    let (status, body) = read(
        app.http
            .get(app.url("/api/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));
    for path in ["/api/v1/nothing-here", "/api/v2/calls"] {
        let (status, body) = read(
            app.req(Method::GET, path, &app.viewer_key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, error_code(&body)), (404, "not_found"), "{path}");
    }
    // Missing hashed assets are 404s, never the HTML page.
    let missing = app
        .http
        .get(app.url("/assets/index-00000000.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

/// Only when the dashboard was built (`web/dist`); a build without it has one page only.
#[tokio::test]
async fn hashed_assets_are_cached_for_a_year() {
    let app = TestApp::start().await;
    let index = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let Some(start) = index.find("/assets/") else {
        eprintln!("dashboard not built; nothing to check");
        return app.stop().await;
    };
    let end = start + index[start..].find('"').unwrap();
    let resp = app
        .http
        .get(app.url(&index[start..end]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    app.stop().await;
}

#[tokio::test]
async fn pages_and_api_answers_carry_security_headers() {
    let app = TestApp::start().await;
    let header = |resp: &reqwest::Response, name: &str| {
        resp.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} on {}", resp.url()))
            .to_str()
            .unwrap()
            .to_owned()
    };

    let page = app.http.get(app.url("/calls/42")).send().await.unwrap();
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header(&page, "referrer-policy"), "strict-origin");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    // The CSP allows no inline script or style: the page must have none.
    let html = page.text().await.unwrap();
    for tag in html.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src="), "inline script in the index: {open}");
    }
    assert!(!html.contains("<style"), "inline stylesheet in the index");
    assert!(
        !html.contains(" style="),
        "inline style attribute in the index"
    );

    // API answers, success or error, are data: nothing in them may run or be framed.
    for resp in [
        app.req(Method::GET, "/api/v1/status", &app.viewer_key)
            .send()
            .await
            .unwrap(),
        app.http.get(app.url("/api/v1/calls")).send().await.unwrap(),
        app.http.get(app.url("/healthz")).send().await.unwrap(),
    ] {
        assert_eq!(
            header(&resp, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(header(&resp, "referrer-policy"), "no-referrer");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    }

    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let csp = header(&docs, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    app.stop().await;
}
