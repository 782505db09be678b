//! Sign-in with an account elsewhere (design §9), against a real OpenID
//! provider running here: a second Klucznik. Both browsers' parts are
//! played by `PageSession`s, one per server.

use crate::helpers::{Backend, PASSWORD, PageSession, TestApp, both_backends};
use crate::mfa::between;
use crate::oidc::approve_to;
use klucznik::app::Actor;
use klucznik::app::oidc::NewClient;
use klucznik::app::upstream::{UpstreamKind, UpstreamProvider};
use reqwest::StatusCode;

both_backends!(
    a_new_identity_makes_an_account_and_signs_in_again,
    tampered_denied_and_foreign_callbacks_are_refused,
    an_existing_address_links_only_when_its_owner_confirms,
    a_second_factor_is_still_asked_and_the_last_way_in_stays,
    a_provider_that_is_down_gets_a_clear_page,
    an_app_signs_in_through_klucznik_and_its_upstream,
    closed_sign_up_refuses_new_identities_but_not_linked_ones,
);

/// The provider (a Klucznik) and the server that signs in with it, which
/// knows it as `[[upstream]] name = "corp"`.
struct Pair {
    provider: TestApp,
    app: TestApp,
}

async fn pair(backend: Backend) -> Pair {
    pair_with(backend, |_| {}).await
}

async fn pair_with(backend: Backend, tweak: impl FnOnce(&mut klucznik::config::Config)) -> Pair {
    let provider = TestApp::spawn(backend.clone()).await;
    let port = crate::mailbox::free_port();
    let home = format!("http://127.0.0.1:{port}");
    let upstream = corp_at(&provider, &home, true).await;
    let app = TestApp::spawn_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(url::Url::parse(&home).unwrap());
        c.upstreams = vec![upstream];
        tweak(c);
    })
    .await;
    Pair { provider, app }
}

/// `provider` as the upstream "corp" of a server at `home`: a client
/// registered there (trusted: no consent screen), and its table.
pub(crate) async fn corp_at(provider: &TestApp, home: &str, trusted: bool) -> UpstreamProvider {
    let issued = provider
        .core
        .create_client(
            Actor::Operator,
            NewClient {
                name: "Partner site".into(),
                redirect_uris: vec![format!("{home}/login/upstream/corp/callback")],
                trusted,
                ..NewClient::default()
            },
        )
        .await
        .unwrap();
    UpstreamProvider {
        name: "corp".into(),
        label: "Corp".into(),
        kind: UpstreamKind::Oidc {
            issuer: url::Url::parse(&provider.address).unwrap(),
        },
        client_id: issued.client.id,
        client_secret: issued.secret.map(Into::into),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        redirect_uri: String::new(),
    }
}

/// An account at the provider whose address the provider has verified.
pub(crate) async fn verified_at(provider: &TestApp, email: &str) {
    let new = klucznik::app::NewAccount {
        email: Some(email.into()),
        password: PASSWORD.to_owned().into(),
        email_verified: true,
        ..Default::default()
    };
    (provider.core)
        .register(new, Actor::Operator, None, klucznik::mail::Lang::En)
        .await
        .unwrap();
}

/// From the app's "Continue with Corp" to the provider (signing in there
/// as `login`) and back: the callback's path and query on the app.
async fn round_trip(pair: &Pair, page: &mut PageSession<'_>, login: &str) -> String {
    let (status, _) = page.get("/login/upstream/corp").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to_provider = page.location.clone().unwrap();
    assert!(to_provider.starts_with(&pair.provider.address), "{to_provider}");
    for key in [
        "state=",
        "nonce=",
        "code_challenge=",
        "code_challenge_method=S256",
    ] {
        assert!(to_provider.contains(key), "{key} in {to_provider}");
    }
    let mut there = PageSession::new(&pair.provider);
    let back = approve_to(&mut there, &to_provider, login, &pair.app.address).await;
    format!("{}?{}", back.path(), back.query().unwrap_or_default())
}

