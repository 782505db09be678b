//! "Sign in with Klucznik" in headless Chromium: a test application's
//! button → Klucznik's sign-in with a password and an authenticator app's
//! code → the consent screen → back to the application, which exchanges
//! the code and verifies the ID token with the `openidconnect` crate.

use crate::browser::{Driver, chromium, click, fill, screenshot, wait_for_path, wait_for_text};
use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use crate::oidc::{DiscoveredClient, discovered, http};
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use klucznik::app::Actor;
use klucznik::app::clock::Clock;
use klucznik::app::oidc::NewClient;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

both_backends!(an_app_signs_a_person_in_with_a_second_factor_in_chromium);

/// The application: what it keeps between the button and the callback.
struct Application {
    client: DiscoveredClient,
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
    sign_ins: Mutex<u32>,
}

async fn home() -> Html<&'static str> {
    Html("<h1>Wiki</h1><p><a id=\"sign-in\" href=\"/login\">Sign in with Klucznik</a></p>")
}

/// The button's target; `?again` asks for a fresh sign-in (`prompt=login`).
async fn login(
    State(app): State<Arc<Application>>,
    Query(query): Query<HashMap<String, String>>,
) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = app
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    if query.contains_key("again") {
        request = request.add_prompt(CoreAuthPrompt::Login);
    }
    let (url, state, nonce) = request.url();
    app.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str())
}

async fn callback(
    State(app): State<Arc<Application>>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let pending = query
        .get("state")
        .and_then(|state| app.pending.lock().unwrap().remove(state));
    let (Some((verifier, nonce)), Some(code)) = (pending, query.get("code")) else {
        return Html(format!("<p id=\"failed\">refused: {query:?}</p>"));
    };
    let exchanged = app
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await;
    let tokens = match exchanged {
        Ok(tokens) => tokens,
        Err(error) => return Html(format!("<p id=\"failed\">exchange: {error:?}</p>")),
    };
    let verifier = app.client.id_token_verifier();
    let Some(claims) = tokens.id_token().and_then(|t| t.claims(&verifier, &nonce).ok()) else {
        return Html("<p id=\"failed\">the ID token did not verify</p>".into());
    };
    let email = claims.email().map(|e| e.as_str().to_owned()).unwrap_or_default();
    let amr: Vec<String> = claims
        .auth_method_refs()
        .map(|methods| methods.iter().map(|m| m.as_str().to_owned()).collect())
        .unwrap_or_default();
    let mut count = app.sign_ins.lock().unwrap();
    *count += 1;
    Html(format!(
        "<p id=\"signed-in\">Signed in as {email}</p><p id=\"amr\">{}</p><p id=\"count\">sign-in {count}</p>",
        amr.join(" ")
    ))
}

/// The sign-in page's password, then the authenticator's next code (the
/// one before was used), with a screenshot of the second step if named.
async fn both_steps(browser: &fantoccini::Client, klucznik: &TestApp, totp_secret: &str, shot: Option<&str>) {
    fill(browser, "#login", "ala@example.pl").await;
    fill(browser, "#password", PASSWORD).await;
    click(browser, "button[type=submit]").await;
    wait_for_text(browser, "name=\"mfa_token\"").await;
    if let Some(name) = shot {
        screenshot(browser, name).await;
    }
    klucznik.clock.advance(time::Duration::seconds(30));
    let code = crate::mfa::code_at(totp_secret, klucznik.clock.now());
    fill(browser, "#code", &code).await;
    click(
        browser,
        "form[action='/sign-in/second-factor'] button[type=submit]",
    )
    .await;
}

async fn an_app_signs_a_person_in_with_a_second_factor_in_chromium(backend: Backend) {
    let Some(chromium) = chromium() else { return };
    let Some(driver) = Driver::start().await else {
        return;
    };
    let port = crate::mailbox::free_port();
    let klucznik = TestApp::spawn_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(url::Url::parse(&format!("http://localhost:{port}")).unwrap());
    })
    .await;
    let (_, totp_secret, _) = crate::mfa::enrolled(&klucznik, "ala@example.pl").await;

    // The application, on its own port; registered with its callback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let registered = klucznik
        .core
        .create_client(
            Actor::Operator,
            NewClient {
                name: "Team wiki".into(),
                redirect_uris: vec![format!("{site}/callback")],
                ..NewClient::default()
            },
        )
        .await
        .unwrap();
    let issuer = format!("http://localhost:{port}");
    let client = discovered(&issuer, &registered.client.id, registered.secret.as_deref())
        .await
        .set_redirect_uri(RedirectUrl::new(format!("{site}/callback")).unwrap());
    let state = Arc::new(Application {
        client,
        pending: Mutex::default(),
        sign_ins: Mutex::new(0),
    });
    let routes = axum::Router::new()
        .route("/", axum::routing::get(home))
        .route("/login", axum::routing::get(login))
        .route("/callback", axum::routing::get(callback))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, routes).await });

    let browser = driver.browser(&chromium).await;
    browser.goto(&site).await.unwrap();
    screenshot(&browser, "30-oidc-app").await;
    click(&browser, "#sign-in").await;
    wait_for_path(&browser, "/sign-in").await;
    screenshot(&browser, "31-oidc-sign-in").await;
    both_steps(&browser, &klucznik, &totp_secret, Some("32-oidc-second-factor")).await;
    let html = wait_for_text(&browser, "id=\"consent-scopes\"").await;
    assert!(html.contains("Team wiki"), "the consent screen names the app");
    screenshot(&browser, "33-oidc-consent").await;
    click(&browser, "#allow").await;
    let html = wait_for_text(&browser, "id=\"signed-in\"").await;
    screenshot(&browser, "34-oidc-back-in-the-app").await;
    assert!(html.contains("Signed in as ala@example.pl"), "{html}");
    assert!(
        html.contains("<p id=\"amr\">pwd otp mfa</p>"),
        "amr names the password and the code: {html}"
    );

    // Again from the app: the Klucznik session and the consent are
    // remembered, so the browser goes straight back.
    browser.goto(&site).await.unwrap();
    click(&browser, "#sign-in").await;
    let html = wait_for_text(&browser, "sign-in 2").await;
    assert!(html.contains("Signed in as ala@example.pl"));

    // A fresh sign-in asked for by the app: the password and code forms
    // lead, by redirects, straight back to the app (its origin is allowed
    // as a form target, or the browser would stop at Klucznik).
    browser.goto(&format!("{site}/login?again=1")).await.unwrap();
    wait_for_path(&browser, "/sign-in").await;
    both_steps(&browser, &klucznik, &totp_secret, None).await;
    wait_for_text(&browser, "sign-in 3").await;
    browser.close().await.unwrap();
}
