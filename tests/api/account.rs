//! `GET/PATCH /me`, the password change, and the cookie path with its CSRF rule.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, token};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    me_answers_the_account_by_bearer_or_cookie,
    me_refuses_missing_or_foreign_credentials,
    cookie_writes_from_another_origin_are_refused,
    patch_me_sets_a_unique_username,
    change_password_needs_the_current_one_and_ends_other_sessions,
);

fn session_cookie(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"].to_str().unwrap();
    header.split(';').next().unwrap().to_owned()
}

async fn me_answers_the_account_by_bearer_or_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let response = app.login("ala@example.pl", PASSWORD).await;
    let cookie = session_cookie(&response);
    let login: Value = response.json().await.unwrap();

    let by_token: Value = app
        .get_with_token("/api/v1/me", token(&login))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_token["account"]["email"], "ala@example.pl");
    let by_cookie = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    assert_eq!(by_cookie.json::<Value>().await.unwrap(), by_token);
}

async fn me_refuses_missing_or_foreign_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.get_with_token("/api/v1/me", "not.a.jwt").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", "klucznik_session=made-up")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn cookie_writes_from_another_origin_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.cors_origins = vec!["https://app.example.com".into()]
    })
    .await;
    app.register("ala@example.pl").await;
    let cookie = session_cookie(&app.login("ala@example.pl", PASSWORD).await);
    let patch = |origin: Option<&str>, site: Option<&str>, name: &str| {
        let mut request = app
            .client
            .patch(app.url("/api/v1/me"))
            .header("cookie", &cookie)
            .json(&json!({"username": name}));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let response = patch(Some("https://evil.example"), None, "evil").await.unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "csrf_check_failed").await;
    let response = patch(None, Some("cross-site"), "evil").await.unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "csrf_check_failed").await;
    assert_eq!(
        patch(Some(&app.address), None, "own_origin")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        patch(Some("https://app.example.com"), None, "allowed")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        patch(None, Some("same-origin"), "same_site")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        patch(None, None, "no_browser").await.unwrap().status(),
        StatusCode::OK
    );
    // The allowed origin gets CORS headers with credentials; others get none.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/me"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(preflight.headers()["access-control-allow-credentials"], "true");
    let foreign = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
}

async fn patch_me_sets_a_unique_username(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    app.post(
        "/api/v1/register",
        json!({"username": "zajety", "password": PASSWORD}),
    )
    .await;
    let patch = |body: Value| {
        app.client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(token(&login))
            .json(&body)
            .send()
    };

    let response = patch(json!({"username": "Ala_Kot"})).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["account"]["username"], "Ala_Kot");
    assert_eq!(body["account"]["custom_username"], true);
    // The new name signs in too.
    assert_eq!(app.login("ala_kot", PASSWORD).await.status(), StatusCode::OK);

    assert_error(
        patch(json!({"username": "ZAJETY"})).await.unwrap(),
        StatusCode::CONFLICT,
        "username_taken",
    )
    .await;
    assert_error(
        patch(json!({"username": "a!"})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_username",
    )
    .await;
    assert_error(
        patch(json!({"username": 5})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
}

async fn change_password_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let here = app.signed_in("ala@example.pl").await;
    let elsewhere = app
        .login("ala@example.pl", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(token(&here))
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let wrong = change("not-my-password", "nowe-haslo-123").await.unwrap();
    assert_error(wrong, StatusCode::BAD_REQUEST, "wrong_current_password").await;
    let common = change(PASSWORD, "qwertyuiop").await.unwrap();
    assert_error(common, StatusCode::BAD_REQUEST, "password_too_common").await;

    assert_eq!(
        change(PASSWORD, "nowe-haslo-123").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&here)).await.status(),
        StatusCode::OK
    );
    let other = app.get_with_token("/api/v1/me", token(&elsewhere)).await;
    assert_error(other, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("ala@example.pl", "nowe-haslo-123").await.status(),
        StatusCode::OK
    );
}
