//! The OpenID Connect provider, driven by the `openidconnect` crate (a
//! certified relying-party library) the way an application would; the
//! browser's part by `PageSession` (the headless browser test is in
//! `browser.rs`).

use crate::helpers::{Backend, PASSWORD, PageSession, TestApp, both_backends};
use klucznik::app::Actor;
use klucznik::app::oidc::NewClient;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;

both_backends!(
    code_flow_with_pkce_signs_a_confidential_client_in,
    a_public_client_needs_pkce_and_refresh_tokens_rotate,
    codes_are_single_use_and_bound_to_their_verifier,
    silent_requests_and_unregistered_redirects_are_refused,
    consent_is_remembered_and_revocable,
    introspection_revocation_and_client_credentials,
    device_flow_signs_a_device_in,
    logout_ends_the_browser_session_and_its_apps,
    a_back_channel_logout_token_reaches_the_client,
    admins_manage_clients_over_the_api,
    id_tokens_are_signed_with_the_clients_algorithm,
    dynamic_registration_is_off_unless_asked_and_its_clients_are_never_trusted,
);

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub(crate) fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn registered(app: &TestApp, public: bool, trusted: bool) -> (String, Option<String>) {
    let issued = app
        .core
        .create_client(
            Actor::Operator,
            NewClient {
                name: "Wiki".into(),
                redirect_uris: vec![REDIRECT.into()],
                public,
                trusted,
                grants: [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ]
                .iter()
                .filter(|g| !(public && **g == "client_credentials"))
                .map(|g| (*g).to_owned())
                .collect(),
                post_logout_redirect_uris: vec!["http://127.0.0.1:9/bye".into()],
                ..NewClient::default()
            },
        )
        .await
        .unwrap();
    (issued.client.id, issued.secret)
}

/// A relying party configured by discovery, with its redirect URI set.
pub(crate) type DiscoveredClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The relying party as an application builds it: from discovery alone.
pub(crate) async fn relying_party(app: &TestApp, id: &str, secret: Option<&str>) -> DiscoveredClient {
    discovered(&app.address, id, secret).await
}

/// The relying party of the provider at `issuer`.
pub(crate) async fn discovered(issuer: &str, id: &str, secret: Option<&str>) -> DiscoveredClient {
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned()).unwrap(), &http())
        .await
        .expect("discovery document accepted by openidconnect");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// Follows an authorization URL in the browser: sign in if asked, allow
/// if asked; the redirect back to the app.
pub(crate) async fn approve(page: &mut PageSession<'_>, authorize_url: &str, login: &str) -> url::Url {
    approve_to(page, authorize_url, login, REDIRECT).await
}

