//! `auth-token` (seeds/004_…), walked top to bottom: register, login and
//! refresh with every documented status, then bad input as `{"err"}`.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

both_backends!(
    the_documented_flow_works,
    refresh_takes_the_token_bare_or_as_bearer,
    bad_input_answers_with_err,
    mounts_under_a_prefix,
);

async fn err(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["err"], "only {{\"err\"}}: {body}");
    body["err"].as_str().unwrap().to_owned()
}

async fn auth_token(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let token = body["authToken"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a.jwt.token");
    token
}

async fn the_documented_flow_works(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "auth-token", None).await;
    // Creating a new user: 200, 400, 409.
    let token = auth_token(
        app.post(
            "/auth/register",
            json!({"username": "my_username", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    // A real access token, of this door only (design §7).
    let me = app.get_with_token("/api/v1/me", &token).await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "auth-token's token opens no other door"
    );
    err(
        app.post(
            "/auth/register",
            json!({"username": "MY_USERNAME", "password": PASSWORD}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    err(
        app.post("/auth/register", json!({"username": "my_username2"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    err(
        app.post("/auth/register", json!({"username": "x", "password": PASSWORD}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    err(
        app.post(
            "/auth/register",
            json!({"username": "bolek", "password": "password"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Logging in: 200, 400, 401.
    auth_token(
        app.post(
            "/auth/login",
            json!({"username": "my_username", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    err(
        app.post(
            "/auth/login",
            json!({"username": "my_username", "password": "wrong-password"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    err(
        app.post("/auth/login", json!({"username": "nobody", "password": PASSWORD}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    err(
        app.post("/auth/login", json!({"password": PASSWORD})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

async fn refresh_takes_the_token_bare_or_as_bearer(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "auth-token", None).await;
    let token = auth_token(
        app.post("/auth/register", json!({"username": "ala", "password": PASSWORD}))
            .await,
    )
    .await;
    let refresh = |value: String| {
        app.client
            .get(app.url("/auth/refresh"))
            .header("authorization", value)
            .send()
    };
    let bare = auth_token(refresh(token.clone()).await.unwrap()).await;
    let bearer = auth_token(refresh(format!("Bearer {bare}")).await.unwrap()).await;
    assert_ne!(bearer, bare, "each renewal is a new token");
    // A native token is not renewed here (it would outlive its own door's rules).
    let registered = app
        .post(
            "/api/v1/register",
            json!({"username": "natywny", "password": PASSWORD}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let native: Value = app.login("natywny", PASSWORD).await.json().await.unwrap();
    let refused = refresh(crate::helpers::token(&native).to_owned()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    err(
        app.client.get(app.url("/auth/refresh")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    err(
        refresh("not.a.token".into()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    err(
        refresh("Basic abc".into()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Ending the session (here by the operator) ends the chain.
    let account = app
        .core
        .account_by_login(klucznik::app::Actor::Operator, "ala")
        .await
        .unwrap();
    app.core.logout_everywhere(&account.id).await.unwrap();
    err(refresh(bearer).await.unwrap(), StatusCode::UNAUTHORIZED).await;
}

async fn bad_input_answers_with_err(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "auth-token", None).await;
    err(app.post_raw("/auth/register", "{").await, StatusCode::BAD_REQUEST).await;
    err(
        app.post("/auth/register", json!({"username": 1, "password": PASSWORD}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    err(
        app.post_raw("/auth/login", vec![b'x'; 70 * 1024]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let text = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await;
    // The seed has one status for anything malformed: 400.
    err(text.unwrap(), StatusCode::BAD_REQUEST).await;
    err(
        app.client.get(app.url("/auth/nothing")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    err(
        app.client.get(app.url("/auth/login")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    err(
        app.client.post(app.url("/auth/refresh")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
}

async fn mounts_under_a_prefix(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "auth-token", Some("/legacy")).await;
    auth_token(
        app.post(
            "/legacy/auth/register",
            json!({"username": "ala", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    err(
        app.client.get(app.url("/legacy/anything")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let outside: Value = app.post("/auth/register", json!({})).await.json().await.unwrap();
    assert_eq!(outside["error"], "not_found");
}
