//! Per-client limits and the lockout by (login, address), as a client
//! behind a trusted proxy sees them: each test names its client addresses
//! in `X-Forwarded-For`, which the server believes only from 127.0.0.1.

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, both_backends, checked_and_held};
use klucznik::config::Config;
use klucznik::domain::{RateLimit, RateLimits};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use time::Duration;

both_backends!(
    a_paused_address_does_not_lock_the_owner_out_from_another,
    forwarded_for_is_ignored_without_trusted_proxies,
    the_account_wide_ceiling_pauses_every_address,
    one_address_failing_across_accounts_is_held_back,
    sign_ups_from_one_address_are_limited_until_the_window_ends,
    recovery_mails_one_inbox_a_bounded_number_of_times,
    two_instances_on_one_database_share_one_limit,
    with_limits_off_one_address_signs_up_without_end,
    every_api_answers_a_limit_in_its_own_shape,
);

/// One sign-up allowed per address: the second, through each dialect's own
/// sign-up route, answers 429 with `Retry-After` in that dialect's shape.
async fn every_api_answers_a_limit_in_its_own_shape(backend: Backend) {
    let limits = RateLimits {
        sign_up: RateLimit {
            limit: 1,
            window: Duration::minutes(10),
        },
        ..RateLimits::DEFAULT
    };
    // (dialect, sign-up path, body for account n, the error body's keys)
    type Case = (
        &'static str,
        &'static str,
        fn(u32) -> Value,
        &'static [&'static str],
    );
    let cases: [Case; 4] = [
        (
            "verify-code",
            "/auth/register",
            |n| json!({"email": format!("k{n}@example.pl"), "password": PASSWORD}),
            &["key", "message"],
        ),
        (
            "auth-token",
            "/auth/register",
            |n| json!({"username": format!("konto{n}"), "password": PASSWORD}),
            &["err"],
        ),
        (
            "uid-token",
            "/register",
            |n| json!({"username": format!("konto{n}"), "email": format!("k{n}@example.pl"), "password": PASSWORD}),
            &["message"],
        ),
        (
            "jwt-roles",
            "/api/auth/signup",
            |n| json!({"username": format!("konto{n}"), "email": format!("k{n}@example.pl"), "password": PASSWORD}),
            &["message"],
        ),
    ];
    for (dialect, path, body, keys) in cases {
        let mount = klucznik::config::DialectMount {
            name: dialect.into(),
            prefix: None,
        };
        let app = TestApp::spawn_with(backend.clone(), |c| {
            with_limits(c, limits);
            c.dialects = vec![mount];
        })
        .await;
        let first = post_from(&app, "203.0.113.9", path, body(1)).await;
        assert!(first.status().is_success(), "{dialect}: {}", first.status());
        let second = post_from(&app, "203.0.113.9", path, body(2)).await;
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS, "{dialect}");
        assert!(retry_after(&second) >= 1, "{dialect}");
        let answer: Value = second.json().await.unwrap();
        let mut found: Vec<&str> = answer.as_object().unwrap().keys().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, keys, "{dialect}: {answer}");
    }
}

