//! The janitor: rows that ended more than `--prune-after` ago go, live
//! ones stay and keep working.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

both_backends!(ended_rows_go_and_live_ones_stay);

async fn login(app: &TestApp, email: &str, remember_me: bool) -> Value {
    let response = app
        .post(
            "/api/v1/login",
            json!({"login": email, "password": PASSWORD, "remember_me": remember_me}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn refresh(app: &TestApp, signed_in: &Value) -> Value {
    let response = app
        .post(
            "/api/v1/refresh",
            json!({"refresh_token": signed_in["refresh_token"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn ended_rows_go_and_live_ones_stay(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Day 0: an account (its verification mail), a session that ends by
    // sign-out, one left to expire, a remember-me session refreshed once,
    // a reset link, a failed sign-in.
    app.register("ala@example.pl").await;
    let signed_out = login(&app, "ala@example.pl", false).await;
    let response = app
        .client
        .post(app.url("/api/v1/logout"))
        .bearer_auth(signed_out["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    login(&app, "ala@example.pl", false).await;
    let remembered = refresh(&app, &login(&app, "ala@example.pl", true).await).await;
    let forgot = app
        .post("/api/v1/password/forgot", json!({"email": "ala@example.pl"}))
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.login("ktos@example.pl", "zle-haslo").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Nothing has ended long enough ago yet.
    assert_eq!(app.core.prune().await.unwrap().total(), 0);
    for _ in 0..100 {
        if app.core.outbox_counts().await.unwrap().sent >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Eight days on, past the default seven of --prune-after.
    app.clock.advance(Duration::days(8));
    let fresh = login(&app, "ala@example.pl", false).await;
    let pruned = app.core.prune().await.unwrap();
    assert_eq!(pruned.sessions, 2, "{pruned:?}");
    // The remember-me session's used token stays while the session lives
    // (it must still be known as reused); the ended sessions' went with them.
    assert_eq!(pruned.refresh_tokens, 0, "{pruned:?}");
    assert_eq!(pruned.verifications, 1, "{pruned:?}");
    assert_eq!(pruned.password_resets, 1, "{pruned:?}");
    assert!(pruned.login_failures >= 1, "{pruned:?}");
    assert!(pruned.rate_limits >= 1, "{pruned:?}");
    assert_eq!(pruned.mail, 2, "{pruned:?}");
    // A second round finds nothing; the live sessions still work.
    assert_eq!(app.core.prune().await.unwrap().total(), 0);
    refresh(&app, &remembered).await;
    refresh(&app, &fresh).await;
    let me = app
        .get_with_token("/api/v1/me", fresh["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), StatusCode::OK);
}
