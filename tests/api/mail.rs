//! Verification and recovery by mail: real SMTP round trips, an outage, a
//! restart with mail pending, and every way a code, link or token is refused.

use crate::helpers::{
    Backend, PASSWORD, PageSession, TestApp, TestDatabase, assert_error, both_backends, token,
};
use crate::mailbox::{SmtpReceiver, free_port, wait_for_files};
use klucznik::config::MailSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

both_backends!(
    verification_mail_arrives_over_smtp_in_both_languages_and_its_code_and_link_verify,
    mail_waits_in_the_outbox_while_smtp_is_down,
    codes_expire_die_after_five_wrong_tries_and_are_replaced_by_a_resend,
    resends_answer_202_for_anyone_and_stop_mailing_after_five_an_hour,
    links_are_single_use_and_expire,
    forgot_password_is_the_same_for_unknown_addresses,
    password_reset_by_mailed_link_ends_every_session_and_notifies,
    reset_tokens_are_refused_when_unknown_used_or_expired,
    email_change_is_verified_at_the_new_address_and_announced_at_the_old,
    mailed_links_land_on_pages_that_work_without_javascript,
    two_instances_on_one_database_send_each_message_once,
    an_address_with_non_ascii_capitals_works_in_any_casing,
    parallel_wrong_codes_get_no_more_tries_than_the_limit,
    parallel_resends_mail_no_more_than_the_limit,
    codes_are_stored_as_an_hmac_not_a_bare_hash,
);

/// A copy of the database alone cannot be searched for codes: what is
/// stored is an HMAC under a server key, not SHA-256 of the code.
async fn codes_are_stored_as_an_hmac_not_a_bare_hash(backend: Backend) {
    use sha2::Digest;
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let code = verification_code_of(&app, 0).await.code();
    let stored = app
        .stored_texts("SELECT code_digest FROM email_verifications")
        .await;
    let bare: String = sha2::Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("hmac-sha256:"), "{stored:?}");
    assert!(!stored[0].contains(&bare), "{stored:?}");
    let verified = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
}

async fn smtp_app(backend: Backend, receiver_port: u16) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.core.require_verified_email = true;
        c.mail = MailSettings::Smtp(format!("smtp://127.0.0.1:{receiver_port}").into());
    })
    .await
}

