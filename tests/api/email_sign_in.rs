//! Signing in by a mailed code or link (`--email-sign-in`): off unless
//! enabled, the same answer for unknown addresses, codes single use and
//! tried at most five times, ten minutes, the link on the web page behind
//! a button, and a second factor still asked for.

use crate::helpers::{Backend, PageSession, TestApp, assert_error, both_backends};
use crate::mailbox::{Received, mails_to, wait_for_files};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

both_backends!(sign_in_by_mailed_code_and_link);

/// The newest mail to `to` with the sign-in subject, once there are `count`.
async fn sign_in_mail(app: &TestApp, to: &str, count: usize) -> Received {
    let mails = mails_to(&app.database.mail_dir, to, "Your sign-in code", count).await;
    mails.last().unwrap().clone()
}

async fn sign_in_by_mailed_code_and_link(backend: Backend) {
    let off = TestApp::spawn(backend.clone()).await;
    let refused = off
        .post("/api/v1/login/email", json!({ "email": "ala@example.pl" }))
        .await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;

    let app = TestApp::spawn_with(backend, |c| c.core.email_sign_in = true).await;
    app.register("ala@example.pl").await;
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let answer = app.post("/api/v1/login/email", json!({ "email": email })).await;
            (answer.status(), answer.text().await.unwrap(), started.elapsed())
        }
    };
    let (known_status, known_body, known_took) = ask("ala@example.pl").await;
    let (unknown_status, unknown_body, unknown_took) = ask("nikt@example.pl").await;
    assert_eq!(
        (known_status, unknown_status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(known_body, unknown_body);
    // Both answer after the same floor, whatever the work behind them.
    assert!(known_took >= Duration::from_millis(300) && unknown_took >= Duration::from_millis(300));
    let mail = sign_in_mail(&app, "ala@example.pl", 1).await;
    let code = mail.code();
    assert_eq!(code.len(), 8);
    assert!(mail.text.contains("/sign-in/email?token="), "{}", mail.text);
    let all = wait_for_files(&app.database.mail_dir, 0, Duration::ZERO).await;
    assert!(
        all.iter().all(|m| !m.to.contains("nikt@")),
        "no mail to an unknown address"
    );

    // Wrong codes count; the right one (any case) signs in, once.
    let verify = |code: String| {
        app.post(
            "/api/v1/login/email/verify",
            json!({ "email": "ala@example.pl", "code": code }),
        )
    };
    assert_error(
        verify("AAAAAAAA".into()).await,
        StatusCode::BAD_REQUEST,
        "invalid_verification",
    )
    .await;
    let signed = verify(code.to_lowercase()).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let signed: Value = signed.json().await.unwrap();
    assert!(signed["access_token"].is_string());
    assert_error(
        verify(code.clone()).await,
        StatusCode::BAD_REQUEST,
        "invalid_verification",
    )
    .await;

    // Five wrong tries kill a code.
    ask("ala@example.pl").await;
    let code = sign_in_mail(&app, "ala@example.pl", 2).await.code();
    for _ in 0..5 {
        verify("AAAAAAAA".into()).await;
    }
    let dead = verify(code).await;
    assert_error(dead, StatusCode::BAD_REQUEST, "verification_attempts_exhausted").await;

    // Ten minutes.
    ask("ala@example.pl").await;
    let code = sign_in_mail(&app, "ala@example.pl", 3).await.code();
    app.clock
        .advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    assert_error(
        verify(code).await,
        StatusCode::BAD_REQUEST,
        "verification_expired",
    )
    .await;

    // The link on the web page: opening it signs nobody in; its button does.
    ask("ala@example.pl").await;
    let (_, token) = sign_in_mail(&app, "ala@example.pl", 4).await.link();
    let mut page = PageSession::new(&app);
    let (status, html) = page.get(&format!("/sign-in/email?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.has_cookie("klucznik_session"));
    assert!(html.contains("id=\"email-sign-in\""));
    let (status, _) = page.post("/sign-in/email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(page.has_cookie("klucznik_session"));

    // The web page's form: ask for a code, type it in.
    let mut browser = PageSession::new(&app);
    let (_, html) = browser.get("/sign-in").await;
    assert!(html.contains("id=\"email-code-link\""));
    browser.get("/sign-in/email").await;
    let (status, html) = browser
        .post("/sign-in/email/request", &[("email", "ala@example.pl")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"email-code-sign-in\""));
    let code = sign_in_mail(&app, "ala@example.pl", 5).await.code();
    let (status, html) = browser
        .post(
            "/sign-in/email/code",
            &[("email", "ala@example.pl"), ("code", "AAAAAAAA")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("aria-invalid"));
    let (status, _) = browser
        .post(
            "/sign-in/email/code",
            &[("email", "ala@example.pl"), ("code", &code)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(browser.has_cookie("klucznik_session"));

    // An account with a second factor still needs it.
    let (_, _, _) = crate::mfa::enrolled(&app, "ola@example.pl").await;
    ask("ola@example.pl").await;
    let code = sign_in_mail(&app, "ola@example.pl", 1).await.code();
    let answer: Value = app
        .post(
            "/api/v1/login/email/verify",
            json!({ "email": "ola@example.pl", "code": code }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
}