/// `approve`, for an app whose redirect URI starts with `redirect`.
pub(crate) async fn approve_to(
    page: &mut PageSession<'_>,
    authorize_url: &str,
    login: &str,
    redirect: &str,
) -> url::Url {
    let path = authorize_url.trim_start_matches(&page_base(page));
    page.get(path).await;
    loop {
        let location = page.location.clone();
        match location {
            Some(to) if to.starts_with(redirect) => return url::Url::parse(&to).unwrap(),
            Some(to) if to.starts_with("/sign-in") => {
                page.get(&to).await;
                let (status, _) = page
                    .post("/sign-in", &[("login", login), ("password", PASSWORD)])
                    .await;
                assert_eq!(status, StatusCode::SEE_OTHER);
                let back = page.location.clone().unwrap_or_default();
                assert!(
                    back.starts_with("/oauth2/authorize?"),
                    "signed in, back to the app: {back}"
                );
            }
            Some(to) => {
                page.get(&to).await;
            }
            None => {
                // The consent screen.
                let (_, html) = page.get(path).await;
                if page.location.is_some() {
                    continue;
                }
                let request = html
                    .split("name=\"request\" value=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .expect("a consent form")
                    .replace("&amp;", "&");
                page.post("/oauth2/consent", &[("request", &request), ("decision", "allow")])
                    .await;
            }
        }
    }
}

fn page_base(page: &PageSession<'_>) -> String {
    page.base()
}

pub(crate) fn param(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn code_flow_with_pkce_signs_a_confidential_client_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let (id, secret) = registered(&app, false, false).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut page = PageSession::new(&app);
    let back = approve(&mut page, url.as_str(), "ala@example.pl").await;
    assert_eq!(param(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    let code = param(&back, "code").expect("a code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies (RS256, nonce, audience)");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ala@example.pl"));
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = (claims.auth_method_refs().unwrap().iter())
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(amr, vec!["pwd".to_owned()], "signed in by password alone");
    // at_hash binds the access token to the ID token.
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http())
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("ala@example.pl"));
    // The client's access token opens no other door.
    let native = app
        .get_with_token("/api/v1/me", tokens.access_token().secret())
        .await;
    assert_eq!(native.status(), StatusCode::UNAUTHORIZED);
}

async fn a_public_client_needs_pkce_and_refresh_tokens_rotate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ola@example.pl").await;
    let (id, _) = registered(&app, true, true).await;
    let client = relying_party(&app, &id, None).await;
    // Without PKCE the request goes back with an error.
    let (bare, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let mut page = PageSession::new(&app);
    let back = approve(&mut page, bare.as_str(), "ola@example.pl").await;
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = approve(&mut page, url.as_str(), "ola@example.pl").await;
    let code = param(&back, "code").expect("a trusted client skips consent");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    let first = tokens.refresh_token().expect("a refresh token").clone();
    let second = client
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&http())
        .await
        .expect("refresh");
    let next = second.refresh_token().expect("rotated").clone();
    assert_ne!(next.secret(), first.secret());
    // Past the grace window, the old token again is reuse: the session ends.
    app.clock.advance(time::Duration::seconds(3));
    let reuse = client
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&http())
        .await;
    assert!(format!("{reuse:?}").contains("invalid_grant"), "{reuse:?}");
    let after = client
        .exchange_refresh_token(&next)
        .unwrap()
        .request_async(&http())
        .await;
    assert!(after.is_err(), "the successor died with its session");
}

async fn codes_are_single_use_and_bound_to_their_verifier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ela@example.pl").await;
    let (id, secret) = registered(&app, false, true).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let mut page = PageSession::new(&app);
    let (code, _) = pkce_code(&client, &mut page, "ela@example.pl").await;
    let wrong = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&http())
        .await;
    assert!(format!("{wrong:?}").contains("invalid_grant"), "{wrong:?}");
    // The wrong verifier used the code up.
    let (code, verifier2) = pkce_code(&client, &mut page, "ela@example.pl").await;
    let first = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new(verifier2.secret().clone()))
        .request_async(&http())
        .await
        .expect("first exchange");
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier2)
        .request_async(&http())
        .await;
    assert!(format!("{replay:?}").contains("invalid_grant"), "{replay:?}");
    // The replay revoked what the first exchange issued.
    let info = client
        .user_info(first.access_token().clone(), None)
        .unwrap()
        .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(
            &http(),
        )
        .await;
    assert!(info.is_err(), "the first exchange's token died");
}

async fn silent_requests_and_unregistered_redirects_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("iza@example.pl").await;
    let (id, secret) = registered(&app, false, false).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_prompt(openidconnect::core::CoreAuthPrompt::None)
        .url();
    let mut page = PageSession::new(&app);
    let back = approve(&mut page, url.as_str(), "iza@example.pl").await;
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    page.sign_in("iza@example.pl", PASSWORD).await;
    let back = approve(&mut page, url.as_str(), "iza@example.pl").await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    let elsewhere = url
        .as_str()
        .replace("127.0.0.1%3A9%2Fcallback", "evil.example%2Fcallback");
    let (status, html) = page.get(elsewhere.trim_start_matches(&app.address)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none(), "never a redirect");
    assert!(html.contains("redirect_uri is not registered"), "{html}");
}

