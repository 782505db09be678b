//! The HTTP edge: the router, shared state, the layers every response goes
//! through, and one adapter per API. Handlers translate HTTP to core calls
//! and back; no rule of authentication lives here.

pub mod backchannel;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod dialects;
pub mod error;
pub mod extract;
mod layers;
pub mod links;
pub mod member_body;
pub mod metrics;
pub mod native;
pub mod oidc;
mod oidc_register;
mod origin;
pub mod pages;
pub mod problem;
pub mod server;

use crate::app::Core;
use axum::Router;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

/// What every handler can reach: one `Arc`, so handing it to a handler
/// (axum clones the state for each request) is one count, not four.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub core: Arc<Core>,
    pub web: WebSettings,
    pub pages: pages::Pages,
    /// Signs and checks the double-submit CSRF pairs of forms and csrf-cookie.
    pub csrf: csrf::CsrfSigner,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `--public-url`: where mailed links point.
    pub public_url: url::Url,
    /// `scheme://host[:port]` of the public URL.
    pub public_origin: String,
    /// Origins allowed by `--cors-origin`.
    pub cors_origins: Vec<String>,
    /// Cookies carry `Secure` (everywhere but `--dev`).
    pub secure_cookies: bool,
    /// `--dev`: codes echoed where a seed shows them.
    pub dev: bool,
    /// `--trusted-proxies`: peers whose `Forwarded` / `X-Forwarded-For`
    /// name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `--request-timeout`: the longest a request may take.
    pub request_timeout: std::time::Duration,
}

impl WebSettings {
    /// The CSRF rule for cookie-authenticated writes: the request comes from
    /// our own origin or an allowed one, or from no browser at all.
    pub fn same_origin_or_allowed(&self, headers: &HeaderMap) -> bool {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            return origin == self.public_origin || self.cors_origins.iter().any(|o| o == origin);
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            return site.as_bytes() == b"same-origin";
        }
        true
    }
}

/// The whole application: every API, with the layers around it; fails when
/// the mounted dialects clash.
pub fn router(
    state: AppState,
    mounts: &[crate::config::DialectMount],
    count_requests: bool,
) -> Result<Router, dialects::MountError> {
    let dialects::Mounted {
        router: dialect_routes,
        claims,
    } = dialects::mount(mounts)?;
    let native = origin::api_layer(native::router(state.clone()), "native", Some(error::render));
    let routes = native
        .merge(origin::api_layer(pages::router(), "web", None).with_state(state.clone()))
        .merge(origin::api_layer(oidc::router(), "oidc", None).with_state(state.clone()))
        .merge(dialect_routes.with_state(state.clone()));
    Ok(layers::wrap(routes, &state.web, Arc::new(claims), count_requests))
}
