//! Upstream answers that must not sign anyone in: an ID token signed by a
//! key the provider does not publish, one for another audience, one with
//! another nonce, and a provider that accepts the connection and never
//! answers. A small provider here (ES256 keys) plays each.

use crate::helpers::{Backend, PageSession, TestApp, both_backends};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use klucznik::app::upstream::{UpstreamKind, UpstreamProvider};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

both_backends!(forged_id_tokens_and_a_silent_provider_are_refused);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Forgery {
    UnknownKey,
    OtherAudience,
    OtherNonce,
}

struct Forger {
    issuer: String,
    forgery: Forgery,
    published: (String, String),
    published_key: Vec<u8>,
    unpublished_key: Vec<u8>,
    nonce: Mutex<String>,
}

fn p256() -> (Vec<u8>, (String, String)) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let xy = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    (pkcs8.as_ref().to_vec(), xy)
}

async fn discovery(State(f): State<Arc<Forger>>) -> Response {
    let at = |path: &str| format!("{}{path}", f.issuer);
    axum::Json(json!({
        "issuer": f.issuer,
        "authorization_endpoint": at("/authorize"),
        "token_endpoint": at("/token"),
        "jwks_uri": at("/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

async fn jwks(State(f): State<Arc<Forger>>) -> Response {
    let (x, y) = &f.published;
    axum::Json(json!({ "keys": [{ "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "published", "x": x, "y": y }] }))
        .into_response()
}

async fn authorize(State(f): State<Arc<Forger>>, Query(q): Query<HashMap<String, String>>) -> Response {
    *f.nonce.lock().unwrap() = q["nonce"].clone();
    Redirect::to(&format!("{}?code=c&state={}", q["redirect_uri"], q["state"])).into_response()
}

async fn token(State(f): State<Arc<Forger>>) -> Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let nonce = f.nonce.lock().unwrap().clone();
    let claims = json!({
        "iss": f.issuer,
        "sub": "mallory",
        "aud": if f.forgery == Forgery::OtherAudience { "another-app" } else { "klucznik" },
        "iat": now,
        "exp": now + 300,
        "nonce": if f.forgery == Forgery::OtherNonce { "not-the-nonce".to_owned() } else { nonce },
        "email": "victim@example.pl",
        "email_verified": true,
    });
    let (kid, key) = match f.forgery {
        Forgery::UnknownKey => ("published", &f.unpublished_key),
        _ => ("published", &f.published_key),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    let id_token =
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(key)).unwrap();
    axum::Json(
        json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": id_token }),
    )
    .into_response()
}

async fn forger(forgery: Forgery) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (published_key, published) = p256();
    let (unpublished_key, _) = p256();
    let state = Arc::new(Forger {
        issuer: issuer.clone(),
        forgery,
        published,
        published_key,
        unpublished_key,
        nonce: Mutex::default(),
    });
    let routes = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks))
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, routes).await });
    issuer
}

async fn app_with(backend: Backend, issuer: &str) -> TestApp {
    let issuer = url::Url::parse(issuer).unwrap();
    TestApp::spawn_with(backend, |c| {
        c.upstreams = vec![UpstreamProvider {
            name: "idp".into(),
            label: "IdP".into(),
            kind: UpstreamKind::Oidc { issuer },
            client_id: "klucznik".into(),
            client_secret: Some("secret".to_owned().into()),
            scopes: vec!["openid".into(), "email".into()],
            redirect_uri: String::new(),
        }];
    })
    .await
}

async fn forged_id_tokens_and_a_silent_provider_are_refused(backend: Backend) {
    for forgery in [Forgery::UnknownKey, Forgery::OtherAudience, Forgery::OtherNonce] {
        let app = app_with(backend.clone(), &forger(forgery).await).await;
        let mut page = PageSession::new(&app);
        page.get("/login/upstream/idp").await;
        let to = page.location.clone().unwrap();
        let answer = app.client.get(&to).send().await.unwrap();
        let back = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let (status, html) = page
            .get(&format!("{}?{}", back.path(), back.query().unwrap()))
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{html}");
        assert!(html.contains("did not pass the checks"), "{html}");
        assert!(app.stored_texts("SELECT id FROM accounts").await.is_empty());
    }

    // A provider that takes the connection and never answers: a clear
    // page after the 10-second timeout, not a hanging one.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = app_with(backend, &issuer).await;
    let mut page = PageSession::new(&app);
    let started = std::time::Instant::now();
    let (status, html) = page.get("/login/upstream/idp").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{html}");
    assert!(html.contains("did not answer"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