async fn register_in(app: &TestApp, email: &str, language: &str) {
    let response = app
        .client
        .post(app.url("/api/v1/register"))
        .header("accept-language", language)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn verification_mail_arrives_over_smtp_in_both_languages_and_its_code_and_link_verify(
    backend: Backend,
) {
    let receiver = SmtpReceiver::default();
    let port = receiver.start(0).await;
    let app = smtp_app(backend, port).await;

    register_in(&app, "ala@example.pl", "pl-PL,pl;q=0.9,en;q=0.5").await;
    assert_error(
        app.login("ala@example.pl", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    let polish = receiver.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(polish.to, "ala@example.pl");
    assert_eq!(polish.subject, "Potwierdź adres e-mail");
    assert!(
        polish.text.contains("Kod:") && polish.html.contains("lang=\"pl\""),
        "{}",
        polish.text
    );
    let code = polish.code();
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    let (path, _) = polish.link();
    assert_eq!(path, "/verify");

    // The code verifies in any case and signs in.
    let verified = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ALA@example.pl", "code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let verified: Value = verified.json().await.unwrap();
    assert_eq!(verified["account"]["email_verified"], true);
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&verified)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::OK
    );

    // English by default; the link verifies too.
    register_in(&app, "bob@example.com", "de-DE").await;
    let english = receiver.wait_for(2, Duration::from_secs(5)).await.remove(1);
    assert_eq!(english.subject, "Confirm your email address");
    assert!(english.text.contains("Code:") && english.html.contains("lang=\"en\""));
    let (_, link_token) = english.link();
    let verified = app
        .post("/api/v1/verify-email", json!({"token": link_token}))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        app.login("bob@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    // Accounts without an email are not held back.
    app.post(
        "/api/v1/register",
        json!({"username": "cezary", "password": PASSWORD}),
    )
    .await;
    assert_eq!(app.login("cezary", PASSWORD).await.status(), StatusCode::OK);
    let bad = app
        .post("/api/v1/verify-email", json!({"email": "ala@example.pl"}))
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_body").await;
}

async fn mail_waits_in_the_outbox_while_smtp_is_down(backend: Backend) {
    let port = free_port();
    let app = smtp_app(backend, port).await;
    register_in(&app, "ala@example.pl", "en").await;
    register_in(&app, "ola@example.pl", "en").await;
    let counts = app.core.outbox_counts().await.unwrap();
    assert_eq!(counts.pending, 2, "committed with the sign-ups");
    // Both were tried, failed, and wait for their retry.
    let counts = settle(&app, |c| c.retrying == 2).await;
    assert_eq!(counts.pending, 2, "nothing lost while SMTP is down");

    let receiver = SmtpReceiver::default();
    receiver.start(port).await;
    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    let mut recipients: Vec<&str> = received.iter().map(|m| m.to.as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["ala@example.pl", "ola@example.pl"]);
    let counts = settle(&app, |c| c.sent == 2).await;
    assert_eq!((counts.pending, counts.sent), (0, 2));
    assert_eq!(receiver.received().len(), 2, "each message once");
}

/// Waits (up to 10 s) until the outbox's counts satisfy `done`; a worker
/// marks a message sent only after the SMTP server took it.
async fn settle(
    app: &TestApp,
    done: impl Fn(&klucznik::store::OutboxCounts) -> bool,
) -> klucznik::store::OutboxCounts {
    for _ in 0..200 {
        let counts = app.core.outbox_counts().await.unwrap();
        if done(&counts) {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the outbox never settled: {:?}",
        app.core.outbox_counts().await.unwrap()
    );
}

async fn verification_code_of(app: &TestApp, at: usize) -> crate::mailbox::Received {
    wait_for_files(&app.database.mail_dir, at + 1, Duration::from_secs(5))
        .await
        .remove(at)
}

async fn codes_expire_die_after_five_wrong_tries_and_are_replaced_by_a_resend(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let first = verification_code_of(&app, 0).await.code();
    let wrong = if first == "AAAAAAAA" {
        "BBBBBBBB"
    } else {
        "AAAAAAAA"
    };
    for _ in 0..4 {
        let response = app
            .post(
                "/api/v1/verify-email",
                json!({"email": "ala@example.pl", "code": wrong}),
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_verification").await;
    }
    let fifth = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": wrong}),
        )
        .await;
    assert_error(fifth, StatusCode::BAD_REQUEST, "verification_attempts_exhausted").await;
    let right = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": first}),
        )
        .await;
    assert_error(right, StatusCode::BAD_REQUEST, "verification_attempts_exhausted").await;

    // A resend replaces it: the old code stays dead, the new one works…
    let resent = app
        .post("/api/v1/verify-email/resend", json!({"email": "ala@example.pl"}))
        .await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let second = verification_code_of(&app, 1).await.code();
    // …but not after ten minutes.
    app.clock
        .advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    let expired = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": second}),
        )
        .await;
    assert_error(expired, StatusCode::BAD_REQUEST, "verification_expired").await;

    app.post("/api/v1/verify-email/resend", json!({"email": "ala@example.pl"}))
        .await;
    let third = verification_code_of(&app, 2).await.code();
    let replaced = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": second}),
        )
        .await;
    assert_error(replaced, StatusCode::BAD_REQUEST, "invalid_verification").await;
    let ok = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": third}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    // Used: refused the second time.
    let again = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": third}),
        )
        .await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_verification").await;
}

