//! Bad input and unknown routes get JSON errors, never a framework page.

use crate::helpers::{Backend, TestApp, assert_error, both_backends};
use reqwest::StatusCode;

both_backends!(
    every_failure_is_a_json_error_with_a_request_id,
    every_dialect_answers_every_failure_in_its_own_shape,
);

/// Behind TLS (an https public URL) every answer asks browsers for HTTPS
/// only, for a year, subdomains included.
#[tokio::test]
async fn an_https_public_url_turns_on_hsts() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = Some(url::Url::parse("https://auth.example.com/").unwrap());
    })
    .await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

async fn every_failure_is_a_json_error_with_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    // Served over plain HTTP here: no HSTS (see the test below).
    assert!(!response.headers().contains_key("strict-transport-security"));
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.client.get(app.url("/nothing-at-all")).send().await.unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let response = app.client.get(app.url("/api/v1/login")).send().await.unwrap();
    assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let response = app
        .client
        .delete(app.url("/api/v1/register"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    let post_raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_error(
        post_raw("{\"email\":", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_error(
        post_raw("", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_error(
        post_raw("null", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_error(
        post_raw("email=a@b.pl", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let huge = format!(
        "{{\"email\":\"a@b.pl\",\"password\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let response = app
        .client
        .post(app.url("/api/v1/register"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Request ids are unique per request, and a caller's own is kept.
    let a = app.client.get(app.url("/healthz")).send().await.unwrap();
    let b = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
    let mine = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "trace-me-42");
}

/// Each dialect: an unknown path under its routes, a wrong method, a 70 KiB
/// body and a body that is not JSON all answer in its error shape (a
/// frontend that renders `message` or `err` must never meet the native
/// `{"error"}` there).
async fn every_dialect_answers_every_failure_in_its_own_shape(backend: Backend) {
    // (dialect, its error body's keys, an unknown path, a POST route)
    let cases = [
        (
            "jwt-roles",
            vec!["message"],
            "/api/test/nothing",
            "/api/auth/signin",
        ),
        (
            "jwt-roles",
            vec!["message"],
            "/api/auth/nothing",
            "/api/auth/register",
        ),
        ("uid-token", vec!["message"], "/authorize/a/b/c", "/login"),
        ("auth-token", vec!["err"], "/auth/nothing", "/auth/login"),
        (
            "verify-code",
            vec!["key", "message"],
            "/auth/nothing",
            "/auth/login",
        ),
        ("csrf-cookie", vec!["key", "message"], "/csrf/nothing", "/login"),
    ];
    let huge = format!("{{\"username\":\"{}\"}}", "x".repeat(70 * 1024));
    for (dialect, keys, unknown, post) in cases {
        let app = TestApp::spawn_dialect(backend.clone(), dialect, None).await;
        let shape = |what: &'static str, expected: StatusCode| {
            let keys = keys.clone();
            move |response: reqwest::Response| async move {
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap();
                let mut seen: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
                seen.sort_unstable();
                assert_eq!(seen, keys, "{dialect} {what}: {body}");
                // csrf-cookie checks its CSRF pair before reading a body.
                if !(dialect == "csrf-cookie" && status == StatusCode::FORBIDDEN) {
                    assert_eq!(status, expected, "{dialect} {what}: {body}");
                }
            }
        };
        let response = app.client.get(app.url(unknown)).send().await.unwrap();
        shape("unknown path", StatusCode::NOT_FOUND)(response).await;
        let response = app.client.delete(app.url(post)).send().await.unwrap();
        shape("wrong method", StatusCode::METHOD_NOT_ALLOWED)(response).await;
        let response = app
            .client
            .post(app.url(post))
            .header("content-type", "text/plain")
            .body("username=ala")
            .send()
            .await
            .unwrap();
        // auth-token's document answers anything but JSON with 400.
        let expected = if dialect == "auth-token" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        };
        shape("not JSON", expected)(response).await;
        // Outside the dialect's paths the native shape still applies.
        let native = app.client.get(app.url("/api/v1/nothing")).send().await.unwrap();
        assert_error(native, StatusCode::NOT_FOUND, "not_found").await;
        // Last: the server may close a connection whose body it refused unread.
        let response = app
            .client
            .post(app.url(post))
            .header("content-type", "application/json")
            .header("connection", "close")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        shape("70 KiB body", StatusCode::PAYLOAD_TOO_LARGE)(response).await;
    }
}
