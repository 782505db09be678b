//! `uid-token` (seeds/001_…), walked top to bottom: every table's statuses,
//! the `token`/`uid`/`rememberToken` headers, the mailed `/authorize` link,
//! password recovery, and bad input as `{"message"}`.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use crate::mailbox::wait_for_files;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

both_backends!(
    registration_login_and_verification_follow_the_tables,
    an_expired_token_is_renewed_by_the_remember_token,
    password_recovery_follows_the_tables,
    bad_input_answers_with_a_message,
);

async fn status(response: Response, expected: StatusCode) -> Value {
    assert_eq!(response.status(), expected);
    let body: Value = response.json().await.unwrap();
    assert!(body.is_object(), "{body}");
    if !expected.is_success() {
        assert!(body["message"].is_string(), "{body}");
    }
    body
}

async fn register(app: &TestApp, username: &str, email: &str) -> String {
    let body = status(
        app.post(
            "/register",
            json!({"username": username, "email": email, "password": PASSWORD}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    body["UID"].as_str().unwrap().to_owned()
}

async fn registration_login_and_verification_follow_the_tables(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "uid-token", None).await;
    // Rejestracja: 201, 400, 403.
    let uid = register(&app, "ala", "ala@example.pl").await;
    status(
        app.post(
            "/register",
            json!({"username": "ola", "email": "ALA@example.pl", "password": PASSWORD}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    status(
        app.post("/register", json!({"username": "ola", "email": "ola@example.pl"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    status(
        app.post(
            "/register",
            json!({"username": "ola", "email": "nie-email", "password": PASSWORD}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Logowanie: 200 (unverified accounts sign in), 400, 404.
    let login = status(
        app.post(
            "/login",
            json!({"email": "ala@example.pl", "password": PASSWORD, "rememberMe": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(login["UID"], uid.as_str());
    assert!(login.get("rememberToken").is_none());
    let expire = OffsetDateTime::parse(login["token"]["expire"].as_str().unwrap(), &Rfc3339).unwrap();
    let hour = (expire - OffsetDateTime::now_utc()).whole_minutes();
    assert!((58..=60).contains(&hour), "token lives an hour: {hour} min");
    let remembered = status(
        app.post(
            "/login",
            json!({"email": "ala@example.pl", "password": PASSWORD, "rememberMe": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let remember_expire =
        OffsetDateTime::parse(remembered["rememberToken"]["expire"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(((remember_expire - OffsetDateTime::now_utc()).whole_days() - 30).abs() <= 1);
    status(
        app.post(
            "/login",
            json!({"email": "ala@example.pl", "password": "wrong-password"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    status(
        app.post(
            "/login",
            json!({"email": "nobody@example.pl", "password": PASSWORD}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Authorized requests carry token and uid; otherwise 401.
    let token = login["token"]["token"].as_str().unwrap();
    let me = app
        .client
        .get(app.url("/me"))
        .header("token", token)
        .header("uid", &uid)
        .send()
        .await
        .unwrap();
    let me = status(me, StatusCode::OK).await;
    assert_eq!(me["email"], "ala@example.pl");
    assert_eq!(me["emailVerified"], false);
    let other = app
        .client
        .get(app.url("/me"))
        .header("token", token)
        .header("uid", "someone-else")
        .send()
        .await
        .unwrap();
    status(other, StatusCode::UNAUTHORIZED).await;
    status(
        app.client.get(app.url("/me")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Autoryzacja konta: the mailed /authorize/UID/TOKEN link.
    let mail = wait_for_files(&app.database.mail_dir, 1, Duration::from_secs(5))
        .await
        .remove(0);
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/authorize/"))
        .unwrap()
        .to_owned();
    let path = url::Url::parse(&link).unwrap().path().to_owned();
    assert!(path.starts_with(&format!("/authorize/{uid}/")), "{path}");
    let ola = register(&app, "ola", "ola@example.pl").await;
    let link_token = path.rsplit('/').next().unwrap();
    status(
        app.client
            .get(app.url(&format!("/authorize/{ola}/{link_token}")))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    status(
        app.client
            .get(app.url(&format!("/authorize/nobody/{link_token}")))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    status(
        app.client.get(app.url(&path)).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    status(
        app.client.get(app.url(&path)).send().await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    let me = app
        .client
        .get(app.url("/me"))
        .header("token", token)
        .header("uid", &uid)
        .send()
        .await
        .unwrap();
    assert_eq!(status(me, StatusCode::OK).await["emailVerified"], true);
}

async fn an_expired_token_is_renewed_by_the_remember_token(backend: Backend) {
    let mount = klucznik::config::DialectMount {
        name: "uid-token".into(),
        prefix: None,
    };
    let app = TestApp::spawn_with(backend, |c| {
        c.dialects = vec![mount];
        c.core.access_ttl = time::Duration::seconds(1);
    })
    .await;
    let uid = register(&app, "ala", "ala@example.pl").await;
    // A token that expires in a second, from the native API's login.
    let native: Value = app.login("ala@example.pl", PASSWORD).await.json().await.unwrap();
    let short = native["access_token"].as_str().unwrap().to_owned();
    let remembered = status(
        app.post(
            "/login",
            json!({"email": "ala@example.pl", "password": PASSWORD, "rememberMe": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let remember = remembered["rememberToken"]["token"].as_str().unwrap();
    app.clock.advance(time::Duration::milliseconds(3_200));

    let expired = app
        .client
        .get(app.url("/me"))
        .header("token", &short)
        .header("uid", &uid)
        .send()
        .await
        .unwrap();
    status(expired, StatusCode::UNAUTHORIZED).await;
    let renewed = app
        .client
        .get(app.url("/me"))
        .header("token", &short)
        .header("uid", &uid)
        .header("rememberToken", remember)
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    let fresh = renewed.headers()["token"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/me"))
        .header("token", &fresh)
        .header("uid", &uid)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        again.headers().get("token").is_none(),
        "a live token needs no renewal"
    );
    let wrong_uid = app
        .client
        .get(app.url("/me"))
        .header("token", &short)
        .header("uid", "someone-else")
        .header("rememberToken", remember)
        .send()
        .await
        .unwrap();
    status(wrong_uid, StatusCode::UNAUTHORIZED).await;
}

async fn password_recovery_follows_the_tables(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "uid-token", None).await;
    let uid = register(&app, "ala", "ala@example.pl").await;
    // get-reset: 200, 404.
    status(
        app.post("/authorize/get-reset", json!({"email": "ala@example.pl"}))
            .await,
        StatusCode::OK,
    )
    .await;
    status(
        app.post("/authorize/get-reset", json!({"email": "nobody@example.pl"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let mail = wait_for_files(&app.database.mail_dir, 2, Duration::from_secs(5))
        .await
        .remove(1);
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("reset-password"))
        .unwrap()
        .to_owned();
    let link = url::Url::parse(&link).unwrap();
    let query: std::collections::HashMap<_, _> = link.query_pairs().into_owned().collect();
    assert_eq!(query["id"], uid);
    let token = query["token"].clone();

    // check-token: 200, 404, 400.
    status(
        app.post("/authorize/check-token", json!({"_id": uid, "token": token}))
            .await,
        StatusCode::OK,
    )
    .await;
    status(
        app.post("/authorize/check-token", json!({"_id": "nobody", "token": token}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    status(
        app.post("/authorize/check-token", json!({"_id": uid, "token": "made-up"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // new-password: 202, then the token is spent (400); unknown user 404.
    status(
        app.post(
            "/authorize/new-password",
            json!({"uid": uid, "password": "12345678", "passwordToken": token}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    status(
        app.post(
            "/authorize/new-password",
            json!({"uid": "nobody", "password": "nowe-haslo-123", "passwordToken": token}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    status(
        app.post(
            "/authorize/new-password",
            json!({"uid": uid, "password": "nowe-haslo-123", "passwordToken": token}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    status(
        app.post(
            "/authorize/new-password",
            json!({"uid": uid, "password": "inne-haslo-456", "passwordToken": token}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    status(
        app.post("/authorize/check-token", json!({"_id": uid, "token": token}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    status(
        app.post(
            "/login",
            json!({"email": "ala@example.pl", "password": "nowe-haslo-123"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

async fn bad_input_answers_with_a_message(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "uid-token", None).await;
    for response in [
        app.post_raw("/register", "{").await,
        app.post("/login", json!({"email": ["x"], "password": PASSWORD}))
            .await,
        app.post("/authorize/check-token", json!({})).await,
    ] {
        let body = status(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    }
    status(
        app.post_raw("/login", vec![b'x'; 70 * 1024]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    status(
        app.client.get(app.url("/login")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    status(
        app.client.get(app.url("/authorize/a/b/c")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    status(
        app.client.delete(app.url("/me")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
}