async fn a_new_identity_makes_an_account_and_signs_in_again(backend: Backend) {
    let pair = pair(backend).await;
    verified_at(&pair.provider, "ala@example.pl").await;
    let mut page = PageSession::new(&pair.app);
    let (_, sign_in) = page.get("/sign-in").await;
    assert!(
        sign_in.contains("id=\"upstream-corp\""),
        "the button is on the sign-in page"
    );
    let (_, sign_up) = page.get("/sign-up").await;
    assert!(sign_up.contains("Continue with Corp"));
    let callback = round_trip(&pair, &mut page, "ala@example.pl").await;
    let (status, html) = page.get(&callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    assert_eq!(page.location.as_deref(), Some("/account"));
    let (_, account) = page.get("/account").await;
    assert!(account.contains("ala@example.pl"), "signed in to a new account");
    assert!(account.contains("id=\"outside-accounts\"") && account.contains("Corp"));
    let me = page.app_json("/api/v1/me").await;
    assert!(
        me["account"]["email_verified"].as_bool().unwrap(),
        "the provider verified it: {me}"
    );

    // Another browser, another trip: the same account.
    let mut again = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut again, "ala@example.pl").await;
    again.get(&callback).await;
    assert_eq!(again.location.as_deref(), Some("/account"));
    assert_eq!(
        again.app_json("/api/v1/me").await["account"]["id"],
        me["account"]["id"]
    );
    let kinds = pair.app.stored_texts("SELECT kind FROM audit_events").await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "upstream_sign_in").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "upstream_linked").count(), 1);
    // The account has no password: unlinking its only way in is refused.
    let (_, account) = page.get("/account").await;
    let subject = between(&account, "name=\"subject\" value=\"", "\"");
    let (status, html) = page
        .post(
            "/account/upstream/unlink",
            &[("provider", "corp"), ("subject", &subject)],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("only way to sign in"));
}