fn behind_proxy(config: &mut Config) {
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

fn with_limits(config: &mut Config, limits: RateLimits) {
    behind_proxy(config);
    config.core.rate_limits = Some(limits);
}

async fn post_from(app: &TestApp, client: &str, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", client)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login_from(app: &TestApp, client: &str, login: &str, password: &str) -> Response {
    post_from(
        app,
        client,
        "/api/v1/login",
        json!({"login": login, "password": password}),
    )
    .await
}

fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn a_paused_address_does_not_lock_the_owner_out_from_another(backend: Backend) {
    let app = TestApp::spawn_with(backend, behind_proxy).await;
    app.register("ala@example.pl").await;
    let attacker = "203.0.113.9";
    for attempt in 1..=10 {
        let response = login_from(&app, attacker, "ala@example.pl", "zgadywanie").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let paused = login_from(&app, attacker, "ala@example.pl", PASSWORD).await;
    assert!((1..=30).contains(&retry_after(&paused)));
    assert_error(paused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The owner, elsewhere, signs in; the session remembers where from.
    let owner = login_from(&app, "198.51.100.7", "ala@example.pl", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
    let owner: Value = owner.json().await.unwrap();
    let token = owner["access_token"].as_str().unwrap();
    let list: Value = app
        .get_with_token("/api/v1/sessions", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"][0]["ip"], "198.51.100.7", "{list}");
}

/// Without `--trusted-proxies` the header names nobody: every request here
/// comes from 127.0.0.1, whatever it claims.
async fn forwarded_for_is_ignored_without_trusted_proxies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ala@example.pl").await;
    for n in 0..10 {
        let claimed = format!("203.0.113.{n}");
        let response = login_from(&app, &claimed, "ala@example.pl", "zgadywanie").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login_from(&app, "198.51.100.7", "ala@example.pl", PASSWORD).await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn the_account_wide_ceiling_pauses_every_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        behind_proxy(c);
        c.core.account_lockout_threshold = 15;
    })
    .await;
    app.register("ala@example.pl").await;
    for (client, tries) in [("203.0.113.1", 10), ("203.0.113.2", 5)] {
        for _ in 0..tries {
            let response = login_from(&app, client, "ala@example.pl", "zgadywanie").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }
    // Fifteen failures from anywhere: every address waits, the owner's too.
    let owner = login_from(&app, "198.51.100.7", "ala@example.pl", PASSWORD).await;
    assert!((1..=30).contains(&retry_after(&owner)));
    assert_error(owner, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // The pause ends, and a success clears the count.
    app.clock.advance(Duration::seconds(31));
    let owner = login_from(&app, "198.51.100.7", "ala@example.pl", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
    let again = login_from(&app, "203.0.113.2", "ala@example.pl", "zgadywanie").await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

/// Twenty parallel guesses at twenty names from one address, whose limit
/// is ten failures: ten are checked, ten wait; another address is not held
/// back, and right passwords never count.
async fn one_address_failing_across_accounts_is_held_back(backend: Backend) {
    let limits = RateLimits {
        sign_in_failures: RateLimit {
            limit: 10,
            window: Duration::minutes(1),
        },
        ..RateLimits::DEFAULT
    };
    let app = TestApp::spawn_with(backend, |c| with_limits(c, limits)).await;
    app.register("ala@example.pl").await;
    for _ in 0..12 {
        let ok = login_from(&app, "203.0.113.9", "ala@example.pl", PASSWORD).await;
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let guesses = (0..20).map(|i| {
        let app = &app;
        async move {
            let response = login_from(app, "203.0.113.9", &format!("ktos{i}@example.pl"), "zgadywanie").await;
            let waits = response.headers().contains_key("retry-after");
            (response.status(), waits)
        }
    });
    let answers = futures::future::join_all(guesses).await;
    assert_eq!(checked_and_held(&answers), (10, 10), "{answers:?}");
    let elsewhere = login_from(&app, "198.51.100.7", "ktos@example.pl", "zgadywanie").await;
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    let held = login_from(&app, "203.0.113.9", "ala@example.pl", PASSWORD).await;
    assert!((1..=120).contains(&retry_after(&held)));
    assert_error(held, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn sign_ups_from_one_address_are_limited_until_the_window_ends(backend: Backend) {
    let limits = RateLimits {
        sign_up: RateLimit {
            limit: 3,
            window: Duration::minutes(10),
        },
        ..RateLimits::DEFAULT
    };
    let app = TestApp::spawn_with(backend, |c| with_limits(c, limits)).await;
    let register = |client: &'static str, n: u32| {
        post_from(
            &app,
            client,
            "/api/v1/register",
            json!({"email": format!("konto{n}@example.pl"), "password": PASSWORD}),
        )
    };
    for n in 0..3 {
        assert_eq!(register("203.0.113.9", n).await.status(), StatusCode::CREATED);
    }
    let refused = register("203.0.113.9", 3).await;
    assert!((1..=1200).contains(&retry_after(&refused)));
    let body = assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // A sign-up limit is not called a failed sign-in.
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("too many requests from this address"),
        "{body}"
    );
    assert_eq!(register("198.51.100.7", 4).await.status(), StatusCode::CREATED);
    // The window slides: two window lengths on, the earlier sign-ups are gone.
    app.clock.advance(Duration::minutes(20));
    assert_eq!(register("203.0.113.9", 5).await.status(), StatusCode::CREATED);
}

/// Seven addresses ask for a reset of one account: each is answered 202,
/// and the inbox gets five links.
async fn recovery_mails_one_inbox_a_bounded_number_of_times(backend: Backend) {
    let app = TestApp::spawn_with(backend, behind_proxy).await;
    app.register("ala@example.pl").await;
    let before = app.core.outbox_counts().await.unwrap();
    for n in 0..7 {
        let response = post_from(
            &app,
            &format!("203.0.113.{n}"),
            "/api/v1/password/forgot",
            json!({"email": "ala@example.pl"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let after = app.core.outbox_counts().await.unwrap();
    let total = |c: &klucznik::store::OutboxCounts| c.pending + c.sent + c.failed;
    assert_eq!(total(&after) - total(&before), 5, "{before:?} → {after:?}");
}

async fn two_instances_on_one_database_share_one_limit(backend: Backend) {
    let limits = RateLimits {
        sign_up: RateLimit {
            limit: 2,
            window: Duration::minutes(10),
        },
        ..RateLimits::DEFAULT
    };
    let first = TestApp::spawn_with(backend, |c| with_limits(c, limits)).await;
    let second = first.another_instance(|c| with_limits(c, limits)).await;
    assert_eq!(register(&first, 0).await.status(), StatusCode::CREATED);
    assert_eq!(register(&second, 1).await.status(), StatusCode::CREATED);
    let refused = register(&first, 2).await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let refused = register(&second, 3).await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn register(app: &TestApp, n: u32) -> Response {
    post_from(
        app,
        "203.0.113.9",
        "/api/v1/register",
        json!({"email": format!("konto{n}@example.pl"), "password": PASSWORD}),
    )
    .await
}

async fn with_limits_off_one_address_signs_up_without_end(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        behind_proxy(c);
        c.core.rate_limits = None;
    })
    .await;
    let over_the_default = RateLimits::DEFAULT.sign_up.limit + 5;
    for n in 0..over_the_default {
        let response = post_from(
            &app,
            "203.0.113.9",
            "/api/v1/register",
            json!({"email": format!("konto{n}@example.pl"), "password": PASSWORD}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up {n}");
    }
}
