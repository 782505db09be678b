//! Abuse and integrity (design §7): every attempt at a secret is counted
//! per account and per address, whatever door or login name it comes
//! through; writes change only their own columns; what an anonymous caller
//! can make the server store is limited and pruned; foreign hashes are
//! bounded; used refresh tokens are kept as long as their session lives.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, send};
use crate::mailbox::mails_to;
use klucznik::app::Argon2Cost;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

both_backends!(
    wrong_current_passwords_are_paused_like_sign_ins,
    one_account_under_two_login_names_shares_one_counter,
    wrong_totp_confirmations_are_paused,
    email_changes_are_limited_per_account,
    password_changes_racing_a_disable_leave_it_disabled,
    anonymous_passkey_starts_are_limited_and_pruned,
    a_used_refresh_token_is_known_as_long_as_its_session_lives,
    a_stored_hash_past_the_ceiling_is_refused_and_the_server_lives,
);

#[tokio::test]
async fn step_up_does_not_lean_on_a_mailed_code() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.core.email_sign_in = true).await;
    app.register("ala@example.pl").await;
    let asked = app
        .post("/api/v1/login/email", json!({ "email": "ala@example.pl" }))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mails = mails_to(&app.database.mail_dir, "ala@example.pl", "Your sign-in code", 1).await;
    let mail = mails.last().unwrap();
    let signed_in = app
        .post(
            "/api/v1/login/email/verify",
            json!({ "email": "ala@example.pl", "code": mail.code() }),
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let by_code: Value = signed_in.json().await.unwrap();
    // Signed in a moment ago, but by a mailed code: no second factor
    // without the password.
    let refused = send(&app, Method::POST, "/api/v1/me/mfa/totp", &by_code, json!({})).await;
    assert_error(refused, StatusCode::FORBIDDEN, "step_up_required").await;
    let with_password = send(
        &app,
        Method::POST,
        "/api/v1/me/mfa/totp",
        &by_code,
        json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(with_password.status(), StatusCode::CREATED);
    // A sign-in by password leans on itself for five minutes.
    let by_password = app.signed_in_again("ala@example.pl").await;
    let renewed = send(&app, Method::POST, "/api/v1/me/mfa/totp", &by_password, json!({})).await;
    // Enrolment started again: it is pending, so it may start over.
    assert_ne!(renewed.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn resending_verification_takes_the_same_time_for_any_address() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register("nowa@example.pl").await;
    for email in ["nowa@example.pl", "nikt@example.pl"] {
        let started = Instant::now();
        let answer = app
            .post("/api/v1/verify-email/resend", json!({ "email": email }))
            .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        // The floor, whatever the work behind it (no upper bound asserted).
        assert!(started.elapsed() >= Duration::from_millis(300), "{email}");
    }
}

/// The statuses of 429 answers among `answers`, each with `Retry-After`.
fn held_back(answers: &[reqwest::Response]) -> usize {
    answers
        .iter()
        .filter(|a| a.status() == StatusCode::TOO_MANY_REQUESTS)
        .inspect(|a| assert!(a.headers().contains_key("retry-after")))
        .count()
}

async fn wrong_current_passwords_are_paused_like_sign_ins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let mut answers = Vec::new();
    for _ in 0..30 {
        let body = json!({ "current_password": "nie-to-haslo-1", "new_password": "nowe-haslo-123" });
        answers.push(send(&app, Method::POST, "/api/v1/me/password", &login, body).await);
    }
    let wrong = answers
        .iter()
        .filter(|a| a.status() == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((wrong, held_back(&answers)), (10, 20));
    // The same counter pauses sign-in by password from this address, and
    // the right current password too, until the pause ends.
    let right = json!({ "current_password": PASSWORD, "new_password": "nowe-haslo-123" });
    let paused = send(&app, Method::POST, "/api/v1/me/password", &login, right.clone()).await;
    assert_error(paused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let sign_in = app.login("ala@example.pl", PASSWORD).await;
    assert_error(sign_in, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    app.clock.advance(time::Duration::minutes(1));
    let changed = send(&app, Method::POST, "/api/v1/me/password", &login, right).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
}

async fn one_account_under_two_login_names_shares_one_counter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .post(
            "/api/v1/register",
            json!({ "email": "ala@example.pl", "username": "ala", "password": PASSWORD }),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    for _ in 0..10 {
        let wrong = app.login("ala", "nie-to-haslo-1").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The eleventh try, by the other name (and in another case), is held.
    let other_name = app.login("ALA@example.pl", "nie-to-haslo-1").await;
    assert_error(other_name, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let right = app.login("ala@example.pl", PASSWORD).await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // An unknown name keeps a counter of its own.
    let unknown = app.login("ktos@example.pl", "nie-to-haslo-1").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_totp_confirmations_are_paused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let begun = send(&app, Method::POST, "/api/v1/me/mfa/totp", &login, json!({})).await;
    assert_eq!(begun.status(), StatusCode::CREATED);
    let mut answers = Vec::new();
    for guess in 0..20 {
        let body = json!({ "code": format!("{:06}", 100_000 + guess) });
        answers.push(send(&app, Method::POST, "/api/v1/me/mfa/totp/confirm", &login, body).await);
    }
    let held = held_back(&answers);
    assert!(held >= 10, "{held} of 20 held back");
}

async fn email_changes_are_limited_per_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let mut answers = Vec::new();
    for n in 0..40 {
        let body = json!({ "email": format!("nowy{n}@example.pl") });
        answers.push(send(&app, Method::POST, "/api/v1/me/email", &login, body).await);
    }
    let accepted = answers
        .iter()
        .filter(|a| a.status() == StatusCode::ACCEPTED)
        .count();
    assert_eq!((accepted, held_back(&answers)), (5, 35));
    // A taken address is no longer answered either: the limit comes first.
    app.register("zajety@example.pl").await;
    let body = json!({ "email": "zajety@example.pl" });
    let taken = send(&app, Method::POST, "/api/v1/me/email", &login, body).await;
    assert_error(taken, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let codes = mails_to(&app.database.mail_dir, "nowy", "", 5).await;
    // A moment more, for any mail that should not have been queued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = mails_to(&app.database.mail_dir, "nowy", "", 5).await;
    assert_eq!((codes.len(), all.len()), (5, 5));
}

async fn password_changes_racing_a_disable_leave_it_disabled(backend: Backend) {
    // Real Argon2 cost on one hashing thread: each change holds its copy
    // of the account for a while, as it would under load.
    let app = TestApp::spawn_with(backend, |c| {
        c.hash_threads = 1;
        c.argon2 = Argon2Cost::default();
    })
    .await;
    let admin = app.admin("admin@example.pl").await;
    let user = app.signed_in("ala@example.pl").await;
    let id = user["account"]["id"].as_str().unwrap().to_owned();
    let changes: Vec<_> = (0..12)
        .map(|n| {
            let body = json!({ "current_password": PASSWORD, "new_password": format!("nowe-haslo-{n}-x") });
            send(&app, Method::POST, "/api/v1/me/password", &user, body)
        })
        .collect();
    let disable = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let path = format!("/api/v1/admin/users/{id}/disable");
        send(&app, Method::POST, &path, &admin, None).await
    };
    let (answers, disabled) = tokio::join!(futures::future::join_all(changes), disable);
    assert_eq!(disabled.status(), StatusCode::OK);
    let changed = answers
        .iter()
        .filter(|a| a.status() == StatusCode::NO_CONTENT)
        .count();
    assert!(changed >= 1, "no password change went through");
    let account: Value = send(
        &app,
        Method::GET,
        &format!("/api/v1/admin/users/{id}"),
        &admin,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(account["account"]["disabled"], true, "{account}");
}

async fn anonymous_passkey_starts_are_limited_and_pruned(backend: Backend) {
    // Passkeys need a host name for their relying party.
    let app = TestApp::spawn_with(backend, |c| {
        c.public_url = Some(url::Url::parse("http://localhost:8080").unwrap());
    })
    .await;
    let mut answers = Vec::new();
    for _ in 0..300 {
        answers.push(app.post("/api/v1/login/passkey/start", json!({})).await);
    }
    let started = answers.iter().filter(|a| a.status() == StatusCode::OK).count();
    assert_eq!((started, held_back(&answers)), (100, 200));
    let stored = app.stored_texts("SELECT id FROM webauthn_ceremonies").await;
    assert_eq!(stored.len(), 100);
    // Expired ceremonies go at the next prune, whatever --prune-after says.
    app.clock.advance(time::Duration::minutes(6));
    let pruned = app.core.prune().await.unwrap();
    assert_eq!(pruned.ceremonies, 100);
    assert!(
        app.stored_texts("SELECT id FROM webauthn_ceremonies")
            .await
            .is_empty()
    );
}

async fn a_used_refresh_token_is_known_as_long_as_its_session_lives(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let login: Value = app
        .post(
            "/api/v1/login",
            json!({ "login": "ala@example.pl", "password": PASSWORD, "remember_me": true }),
        )
        .await
        .json()
        .await
        .unwrap();
    let first = login["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = app
        .post("/api/v1/refresh", json!({ "refresh_token": first }))
        .await
        .json()
        .await
        .unwrap();
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    // Past --prune-after (7 days), within the remember-me session's 30.
    app.clock.advance(time::Duration::days(8));
    app.core.prune().await.unwrap();
    let stolen = app
        .post("/api/v1/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    // Known as reused: the whole session ended with it.
    let owner = app
        .post("/api/v1/refresh", json!({ "refresh_token": second }))
        .await;
    assert_eq!(owner.status(), StatusCode::UNAUTHORIZED);
}

async fn a_stored_hash_past_the_ceiling_is_refused_and_the_server_lives(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    // As a hostile or mistaken import of an older version left it: 4 TiB
    // of Argon2 memory, which would abort the process if it were run.
    let hostile = "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
    let sql = format!("UPDATE accounts SET password_hash = '{hostile}'");
    if app.database.url.starts_with("sqlite:") {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&app.database.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut db)
            .await
            .unwrap();
    } else {
        use sqlx::Connection;
        let mut db = sqlx::PgConnection::connect(&app.database.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut db)
            .await
            .unwrap();
    }
    let refused = app.login("ala@example.pl", PASSWORD).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}
