//! The GitHub preset against a local server that answers GitHub's
//! documented endpoints and shapes: `/login/oauth/authorize`,
//! `/login/oauth/access_token` (a bad code is a 200 with `error`, as GitHub
//! does), `/user` and `/user/emails` under `/api/v3` (GitHub Enterprise
//! Server's layout, which the preset takes when given an `issuer`).

use crate::helpers::{Backend, PageSession, TestApp, both_backends};
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use klucznik::app::upstream::{UpstreamKind, UpstreamProvider};
use reqwest::StatusCode;
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

both_backends!(the_github_preset_signs_in_with_the_primary_verified_address);

#[derive(Default)]
struct GitHub {
    /// The PKCE challenge of the code handed out.
    challenge: Mutex<Option<String>>,
    /// Whether the primary address is verified.
    verified: bool,
}

async fn authorize(State(hub): State<Arc<GitHub>>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"));
    *hub.challenge.lock().unwrap() = q.get("code_challenge").cloned();
    let back = format!("{}?code=gh-code&state={}", q["redirect_uri"], q["state"]);
    Redirect::to(&back).into_response()
}

async fn access_token(State(hub): State<Arc<GitHub>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let good = form.get("code").map(String::as_str) == Some("gh-code")
        && form.get("client_secret").map(String::as_str) == Some("gh-secret")
        && hub.challenge.lock().unwrap().as_deref() == Some(challenge.as_str());
    let body = if good {
        json!({ "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email" })
    } else {
        json!({ "error": "bad_verification_code", "error_description": "The code passed is incorrect or expired." })
    };
    axum::Json(body).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gho_test")
        && headers.get("user-agent").is_some()
}

async fn user(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "Bad credentials" })),
        )
            .into_response();
    }
    axum::Json(json!({ "id": 4242, "login": "octocat", "name": "The Octocat" })).into_response()
}

async fn emails(State(hub): State<Arc<GitHub>>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "Bad credentials" })),
        )
            .into_response();
    }
    axum::Json(json!([
        { "email": "old@example.org", "primary": false, "verified": true, "visibility": null },
        { "email": "octocat@example.org", "primary": true, "verified": hub.verified, "visibility": "public" },
    ]))
    .into_response()
}

/// A GitHub on a port of its own; its base URL.
async fn github(verified: bool) -> String {
    let hub = Arc::new(GitHub {
        verified,
        ..GitHub::default()
    });
    let routes = axum::Router::new()
        .route("/login/oauth/authorize", axum::routing::get(authorize))
        .route("/login/oauth/access_token", axum::routing::post(access_token))
        .route("/api/v3/user", axum::routing::get(user))
        .route("/api/v3/user/emails", axum::routing::get(emails))
        .with_state(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, routes).await });
    base
}

async fn with_github(backend: Backend, base: &str) -> TestApp {
    let web = url::Url::parse(base).unwrap();
    let api = url::Url::parse(&format!("{base}/api/v3")).unwrap();
    TestApp::spawn_with(backend, |c| {
        c.upstreams = vec![UpstreamProvider {
            name: "github".into(),
            label: "GitHub".into(),
            kind: UpstreamKind::GitHub { web, api },
            client_id: "gh-client".into(),
            client_secret: Some("gh-secret".to_owned().into()),
            scopes: vec!["read:user".into(), "user:email".into()],
            redirect_uri: String::new(),
        }];
    })
    .await
}

/// The button, GitHub's authorize (which answers at once), and back.
async fn trip(app: &TestApp, page: &mut PageSession<'_>) -> (StatusCode, String) {
    page.get("/login/upstream/github").await;
    let to_github = page.location.clone().unwrap();
    let answer = app.client.get(&to_github).send().await.unwrap();
    let back = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    page.get(&format!("{}?{}", back.path(), back.query().unwrap()))
        .await
}

async fn the_github_preset_signs_in_with_the_primary_verified_address(backend: Backend) {
    let base = github(true).await;
    let app = with_github(backend.clone(), &base).await;
    let mut page = PageSession::new(&app);
    let (status, html) = trip(&app, &mut page).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let me = page.app_json("/api/v1/me").await;
    assert_eq!(me["account"]["email"], "octocat@example.org", "{me}");
    let subjects = app.stored_texts("SELECT subject FROM upstream_identities").await;
    assert_eq!(subjects, vec!["4242".to_owned()]);

    // An unverified primary address makes no account.
    let base = github(false).await;
    let app = with_github(backend, &base).await;
    let mut page = PageSession::new(&app);
    let (status, html) = trip(&app, &mut page).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("no confirmed email address"), "{html}");
    assert!(app.stored_texts("SELECT id FROM accounts").await.is_empty());
}
