//! Signing keys in operation: one key when instances start together,
//! rotation and retirement that sign nobody out, the JWKS following them,
//! and automatic rotation.

use crate::helpers::{Backend, TestApp, TestDatabase, both_backends, test_config, token};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use klucznik::app::clock::Clock;
use klucznik::app::{Claims, KeyState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

both_backends!(
    instances_starting_together_agree_on_one_key,
    rotation_and_retirement_sign_nobody_out,
    a_retired_key_is_refused_and_unpublished_once_its_tokens_expired,
    a_retired_key_stays_for_uid_tokens_hour_only_where_it_is_served,
    automatic_rotation_replaces_and_retires_the_key,
);

const PUBLIC_URL: &str = "http://klucznik.test";

fn same_issuer(config: &mut klucznik::config::Config) {
    config.public_url = Some(url::Url::parse(PUBLIC_URL).unwrap());
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    // The configured algorithm's keys (EdDSA here; RS256 and ES256 ones
    // are OpenID Connect's).
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| key["alg"] == "EdDSA")
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Two instances starting at the same moment on an empty database: one
/// key is created, and each verifies the other's tokens. Eight rounds,
/// since the race this guards against lost about one start in eight.
async fn instances_starting_together_agree_on_one_key(backend: Backend) {
    for _ in 0..8 {
        let database = TestDatabase::create(&backend).await;
        let shared = database.shared();
        let (mut one, mut two) = (test_config(&database), test_config(&shared));
        same_issuer(&mut one);
        same_issuer(&mut two);
        let (first, second) = tokio::join!(TestApp::start(one, database), TestApp::start(two, shared));
        let kids = first
            .stored_texts("SELECT kid FROM signing_keys WHERE algorithm = 'EdDSA'")
            .await;
        assert_eq!(kids.len(), 1, "one key, not {kids:?}");
        let on_first = first.signed_in("ala@example.pl").await;
        let on_second = second.signed_in("ola@example.pl").await;
        for (app, login) in [(&second, &on_first), (&first, &on_second)] {
            let me = app.get_with_token("/api/v1/me", token(login)).await;
            assert_eq!(me.status(), StatusCode::OK);
        }
    }
}

/// A client keeps refreshing and calling `/me`, alternating between two
/// instances, while the key is rotated on one and the old key retired:
/// not one request is refused, the new key takes over on both, and the
/// old one stays published for the tokens it signed.
async fn rotation_and_retirement_sign_nobody_out(backend: Backend) {
    let first = Arc::new(TestApp::spawn_with(backend, same_issuer).await);
    let second = Arc::new(first.another_instance(same_issuer).await);
    let login = first.signed_in("ala@example.pl").await;
    let old_kid = kid_of(token(&login));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let client = tokio::spawn({
        let (apps, stop) = ([Arc::clone(&first), Arc::clone(&second)], Arc::clone(&stop));
        let done = Arc::clone(&done);
        let mut refresh = login["refresh_token"].as_str().unwrap().to_owned();
        async move {
            let (mut failures, mut kids, mut rounds) = (Vec::new(), Vec::<String>::new(), 0usize);
            while !stop.load(Ordering::SeqCst) {
                let app = &apps[rounds % 2];
                let answer = app
                    .post("/api/v1/refresh", json!({ "refresh_token": refresh }))
                    .await;
                if answer.status() != StatusCode::OK {
                    failures.push(format!("refresh: {}", answer.status()));
                    break;
                }
                let pair: Value = answer.json().await.unwrap();
                refresh = pair["refresh_token"].as_str().unwrap().to_owned();
                let access = pair["access_token"].as_str().unwrap();
                for app in &apps {
                    let me = app.get_with_token("/api/v1/me", access).await;
                    if me.status() != StatusCode::OK {
                        failures.push(format!("me: {}", me.status()));
                    }
                }
                let kid = kid_of(access);
                if kids.last() != Some(&kid) {
                    kids.push(kid);
                }
                rounds += 1;
                done.store(rounds, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (failures, kids, rounds)
        }
    });

    let rotated = first.core.rotate_signing_key().await.unwrap();
    assert_eq!(rotated.state, KeyState::Next);
    // Published at once where it was rotated; elsewhere at the next key
    // round (every 5 s on every instance: run here at once).
    assert!(published_kids(&first).await.contains(&rotated.kid));
    second.core.maintain_keys().await.unwrap();
    assert!(published_kids(&second).await.contains(&rotated.kid));
    // It signs after the notice, on both instances: their clocks move on,
    // each runs its round, and the client goes on meanwhile.
    let rounds_now = || done.load(Ordering::SeqCst);
    let wait_for_rounds = |more: usize| {
        let until = rounds_now() + more;
        // Bounded: a client that stopped on a failure reports it below.
        tokio::time::timeout(Duration::from_secs(10), async move {
            while rounds_now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let _ = wait_for_rounds(10).await;
    for app in [&first, &second] {
        app.clock.advance(time::Duration::seconds(11));
        app.core.maintain_keys().await.unwrap();
    }
    let _ = wait_for_rounds(20).await;
    first.core.retire_signing_key(&old_kid, false).await.unwrap();
    second.core.maintain_keys().await.unwrap();
    let _ = wait_for_rounds(25).await;
    stop.store(true, Ordering::SeqCst);
    let (failures, kids, rounds) = client.await.unwrap();
    assert!(failures.is_empty(), "refused during rotation: {failures:?}");
    assert!(rounds > 50, "only {rounds} rounds");
    assert_eq!(kids, vec![old_kid.clone(), rotated.kid.clone()]);
    for (n, app) in [&first, &second].into_iter().enumerate() {
        let fresh = app.signed_in(&format!("nowy{n}@example.pl")).await;
        assert_eq!(kid_of(token(&fresh)), rotated.kid);
        // The first token, signed by the retired key, still verifies.
        let me = app.get_with_token("/api/v1/me", token(&login)).await;
        assert_eq!(me.status(), StatusCode::OK);
        let published = published_kids(app).await;
        assert!(published.contains(&old_kid) && published.contains(&rotated.kid));
    }
}

/// A token signed by the old key that would still be good for hours (made
/// with the key's own private half, read from the database): accepted
/// while the key verifies, refused once the retired key's last real token
/// has expired, when it also leaves the JWKS.
async fn a_retired_key_is_refused_and_unpublished_once_its_tokens_expired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let login = app.signed_in("ala@example.pl").await;
    let old_kid = kid_of(token(&login));
    let stored = app
        .stored_texts(&format!(
            "SELECT private_key FROM signing_keys WHERE kid = '{old_kid}'"
        ))
        .await;
    let private = STANDARD.decode(&stored[0]).unwrap();
    let claims: Claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token(&login).split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let long_lived = |now: i64| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(old_kid.clone());
        let claims = Claims {
            iat: now,
            exp: now + 10 * 3600,
            ..claims.clone()
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&private),
        )
        .unwrap()
    };

    let rotated = app.core.rotate_signing_key().await.unwrap();
    app.clock.advance(time::Duration::seconds(11));
    app.core.retire_signing_key(&old_kid, false).await.unwrap();
    let forged = long_lived(app.clock.now().unix_timestamp());
    assert_eq!(
        app.get_with_token("/api/v1/me", &forged).await.status(),
        StatusCode::OK
    );
    assert!(published_kids(&app).await.contains(&old_kid));

    // The access-token lifetime (the longest term of the APIs served: no
    // uid-token here) and a reload round later.
    app.clock
        .advance(time::Duration::minutes(15) + time::Duration::seconds(10));
    app.core.maintain_keys().await.unwrap();
    let forged = long_lived(app.clock.now().unix_timestamp());
    let me = app.get_with_token("/api/v1/me", &forged).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(published_kids(&app).await, vec![rotated.kid]);
    let states: Vec<KeyState> = app
        .core
        .signing_key_summaries()
        .await
        .unwrap()
        .into_iter()
        .filter(|key| key.kind == "EdDSA")
        .map(|key| key.state)
        .collect();
    assert_eq!(states, vec![KeyState::Expired, KeyState::Signing]);
}

/// uid-token's tokens live an hour: where it is mounted, a retired key is
/// published that long.
async fn a_retired_key_stays_for_uid_tokens_hour_only_where_it_is_served(backend: Backend) {
    let app = TestApp::spawn_dialect(backend, "uid-token", None).await;
    let old_kid = published_kids(&app).await[0].clone();
    app.core.rotate_signing_key().await.unwrap();
    app.clock.advance(time::Duration::seconds(11));
    app.core.retire_signing_key(&old_kid, false).await.unwrap();
    app.clock
        .advance(time::Duration::minutes(15) + time::Duration::seconds(10));
    app.core.maintain_keys().await.unwrap();
    assert!(published_kids(&app).await.contains(&old_kid));
    app.clock.advance(time::Duration::minutes(45));
    app.core.maintain_keys().await.unwrap();
    assert!(!published_kids(&app).await.contains(&old_kid));
}

/// `--key-rotation 1d`: a day on, the next key is published; once it signs,
/// the old one is retired.
async fn automatic_rotation_replaces_and_retires_the_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.core.key_rotation = Some(time::Duration::days(1))
    })
    .await;
    let first_kid = kid_of(token(&app.signed_in("ala@example.pl").await));
    app.core.maintain_keys().await.unwrap();
    assert_eq!(published_kids(&app).await, vec![first_kid.clone()], "not due yet");
    app.clock.advance(time::Duration::days(1));
    app.core.maintain_keys().await.unwrap();
    let published = published_kids(&app).await;
    assert_eq!(published.len(), 2, "{published:?}");
    app.clock.advance(time::Duration::seconds(11));
    app.core.maintain_keys().await.unwrap();
    let fresh = kid_of(token(&app.signed_in("ola@example.pl").await));
    assert_ne!(fresh, first_kid);
    let keys = app.core.signing_key_summaries().await.unwrap();
    let state = |kid: &str| keys.iter().find(|key| key.kid == kid).unwrap().state.clone();
    assert!(matches!(state(&first_kid), KeyState::Retired { .. }), "{keys:?}");
    assert_eq!(state(&fresh), KeyState::Signing);
}
