//! `/metrics` on `--metrics-listen`: Prometheus text that a parser reads,
//! with counters that move as requests are made.

use crate::helpers::{Backend, PASSWORD, TestApp, both_backends};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(metrics_parse_and_move_with_requests);

/// The value of the sample `metric` whose labels include `labels`
/// (summed over the rest), 0 when there is none.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

async fn scrape(app: &TestApp) -> Scrape {
    let address = app.metrics.as_ref().expect("--metrics-listen is set");
    let response = app.client.get(format!("{address}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap()
}

async fn metrics_parse_and_move_with_requests(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    // Never on the public listener.
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);

    let before = scrape(&app).await;
    let login = app.signed_in("ala@example.pl").await;
    let wrong = app.login("ala@example.pl", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let token = login["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_with_token("/api/v1/me", token).await.status(),
        StatusCode::OK
    );
    let unknown = app.post("/api/v1/nothing-here", json!({})).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let after = scrape(&app).await;

    let grew = |metric: &str, labels: &[(&str, &str)]| {
        value(&after, metric, labels) - value(&before, metric, labels)
    };
    let requests = "klucznik_http_requests_total";
    let login_ok = [("api", "native"), ("route", "/api/v1/login"), ("status", "200")];
    assert!(grew(requests, &login_ok) >= 1.0);
    let login_refused = [("api", "native"), ("route", "/api/v1/login"), ("status", "401")];
    assert!(grew(requests, &login_refused) >= 1.0);
    assert!(grew(requests, &[("route", "/api/v1/me"), ("method", "GET")]) >= 1.0);
    assert!(grew(requests, &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(
        grew(
            "klucznik_http_request_duration_seconds_count",
            &[("route", "/api/v1/me")]
        ) >= 1.0
    );
    assert!(grew("klucznik_sign_ins_total", &[("outcome", "success")]) >= 1.0);
    assert!(grew("klucznik_sign_ins_total", &[("outcome", "invalid_credentials")]) >= 1.0);
    assert!(grew("klucznik_hashing_wait_seconds_count", &[]) >= 2.0);
    assert_eq!(value(&after, "klucznik_database_up", &[]), 1.0);
    assert!(value(&after, "klucznik_db_pool_connections", &[("state", "max")]) >= 1.0);
    for gauge in [
        "klucznik_outbox_pending",
        "klucznik_outbox_oldest_pending_age_seconds",
        "klucznik_hashing_queue_length",
    ] {
        assert!(after.samples.iter().any(|s| s.metric == gauge), "{gauge} missing");
    }
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "klucznik_build_info" && s.labels.get("version").is_some())
    );
    let _ = PASSWORD;
}
