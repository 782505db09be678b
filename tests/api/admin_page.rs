//! The admin area (`/admin`, design §10) by form posts: every section and
//! action, step-up on the dangerous ones, CSRF, and a moderator who sees
//! the member register and nothing else. The browser journey is in
//! `admin_browser.rs`.

use crate::helpers::{Backend, PASSWORD, PageSession, TestApp, both_backends, token};
use crate::mfa::between;
use klucznik::app::Actor;
use klucznik::domain::Role;
use reqwest::StatusCode;

both_backends!(
    an_admin_runs_accounts_keys_clients_and_the_trail_from_the_page,
    the_member_register_in_the_page,
);

pub(crate) const MEMBER: [(&str, &str); 11] = [
    ("imie", "Jan"),
    ("nazwisko", "Nowak"),
    ("wyksztalcenie", "Wyższe"),
    ("pesel", "44051401458"),
    ("wojewodztwo", "Małopolskie"),
    ("miejscowosc", "Kraków"),
    ("ulica", "Długa"),
    ("nrdomulokalu", "1"),
    ("kodpocztowy", "30-001"),
    ("email", "jan@example.pl"),
    ("tel", "+48 600 100 200"),
];

async fn signed_in_admin(app: &TestApp) -> PageSession<'_> {
    app.admin("root@example.pl").await;
    let mut page = PageSession::new(app);
    page.sign_in("root@example.pl", PASSWORD).await;
    page
}

