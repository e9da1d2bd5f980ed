//! Every answer names its request, so that a reported error leads to its log lines.
use crate::harness::{read, TestApp};
use reqwest::Method;

#[tokio::test]
async fn an_error_body_and_its_header_carry_the_same_request_id() {
    let app = TestApp::start().await;
    let resp = app
        .req(Method::GET, "/api/v1/calls/999999", &app.admin_key)
        .send()
        .await
        .unwrap();
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, body) = read(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["request_id"], header.as_str());
    assert_eq!(header.len(), 32, "a fresh id: {header}");

    // Another request, another id; success answers carry one too.
    let resp = app
        .req(Method::GET, "/api/v1/campaigns", &app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_ne!(resp.headers()["x-request-id"], header.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_proxy_request_id_is_kept_and_a_forged_one_replaced() {
    let app = TestApp::start().await;
    let given = |id: &str| {
        app.req(Method::GET, "/api/v1/calls/999999", &app.admin_key)
            .header("x-request-id", id)
            .send()
    };
    let resp = given("nginx-0f1e2d3c4b5a").await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "nginx-0f1e2d3c4b5a");
    let (_, body) = read(resp).await;
    assert_eq!(body["error"]["request_id"], "nginx-0f1e2d3c4b5a");

    let forged = "x\" level=error msg=\"forged";
    let resp = given(forged).await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, forged);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    app.stop().await;
}
