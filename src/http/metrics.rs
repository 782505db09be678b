//! Prometheus metrics, served only on `--metrics-listen` (a separate
//! address, so they are never public by accident). Requests are counted
//! by API, route template and status; the core counts sign-ins by outcome,
//! limit trips and the hashing pool's wait; the gauges (outbox, pools,
//! hashing queue) are read from the core when scraped.
//!
//! The recorder is process-wide (the `metrics` facade has one): the core's
//! counters of every server in one process add to the same figures; HTTP
//! requests are counted only by servers started with `--metrics-listen`.

use crate::app::Core;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The API a response came from, set on each API's routes
/// (`origin::api_layer`).
#[derive(Clone, Copy)]
pub struct ApiName(pub &'static str);

/// Seconds: from a cache hit (~50 µs) to a request cut off at its deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` if another
/// recorder was installed first.
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            metrics::gauge!("klucznik_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}

/// Counts a request and times it, labelled by its route's template (never
/// the path itself: ids and tokens would make a series each).
pub async fn track(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let api = response.extensions().get::<ApiName>().map_or("none", |api| api.0);
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "klucznik_http_requests_total",
        "api" => api, "route" => route.clone(), "method" => method, "status" => status
    )
    .increment(1);
    metrics::histogram!("klucznik_http_request_duration_seconds", "api" => api, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The router of `--metrics-listen`: `GET /metrics`.
pub fn router(core: Arc<Core>, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((core, handle))
}

async fn scrape(State((core, handle)): State<(Arc<Core>, PrometheusHandle)>) -> Response {
    let figures = core.operating_figures().await;
    if let Some(outbox) = figures.outbox {
        metrics::gauge!("klucznik_outbox_pending").set(outbox.pending as f64);
        metrics::gauge!("klucznik_outbox_failed").set(outbox.failed as f64);
        metrics::gauge!("klucznik_outbox_oldest_pending_age_seconds").set(figures.oldest_pending_age_secs);
    }
    metrics::gauge!("klucznik_database_up").set(if figures.outbox.is_some() { 1.0 } else { 0.0 });
    metrics::gauge!("klucznik_db_pool_connections", "state" => "open").set(f64::from(figures.pool.open));
    metrics::gauge!("klucznik_db_pool_connections", "state" => "idle").set(f64::from(figures.pool.idle));
    metrics::gauge!("klucznik_db_pool_connections", "state" => "max").set(f64::from(figures.pool.max));
    metrics::gauge!("klucznik_hashing_queue_length").set(figures.hashing_queue as f64);
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}
