use crate::harness::{error_code, read, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_api_route_needs_credentials_but_health_does_not() {
    let app = TestApp::start().await;
    for (method, path) in [
        (Method::GET, "/api/v1/contacts"),
        (Method::POST, "/api/v1/contacts"),
        (Method::GET, "/api/v1/campaigns/1"),
        (Method::POST, "/api/v1/campaigns/1/start"),
        (Method::GET, "/api/v1/calls"),
        (Method::GET, "/api/v1/dnc"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/api/v1/no-such-thing"),
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let (status, body) = read(resp).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(error_code(&body), "unauthorized");
    }
    let bad_key = app
        .req(Method::GET, "/api/v1/contacts", "pk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            app.http.get(app.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn roles_limit_what_each_key_may_do() {
    let app = TestApp::start().await;
    let viewer_read = app
        .req(Method::GET, "/api/v1/contacts", &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(viewer_read.status(), 200);
    let (status, body) = read(
        app.req(Method::POST, "/api/v1/contacts", &app.viewer_key)
            .json(&json!({"phone": "+14155550100"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));
    assert!(app
        .store
        .list_contacts(&Default::default(), parley_store::PageRequest::first(5))
        .await
        .unwrap()
        .items
        .is_empty());
    let operator_admin = app
        .req(Method::GET, "/api/v1/users", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(operator_admin.status(), 403);
    let admin_users = app
        .req(Method::GET, "/api/v1/users", &app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_users.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn api_keys_are_shown_once_and_can_be_revoked() {
    let app = TestApp::start().await;
    let (status, created) = read(
        app.req(Method::POST, "/api/v1/api-keys", &app.admin_key)
            .json(&json!({"name": "crm sync", "role": "operator"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    let listed = app
        .req(Method::GET, "/api/v1/api-keys", &app.admin_key)
        .send()
        .await
        .unwrap();
    let listed = listed.text().await.unwrap();
    assert!(!listed.contains(&key), "the key must never be shown again");
    assert_eq!(
        app.req(Method::GET, "/api/v1/contacts", &key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let id = created["id"].as_i64().unwrap();
    let revoke = app
        .req(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            &app.admin_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    assert_eq!(
        app.req(Method::GET, "/api/v1/contacts", &key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_writes_need_the_csrf_token() {
    let app = TestApp::start().await;
    let resp = app
        .http
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Secure"),
        "plain http must not set Secure"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me: serde_json::Value = resp.json().await.unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(me["role"], "admin");

    let get = app
        .http
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body = json!({"phone": "+14155550111"});
    let no_csrf = app
        .http
        .post(app.url("/api/v1/contacts"))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let with_csrf = app
        .http
        .post(app.url("/api/v1/contacts"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with_csrf.status(), 201);

    let out = app
        .http
        .post(app.url("/api/v1/auth/sign-out"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = app
        .http
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_rate_limited() {
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.auth.sign_in_attempts_per_minute = 3
    })
    .await;
    let attempt = |password: &'static str| {
        app.http
            .post(app.url("/api/v1/auth/sign-in"))
            .json(&json!({"email": ADMIN_EMAIL, "password": password}))
            .send()
    };
    for _ in 0..3 {
        let (status, body) = read(attempt("wrong password").await.unwrap()).await;
        assert_eq!((status, error_code(&body)), (401, "unauthorized"));
    }
    let limited = attempt(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let unknown = app
        .http
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": "nobody@example.com", "password": "whatever1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401, "other emails are limited separately");
    // One address gets five times the per-email quota across accounts.
    let mut statuses = Vec::new();
    for i in 0..15 {
        let resp = app
            .http
            .post(app.url("/api/v1/auth/sign-in"))
            .json(&json!({"email": format!("u{i}@example.com"), "password": "whatever1234"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served() {
    let app = TestApp::start().await;
    let (status, doc) = read(
        app.req(Method::GET, "/api/v1/openapi.json", &app.viewer_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/contacts",
        "/api/v1/contacts/import",
        "/api/v1/campaigns/{id}/start",
        "/api/v1/dnc/check",
        "/api/v1/calls/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
    let (status, body) = read(
        app.req(Method::GET, "/api/v1/status", &app.viewer_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["sandbox"].as_bool(), body["database"].as_str()),
        (Some(true), Some("sqlite"))
    );
    app.stop().await;
}

#[tokio::test]
async fn admins_change_roles_but_never_remove_the_last_admin() {
    let app = TestApp::start().await;
    let (status, user) = read(
        app.req(Method::POST, "/api/v1/users", &app.admin_key)
            .json(
                &json!({"email": "op@example.com", "password": "long enough pw", "role": "viewer"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let path = format!("/api/v1/users/{}", user["id"]);
    let (status, changed) = read(
        app.req(Method::PATCH, &path, &app.admin_key)
            .json(&json!({"role": "operator"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, changed["role"].as_str()), (200, Some("operator")));

    let (status, body) = read(
        app.req(Method::PATCH, &path, &app.operator_key)
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));

    let users = app.store.list_users().await.unwrap();
    let admin = users.iter().find(|u| u.email == ADMIN_EMAIL).unwrap();
    let (status, body) = read(
        app.req(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin.id),
            &app.admin_key,
        )
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (409, "conflict"), "{body}");
    let (status, body) = read(
        app.req(Method::PATCH, "/api/v1/users/9999", &app.admin_key)
            .json(&json!({"role": "viewer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit() {
    // The test client connects from 127.0.0.1: the "load balancer".
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.auth.sign_in_attempts_per_minute = 1;
        s.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let attempt = |forwarded_for: &str, email: String| {
        app.http
            .post(app.url("/api/v1/auth/sign-in"))
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"email": email, "password": "whatever1234"}))
            .send()
    };
    // One address gets 5 attempts a minute across accounts (5 x the per-email quota).
    let mut statuses = Vec::new();
    for i in 0..6 {
        let resp = attempt("203.0.113.7", format!("a{i}@example.com"))
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // A forged left-hand entry does not buy a new bucket: the balancer's hop counts.
    let forged = attempt("198.51.100.1, 203.0.113.7", "b@example.com".into())
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);
    // Another client behind the same balancer is not locked out.
    let other = attempt("203.0.113.8", "c@example.com".into())
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    // IPv6 clients count per /64: another address in the same /64 shares the limit.
    for i in 0..5 {
        let resp = attempt("2001:db8:1:2::1", format!("d{i}@example.com"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let same_64 = attempt("2001:db8:1:2:ffff::9", "e@example.com".into())
        .await
        .unwrap();
    assert_eq!(same_64.status(), 429);
    app.stop().await;
}

#[tokio::test]
async fn over_long_emails_are_refused_before_anything_else() {
    let app = TestApp::start().await;
    let long = format!("{}@example.com", "a".repeat(250));
    let (status, body) = read(
        app.http
            .post(app.url("/api/v1/auth/sign-in"))
            .json(&json!({"email": long, "password": "whatever1234"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "email");
    app.stop().await;
}

/// Signs in; returns the session cookie and its CSRF token.
async fn session(app: &TestApp, password: &str) -> Option<(String, String)> {
    let resp = app
        .http
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": ADMIN_EMAIL, "password": password}))
        .send()
        .await
        .unwrap();
    if resp.status() != 200 {
        return None;
    }
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me: serde_json::Value = resp.json().await.unwrap();
    Some((cookie, me["csrf_token"].as_str().unwrap().to_string()))
}

#[tokio::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let app = TestApp::start().await;
    let (here, csrf) = session(&app, ADMIN_PASSWORD).await.unwrap();
    let (elsewhere, _) = session(&app, ADMIN_PASSWORD).await.unwrap();
    let change = |current: &str, new: &str| {
        app.http
            .post(app.url("/api/v1/auth/password"))
            .header("cookie", &here)
            .header("x-csrf-token", &csrf)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let (status, body) = read(
        change("not it at all", "a new long password")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"],
        "current_password"
    );
    let (status, body) = read(change(ADMIN_PASSWORD, "short").await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"],
        "new_password"
    );

    let done = change(ADMIN_PASSWORD, "a new long password").await.unwrap();
    assert_eq!(done.status(), 204);
    let me = |cookie: &str| {
        app.http
            .get(app.url("/api/v1/auth/me"))
            .header("cookie", cookie.to_string())
            .send()
    };
    assert_eq!(me(&here).await.unwrap().status(), 200, "this session stays");
    assert_eq!(
        me(&elsewhere).await.unwrap().status(),
        401,
        "the other one ended"
    );
    assert!(
        session(&app, ADMIN_PASSWORD).await.is_none(),
        "old password refused"
    );
    assert!(session(&app, "a new long password").await.is_some());

    // API keys belong to no user: nothing to change.
    let (status, body) = read(
        app.req(Method::POST, "/api/v1/auth/password", &app.admin_key)
            .json(&json!({"current_password": "x", "new_password": "a new long password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));
    app.stop().await;
}
