//! Upstream sign-in against an established, certified OpenID provider
//! installed from the npm registry (panva's `oidc-provider`, started by the
//! test from tests/node/provider.mjs), with its development login and
//! consent pages played by a cookie-keeping HTTP client.

use crate::helpers::{Backend, PageSession, TestApp, both_backends};
use klucznik::app::upstream::{UpstreamKind, UpstreamProvider};
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};

both_backends!(oidc_provider_from_npm_signs_a_person_in);

/// The provider on a free port; killed with the returned child.
async fn provider(redirect_uri: &str) -> Option<(tokio::process::Child, String)> {
    let node = crate::node_client::node_ready().await?;
    let port = crate::mailbox::free_port();
    let mut child = tokio::process::Command::new(node)
        .arg("provider.mjs")
        .current_dir(crate::node_client::script_dir())
        .env("PORT", port.to_string())
        .env("CLIENT_ID", "klucznik")
        .env("CLIENT_SECRET", "a-long-enough-client-secret-for-the-test")
        .env("REDIRECT_URI", redirect_uri)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await;
    assert!(
        matches!(started, Ok(Ok(Some(ref line))) if line == "listening"),
        "oidc-provider did not start: {started:?}"
    );
    // Its later output is drained: a closed pipe would make it exit.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((child, format!("http://127.0.0.1:{port}")))
}

/// Follows the provider's pages (login, then consent) until it sends the
/// browser back to `home`; that URL.
async fn through_the_provider(start: &str, home: &str) -> url::Url {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut at = url::Url::parse(start).unwrap();
    for _ in 0..20 {
        if at.as_str().starts_with(home) {
            return at;
        }
        let answer = browser.get(at.clone()).send().await.unwrap();
        let answer = if answer.status().is_redirection() {
            answer
        } else {
            let html = answer.text().await.unwrap();
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("a form on {at}: {html}"))
                .to_owned();
            // Its development pages: a login form, then a consent form.
            let fields: &[(&str, &str)] = if html.contains("name=\"login\"") {
                &[("prompt", "login"), ("login", "alice"), ("password", "anything")]
            } else {
                &[("prompt", "consent")]
            };
            browser
                .post(at.join(&action).unwrap())
                .form(fields)
                .send()
                .await
                .unwrap()
        };
        let Some(to) = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            panic!(
                "{at}: {} {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            );
        };
        at = at.join(&to).unwrap();
    }
    panic!("never sent back to {home}; at {at}");
}

async fn oidc_provider_from_npm_signs_a_person_in(backend: Backend) {
    let port = crate::mailbox::free_port();
    let home = format!("http://127.0.0.1:{port}");
    let Some((_provider, issuer)) = provider(&format!("{home}/login/upstream/npm/callback")).await else {
        return;
    };
    let app = TestApp::spawn_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = Some(url::Url::parse(&home).unwrap());
        c.upstreams = vec![UpstreamProvider {
            name: "npm".into(),
            label: "oidc-provider".into(),
            kind: UpstreamKind::Oidc {
                issuer: url::Url::parse(&issuer).unwrap(),
            },
            client_id: "klucznik".into(),
            client_secret: Some("a-long-enough-client-secret-for-the-test".to_owned().into()),
            scopes: vec!["openid".into(), "email".into()],
            redirect_uri: String::new(),
        }];
    })
    .await;
    let mut page = PageSession::new(&app);
    let (status, _) = page.get("/login/upstream/npm").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back = through_the_provider(page.location.as_deref().unwrap(), &home).await;
    let (status, html) = page
        .get(&format!("{}?{}", back.path(), back.query().unwrap()))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let me = page.app_json("/api/v1/me").await;
    assert_eq!(me["account"]["email"], "alice@example.org", "{me}");
    assert_eq!(
        app.stored_texts("SELECT subject FROM upstream_identities").await,
        vec!["alice".to_owned()]
    );
}