async fn an_admin_runs_accounts_keys_clients_and_the_trail_from_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ala = app.register("ala@example.pl").await;
    let ala_id = ala["account"]["id"].as_str().unwrap().to_owned();
    let ala_login: serde_json::Value = app.login("ala@example.pl", PASSWORD).await.json().await.unwrap();
    let mut page = signed_in_admin(&app).await;

    let (status, html) = page.get("/admin").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<svg") && html.contains("id=\"dashboard-figures\""));
    let (_, html) = page.get("/admin/accounts?q=ala").await;
    assert!(html.contains(&format!("/admin/accounts/{ala_id}")), "{html}");

    // Disabling her signs her out everywhere (her token stops at once).
    let (_, html) = page.get(&format!("/admin/accounts/{ala_id}")).await;
    assert!(html.contains("id=\"toggle-disabled\""));
    let (status, _) = page.post(&format!("/admin/accounts/{ala_id}/disable"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let me = app.get_with_token("/api/v1/me", token(&ala_login)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    page.post(&format!("/admin/accounts/{ala_id}/enable"), &[]).await;
    let (status, _) = page
        .post(
            &format!("/admin/accounts/{ala_id}/role"),
            &[("role", "moderator"), ("grant", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let account = app
        .core
        .account(Actor::Operator, &ala_id.clone().into())
        .await
        .unwrap();
    assert!(account.has_role(Role::Moderator) && !account.disabled);
    page.post(&format!("/admin/accounts/{ala_id}/end-sessions"), &[])
        .await;

    // Resetting her second factors is dangerous: step-up once the admin's
    // sign-in is over five minutes old.
    crate::mfa::enrolled(&app, "ola@example.pl").await;
    let ola = app
        .core
        .account_by_login(Actor::Operator, "ola@example.pl")
        .await
        .unwrap();
    let (_, html) = page.get(&format!("/admin/accounts/{}", ola.id)).await;
    assert!(html.contains("authenticator app: ✓"), "{html}");
    app.clock.advance(time::Duration::minutes(6));
    let reset = format!("/admin/accounts/{}/reset-factors", ola.id);
    let (status, html) = page.post(&reset, &[("password", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("needs confirming"));
    let (status, _) = page.post(&reset, &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let factors = app.core.second_factors(&ola.id).await.unwrap();
    assert!(!factors.totp);

    // The trail, filtered.
    let (_, html) = page.get("/admin/audit?type=account_disabled").await;
    assert!(html.contains("title=\"account_disabled\""), "{html}");
    assert!(!html.contains("title=\"sign_up\""));
    let (status, html) = page.get("/admin/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("2026-12-08"), "says what a date looks like: {html}");

    // Keys: rotate; retire at once asks for step-up.
    let (status, _) = page.post("/admin/keys/rotate", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page.get("/admin/keys").await;
    assert!(html.contains(">next<"), "{html}");

    // Clients: created with its secret shown once, then deleted (step-up).
    let (status, html) = page
        .post(
            "/admin/clients",
            &[("name", "Wiki"), ("redirect_uris", "https://wiki.example.org/cb")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = between(&html, "<code id=\"client-secret\">", "</code>");
    assert!(secret.len() > 20, "{html}");
    let (_, html) = page.get("/admin/clients").await;
    assert!(!html.contains(&secret), "the secret is shown once");
    let id = between(&html, "action=\"/admin/clients/", "/");
    let (status, _) = page
        .post(&format!("/admin/clients/{id}/delete"), &[("password", "")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = page
        .post(&format!("/admin/clients/{id}/delete"), &[("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(app.core.clients(Actor::Operator).await.unwrap().is_empty());

    // Without its CSRF token, nothing is done.
    let (status, _) = page
        .post_without_token(&format!("/admin/accounts/{ala_id}/disable"), &[])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A moderator gets the register, and none of the rest.
    let mut moderator = PageSession::new(&app);
    moderator.sign_in("ala@example.pl", PASSWORD).await;
    let (status, _) = moderator.get("/admin").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(moderator.location.as_deref(), Some("/admin/members"));
    for path in ["/admin/accounts", "/admin/audit", "/admin/keys", "/admin/clients"] {
        let (status, _) = moderator.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = moderator.get("/admin/members").await;
    assert_eq!(status, StatusCode::OK);
    // A plain user gets none of it.
    app.register("eva@example.pl").await;
    let mut user = PageSession::new(&app);
    user.sign_in("eva@example.pl", PASSWORD).await;
    let (status, _) = user.get("/admin/members").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn the_member_register_in_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut page = signed_in_admin(&app).await;
    let (status, html) = page.get("/admin/members/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("for=\"pesel\""));
    let mut bad = MEMBER.to_vec();
    bad[3] = ("pesel", "123");
    let (status, html) = page.post("/admin/members", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("pesel") && html.contains("value=\"Nowak\""),
        "kept as typed: {html}"
    );
    let (status, _) = page.post("/admin/members", &MEMBER).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let at = page.location.clone().unwrap();
    let id = at
        .trim_start_matches("/admin/members/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    let (_, html) = page.get("/admin/members?q=Krak").await;
    assert!(
        html.contains(&format!("/admin/members/{id}")),
        "found by city: {html}"
    );
    let (_, html) = page.get("/admin/members?q=Kowalski").await;
    assert!(html.contains("<span id=\"member-total\">0</span>"));

    // Two people edit at once: the second loses, and is told why.
    let (_, html) = page.get(&format!("/admin/members/{id}")).await;
    let version = between(&html, "name=\"version\" value=\"", "\"");
    let mut first = MEMBER.to_vec();
    first[1] = ("nazwisko", "Kowalska");
    first.push(("version", &version));
    let (status, _) = page.post(&format!("/admin/members/{id}"), &first).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut second = MEMBER.to_vec();
    second[5] = ("miejscowosc", "Gdańsk");
    second.push(("version", &version));
    let (status, html) = page.post(&format!("/admin/members/{id}"), &second).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("changed this member meanwhile") && html.contains("value=\"Kowalska\""),
        "{html}"
    );
    let (_, html) = page.get(&format!("/admin/members/{id}")).await;
    assert!(
        html.contains("id=\"history\"") && html.contains("update: nazwisko"),
        "{html}"
    );

    // The export, with a cell a spreadsheet would run defused.
    let mut formula = MEMBER.to_vec();
    formula[3] = ("pesel", "02070803628");
    formula[6] = ("ulica", "=HYPERLINK(\"x\")");
    page.get("/admin/members/new").await;
    page.post("/admin/members", &formula).await;
    let csv = app
        .client
        .get(app.url("/admin/members/export.csv"))
        .header("cookie", page.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("id,imie,nazwisko"), "{text}");
    assert!(
        text.contains("Kowalska") && text.contains("'=HYPERLINK"),
        "{text}"
    );

    // Deleting asks for the box and for step-up.
    page.get(&format!("/admin/members/{id}")).await;
    let (status, _) = page.post(&format!("/admin/members/{id}/delete"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.clock.advance(time::Duration::minutes(6));
    let (status, _) = page
        .post(&format!("/admin/members/{id}/delete"), &[("confirm", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = page
        .post(
            &format!("/admin/members/{id}/delete"),
            &[("confirm", "1"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = page.get("/admin/members").await;
    assert!(html.contains("<span id=\"member-total\">1</span>"), "{html}");
}
