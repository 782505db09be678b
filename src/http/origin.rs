//! Where a request came from, for the core's audit trail: the request id,
//! the client's address (through `--trusted-proxies`) and user agent, set
//! around every request; and the API whose route answered, set around
//! each API's routes (also marked on the response, for the metrics).

use super::client::client_address;
use super::metrics::ApiName;
use crate::app::audit::{Origin, current_origin, with_origin};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;

/// Runs the request with its origin known to the core.
pub async fn note_origin(trusted_proxies: Arc<[IpNet]>, request: Request<Body>, next: Next) -> Response {
    let origin = origin_of(&request, &trusted_proxies);
    with_origin(origin, next.run(request)).await
}

fn origin_of(request: &Request<Body>, trusted_proxies: &[IpNet]) -> Origin {
    let text = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(Arc::from)
    };
    Origin {
        api: None,
        request_id: text("x-request-id"),
        address: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| client_address(peer.ip(), request.headers(), trusted_proxies)),
        user_agent: text(header::USER_AGENT.as_str()),
    }
}

/// Names `api` as the origin of every request `routes` answer, and marks
/// their responses with it.
pub fn mark_api<S: Clone + Send + Sync + 'static>(routes: Router<S>, api: &'static str) -> Router<S> {
    routes.route_layer(axum::middleware::from_fn(
        move |request: Request<Body>, next: Next| async move {
            let origin = Origin {
                api: Some(api),
                ..current_origin()
            };
            let mut response = with_origin(origin, next.run(request)).await;
            response.extensions_mut().insert(ApiName(api));
            response
        },
    ))
}
