//! The audit trail: every event type appears, with the right actor and
//! origin and no secret in it; admins filter it; a user sees their own
//! activity (on the account page too, devices named as a person reads
//! them); `klucznik audit` prints it.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, send, token};
use crate::mailbox::{Received, wait_for_files};
use klucznik::app::audit::AuditKind;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

both_backends!(
    every_event_type_is_recorded_with_its_actor_and_no_secret,
    admins_filter_the_trail_and_users_see_their_own_activity,
);

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";

/// The newest of at least `count` messages to `to`.
async fn mail_to(app: &TestApp, to: &str, count: usize) -> Received {
    for _ in 0..100 {
        let all = wait_for_files(&app.database.mail_dir, 0, Duration::ZERO).await;
        let mine: Vec<Received> = all.into_iter().filter(|m| m.to.contains(to)).collect();
        if mine.len() >= count {
            return mine.last().unwrap().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} messages to {to}");
}

/// Every event an admin can page through.
async fn whole_trail(app: &TestApp, admin: &Value) -> Vec<Value> {
    let mut events = Vec::new();
    for page in 1.. {
        let path = format!("/api/v1/admin/audit?per_page=100&page={page}");
        let answer: Value = send(app, reqwest::Method::GET, &path, admin, None)
            .await
            .json()
            .await
            .unwrap();
        let batch = answer["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            break;
        }
        events.extend(batch);
    }
    events
}

async fn every_event_type_is_recorded_with_its_actor_and_no_secret(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.core.rate_limits.as_mut().unwrap().sign_up.limit = 5;
    })
    .await;
    let admin = app.admin("admin@example.pl").await;
    let admin_id = admin["account"]["id"].as_str().unwrap().to_owned();

    // Sign-up (with its verification mail), the link, a sign-in from Chrome.
    let registered = app.register("ala@example.pl").await;
    let ala = registered["account"]["id"].as_str().unwrap().to_owned();
    let (_, link_token) = mail_to(&app, "ala@example.pl", 1).await.link();
    let verified = app
        .post("/api/v1/verify-email", json!({ "token": link_token }))
        .await;
    assert_eq!(
        verified.status(),
        StatusCode::OK,
        "{}",
        verified.text().await.unwrap()
    );
    let login: Value = app
        .client
        .post(app.url("/api/v1/login"))
        .header("user-agent", CHROME)
        .json(&json!({ "login": "ala@example.pl", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Failures: a wrong password until the lockout, an unknown name.
    for _ in 0..10 {
        let wrong = app.login("ala@example.pl", "wrong-password-1").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.login("ala@example.pl", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(time::Duration::minutes(1));
    assert_eq!(
        app.login("nobody-typed-this@example.pl", "hunter2-hunter2")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Refresh reuse, sign-out, one session ended, the others ended.
    let refresh = login["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.post("/api/v1/refresh", json!({ "refresh_token": refresh }))
            .await
            .status(),
        StatusCode::OK
    );
    app.clock.advance(time::Duration::seconds(3));
    assert_eq!(
        app.post("/api/v1/refresh", json!({ "refresh_token": refresh }))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let second = app.signed_in_again("ala@example.pl").await;
    app.signed_in_again("ala@example.pl").await;
    let fourth = app.signed_in_again("ala@example.pl").await;
    let out = send(&app, reqwest::Method::POST, "/api/v1/logout", &second, None).await;
    assert!(out.status().is_success());
    let sessions: Value = send(&app, reqwest::Method::GET, "/api/v1/sessions", &fourth, None)
        .await
        .json()
        .await
        .unwrap();
    let other = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !s["current"].as_bool().unwrap())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/sessions/{other}"),
        &fourth,
        None,
    )
    .await;
    assert!(one.status().is_success());
    let others = send(&app, reqwest::Method::DELETE, "/api/v1/sessions", &fourth, None).await;
    assert!(others.status().is_success());

    // Email change, password change, password reset.
    let change = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/email",
        &fourth,
        Some(json!({ "email": "ala2@example.pl" })),
    )
    .await;
    assert_eq!(change.status(), StatusCode::ACCEPTED);
    let (_, change_token) = mail_to(&app, "ala2@example.pl", 1).await.link();
    assert_eq!(
        app.post("/api/v1/verify-email", json!({ "token": change_token }))
            .await
            .status(),
        StatusCode::OK
    );
    let new_password = "kot-ma-ale-10";
    let changed = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/password",
        &fourth,
        Some(json!({ "current_password": PASSWORD, "new_password": new_password })),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.post("/api/v1/password/forgot", json!({ "email": "ala2@example.pl" }))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let reset_mail = mail_to(&app, "ala2@example.pl", 2).await;
    let (_, reset_token) = reset_mail.link();
    let reset = app
        .post(
            "/api/v1/password/reset",
            json!({ "token": reset_token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);

    // Admin actions: roles, disable, enable.
    for (method, path) in [
        (
            reqwest::Method::PUT,
            format!("/api/v1/admin/users/{ala}/roles/moderator"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/admin/users/{ala}/roles/moderator"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/admin/users/{ala}/disable"),
        ),
        (reqwest::Method::POST, format!("/api/v1/admin/users/{ala}/enable")),
    ] {
        let answer = send(&app, method, &path, &admin, None).await;
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }

    // Members, by the admin.
    let member = json!({
        "imie": "Jan", "nazwisko": "Nowak", "wyksztalcenie": "Wyższe", "pesel": "44051401458",
        "wojewodztwo": "Małopolskie", "miejscowosc": "Kraków", "ulica": "Długa",
        "nrdomulokalu": "1", "kodpocztowy": "30-001", "email": "jan@example.pl", "tel": "+48 600 100 200",
    });
    let created: Value = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/members",
        &admin,
        Some(member.clone()),
    )
    .await
    .json()
    .await
    .unwrap();
    let member_id = created["member"]["id"].as_str().unwrap().to_owned();
    let mut renamed = member.clone();
    renamed["nazwisko"] = json!("Kowalska");
    let put = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/v1/members/{member_id}"),
        &admin,
        Some(renamed),
    )
    .await;
    assert_eq!(put.status(), StatusCode::OK);
    let deleted = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/members/{member_id}"),
        &admin,
        None,
    )
    .await;
    assert!(deleted.status().is_success());

    // Second factors: enrolled, a recovery code used, codes renewed, removed.
    let (owner, _, codes) = crate::mfa::enrolled(&app, "ola@example.pl").await;
    let step: Value = app.login("ola@example.pl", PASSWORD).await.json().await.unwrap();
    let body = json!({ "mfa_token": step["mfa_token"], "recovery_code": codes[0] });
    assert_eq!(app.post("/api/v1/login/mfa", body).await.status(), StatusCode::OK);
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/me/mfa/recovery-codes"),
        (reqwest::Method::DELETE, "/api/v1/me/mfa/totp"),
    ] {
        let answer = send(&app, method, path, &owner, Some(json!({}))).await;
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }

    // Keys, and a per-address limit (sign-ups: five allowed here).
    let rotated = app.core.rotate_signing_key().await.unwrap();
    let first_kid = app
        .core
        .signing_key_summaries()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kind == "EdDSA" && k.kid != rotated.kid)
        .unwrap()
        .kid;
    app.core.retire_signing_key(&first_kid, false).await.unwrap();
    for n in 0..3 {
        let body = json!({ "email": format!("spam{n}@example.pl"), "password": PASSWORD });
        app.post("/api/v1/register", body).await;
    }

    // OpenID Connect: a client created, changed, a token issued, consent
    // given and revoked, the client deleted.
    let issued = app
        .core
        .create_client(
            klucznik::app::Actor::Operator,
            klucznik::app::oidc::NewClient {
                name: "Wiki".into(),
                redirect_uris: vec!["https://wiki.example/cb".into()],
                grants: vec!["authorization_code".into(), "client_credentials".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let client_id = issued.client.id.clone();
    let change = klucznik::app::oidc::ClientChange {
        trusted: Some(true),
        ..Default::default()
    };
    app.core
        .update_client(klucznik::app::Actor::Operator, &client_id, change)
        .await
        .unwrap();
    let granted = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client_id, issued.secret.as_ref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let principal = app
        .core
        .authenticate(
            klucznik::app::Credential::AccessToken(token(&admin)),
            klucznik::app::Door::Native,
            klucznik::app::Need::Anything,
        )
        .await
        .unwrap();
    let request = klucznik::app::oidc::AuthorizeRequest {
        client_id: Some(client_id.clone()),
        redirect_uri: Some("https://wiki.example/cb".into()),
        response_type: Some("code".into()),
        ..Default::default()
    };
    let consented = app
        .core
        .authorize(
            &request,
            Some(&principal),
            klucznik::app::oidc::ConsentAnswer::Given,
        )
        .await
        .unwrap();
    assert!(matches!(
        consented,
        klucznik::app::oidc::Authorization::Redirect(_)
    ));
    app.core.disconnect_app(&principal, &client_id).await.unwrap();
    app.core
        .delete_client(klucznik::app::Actor::Operator, &client_id)
        .await
        .unwrap();

    let events = whole_trail(&app, &admin).await;
    let kinds: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // Upstream sign-in needs a provider: tests/api/upstream.rs checks its
    // three events against a second Klucznik.
    let upstream = [
        AuditKind::UpstreamLinked,
        AuditKind::UpstreamUnlinked,
        AuditKind::UpstreamSignIn,
    ];
    for kind in AuditKind::ALL.into_iter().filter(|k| !upstream.contains(k)) {
        assert!(kinds.contains(kind.as_str()), "no {} in {kinds:?}", kind.as_str());
    }
    let find = |kind: &'static str| events.iter().filter(move |e| e["type"] == kind);
    let granted = find("role_granted")
        .find(|e| e["account_id"] == ala.as_str())
        .unwrap();
    assert_eq!(granted["actor_id"], admin_id.as_str());
    assert_eq!(granted["detail"]["role"], "moderator");
    assert_eq!(granted["api"], "native");
    assert_eq!(granted["address"], "127.0.0.1");
    assert!(granted["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    let operator_grant = find("role_granted")
        .find(|e| e["account_id"] == admin_id.as_str())
        .unwrap();
    assert_eq!(operator_grant["actor_id"], "operator");
    let signed_in = find("sign_in").find(|e| e["user_agent"] == CHROME).unwrap();
    assert_eq!(signed_in["account_id"], ala.as_str());
    assert_eq!(signed_in["actor_id"], ala.as_str());
    assert_eq!(signed_in["device"], "Chrome 156 on Linux");
    let reasons: BTreeSet<&str> = find("sign_in_failed")
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains("wrong_password") && reasons.contains("unknown_login"),
        "{reasons:?}"
    );
    assert!(
        find("sign_in_failed").any(|e| e["detail"]["reason"] == "unknown_login" && e["account_id"].is_null())
    );
    assert_eq!(
        find("member_changed").next().unwrap()["detail"]["fields"],
        json!(["nazwisko"])
    );
    assert_eq!(find("key_rotated").next().unwrap()["actor_id"], "system");
    assert_eq!(find("rate_limited").next().unwrap()["detail"]["limit"], "signup");

    // Nothing secret anywhere in the trail.
    let text = serde_json::to_string(&events).unwrap();
    for secret in [
        PASSWORD,
        new_password,
        "wrong-password-1",
        "hunter2-hunter2",
        "nobody-typed-this",
        refresh,
        token(&login),
        &link_token,
        &change_token,
        &reset_token,
        &codes[0],
        "44051401458",
        "Nowak",
    ] {
        assert!(!text.contains(secret), "the trail holds {secret}");
    }
}

async fn admins_filter_the_trail_and_users_see_their_own_activity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("admin@example.pl").await;
    let ala = app.signed_in("ala@example.pl").await;
    let ola = app.signed_in("ola@example.pl").await;
    assert_eq!(
        app.login("ala@example.pl", "wrong-password-1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let ala_id = ala["account"]["id"].as_str().unwrap();

    let path = format!("/api/v1/admin/audit?account={ala_id}&type=sign_in,sign_in_failed");
    let page: Value = send(&app, reqwest::Method::GET, &path, &admin, None)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["sign_in_failed", "sign_in"], "newest first");
    assert_eq!(page["total"], 2);
    let future = "/api/v1/admin/audit?since=2999-01-01T00:00:00Z";
    let none: Value = send(&app, reqwest::Method::GET, future, &admin, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"], 0);
    let bad_type = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/audit?type=coffee",
        &admin,
        None,
    )
    .await;
    assert_error(bad_type, StatusCode::BAD_REQUEST, "invalid_field").await;
    let bad_time = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/audit?since=yesterday",
        &admin,
        None,
    )
    .await;
    assert_error(bad_time, StatusCode::BAD_REQUEST, "invalid_field").await;
    let not_admin = send(&app, reqwest::Method::GET, "/api/v1/admin/audit", &ala, None).await;
    assert_error(not_admin, StatusCode::FORBIDDEN, "forbidden").await;

    // Ala sees her sign-in and the failed attempt, nothing of Ola's.
    let mine: Value = send(&app, reqwest::Method::GET, "/api/v1/me/activity", &ala, None)
        .await
        .json()
        .await
        .unwrap();
    let events = mine["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["account_id"] == ala_id), "{events:?}");
    assert!(events.iter().any(|e| e["type"] == "sign_in_failed"));
    let _ = ola;

    // The account page names the device and marks this one.
    let mut page = crate::helpers::PageSession::new(&app).with_user_agent(CHROME);
    page.sign_in("ala@example.pl", PASSWORD).await;
    let (status, html) = page.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Chrome 156 on Linux"), "{html}");
    assert!(html.contains("this device"), "{html}");
    assert!(
        html.contains("Recent activity") && html.contains("Failed sign-in") && html.contains("Signed in")
    );
}
