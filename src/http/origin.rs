//! Where a request came from, for the core's audit trail: the request id,
//! the client's address (through `--trusted-proxies`) and user agent, set
//! around every request; and the API whose route answered, set around
//! each API's routes (also marked on the response, for the metrics).

use super::client::client_address;
use super::metrics::ApiName;
use super::problem::{Problem, Render, render_problems};
use crate::app::audit::{Origin, current_origin, with_origin};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

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

/// Around each API's routes, one layer (one boxed future per request,
/// where three route layers cloned three services): names `api` as the
/// origin of the requests its routes answer and marks their responses with
/// it; with a `render`, also turns a panic into a problem and gives every
/// problem the API's shape.
pub fn api_layer<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    api: &'static str,
    render: Option<Render>,
) -> Router<S> {
    routes.route_layer(ApiLayer { api, render })
}

#[derive(Clone, Copy)]
struct ApiLayer {
    api: &'static str,
    render: Option<Render>,
}

impl<S> Layer<S> for ApiLayer {
    type Service = ApiService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiService { inner, layer: *self }
    }
}

#[derive(Clone)]
pub struct ApiService<S> {
    inner: S,
    layer: ApiLayer,
}

impl<S> Service<Request<Body>> for ApiService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let ApiLayer { api, render } = self.layer;
        let origin = Origin {
            api: Some(api),
            ..current_origin()
        };
        let inner = &mut self.inner;
        let called = catch_unwind(AssertUnwindSafe(|| inner.call(request)));
        Box::pin(async move {
            let answered = match called {
                Ok(future) => AssertUnwindSafe(with_origin(origin, future)).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let mut response = match answered {
                Ok(Ok(response)) => response,
                Err(_) if render.is_some() => Problem::internal("a handler panicked").into_response(),
                // Without a shape of its own, the panic is the outer layers' to answer.
                Err(panic) => resume_unwind(panic),
            };
            response.extensions_mut().insert(ApiName(api));
            Ok(match render {
                Some(render) => render_problems(render, response).await,
                None => response,
            })
        })
    }
}
