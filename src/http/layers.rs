//! What every response passes through: request ids, tracing, panics turned
//! into JSON, security headers, CORS, the body limit and JSON 404/405.

use super::WebSettings;
use super::dialects::Claims;
use super::problem::Problem;
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::middleware::Next;
use axum::response::Response;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Largest request body accepted anywhere.
pub const BODY_LIMIT: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application around `routes`. Only what needs the matched
/// route (the request metrics, when counted) is layered route by route:
/// a `Router::layer` wraps each route in its own boxed copy of the stack,
/// cloned on every request, so everything else wraps the router once.
pub fn wrap(routes: Router, web: &WebSettings, dialects: Arc<Claims>, count_requests: bool) -> Router {
    let claims = Arc::clone(&dialects);
    let limit = web.request_timeout;
    let mut routes = routes
        // Unknown paths a dialect claims answer in its shape; others natively.
        .fallback(move |uri: Uri| async move {
            dialects
                .not_found_for(uri.path())
                .unwrap_or_else(|| Problem::not_found().render_with(super::error::render))
        })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() });
    if count_requests {
        routes = routes.layer(axum::middleware::from_fn(super::metrics::track));
    }
    let trusted_proxies: Arc<[ipnet::IpNet]> = web.trusted_proxies.clone().into();
    let hsts = (web.public_url.scheme() == "https").then(|| {
        // Served over TLS (usually behind a proxy): browsers must never
        // fall back to plain HTTP for it.
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    let cors = (!web.cors_origins.is_empty()).then(|| cors(&web.cors_origins));
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    // Method, path and request id only: headers and query strings can
                    // carry tokens and are never logged.
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let path = loggable_path(request.uri().path());
                    tracing::info_span!("request", method = %request.method(), path = %path, request_id)
                })
                // One line a request only at debug: formatting it costs more than
                // answering who-am-I. Failures (5xx) are logged at error by
                // the render layer whatever the level.
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::map_response(json_content_security_policy))
        .option_layer(hsts)
        .option_layer(cors)
        .layer(axum::middleware::from_fn(
            move |request: Request<Body>, next: Next| {
                within_deadline(limit, Arc::clone(&claims), request, next)
            },
        ))
        .layer(axum::middleware::from_fn(
            move |request: Request<Body>, next: Next| {
                super::origin::note_origin(Arc::clone(&trusted_proxies), request, next)
            },
        ))
        // Anything still unrendered (the web page's few JSON failures) is native.
        .layer(axum::middleware::map_response(|response: Response| {
            super::problem::render_problems(super::error::render, response)
        }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// The path with any segment long enough to be a secret (a mailed link's
/// token, as in uid-token's `/authorize/UID/TOKEN`) cut out: 40 characters
/// or more, where ids (UUIDs, member ids) are shorter.
fn loggable_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.len() >= 40 {
                "[redacted]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

/// Answers 503 in the shape of the API the path belongs to when the
/// request outlives `limit`; dropping the handler rolls back any
/// transaction it had open.
async fn within_deadline(
    limit: Duration,
    claims: Arc<Claims>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis(), "request timed out");
            let problem = Problem::timed_out();
            match claims.render_for(&path) {
                Some(render) => problem.render_with(render),
                None => problem.render_with(super::error::render),
            }
        }
    }
}

/// A JSON answer is never a document to render or frame: a policy that
/// allows nothing. (The web page sets its own; the API docs page, which
/// runs Swagger UI's scripts, sets none.)
async fn json_content_security_policy(mut response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
    if is_json && !response.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    Problem::internal("a handler panicked").render_with(super::error::render)
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn long_segments_are_not_logged() {
        let token = "x".repeat(43);
        assert_eq!(
            loggable_path(&format!(
                "/authorize/01a2017b-2769-72bb-9fd8-a9d5e0a26782/{token}"
            )),
            "/authorize/01a2017b-2769-72bb-9fd8-a9d5e0a26782/[redacted]"
        );
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }
}
