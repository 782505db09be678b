//! Second factors: TOTP codes computed here from the secret (right, wrong,
//! replayed, one step of drift), recovery codes used once, the mfa_token's
//! expiry, single use and tries, step-up, an admin's reset, the refusal of
//! the seed dialects, and the secret encrypted at rest.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, send, token};
use klucznik::app::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

both_backends!(
    totp_enrolment_sign_in_replay_and_drift,
    recovery_codes_the_mfa_token_and_step_up,
    dialects_refuse_and_admins_reset_second_factors,
    the_web_page_enrols_an_app_and_asks_for_its_code,
    a_required_role_must_enrol_first,
    passkeys_need_a_domain_and_refuse_bad_answers,
);

/// The six digits an authenticator app shows at `at` for `secret` (base32).
pub fn code_at(secret: &str, at: OffsetDateTime) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap();
    totp.generate(at.unix_timestamp() as u64)
}

/// Signs up, enrols an authenticator app and confirms it: the login
/// answer, the secret and the recovery codes.
pub async fn enrolled(app: &TestApp, email: &str) -> (Value, String, Vec<String>) {
    let login = app.signed_in(email).await;
    let begun = send(
        app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        &login,
        json!({}),
    )
    .await;
    assert_eq!(begun.status(), StatusCode::CREATED);
    let begun: Value = begun.json().await.unwrap();
    let secret = begun["secret"].as_str().unwrap().to_owned();
    assert!(
        begun["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Klucznik:")
    );
    assert!(begun["qr_svg"].as_str().unwrap().contains("<svg"));
    let code = code_at(&secret, app.clock.now());
    let confirmed = send(
        app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        &login,
        json!({ "code": code }),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Vec<String> = confirmed.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (login, secret, codes)
}

/// jwt-roles, which has no second step, refuses the account's right
/// password in its own shape (`{"message"}` alone), naming the reason.
async fn jwt_roles_refuses(app: &TestApp, username: &str) {
    let refused = app
        .post(
            "/api/auth/signin",
            json!({ "username": username, "password": PASSWORD }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("second factor"),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "jwt-roles' shape: {body}");
}

/// A right password: the mfa_token of the next step.
async fn first_step(app: &TestApp, email: &str) -> String {
    let answer = app.login(email, PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers().get("set-cookie").is_none(),
        "no session before the second step"
    );
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["methods"], json!(["totp", "recovery_code", "passkey"]));
    assert!(body.get("access_token").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, field: &str, code: &str) -> reqwest::Response {
    app.post(
        "/api/v1/login/mfa",
        json!({ "mfa_token": mfa_token, field: code }),
    )
    .await
}

async fn totp_enrolment_sign_in_replay_and_drift(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let begun: Value = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        &login,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let secret = begun["secret"].as_str().unwrap().to_owned();
    // Not counted until confirmed: a password still signs in.
    assert!(
        app.login("ala@example.pl", PASSWORD)
            .await
            .json::<Value>()
            .await
            .unwrap()["access_token"]
            .is_string()
    );
    let wrong = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        &login,
        json!({ "code": "000000" }),
    )
    .await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let code = code_at(&secret, app.clock.now());
    let confirmed = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        &login,
        json!({ "code": &code }),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let again = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        &login,
        json!({}),
    )
    .await;
    assert_error(again, StatusCode::CONFLICT, "second_factor_enrolled").await;
    let status: Value = send(&app, reqwest::Method::GET, "/api/v1/me/mfa", &login, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        json!({ "totp": true, "recovery_codes_left": 10, "passkeys": 0 })
    );

    // The code that confirmed the app is spent: replaying it fails.
    let mfa_token = first_step(&app, "ala@example.pl").await;
    let replayed = second_step(&app, &mfa_token, "code", &code).await;
    assert_error(replayed, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    // Thirty seconds on, the next code signs in.
    app.clock.advance(Duration::seconds(30));
    let next = code_at(&secret, app.clock.now());
    let signed = second_step(&app, &mfa_token, "code", &next).await;
    assert_eq!(signed.status(), StatusCode::OK);
    assert!(signed.headers().get("set-cookie").is_some());
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&signed)).await.status(),
        StatusCode::OK
    );
    // The token is single use, and the code too.
    let reused = second_step(&app, &mfa_token, "code", &next).await;
    assert_error(reused, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let fresh = first_step(&app, "ala@example.pl").await;
    let replay = second_step(&app, &fresh, "code", &next).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;

    // Drift: the previous step's code is taken once; two steps back is not.
    app.clock.advance(Duration::seconds(60));
    let two_back = code_at(&secret, app.clock.now() - Duration::seconds(60));
    let refused = second_step(&app, &fresh, "code", &two_back).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let one_back = code_at(&secret, app.clock.now() - Duration::seconds(30));
    assert_eq!(
        second_step(&app, &fresh, "code", &one_back).await.status(),
        StatusCode::OK
    );
}