async fn tampered_denied_and_foreign_callbacks_are_refused(backend: Backend) {
    let pair = pair(backend).await;
    verified_at(&pair.provider, "ola@example.pl").await;
    let mut page = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut page, "ola@example.pl").await;
    // Another browser (no flow cookie) opening the callback: refused.
    let mut elsewhere = PageSession::new(&pair.app);
    let (status, html) = elsewhere.get(&callback).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("no longer valid"), "{html}");
    // A tampered state in the right browser: refused, and the flow is spent.
    let tampered = callback.replace("state=", "state=x");
    let (status, _) = page.get(&tampered).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The person said no at the provider.
    page.get("/login/upstream/corp").await;
    let to_provider = url::Url::parse(page.location.as_deref().unwrap()).unwrap();
    let state = to_provider
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (status, html) = page
        .get(&format!(
            "/login/upstream/corp/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("cancelled"), "{html}");
    // Nothing was created on the way.
    assert!(pair.app.stored_texts("SELECT id FROM accounts").await.is_empty());
    let (status, _) = page.get("/login/upstream/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_existing_address_links_only_when_its_owner_confirms(backend: Backend) {
    let pair = pair(backend).await;
    verified_at(&pair.provider, "eva@example.pl").await;
    pair.app.register("eva@example.pl").await;
    let mut page = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut page, "eva@example.pl").await;
    let (status, html) = page.get(&callback).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"confirm-link\""), "asks the owner: {html}");
    assert!(
        page.app_json("/api/v1/me").await["account"]["id"].is_null(),
        "not signed in before confirming"
    );
    let token = between(&html, "name=\"token\" value=\"", "\"");
    let (status, html) = page
        .post(
            "/login/upstream/link",
            &[
                ("token", &token),
                ("password", "not-the-password"),
                ("email", "eva@example.pl"),
                ("label", "Corp"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(
        pair.app
            .stored_texts("SELECT subject FROM upstream_identities")
            .await
            .is_empty()
    );
    let (status, _) = page
        .post(
            "/login/upstream/link",
            &[("token", &token), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/account"));
    assert_eq!(
        pair.app
            .stored_texts("SELECT subject FROM upstream_identities")
            .await
            .len(),
        1
    );
    // Linked now: the next trip signs straight in.
    let mut next = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut next, "eva@example.pl").await;
    next.get(&callback).await;
    assert_eq!(next.location.as_deref(), Some("/account"));
    // It has a password, so the identity may go.
    let (_, account) = next.get("/account").await;
    let subject = between(&account, "name=\"subject\" value=\"", "\"");
    let (status, _) = next
        .post(
            "/account/upstream/unlink",
            &[("provider", "corp"), ("subject", &subject)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        pair.app
            .stored_texts("SELECT subject FROM upstream_identities")
            .await
            .is_empty()
    );
    let kinds = pair.app.stored_texts("SELECT kind FROM audit_events").await;
    for kind in ["upstream_linked", "upstream_sign_in", "upstream_unlinked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

async fn a_second_factor_is_still_asked_and_the_last_way_in_stays(backend: Backend) {
    let pair = pair(backend).await;
    verified_at(&pair.provider, "zoe@example.pl").await;
    let (_, totp_secret, _) = crate::mfa::enrolled(&pair.app, "zoe@example.pl").await;
    // Linked from the account page while signed in (password, then code).
    let mut page = PageSession::new(&pair.app);
    page.get("/sign-in").await;
    let (_, html) = page
        .post("/sign-in", &[("login", "zoe@example.pl"), ("password", PASSWORD)])
        .await;
    let mfa_token = between(&html, "name=\"mfa_token\" value=\"", "\"");
    pair.app.clock.advance(time::Duration::seconds(30));
    let code = crate::mfa::code_at(&totp_secret, klucznik::app::clock::Clock::now(&*pair.app.clock));
    let (status, _) = page
        .post(
            "/sign-in/second-factor",
            &[("mfa_token", &mfa_token), ("code", &code)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, html) = page.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"link-corp\""), "{html}");
    page.get("/login/upstream/corp?link=1").await;
    let to_provider = page.location.clone().unwrap();
    let mut there = PageSession::new(&pair.provider);
    let back = approve_to(&mut there, &to_provider, "zoe@example.pl", &pair.app.address).await;
    page.get(&format!("{}?{}", back.path(), back.query().unwrap()))
        .await;
    assert_eq!(page.location.as_deref(), Some("/account?linked=1"));
    // A fresh browser: the provider's sign-in, then still the second factor.
    let mut fresh = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut fresh, "zoe@example.pl").await;
    let (status, html) = fresh.get(&callback).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("name=\"mfa_token\""),
        "the second factor is asked: {html}"
    );
    assert!(
        fresh.app_json("/api/v1/me").await["account"]["id"].is_null(),
        "not signed in yet"
    );
}

async fn a_provider_that_is_down_gets_a_clear_page(backend: Backend) {
    let closed = crate::mailbox::free_port();
    let app = TestApp::spawn_with(backend, |c| {
        c.upstreams = vec![UpstreamProvider {
            name: "gone".into(),
            label: "Gone".into(),
            kind: UpstreamKind::Oidc {
                issuer: url::Url::parse(&format!("http://127.0.0.1:{closed}")).unwrap(),
            },
            client_id: "x".into(),
            client_secret: None,
            scopes: vec!["openid".into()],
            redirect_uri: String::new(),
        }];
    })
    .await;
    // It started (discovery waits for the first use), and says what failed.
    let mut page = PageSession::new(&app);
    let (status, html) = page.get("/login/upstream/gone").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(html.contains("did not answer"), "{html}");
    let api = app
        .client
        .get(app.url("/api/v1/login/upstream/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable", "{body}");
}

/// An app → this Klucznik's authorize → its sign-in page → Corp → back →
/// the authorization goes on to the app.
async fn an_app_signs_in_through_klucznik_and_its_upstream(backend: Backend) {
    let pair = pair(backend).await;
    verified_at(&pair.provider, "ida@example.pl").await;
    let (id, _) = crate::oidc::registered(&pair.app, true, true).await;
    let mut page = PageSession::new(&pair.app);
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s1",
        urlencode(crate::oidc::REDIRECT)
    );
    page.get(&authorize).await;
    assert!(page.location.as_deref().unwrap().starts_with("/sign-in"));
    let callback = round_trip(&pair, &mut page, "ida@example.pl").await;
    page.get(&callback).await;
    let back = page.location.clone().unwrap();
    assert!(
        back.starts_with("/oauth2/authorize?"),
        "back to the app's request: {back}"
    );
    page.get(&back).await;
    let to_app = page.location.clone().unwrap();
    assert!(
        to_app.starts_with(crate::oidc::REDIRECT) && to_app.contains("code="),
        "{to_app}"
    );
}

fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// `--sign-up closed`: a visitor's sign-up is refused at the API and the
/// page, and so is a new upstream identity; an identity linked to an
/// account (which an admin made) still signs in.
async fn closed_sign_up_refuses_new_identities_but_not_linked_ones(backend: Backend) {
    let pair = pair_with(backend, |c| c.core.sign_up_closed = true).await;
    verified_at(&pair.provider, "ula@example.pl").await;
    verified_at(&pair.provider, "ewa@example.pl").await;
    let refused = pair
        .app
        .post(
            "/api/v1/register",
            serde_json::json!({ "email": "x@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "sign_up_closed");

    let mut page = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut page, "ula@example.pl").await;
    let (status, html) = page.get(&callback).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Sign-up is closed"), "{html}");
    assert!(pair.app.stored_texts("SELECT id FROM accounts").await.is_empty());

    // An account the operator made, with her identity linked by its owner.
    let new = klucznik::app::NewAccount {
        email: Some("ewa@example.pl".into()),
        password: PASSWORD.to_owned().into(),
        email_verified: true,
        ..Default::default()
    };
    (pair.app.core)
        .register(new, Actor::Operator, None, klucznik::mail::Lang::En)
        .await
        .unwrap();
    let mut page = PageSession::new(&pair.app);
    let callback = round_trip(&pair, &mut page, "ewa@example.pl").await;
    let (_, html) = page.get(&callback).await;
    let token = between(&html, "name=\"token\" value=\"", "\"");
    let (status, _) = page
        .post(
            "/login/upstream/link",
            &[("token", &token), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/account"));
}
