//! Sign-up, sign-in, refresh and sign-out through `/api/v1`.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, checked_and_held, token};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    register_answers_201_with_the_account,
    register_refuses_invalid_input_with_the_field,
    register_refuses_taken_email_and_username_in_any_case,
    twenty_concurrent_registrations_of_one_email_create_one_account,
    login_by_email_or_username_sets_an_http_only_cookie,
    unknown_login_and_wrong_password_get_the_same_answer,
    ten_failures_pause_sign_ins_with_retry_after,
    thirty_parallel_wrong_passwords_get_ten_tries,
    parallel_right_passwords_never_pause_the_account,
    refresh_rotates_and_a_reused_token_revokes_the_session,
    concurrent_refreshes_within_the_grace_window_get_the_same_pair,
    logout_ends_the_session_and_its_refresh_token,
    logout_everywhere_ends_every_session,
);

async fn register_answers_201_with_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post(
            "/api/v1/register",
            json!({"email": "  Ala@Example.PL ", "username": "ala_kot", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let account = &body["account"];
    assert_eq!(account["email"], "Ala@Example.PL");
    assert_eq!(account["username"], "ala_kot");
    assert_eq!(account["roles"], json!(["user"]));
    assert_eq!(account["email_verified"], false);
    assert_eq!(account["disabled"], false);
    assert!(account["id"].as_str().unwrap().len() >= 32);
    assert!(account.get("password_hash").is_none() && account.get("password").is_none());

    // Username alone is enough.
    let response = app
        .post(
            "/api/v1/register",
            json!({"username": "bolek", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn register_refuses_invalid_input_with_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "invalid_email",
            "email",
        ),
        (
            json!({"email": "ala@localhost", "password": PASSWORD}),
            "invalid_email",
            "email",
        ),
        (
            json!({"username": "ab", "password": PASSWORD}),
            "invalid_username",
            "username",
        ),
        (
            json!({"username": "ala kot", "password": PASSWORD}),
            "invalid_username",
            "username",
        ),
        (
            json!({"username": "a".repeat(33), "password": PASSWORD}),
            "invalid_username",
            "username",
        ),
        (
            json!({"email": "a@b.pl", "password": "short"}),
            "invalid_password_length",
            "password",
        ),
        (
            json!({"email": "a@b.pl", "password": "x".repeat(129)}),
            "invalid_password_length",
            "password",
        ),
        (
            json!({"email": "a@b.pl", "password": "12345678"}),
            "password_too_common",
            "password",
        ),
        (
            json!({"email": "a@b.pl", "password": "Password1"}),
            "password_too_common",
            "password",
        ),
        (
            json!({"password": PASSWORD}),
            "email_or_username_required",
            "email",
        ),
        (
            json!({"email": "", "username": "", "password": PASSWORD}),
            "email_or_username_required",
            "email",
        ),
    ];
    for (body, key, field) in cases {
        let response = app.post("/api/v1/register", body.clone()).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, key).await;
        assert_eq!(error["field"], field, "{body}");
    }
    let response = app.post("/api/v1/register", json!({"email": "a@b.pl"})).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = app
        .post(
            "/api/v1/register",
            json!({"email": "a@b.pl", "password": 12345678}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = app.post("/api/v1/register", json!(["a@b.pl"])).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
}

async fn register_refuses_taken_email_and_username_in_any_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post(
        "/api/v1/register",
        json!({"email": "ala@example.pl", "username": "Ala", "password": PASSWORD}),
    )
    .await;
    let response = app
        .post(
            "/api/v1/register",
            json!({"email": "ALA@example.pl", "password": PASSWORD}),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    let response = app
        .post(
            "/api/v1/register",
            json!({"username": "aLA", "password": PASSWORD}),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "username_taken").await;
}

async fn twenty_concurrent_registrations_of_one_email_create_one_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let attempts = (0..20).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.pl"
        } else {
            "RACE@example.pl"
        };
        app.post("/api/v1/register", json!({"email": email, "password": PASSWORD}))
    });
    let responses = futures::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CREATED).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(),
        19,
        "{statuses:?}"
    );
    for response in responses
        .into_iter()
        .filter(|r| r.status() == StatusCode::CONFLICT)
    {
        assert_error(response, StatusCode::CONFLICT, "email_taken").await;
    }
}

async fn login_by_email_or_username_sets_an_http_only_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post(
        "/api/v1/register",
        json!({"email": "ala@example.pl", "username": "ala", "password": PASSWORD}),
    )
    .await;
    for login in ["ala@example.pl", " ALA@EXAMPLE.PL ", "ala", "ALA"] {
        let response = app.login(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{login}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("klucznik_session="), "{cookie}");
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(
            !cookie.contains("Max-Age"),
            "a normal session's cookie ends with the browser: {cookie}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["account"]["email"], "ala@example.pl");
        assert!(body["refresh_token"].as_str().unwrap().len() >= 22, "≥128 bits");
        assert_eq!(token(&body).split('.').count(), 3);
    }
    let response = app
        .post(
            "/api/v1/login",
            json!({"login": "ala", "password": PASSWORD, "remember_me": true}),
        )
        .await;
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("Max-Age=2592000"),
        "remember-me lasts 30 days: {cookie}"
    );
}

async fn unknown_login_and_wrong_password_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let wrong_password = app.login("ala@example.pl", "not-the-password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    let wrong_body = wrong_password.text().await.unwrap();
    let unknown = app.login("nobody@example.pl", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.text().await.unwrap(), wrong_body);
    let response = app.login("ala@example.pl", "").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let response = app
        .post("/api/v1/login", json!({"login": "ala@example.pl"}))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
}

