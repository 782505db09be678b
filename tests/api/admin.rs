//! Administration of accounts by admins.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, token};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    only_admins_reach_the_admin_routes,
    admins_list_search_and_page_accounts,
    admins_show_accounts_and_grant_and_revoke_roles,
    admins_end_every_session_of_an_account,
);

async fn admins_end_every_session_of_an_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("szef@example.pl").await;
    let phone = app.signed_in("ala@example.pl").await;
    let laptop: serde_json::Value = app
        .login("ala@example.pl", crate::helpers::PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let id = phone["account"]["id"].as_str().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/admin/users/{id}/sessions")))
        .bearer_auth(token(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["revoked"], 2);
    for device in [&phone, &laptop] {
        let me = app.get_with_token("/api/v1/me", token(device)).await;
        assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    // The account itself is untouched: it signs in again.
    assert_eq!(
        app.login("ala@example.pl", crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let admin_me = app.get_with_token("/api/v1/me", token(&admin)).await;
    assert_eq!(admin_me.status(), StatusCode::OK);
}

async fn only_admins_reach_the_admin_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in("ala@example.pl").await;
    let id = user["account"]["id"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/admin/users".to_owned()),
        (reqwest::Method::GET, format!("/api/v1/admin/users/{id}")),
        (
            reqwest::Method::PUT,
            format!("/api/v1/admin/users/{id}/roles/admin"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/admin/users/{id}/roles/user"),
        ),
        (reqwest::Method::POST, format!("/api/v1/admin/users/{id}/disable")),
        (reqwest::Method::POST, format!("/api/v1/admin/users/{id}/enable")),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/admin/users/{id}/sessions"),
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(token(&user))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        let response = app.client.request(method, app.url(&path)).send().await.unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

async fn admins_list_search_and_page_accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("admin@example.pl").await;
    for i in 0..5 {
        app.post(
            "/api/v1/register",
            json!({"email": format!("user{i}@example.pl"), "password": PASSWORD}),
        )
        .await;
    }
    app.post(
        "/api/v1/register",
        json!({"username": "Zenon_100", "password": PASSWORD}),
    )
    .await;
    app.post(
        "/api/v1/register",
        json!({"username": "Zenon_kot", "password": PASSWORD}),
    )
    .await;
    let list = |query: &str| {
        app.client
            .get(app.url(&format!("/api/v1/admin/users{query}")))
            .bearer_auth(token(&admin))
            .send()
    };
    let all: Value = list("").await.unwrap().json().await.unwrap();
    assert_eq!(all["total"], 8, "{all}");
    assert_eq!(all["page"], 1);
    assert_eq!(all["per_page"], 20);
    assert_eq!(all["users"][0]["username"], "Zenon_kot", "newest first");

    let page: Value = list("?per_page=2&page=2").await.unwrap().json().await.unwrap();
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"], 8);
    let beyond: Value = list("?per_page=5&page=3").await.unwrap().json().await.unwrap();
    assert_eq!(beyond["users"], json!([]));

    let found: Value = list("?search=USER3").await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["users"][0]["email"], "user3@example.pl");
    let found: Value = list("?search=zenon").await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 2);
    // Pattern characters are searched for literally.
    let found: Value = list("?search=_").await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 2, "only the names with an underscore: {found}");
    let found: Value = list("?search=%25").await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 0, "{found}");

    for bad in [
        "?page=0",
        "?per_page=0",
        "?per_page=101",
        "?page=abc",
        "?per_page=-1",
    ] {
        let response = list(bad).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(
            ["invalid_field", "invalid_query"].contains(&body["error"].as_str().unwrap()),
            "{bad}: {body}"
        );
    }
}

async fn admins_show_accounts_and_grant_and_revoke_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin("admin@example.pl").await;
    let user = app.signed_in("ala@example.pl").await;
    let id = user["account"]["id"].as_str().unwrap();
    let send = |method: reqwest::Method, path: String| {
        app.client
            .request(method, app.url(&path))
            .bearer_auth(token(&admin))
            .send()
    };

    let shown: Value = send(reqwest::Method::GET, format!("/api/v1/admin/users/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["account"]["email"], "ala@example.pl");
    let missing = send(reqwest::Method::GET, "/api/v1/admin/users/no-such-id".into())
        .await
        .unwrap();
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;

    let granted = send(
        reqwest::Method::PUT,
        format!("/api/v1/admin/users/{id}/roles/moderator"),
    )
    .await
    .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    assert_eq!(
        granted.json::<Value>().await.unwrap()["account"]["roles"],
        json!(["user", "moderator"])
    );
    // Granting twice changes nothing.
    let again: Value = send(
        reqwest::Method::PUT,
        format!("/api/v1/admin/users/{id}/roles/MODERATOR"),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(again["account"]["roles"], json!(["user", "moderator"]));
    let revoked: Value = send(
        reqwest::Method::DELETE,
        format!("/api/v1/admin/users/{id}/roles/moderator"),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(revoked["account"]["roles"], json!(["user"]));

    let unknown = send(
        reqwest::Method::PUT,
        format!("/api/v1/admin/users/{id}/roles/root"),
    )
    .await
    .unwrap();
    assert_error(unknown, StatusCode::BAD_REQUEST, "invalid_role").await;
    let nobody = send(
        reqwest::Method::PUT,
        "/api/v1/admin/users/nobody/roles/admin".into(),
    )
    .await
    .unwrap();
    assert_error(nobody, StatusCode::NOT_FOUND, "not_found").await;
    let nobody = send(reqwest::Method::POST, "/api/v1/admin/users/nobody/disable".into())
        .await
        .unwrap();
    assert_error(nobody, StatusCode::NOT_FOUND, "not_found").await;

    // A new role shows in the next access token.
    let refreshed = app
        .post("/api/v1/refresh", json!({"refresh_token": user["refresh_token"]}))
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}