async fn consent_is_remembered_and_revocable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ula@example.pl").await;
    let (id, secret) = registered(&app, false, false).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let mut page = PageSession::new(&app);
    let url = || {
        client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url()
            .0
    };
    assert!(
        param(
            &approve(&mut page, url().as_str(), "ula@example.pl").await,
            "code"
        )
        .is_some()
    );
    // Remembered: no consent screen the second time.
    let path = url().as_str().trim_start_matches(&app.address).to_owned();
    page.get(&path).await;
    assert!(page.location.as_deref().unwrap().starts_with(REDIRECT));
    let (_, account) = page.get("/account").await;
    assert!(account.contains("Wiki"), "connected apps lists it");
    let (status, _) = page.post("/account/apps/disconnect", &[("client_id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, html) = page.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("consent-scopes"), "asked again");
}

async fn introspection_revocation_and_client_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = registered(&app, false, false).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let tokens = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("roles".into()))
        .request_async(&http())
        .await
        .expect("client credentials");
    let introspect = |token: String| {
        let app = &app;
        let (id, secret) = (id.clone(), secret.clone().unwrap());
        async move {
            let answer = app
                .client
                .post(app.url("/oauth2/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        }
    };
    let answer = introspect(tokens.access_token().secret().clone()).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], id.as_str());
    assert_eq!(introspect("nonsense".into()).await["active"], false);
    // A user's refresh token: active, then revoked.
    app.register("ida@example.pl").await;
    let mut page = PageSession::new(&app);
    let (user, _) = code_flow(&client, &mut page, "ida@example.pl").await;
    let refresh: RefreshToken = user.refresh_token().unwrap().clone();
    assert_eq!(introspect(refresh.secret().clone()).await["active"], true);
    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, secret.as_ref())
        .form(&[("token", refresh.secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect(refresh.secret().clone()).await["active"], false);
    assert_eq!(
        introspect(user.access_token().secret().clone()).await["active"],
        false
    );
    // A wrong secret: 401 invalid_client, with a Basic challenge.
    let wrong = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().contains_key("www-authenticate"));
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_client");
}

async fn device_flow_signs_a_device_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("eva@example.pl").await;
    let (id, _) = registered(&app, true, false).await;
    let client = relying_party(&app, &id, None).await.set_device_authorization_url(
        DeviceAuthorizationUrl::new(app.url("/oauth2/device_authorization")).unwrap(),
    );
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("email".into()))
        .request_async(&http())
        .await
        .expect("device authorization");
    // Before the person answers: authorization_pending.
    let pending = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", details.device_code().secret().as_str()),
            ("client_id", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        pending.json::<Value>().await.unwrap()["error"],
        "authorization_pending"
    );
    let mut page = PageSession::new(&app);
    page.sign_in("eva@example.pl", PASSWORD).await;
    let code = details.user_code().secret().clone();
    let (status, html) = page.get(&format!("/device?user_code={code}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Wiki"));
    let (status, _) = page
        .post("/device", &[("user_code", &code), ("decision", "allow")])
        .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(time::Duration::seconds(6));
    let tokens = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(&http(), |_| async {}, None)
        .await
        .expect("the device's tokens");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("eva@example.pl"));
}