async fn ten_failures_pause_sign_ins_with_retry_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    for attempt in 1..=10 {
        let response = app.login("ala@example.pl", "wrong-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Now even the right password waits; the pause is per login name, so
    // another spelling of the same address does not get around it.
    let response = app.login("ALA@example.pl", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=30).contains(&retry_after),
        "first pause ≤ 30 s, got {retry_after}"
    );
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Other accounts are unaffected.
    app.register("ola@example.pl").await;
    assert_eq!(
        app.login("ola@example.pl", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn refresh_rotates_and_a_reused_token_revokes_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let first = login["refresh_token"].as_str().unwrap();

    let response = app.post("/api/v1/refresh", json!({"refresh_token": first})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    let second = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(refreshed["token_type"], "Bearer");
    assert_eq!(refreshed["account"]["email"], "ala@example.pl");
    let me = app.get_with_token("/api/v1/me", token(&refreshed)).await;
    assert_eq!(me.status(), StatusCode::OK);

    // After the grace window, replaying the used token is theft: the whole
    // session ends, including the successor and its access tokens.
    app.clock.advance(time::Duration::milliseconds(2_300));
    let replay = app.post("/api/v1/refresh", json!({"refresh_token": first})).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let successor = app
        .post("/api/v1/refresh", json!({"refresh_token": second}))
        .await;
    assert_error(successor, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let me = app.get_with_token("/api/v1/me", token(&refreshed)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let unknown = app
        .post("/api/v1/refresh", json!({"refresh_token": "made-up"}))
        .await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let missing = app.post("/api/v1/refresh", json!({})).await;
    assert_error(missing, StatusCode::BAD_REQUEST, "invalid_body").await;
}

async fn concurrent_refreshes_within_the_grace_window_get_the_same_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let refresh_token = login["refresh_token"].as_str().unwrap();
    let tabs = (0..4).map(|_| app.post("/api/v1/refresh", json!({"refresh_token": refresh_token})));
    let responses = futures::future::join_all(tabs).await;
    let mut successors = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "every tab gets the same successor");
    // The session lives on: the successor refreshes normally.
    let next = app
        .post("/api/v1/refresh", json!({"refresh_token": successors[0]}))
        .await;
    assert_eq!(next.status(), StatusCode::OK);
}

async fn logout_ends_the_session_and_its_refresh_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let other = app
        .login("ala@example.pl", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/logout"))
        .bearer_auth(token(&login))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("klucznik_session=") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let me = app.get_with_token("/api/v1/me", token(&login)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let refresh = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // Only that session ended.
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&other)).await.status(),
        StatusCode::OK
    );
    let response = app.client.post(app.url("/api/v1/logout")).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn logout_everywhere_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.signed_in("ala@example.pl").await;
    let second = app
        .login("ala@example.pl", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/logout/everywhere"))
        .bearer_auth(token(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for login in [&first, &second] {
        let me = app.get_with_token("/api/v1/me", token(login)).await;
        assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

/// Thirty wrong passwords for one name at once: ten are checked (401), the
/// rest find sign-ins paused (429 with Retry-After), and so does the right
/// password right after.
async fn thirty_parallel_wrong_passwords_get_ten_tries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let guesses = (0..30).map(|i| {
        let client = app.client.clone();
        let url = app.url("/api/v1/login");
        async move {
            let response = client
                .post(url)
                .json(&json!({"login": "ala@example.pl", "password": format!("zle-haslo-{i}")}))
                .send()
                .await
                .unwrap();
            let waits = response.headers().contains_key("retry-after");
            (response.status(), waits)
        }
    });
    let answers = futures::future::join_all(guesses).await;
    assert_eq!(checked_and_held(&answers), (10, 20), "{answers:?}");
    let right = app.login("ala@example.pl", PASSWORD).await;
    let body = assert_error(right, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("too many failed sign-ins"),
        "{body}"
    );
}

/// Thirty sign-ins with the right password at once (one account, many
/// devices): none pauses the account; those past the lockout's threshold in
/// flight are told to retry in a second, and a sign-in right after succeeds.
async fn parallel_right_passwords_never_pause_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let attempts = (0..30).map(|_| {
        let client = app.client.clone();
        let url = app.url("/api/v1/login");
        async move {
            let response = client
                .post(url)
                .json(&json!({"login": "ala@example.pl", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            let wait = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, wait, body["message"].as_str().map(str::to_owned))
        }
    });
    let answers = futures::future::join_all(attempts).await;
    for (status, wait, message) in &answers {
        // Held back while others are checked, not for failures: it says so.
        let held_in_flight = *status == StatusCode::TOO_MANY_REQUESTS
            && wait.as_deref() == Some("1")
            && message
                .as_deref()
                .is_some_and(|m| m.starts_with("too many sign-ins of this account at once"));
        assert!(*status == StatusCode::OK || held_in_flight, "{answers:?}");
    }
    // Thirty at once against a threshold of ten in flight: some wait (10
    // and 11 of 30 when measured), so the words above were read.
    let held = answers
        .iter()
        .filter(|(s, ..)| *s == StatusCode::TOO_MANY_REQUESTS);
    assert!(held.count() > 0, "{answers:?}");
    assert!(answers.iter().any(|(s, ..)| *s == StatusCode::OK), "{answers:?}");
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::OK
    );
}
