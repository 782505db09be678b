//! The web page over HTTP, as a browser without JavaScript uses it: forms,
//! cookies, redirects, CSRF tokens, both languages.

use crate::helpers::{Backend, PageSession, TestApp, both_backends};
use crate::mailbox::wait_for_files;
use reqwest::StatusCode;
use std::time::Duration;

both_backends!(
    a_person_signs_up_verifies_signs_in_and_manages_the_account,
    forms_without_their_token_are_refused,
    pages_speak_polish_and_english
);

const PASSWORD: &str = "kot ma ale 2024";

async fn a_person_signs_up_verifies_signs_in_and_manages_the_account(backend: Backend) {
    let app = TestApp::spawn_verifying(backend).await;
    let mut browser = PageSession::new(&app);
    browser.language = Some("en");

    let (status, _) = browser.get("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "/ sends a visitor to sign in");
    let (_, page) = browser.get("/sign-up").await;
    assert!(page.len() < 50 * 1024, "pages stay small");
    for attribute in [
        "autocomplete=\"email\"",
        "autocomplete=\"new-password\"",
        "<label for=\"password\">",
    ] {
        assert!(page.contains(attribute), "{attribute}");
    }
    // Errors by their field, input kept, password never echoed.
    let (status, page) = browser
        .post(
            "/sign-up",
            &[
                ("email", "ala@example.pl"),
                ("username", "a!"),
                ("password", "password1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("value=\"ala@example.pl\"") && page.contains("id=\"username-error\""),
        "{page}"
    );
    assert!(!page.contains("password1"));
    let (status, page) = browser
        .post(
            "/sign-up",
            &[
                ("email", "ala@example.pl"),
                ("username", ""),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    // Not yet verified: sign-in says so.
    browser.get("/sign-in").await;
    let (status, page) = browser
        .post("/sign-in", &[("login", "ala@example.pl"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Confirm your email address first"));

    // The mailed link verifies.
    let mail = wait_for_files(&app.database.mail_dir, 1, Duration::from_secs(5))
        .await
        .remove(0);
    let (path, token) = mail.link();
    browser.get(&format!("{path}?token={token}")).await;
    let (status, _) = browser.post("/verify", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::OK);

    // Sign in: wrong password first, then right.
    browser.get("/sign-in").await;
    let (status, page) = browser
        .post(
            "/sign-in",
            &[("login", "ala@example.pl"), ("password", "wrong-one")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("value=\"ala@example.pl\"") && page.contains("id=\"password-error\""));
    let (status, _) = browser
        .post("/sign-in", &[("login", "ala@example.pl"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(browser.has_cookie("klucznik_session"));
    let (status, page) = browser.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("ala@example.pl") && page.contains("verified"),
        "{page}"
    );

    // Set a nickname.
    let (status, page) = browser
        .post("/account/nickname", &[("username", "Ala_Kot")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<dd id=\"my-username\">Ala_Kot</dd>"), "{page}");

    // A second browser signs in; the first signs out all other devices.
    let mut other = PageSession::new(&app);
    other.get("/sign-in").await;
    other
        .post("/sign-in", &[("login", "Ala_Kot"), ("password", PASSWORD)])
        .await;
    assert_eq!(other.get("/account").await.0, StatusCode::OK);
    browser.get("/account").await;
    let (status, page) = browser.post("/account/sessions/revoke-others", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Every other device was signed out"));
    assert_eq!(
        other.get("/account").await.0,
        StatusCode::SEE_OTHER,
        "the other browser is signed out"
    );

    // Change the password; sign out; the old password is refused.
    let (status, page) = browser
        .post(
            "/account/password",
            &[
                ("current_password", "nope-nope"),
                ("new_password", "nowe-haslo-123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"current-error\""));
    let (status, _) = browser
        .post(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "nowe-haslo-123")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = browser.get("/sign-out").await;
    assert_eq!(status, StatusCode::OK, "GET asks, it does not sign out");
    let (status, _) = browser.post("/sign-out", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/account").await.0, StatusCode::SEE_OTHER);

    // Forgot the password: the mailed link resets it.
    browser.get("/forgot-password").await;
    let (status, page) = browser
        .post("/forgot-password", &[("email", "ala@example.pl")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If an account has this address"));
    let mails = wait_for_files(&app.database.mail_dir, 2, Duration::from_secs(5)).await;
    let (path, token) = mails
        .iter()
        .rev()
        .find(|m| m.subject == "Set a new password")
        .unwrap()
        .link();
    browser.get(&format!("{path}?token={token}")).await;
    let (status, _) = browser
        .post(
            "/reset-password",
            &[("token", &token), ("password", "trzecie-haslo-9")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    browser.get("/sign-in").await;
    let (status, _) = browser
        .post(
            "/sign-in",
            &[("login", "ala_kot"), ("password", "nowe-haslo-123")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is refused");
    let (status, _) = browser
        .post(
            "/sign-in",
            &[("login", "ala_kot"), ("password", "trzecie-haslo-9")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn forms_without_their_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = PageSession::new(&app);
    browser.get("/sign-in").await;
    let (status, page) = browser
        .post_without_token("/sign-in", &[("login", "a"), ("password", "b")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("Request refused") && page.contains("did not come from this site"),
        "{page}"
    );
    // A token from another browser does not fit this one's cookie.
    let mut stranger = PageSession::new(&app);
    stranger.get("/sign-up").await;
    let mut fresh = PageSession::new(&app);
    let (status, _) = fresh
        .post("/sign-up", &[("email", "x@example.pl"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no cookie, no token");
    for path in [
        "/sign-up",
        "/forgot-password",
        "/sign-out",
        "/account/nickname",
        "/verify",
        "/reset-password",
    ] {
        let (status, _) = browser.post_without_token(path, &[]).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::SEE_OTHER,
            "{path}: {status}"
        );
    }
}

async fn pages_speak_polish_and_english(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = PageSession::new(&app);
    browser.language = Some("pl-PL,pl;q=0.9");
    let (_, page) = browser.get("/sign-in").await;
    assert!(page.contains("<html lang=\"pl\">") && page.contains("Zaloguj się"));
    // The switch is remembered over the browser's own language.
    let response = app.client.get(app.url("/sign-in?lang=en")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/sign-in");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let english = app
        .client
        .get(app.url("/sign-in"))
        .header("accept-language", "pl")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let headers = english.headers().clone();
    let page = english.text().await.unwrap();
    assert!(page.contains("<html lang=\"en\">") && page.contains("Forgot your password?"));
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));
}