async fn logout_ends_the_browser_session_and_its_apps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("zoe@example.pl").await;
    let (id, secret) = registered(&app, false, true).await;
    let client = relying_party(&app, &id, secret.as_deref()).await;
    let mut page = PageSession::new(&app);
    let (tokens, _) = code_flow(&client, &mut page, "zoe@example.pl").await;
    let hint = tokens.id_token().unwrap().to_string();
    // An unregistered post-logout URI is refused with a page.
    let (status, _) = page
        .get(&format!(
            "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = page
        .get(&format!(
            "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=s1"
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("http://127.0.0.1:9/bye?state=s1"));
    let (_, html) = page.get("/account").await;
    assert!(!html.contains("zoe@example.pl"), "signed out of the page");
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http())
        .await;
    assert!(refreshed.is_err(), "the app's session ended with the browser's");
}

/// A client with a back-channel logout URI gets a logout token, naming
/// the ID token's `sid`, when the user signs out on the page.
async fn a_back_channel_logout_token_reaches_the_client(backend: Backend) {
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let receiver = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(
            move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                let sent = sent.clone();
                async move {
                    sent.send(form.get("logout_token").cloned().unwrap_or_default())
                        .unwrap();
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let app = TestApp::spawn(backend).await;
    app.register("ewa@example.pl").await;
    let issued = app
        .core
        .create_client(
            Actor::Operator,
            NewClient {
                name: "Wiki".into(),
                redirect_uris: vec![REDIRECT.into()],
                trusted: true,
                backchannel_logout_uri: Some(format!("http://127.0.0.1:{port}/backchannel")),
                ..NewClient::default()
            },
        )
        .await
        .unwrap();
    let client = relying_party(&app, &issued.client.id, issued.secret.as_deref()).await;
    let mut page = PageSession::new(&app);
    let (tokens, nonce) = code_flow(&client, &mut page, "ewa@example.pl").await;
    let id_token = tokens.id_token().unwrap().clone();
    id_token.claims(&client.id_token_verifier(), &nonce).unwrap();
    let sid = payload_of(&id_token.to_string())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    page.get("/sign-out").await;
    let (status, _) = page.post("/sign-out", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let token = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
        .await
        .expect("a logout token within seconds")
        .unwrap();
    let payload = payload_of(&token);
    use base64::Engine;
    assert_eq!(payload["sid"], sid.as_str());
    assert_eq!(payload["aud"], issued.client.id.as_str());
    assert!(payload["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(payload.get("nonce").is_none());
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"]),
        "signed by a published key"
    );
}

async fn admins_manage_clients_over_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("root@example.pl").await;
    let bearer = crate::helpers::token(&admin).to_owned();
    let created = app
        .client
        .post(app.url("/api/v1/admin/clients"))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({ "name": "CI", "grants": ["client_credentials"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["client"]["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let bad = app
        .client
        .post(app.url("/api/v1/admin/clients"))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({ "name": "Bad", "redirect_uris": ["http://evil.example/cb"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let user = app.signed_in("eve@example.pl").await;
    let refused = app
        .get_with_token("/api/v1/admin/clients", crate::helpers::token(&user))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listed: Value = app
        .client
        .get(app.url("/api/v1/admin/clients"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["clients"][0]["client_id"], id.as_str());
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/admin/clients/{id}")))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let token = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED);
}

/// A JWT's claims, unverified (the test checks the signature's key apart).
fn payload_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A client registered for ES256 or EdDSA gets its ID tokens (and their
/// `at_hash`) by that algorithm, verified by openidconnect against the
/// published keys; access tokens stay RS256 (RFC 9068). An unknown
/// algorithm is refused at registration.
async fn id_tokens_are_signed_with_the_clients_algorithm(backend: Backend) {
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let app = TestApp::spawn(backend).await;
    app.register("ela@example.pl").await;
    for (alg, expected) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let issued = app
            .core
            .create_client(
                Actor::Operator,
                NewClient {
                    name: format!("{alg} app"),
                    redirect_uris: vec![REDIRECT.into()],
                    trusted: true,
                    id_token_alg: Some(alg.into()),
                    ..NewClient::default()
                },
            )
            .await
            .unwrap();
        let client = relying_party(&app, &issued.client.id, issued.secret.as_deref()).await;
        let mut page = PageSession::new(&app);
        let (tokens, nonce) = code_flow(&client, &mut page, "ela@example.pl").await;
        let id_token = tokens.id_token().unwrap();
        assert_eq!(id_token.signing_alg().unwrap(), &expected);
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![expected.clone()]);
        let claims = id_token.claims(&verifier, &nonce).expect("verifies by the JWKS");
        let at_hash = openidconnect::AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash), "{alg}");
        let header = tokens
            .access_token()
            .secret()
            .split('.')
            .next()
            .unwrap()
            .to_owned();
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "RS256");
    }
    let refused = app
        .core
        .create_client(
            Actor::Operator,
            NewClient {
                name: "HS app".into(),
                redirect_uris: vec![REDIRECT.into()],
                id_token_alg: Some("HS256".into()),
                ..NewClient::default()
            },
        )
        .await;
    assert!(refused.is_err());
}

/// RFC 7591: off by default (404, not in discovery); on, a registered
/// client signs people in after the consent screen (never trusted), bad
/// metadata is refused in the RFC's terms, and an unused one is pruned.
async fn dynamic_registration_is_off_unless_asked_and_its_clients_are_never_trusted(backend: Backend) {
    let off = TestApp::spawn(backend.clone()).await;
    let document: Value = off.get_json("/.well-known/openid-configuration").await;
    assert!(document.get("registration_endpoint").is_none());
    let refused = off
        .post(
            "/oauth2/register",
            serde_json::json!({ "redirect_uris": [REDIRECT] }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let app = TestApp::spawn_with(backend, |c| c.core.oidc_dynamic_registration = true).await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["registration_endpoint"], app.url("/oauth2/register"));
    let bad = [
        (
            serde_json::json!({ "redirect_uris": ["http://wiki.example.org/cb"] }),
            "invalid_redirect_uri",
        ),
        (
            serde_json::json!({ "redirect_uris": [REDIRECT], "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({ "redirect_uris": [REDIRECT], "grant_types": ["password"] }),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!(["not", "an", "object"]),
            "invalid_client_metadata",
        ),
    ];
    for (metadata, error) in bad {
        let answer = app.post("/oauth2/register", metadata.clone()).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{metadata}");
        assert_eq!(
            answer.json::<Value>().await.unwrap()["error"],
            error,
            "{metadata}"
        );
    }
    let answer = app
        .post(
            "/oauth2/register",
            serde_json::json!({
                "client_name": "Self-registered",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid email",
                "id_token_signed_response_alg": "ES256",
            }),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let registered: Value = answer.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(registered["client_secret_expires_at"], 0);
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let stored = app.core.client(Actor::Operator, &id).await.unwrap();
    assert!(stored.dynamic && !stored.trusted);

    // It signs a person in, after the consent screen.
    app.register("ida@example.pl").await;
    let client = relying_party(&app, &id, registered["client_secret"].as_str()).await;
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let mut page = PageSession::new(&app);
    page.sign_in("ida@example.pl", PASSWORD).await;
    let path = url.as_str().trim_start_matches(&app.address).to_owned();
    let (_, html) = page.get(&path).await;
    assert!(html.contains("Self-registered"), "asked for consent: {html}");

    // A public one nobody signs in to is pruned after --prune-after.
    let answer = app
        .post(
            "/oauth2/register",
            serde_json::json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" }),
        )
        .await;
    let unused: Value = answer.json().await.unwrap();
    assert!(unused["client_secret"].is_null());
    let unused = unused["client_id"].as_str().unwrap().to_owned();
    app.clock.advance(time::Duration::days(8));
    app.core.prune().await.unwrap();
    assert!(app.core.client(Actor::Operator, &unused).await.is_err(), "pruned");
}

/// The code flow (no PKCE) of a confidential client, its browser part in
/// `page`: the tokens, and the nonce the request carried.
async fn code_flow(
    client: &DiscoveredClient,
    page: &mut PageSession<'_>,
    login: &str,
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let code = param(&approve(page, url.as_str(), login).await, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http())
        .await
        .unwrap();
    (tokens, nonce)
}

/// A code (and its verifier) from the flow with PKCE, signed in as `login`.
async fn pkce_code(
    client: &DiscoveredClient,
    page: &mut PageSession<'_>,
    login: &str,
) -> (String, openidconnect::PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let code = param(&approve(page, url.as_str(), login).await, "code").unwrap();
    (code, verifier)
}