async fn resends_answer_202_for_anyone_and_stop_mailing_after_five_an_hour(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let mut bodies = Vec::new();
    for email in ["ala@example.pl", "nobody@example.pl", "not an email"] {
        let response = app
            .post("/api/v1/verify-email/resend", json!({"email": email}))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        bodies.push(response.text().await.unwrap());
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "the same answer for everyone");
    for _ in 0..6 {
        let response = app
            .post("/api/v1/verify-email/resend", json!({"email": "ala@example.pl"}))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    // The sign-up's mail and five resends; the rest were never queued.
    let files = wait_for_files(&app.database.mail_dir, 6, Duration::from_secs(5)).await;
    assert_eq!(files.len(), 6);
    let counts = settle(&app, |c| c.pending == 0).await;
    assert_eq!(counts.sent, 6);
    let malformed = app
        .client
        .post(app.url("/api/v1/verify-email/resend"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
}

async fn links_are_single_use_and_expire(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let (_, link) = verification_code_of(&app, 0).await.link();
    assert_eq!(
        app.post("/api/v1/verify-email", json!({"token": link}))
            .await
            .status(),
        StatusCode::OK
    );
    let again = app.post("/api/v1/verify-email", json!({"token": link})).await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_verification").await;
    let made_up = app
        .post("/api/v1/verify-email", json!({"token": "made-up"}))
        .await;
    assert_error(made_up, StatusCode::BAD_REQUEST, "invalid_verification").await;

    register_in(&app, "ola@example.pl", "en").await;
    let (_, link) = verification_code_of(&app, 1).await.link();
    app.clock
        .advance(time::Duration::hours(24) + time::Duration::seconds(1));
    let expired = app.post("/api/v1/verify-email", json!({"token": link})).await;
    assert_error(expired, StatusCode::BAD_REQUEST, "verification_expired").await;
}

async fn forgot_password_is_the_same_for_unknown_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post(
        "/api/v1/register",
        json!({"email": "ala@example.pl", "password": PASSWORD}),
    )
    .await;
    let mut answers = Vec::new();
    for email in ["ala@example.pl", "nobody@example.pl", "ALA@EXAMPLE.PL"] {
        let started = std::time::Instant::now();
        let response = app.post("/api/v1/password/forgot", json!({"email": email})).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(290),
            "every answer takes the floor time: {took:?}"
        );
        answers.push((response.status(), response.text().await.unwrap()));
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    // One verification mail from the sign-up, and two reset links: none for nobody@.
    let files = wait_for_files(&app.database.mail_dir, 3, Duration::from_secs(5)).await;
    let counts = settle(&app, |c| c.pending == 0).await;
    assert_eq!(counts.sent, 3, "nothing queued for an unknown address");
    assert!(files.iter().all(|m| m.to == "ala@example.pl"));
}

async fn password_reset_by_mailed_link_ends_every_session_and_notifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let response = app
        .client
        .post(app.url("/api/v1/password/forgot"))
        .header("accept-language", "pl")
        .json(&json!({"email": "ala@example.pl"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mail = wait_for_files(&app.database.mail_dir, 2, Duration::from_secs(5))
        .await
        .remove(1);
    assert_eq!(mail.subject, "Ustaw nowe hasło");
    let (path, reset) = mail.link();
    assert_eq!(path, "/reset-password");

    let check = app
        .post("/api/v1/password/reset/check", json!({"token": reset}))
        .await;
    assert_eq!(check.status(), StatusCode::OK);
    assert_eq!(check.json::<Value>().await.unwrap()["valid"], true);
    let weak = app
        .post(
            "/api/v1/password/reset",
            json!({"token": reset, "password": "12345678"}),
        )
        .await;
    assert_error(weak, StatusCode::BAD_REQUEST, "password_too_common").await;
    let done = app
        .client
        .post(app.url("/api/v1/password/reset"))
        .header("accept-language", "pl")
        .json(&json!({"token": reset, "password": "nowe-haslo-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);

    assert_error(
        app.get_with_token("/api/v1/me", token(&login)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let refresh = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("ala@example.pl", "nowe-haslo-123").await.status(),
        StatusCode::OK
    );
    let reuse = app
        .post(
            "/api/v1/password/reset",
            json!({"token": reset, "password": "inne-haslo-456"}),
        )
        .await;
    assert_error(reuse, StatusCode::BAD_REQUEST, "reset_token_used").await;

    let notice = wait_for_files(&app.database.mail_dir, 3, Duration::from_secs(5))
        .await
        .remove(2);
    assert_eq!(notice.subject, "Hasło zostało zmienione");
    assert_eq!(notice.to, "ala@example.pl");
}

async fn reset_tokens_are_refused_when_unknown_used_or_expired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post(
        "/api/v1/register",
        json!({"email": "ala@example.pl", "password": PASSWORD}),
    )
    .await;
    let unknown = app
        .post("/api/v1/password/reset/check", json!({"token": "made-up"}))
        .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "reset_token_invalid").await;
    let unknown = app
        .post(
            "/api/v1/password/reset",
            json!({"token": "made-up", "password": "nowe-haslo-123"}),
        )
        .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "reset_token_invalid").await;
    let missing = app.post("/api/v1/password/reset", json!({"token": "x"})).await;
    assert_error(missing, StatusCode::BAD_REQUEST, "invalid_body").await;

    app.post("/api/v1/password/forgot", json!({"email": "ala@example.pl"}))
        .await;
    let (_, first) = wait_for_files(&app.database.mail_dir, 2, Duration::from_secs(5))
        .await
        .remove(1)
        .link();
    app.clock
        .advance(time::Duration::hours(1) + time::Duration::seconds(1));
    let expired = app
        .post("/api/v1/password/reset/check", json!({"token": first}))
        .await;
    assert_error(expired, StatusCode::BAD_REQUEST, "reset_token_expired").await;

    // Two links: using one kills the other.
    app.post("/api/v1/password/forgot", json!({"email": "ala@example.pl"}))
        .await;
    app.post("/api/v1/password/forgot", json!({"email": "ala@example.pl"}))
        .await;
    let files = wait_for_files(&app.database.mail_dir, 4, Duration::from_secs(5)).await;
    let (_, second) = files[2].link();
    let (_, third) = files[3].link();
    let done = app
        .post(
            "/api/v1/password/reset",
            json!({"token": third, "password": "nowe-haslo-123"}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let other = app
        .post("/api/v1/password/reset/check", json!({"token": second}))
        .await;
    assert_error(other, StatusCode::BAD_REQUEST, "reset_token_used").await;
}

async fn email_change_is_verified_at_the_new_address_and_announced_at_the_old(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    app.post(
        "/api/v1/register",
        json!({"email": "zajety@example.pl", "password": PASSWORD}),
    )
    .await;
    let change = |email: &str| {
        app.client
            .post(app.url("/api/v1/me/email"))
            .bearer_auth(token(&login))
            .json(&json!({"email": email}))
            .send()
    };
    assert_error(
        change("zajety@example.pl").await.unwrap(),
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_error(
        change("nie-adres").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_email",
    )
    .await;
    assert_eq!(
        change("nowy@example.pl").await.unwrap().status(),
        StatusCode::ACCEPTED
    );

    let files = wait_for_files(&app.database.mail_dir, 4, Duration::from_secs(5)).await;
    let verification = files.iter().find(|m| m.to == "nowy@example.pl").unwrap();
    let notice = files
        .iter()
        .find(|m| m.to == "ala@example.pl" && m.subject == "Email address change")
        .unwrap();
    assert!(notice.text.contains("nowy@example.pl"));
    // Nothing changes until the new address is verified.
    let me: Value = app
        .get_with_token("/api/v1/me", token(&login))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["email"], "ala@example.pl");
    let (_, link) = verification.link();
    let verified = app.post("/api/v1/verify-email", json!({"token": link})).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let me: Value = app
        .get_with_token("/api/v1/me", token(&login))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["email"], "nowy@example.pl");
    assert_eq!(me["account"]["email_verified"], true);
    assert_eq!(
        app.login("nowy@example.pl", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Pending mail survives a hard kill of the server and goes out, once,
/// after the restart.
#[tokio::test]
async fn pending_mail_survives_a_killed_server_and_is_sent_once_after_restart() {
    let database = TestDatabase::create(&Backend::Sqlite).await;
    let port = free_port();
    let binary = env!("CARGO_BIN_EXE_klucznik");
    let start = || {
        let mut child = std::process::Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--mail", "smtp"])
            .env("KLUCZNIK_DATABASE_URL", &database.url)
            .env("KLUCZNIK_SMTP_URL", format!("smtp://127.0.0.1:{port}"))
            .env("KLUCZNIK_ARGON2_M_KIB", "256")
            .env("KLUCZNIK_ARGON2_T", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        (
            child,
            line.trim().strip_prefix("listening on ").unwrap().to_owned(),
        )
    };
    let (mut first, address) = start();
    let client = reqwest::Client::new();
    for email in ["a@example.pl", "b@example.pl", "c@example.pl"] {
        let response = client
            .post(format!("{address}/api/v1/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    first.kill().unwrap();
    first.wait().unwrap();

    let receiver = SmtpReceiver::default();
    receiver.start(port).await;
    let (mut second, _) = start();
    // Usually at once; at worst a killed sender's lease (30 s) and the
    // longest retry delay (30 s) must pass first.
    let received = receiver.wait_for(3, Duration::from_secs(70)).await;
    // Once the outbox says all three went out, nothing more can go.
    let store = klucznik::store::connect(&database.url, None).await.unwrap();
    for _ in 0..200 {
        if store.outbox_counts().await.unwrap().sent == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received_later = receiver.received();
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(received_later.len(), 3, "exactly once each");
    let mut ids: Vec<&str> = received.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

async fn mailed_links_land_on_pages_that_work_without_javascript(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "pl").await;
    let mail = verification_code_of(&app, 0).await;
    let (path, link_token) = mail.link();
    let mut browser = PageSession::new(&app);
    browser.language = Some("pl-PL");

    // Opening the link changes nothing by itself (mail scanners open links).
    let page = app
        .client
        .get(app.url(&format!("{path}?token={link_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let (_, html) = browser.get(&format!("{path}?token={link_token}")).await;
    assert!(
        html.contains("method=\"post\"") && html.contains(&link_token),
        "{html}"
    );
    assert_error(
        app.login("ala@example.pl", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    let stylesheet = app
        .client
        .get(app.url("/static/klucznik.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stylesheet.headers()["content-type"], "text/css; charset=utf-8");

    // Without the form's CSRF token the button does nothing.
    let (status, _) = browser
        .post_without_token("/verify", &[("token", link_token.as_str())])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html) = browser.post("/verify", &[("token", link_token.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Adres potwierdzony"), "{html}");
    assert_eq!(
        app.login("ala@example.pl", PASSWORD).await.status(),
        StatusCode::OK
    );
    browser.get(&format!("{path}?token={link_token}")).await;
    let (status, _) = browser.post("/verify", &[("token", link_token.as_str())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The code form, in English, keeps the email and marks the field in error.
    register_in(&app, "bob@example.com", "en").await;
    let code = verification_code_of(&app, 1).await.code();
    browser.language = Some("en");
    let (_, form) = browser.get("/verify").await;
    assert!(form.contains("autocomplete=\"one-time-code\"") && form.contains("<label for=\"code\">"));
    let (status, wrong) = browser
        .post("/verify", &[("email", "bob@example.com"), ("code", "WRONG000")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.contains("value=\"bob@example.com\"") && wrong.contains("aria-invalid=\"true\""),
        "{wrong}"
    );
    let (status, right) = browser
        .post(
            "/verify",
            &[("email", "bob@example.com"), ("code", code.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(right.contains("confirmed"));

    // The reset link's page.
    app.post("/api/v1/password/forgot", json!({"email": "bob@example.com"}))
        .await;
    let (path, reset) = verification_code_of(&app, 2).await.link();
    let (status, html) = browser.get(&format!("{path}?token={reset}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("autocomplete=\"new-password\""));
    let (status, weak) = browser
        .post(
            "/reset-password",
            &[("token", reset.as_str()), ("password", "password1")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        weak.contains("too common") && !weak.contains("password1"),
        "the password is never echoed"
    );
    let (status, _) = browser
        .post(
            "/reset-password",
            &[("token", reset.as_str()), ("password", "nowe-haslo-123")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.login("bob@example.com", "nowe-haslo-123").await.status(),
        StatusCode::OK
    );
    let (status, used) = browser.get(&format!("{path}?token={reset}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(used.contains("already used"));
}

async fn two_instances_on_one_database_send_each_message_once(backend: Backend) {
    let receiver = SmtpReceiver::default();
    let port = receiver.start(0).await;
    let first = smtp_app(backend, port).await;
    // A second instance on the same database, delivering from the same outbox.
    let mut config = crate::helpers::test_config(&first.database);
    config.mail = MailSettings::Smtp(format!("smtp://127.0.0.1:{port}").into());
    let second = klucznik::startup::Application::build(config).await.unwrap();
    let second_address = format!("http://{}", second.local_addr().unwrap());
    tokio::spawn(second.run_until(std::future::pending()));

    let sign_ups = (0..20).map(|i| {
        let base = if i % 2 == 0 {
            first.address.clone()
        } else {
            second_address.clone()
        };
        let client = first.client.clone();
        async move {
            client
                .post(format!("{base}/api/v1/register"))
                .json(&json!({"email": format!("user{i}@example.pl"), "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(sign_ups).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    receiver.wait_for(20, Duration::from_secs(15)).await;
    settle(&first, |c| c.sent == 20 && c.pending == 0).await;
    let received = receiver.received();
    assert_eq!(received.len(), 20, "no message twice");
    let mut ids: Vec<&str> = received.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

/// `Zoë.Łukasz@Example.com` signs up, verifies by code and link, and signs
/// in however it is cased: one normalisation (Unicode lower case) on every
/// path and in both databases (SQLite's `lower()` knows only ASCII).
async fn an_address_with_non_ascii_capitals_works_in_any_casing(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "Zoë.Łukasz@Example.com", "en").await;
    let taken = app
        .post(
            "/api/v1/register",
            json!({"email": "ZOË.ŁUKASZ@example.COM", "password": PASSWORD}),
        )
        .await;
    assert_error(taken, StatusCode::CONFLICT, "email_taken").await;
    let code = verification_code_of(&app, 0).await.code();
    let verified = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "zoë.łukasz@example.com", "code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK, "{:?}", verified.text().await);
    for login in [
        "ZOË.ŁUKASZ@EXAMPLE.COM",
        "zoë.łukasz@example.com",
        " Zoë.Łukasz@Example.com ",
    ] {
        assert_eq!(
            app.login(login, PASSWORD).await.status(),
            StatusCode::OK,
            "{login}"
        );
    }

    // The same for an address changed to another such one.
    let signed_in: Value = app
        .login("zoë.łukasz@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let change = app
        .client
        .post(app.url("/api/v1/me/email"))
        .bearer_auth(token(&signed_in))
        .json(&json!({"email": "Ömer.Świątek@Example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::ACCEPTED);
    let mails = wait_for_files(&app.database.mail_dir, 3, Duration::from_secs(5)).await;
    let to_new = mails
        .into_iter()
        .find(|m| m.to.to_lowercase().contains("example.org"))
        .unwrap();
    let code = to_new.code();
    let verified = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ÖMER.ŚWIĄTEK@EXAMPLE.ORG", "code": code}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK, "{:?}", verified.text().await);
    assert_eq!(
        app.login("ömer.świątek@example.org", PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// Fifty wrong codes at once: exactly five are compared (four answered
/// "invalid", the fifth and every other "too many"), and the right code
/// afterwards is refused too.
async fn parallel_wrong_codes_get_no_more_tries_than_the_limit(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let code = verification_code_of(&app, 0).await.code();
    let wrong = if code == "AAAAAAAA" {
        "BBBBBBBB"
    } else {
        "AAAAAAAA"
    };
    let guesses = (0..50).map(|_| {
        let client = app.client.clone();
        let url = app.url("/api/v1/verify-email");
        async move {
            let response = client
                .post(url)
                .json(&json!({"email": "ala@example.pl", "code": wrong}))
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["error"].as_str().unwrap().to_owned()
        }
    });
    let mut answers = futures::future::join_all(guesses).await;
    answers.sort();
    let invalid = answers.iter().filter(|a| *a == "invalid_verification").count();
    let exhausted = answers
        .iter()
        .filter(|a| *a == "verification_attempts_exhausted")
        .count();
    assert_eq!((invalid, exhausted), (4, 46), "{answers:?}");
    let right = app
        .post(
            "/api/v1/verify-email",
            json!({"email": "ala@example.pl", "code": code}),
        )
        .await;
    assert_error(right, StatusCode::BAD_REQUEST, "verification_attempts_exhausted").await;
}

/// Twenty resends at once still mail five: the sign-up's message and five
/// resends, nothing more.
async fn parallel_resends_mail_no_more_than_the_limit(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    register_in(&app, "ala@example.pl", "en").await;
    let resends = (0..20).map(|_| {
        let client = app.client.clone();
        let url = app.url("/api/v1/verify-email/resend");
        async move {
            let response = client
                .post(url)
                .json(&json!({"email": "ala@example.pl"}))
                .send()
                .await
                .unwrap();
            response.status()
        }
    });
    let statuses = futures::future::join_all(resends).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    let counts = settle(&app, |c| c.pending == 0 && c.sent >= 6).await;
    assert_eq!(counts.sent, 6, "the sign-up's mail and five resends");
}