async fn recovery_codes_the_mfa_token_and_step_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (login, secret, codes) = enrolled(&app, "ala@example.pl").await;
    assert_eq!(codes.len(), 10);

    // A recovery code signs in once, and the owner is told.
    let mfa_token = first_step(&app, "ala@example.pl").await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    assert_eq!(
        second_step(&app, &mfa_token, "recovery_code", &typed)
            .await
            .status(),
        StatusCode::OK
    );
    let again = first_step(&app, "ala@example.pl").await;
    let reused = second_step(&app, &again, "recovery_code", &codes[0]).await;
    assert_error(reused, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let notices =
        crate::mailbox::wait_for_files(&app.database.mail_dir, 2, std::time::Duration::from_secs(5)).await;
    assert!(
        notices
            .iter()
            .any(|m| m.subject == "Your account's security changed" && m.text.contains("recovery code"))
    );

    // Five tries per token: the sixth, even right, is refused.
    let token5 = first_step(&app, "ala@example.pl").await;
    for _ in 0..5 {
        second_step(&app, &token5, "code", "000000").await;
    }
    app.clock.advance(Duration::seconds(30));
    let right = code_at(&secret, app.clock.now());
    let sixth = second_step(&app, &token5, "code", &right).await;
    assert_error(sixth, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    // Five minutes: the token is dead.
    let old = first_step(&app, "ala@example.pl").await;
    app.clock.advance(Duration::minutes(5) + Duration::seconds(1));
    let expired = second_step(&app, &old, "code", &code_at(&secret, app.clock.now())).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    // Wrong codes across tokens pause the account's second step (429).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let step = first_step(&app, "ala@example.pl").await;
        for _ in 0..5 {
            statuses.push(second_step(&app, &step, "code", "000000").await.status());
        }
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    app.clock.advance(Duration::minutes(20));

    // Step-up: an old session (its access token refreshed) needs the
    // password to change factors.
    let login: Value = app
        .post(
            "/api/v1/refresh",
            json!({ "refresh_token": login["refresh_token"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let regen = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/recovery-codes",
        &login,
        json!({}),
    )
    .await;
    assert_error(regen, StatusCode::FORBIDDEN, "step_up_required").await;
    let bad = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/recovery-codes",
        &login,
        json!({ "password": "wrong" }),
    )
    .await;
    assert_error(bad, StatusCode::FORBIDDEN, "step_up_required").await;
    let regenerated = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/recovery-codes",
        &login,
        json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let renewed: Value = regenerated.json().await.unwrap();
    // (A success first: the failures above still pause the next one.)
    let step = first_step(&app, "ala@example.pl").await;
    let new_code = renewed["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        second_step(&app, &step, "recovery_code", new_code).await.status(),
        StatusCode::OK
    );
    let step = first_step(&app, "ala@example.pl").await;
    let old_code = second_step(&app, &step, "recovery_code", &codes[1]).await;
    assert_error(old_code, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let moved = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/email",
        &login,
        json!({ "email": "ala2@example.pl" }),
    )
    .await;
    assert_error(moved, StatusCode::FORBIDDEN, "step_up_required").await;
    let body = json!({ "email": "ala2@example.pl", "password": PASSWORD });
    let moved = send(&app, reqwest::Method::POST, "/api/v1/me/email", &login, body).await;
    assert_eq!(moved.status(), StatusCode::ACCEPTED);
    let off = send(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/me/mfa/totp",
        &login,
        json!({}),
    )
    .await;
    assert_error(off, StatusCode::FORBIDDEN, "step_up_required").await;
    let off = send(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/me/mfa/totp",
        &login,
        json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    let plain: Value = app.login("ala@example.pl", PASSWORD).await.json().await.unwrap();
    assert!(plain["access_token"].is_string(), "no second step any more");

    let activity: Value = app
        .get_with_token("/api/v1/me/activity", token(&plain))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = activity["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in [
        "second_factor_enabled",
        "recovery_code_used",
        "recovery_codes_renewed",
        "second_factor_disabled",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

async fn dialects_refuse_and_admins_reset_second_factors(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.dialects = vec![klucznik::config::DialectMount {
            name: "jwt-roles".into(),
            prefix: None,
        }];
        c.secret_key = klucznik::secret::SecretKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    })
    .await;
    let (login, _, _) = enrolled(&app, "ala@example.pl").await;
    let stored = app.stored_texts("SELECT secret FROM mfa_totp").await;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&stored[0])
        .unwrap();
    assert!(
        bytes.starts_with(b"klucz\x00K1"),
        "the secret is encrypted at rest"
    );

    // jwt-roles has no second step: refused in its own shape, with the reason.
    jwt_roles_refuses(&app, "ala@example.pl").await;

    // An admin sees the factor and removes it (a lost phone).
    let admin = app.admin("admin@example.pl").await;
    let id = login["account"]["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/users/{id}/mfa");
    let seen: Value = send(&app, reqwest::Method::GET, &path, &admin, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["totp"], true);
    let not_admin = send(&app, reqwest::Method::DELETE, &path, &login, json!({})).await;
    assert_error(not_admin, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        send(&app, reqwest::Method::DELETE, &path, &admin, json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let signin = app
        .post(
            "/api/auth/signin",
            json!({ "username": "ala@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signin.status(), StatusCode::OK);
}

/// The web page, without JavaScript: the Security screen adds an app (QR
/// code inline, the key shown), its first code confirms it and shows the
/// recovery codes once; the next sign-in asks for a code on its own page.
async fn the_web_page_enrols_an_app_and_asks_for_its_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let mut page = crate::helpers::PageSession::new(&app);
    page.sign_in("ala@example.pl", PASSWORD).await;
    let (status, html) = page.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/account/security\""));
    let (status, html) = page.get("/account/security").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Add an authenticator app"));
    let (status, html) = page
        .post("/account/security/totp", &[("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<svg") && !html.contains("<?xml"),
        "the QR code inline"
    );
    let secret = between(&html, "<code id=\"totp-secret\">", "</code>");
    let (status, html) = page
        .post("/account/security/totp/confirm", &[("code", "000000")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("This code is not valid."));
    // The wrong code did not end the enrolment: the right one confirms it.
    let code = code_at(&secret, app.clock.now());
    let (status, html) = page
        .post("/account/security/totp/confirm", &[("code", &code)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes = between(&html, "<pre id=\"recovery-codes\">", "</pre>");
    assert_eq!(codes.lines().count(), 10, "{codes}");
    let (_, html) = page.get("/account/security").await;
    assert!(
        html.contains("Recovery codes left: 10") && !html.contains("recovery-codes\">"),
        "shown once"
    );

    let mut next = crate::helpers::PageSession::new(&app);
    next.get("/sign-in").await;
    let (status, html) = next
        .post("/sign-in", &[("login", "ala@example.pl"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Enter the code from your authenticator app."));
    assert!(!next.has_cookie("klucznik_session"));
    let mfa_token = between(&html, "name=\"mfa_token\" value=\"", "\"");
    app.clock.advance(Duration::seconds(30));
    let code = code_at(&secret, app.clock.now());
    let (status, _) = next
        .post(
            "/sign-in/second-factor",
            &[("mfa_token", &mfa_token), ("code", &code)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, html) = next.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Second factor enabled"), "in the activity list");

    // A lost phone: a recovery code on the same page gets back in.
    let mut lost = crate::helpers::PageSession::new(&app);
    lost.get("/sign-in").await;
    let (_, html) = lost
        .post("/sign-in", &[("login", "ala@example.pl"), ("password", PASSWORD)])
        .await;
    let mfa_token = between(&html, "name=\"mfa_token\" value=\"", "\"");
    let code = codes.lines().next().unwrap().trim().to_owned();
    let (status, _) = lost
        .post(
            "/sign-in/second-factor",
            &[("mfa_token", &mfa_token), ("recovery_code", &code)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(lost.get("/account").await.0, StatusCode::OK);
}

pub(crate) fn between(html: &str, start: &str, end: &str) -> String {
    let from = html.find(start).unwrap_or_else(|| panic!("no {start} in {html}")) + start.len();
    let rest = &html[from..];
    rest[..rest.find(end).unwrap()].to_owned()
}

/// `--require-mfa-for-role admin`: an admin without a second factor signs
/// in natively but can do nothing but enrol; a seed dialect refuses it;
/// other accounts are untouched.
async fn a_required_role_must_enrol_first(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.core.second_factor_roles = vec![klucznik::domain::Role::Admin];
        c.dialects = vec![klucznik::config::DialectMount {
            name: "jwt-roles".into(),
            prefix: None,
        }];
    })
    .await;
    let admin = app.admin("admin@example.pl").await;
    let user = app.signed_in("ala@example.pl").await;
    assert_eq!(
        app.get_with_token("/api/v1/sessions", token(&user))
            .await
            .status(),
        StatusCode::OK
    );
    let blocked = app.get_with_token("/api/v1/sessions", token(&admin)).await;
    assert_error(blocked, StatusCode::FORBIDDEN, "second_factor_enrolment_required").await;
    let users = app.get_with_token("/api/v1/admin/users", token(&admin)).await;
    assert_error(users, StatusCode::FORBIDDEN, "second_factor_enrolment_required").await;
    assert_eq!(
        app.get_with_token("/api/v1/me", token(&admin)).await.status(),
        StatusCode::OK
    );
    let passkeys = app.get_with_token("/api/v1/me/passkeys", token(&admin)).await;
    assert_eq!(
        passkeys.status(),
        StatusCode::OK,
        "a passkey may be the factor enrolled"
    );
    jwt_roles_refuses(&app, "admin@example.pl").await;

    let begun: Value = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        &admin,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let code = code_at(begun["secret"].as_str().unwrap(), app.clock.now());
    let confirmed = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        &admin,
        json!({ "code": code }),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        app.get_with_token("/api/v1/admin/users", token(&admin))
            .await
            .status(),
        StatusCode::OK
    );
}

/// Passkeys need the public URL's host to be a domain (browsers refuse IP
/// addresses as relying parties); answers that do not verify are refused.
async fn passkeys_need_a_domain_and_refuse_bad_answers(backend: Backend) {
    let ip = TestApp::spawn(backend.clone()).await;
    let login = ip.signed_in("ala@example.pl").await;
    let start = send(
        &ip,
        reqwest::Method::POST,
        "/api/v1/me/passkeys/register/start",
        &login,
        json!({}),
    )
    .await;
    assert_error(start, StatusCode::NOT_FOUND, "not_found").await;

    let app = TestApp::spawn_with(backend, |c| {
        c.public_url = Some(url::Url::parse("http://localhost:8080").unwrap());
    })
    .await;
    let login = app.signed_in("ala@example.pl").await;
    let start: Value = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/passkeys/register/start",
        &login,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(start["options"]["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        start["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let forged = json!({ "ceremony": start["ceremony"], "name": "x", "credential": { "id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" } } });
    let refused = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/passkeys/register/finish",
        &login,
        forged.clone(),
    )
    .await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    // A ceremony is answered once.
    let again = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/passkeys/register/finish",
        &login,
        forged,
    )
    .await;
    assert_error(again, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
    let list: Value = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/me/passkeys",
        &login,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(list, json!({ "passkeys": [] }));
    let sign_in: Value = app
        .post("/api/v1/login/passkey/start", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(sign_in["options"]["publicKey"]["challenge"].is_string());
    assert!(
        sign_in["options"].get("mediation").is_none(),
        "asked for with a button"
    );
    let bad = app
        .post(
            "/api/v1/login/passkey/finish",
            json!({ "ceremony": sign_in["ceremony"], "credential": {} }),
        )
        .await;
    assert_error(bad, StatusCode::UNAUTHORIZED, "invalid_second_factor").await;
}
