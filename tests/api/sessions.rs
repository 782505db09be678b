//! Listing and revoking my sessions.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, token};
use reqwest::StatusCode;
use serde_json::Value;

both_backends!(sessions_list_shows_devices_and_revokes_one_or_all_others);

async fn sessions_list_shows_devices_and_revokes_one_or_all_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    let mut logins = Vec::new();
    for agent in ["Firefox", "Chromium", "Curl"] {
        let response = app
            .client
            .post(app.url("/api/v1/login"))
            .header("user-agent", agent)
            .json(&serde_json::json!({"login": "ala@example.pl", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        logins.push(response.json::<Value>().await.unwrap());
    }
    let [firefox, chromium, curl] = [&logins[0], &logins[1], &logins[2]];

    let list: Value = app
        .get_with_token("/api/v1/sessions", token(firefox))
        .await
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    let agents: Vec<&str> = sessions
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["Curl", "Chromium", "Firefox"], "newest first");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Firefox");
    for session in sessions {
        assert_eq!(session["ip"], "127.0.0.1");
        for field in ["id", "created_at", "last_used_at", "expires_at"] {
            assert!(session[field].is_string(), "{field}");
        }
    }

    // Revoke the Chromium session from Firefox.
    let chromium_id = sessions.iter().find(|s| s["user_agent"] == "Chromium").unwrap()["id"]
        .as_str()
        .unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{chromium_id}")))
        .bearer_auth(token(firefox))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get_with_token("/api/v1/me", token(chromium)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Twice, or someone else's: not found.
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{chromium_id}")))
        .bearer_auth(token(firefox))
        .send()
        .await
        .unwrap();
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;
    let stranger = app.signed_in("ola@example.pl").await;
    let firefox_id = current[0]["id"].as_str().unwrap();
    let foreign = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{firefox_id}")))
        .bearer_auth(token(&stranger))
        .send()
        .await
        .unwrap();
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found").await;

    // All others: only Firefox stays.
    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .bearer_auth(token(firefox))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["revoked"], 1);
    assert_error(
        app.get_with_token("/api/v1/me", token(curl)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        app.get_with_token("/api/v1/me", token(firefox)).await.status(),
        StatusCode::OK
    );
    let list: Value = app
        .get_with_token("/api/v1/sessions", token(firefox))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}
