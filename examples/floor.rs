//! The floors of the speed benchmark (`bench/run`), measured in the same run
//! on the same machine as Klucznik:
//! - `GET /me`: a bare axum handler that checks an HS256 JWT and answers
//!   who it names, with no database (who-am-I's floor);
//! - `POST /login`: checks the password against an Argon2id hash at
//!   Klucznik's default cost on Klucznik's own hashing pool, and nothing
//!   else (the hash-only rate sign-in and sign-up are compared against).
//!
//! Prints `token TOKEN` and `listening on http://ADDR`, then serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use klucznik::app::{Argon2Cost, PasswordHasherPool};
use klucznik::domain::Password;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const SECRET: &[u8] = b"floor-of-the-benchmark-32-bytes!";

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

async fn me(key: Arc<DecodingKey>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match jsonwebtoken::decode::<Claims>(token, &key, &Validation::new(jsonwebtoken::Algorithm::HS256)) {
        Ok(data) => axum::Json(serde_json::json!({ "id": data.claims.sub })).into_response(),
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

#[tokio::main]
async fn main() {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = Claims {
        sub: "0190f0c0-0000-7000-8000-000000000000".into(),
        exp,
    };
    let token = jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
    let key = Arc::new(DecodingKey::from_secret(SECRET));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let pool = Arc::new(PasswordHasherPool::new(Argon2Cost::default(), threads).unwrap());
    let password = std::env::var("BENCH_PASSWORD").unwrap_or_else(|_| "bench-password-9".into());
    let stored = Arc::new(pool.hash(&Password::parse(&password).unwrap()).await.unwrap());
    let app = Router::new()
        .route(
            "/me",
            get(move |headers: HeaderMap| me(Arc::clone(&key), headers)),
        )
        .route(
            "/api/v1/login",
            post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let (pool, stored) = (Arc::clone(&pool), Arc::clone(&stored));
                async move {
                    let given = body
                        .get("password")
                        .and_then(|p| p.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    match pool.verify(&given, Some(&stored)).await {
                        Ok(klucznik::app::hashing::Verdict::Match) => StatusCode::OK,
                        _ => StatusCode::UNAUTHORIZED,
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("token {token}");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
