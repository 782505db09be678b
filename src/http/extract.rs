//! Extractors whose failures answer in the native error shape, and the
//! authentication of a request (bearer token or session cookie).

use super::AppState;
use super::client::client_address;
use super::problem::Problem;
use crate::app::{Credential, Device, Door, Need, Principal};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::CookieJar;
use std::net::SocketAddr;

pub use super::problem::{JsonBody, PathParams, QueryParams};

/// The browser-session cookie set at sign-in.
pub const SESSION_COOKIE: &str = "klucznik_session";

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Bearer,
    Cookie,
}

/// A signed-in caller.
pub struct Authenticated {
    pub principal: Principal,
    pub via: AuthVia,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticated(parts, state, Need::Anything).await
    }
}

/// A signed-in caller on a route that enrols a second factor (or reads
/// the account, or signs out): the one thing an account whose role must
/// enrol one may do before it has one (`--require-mfa-for-role`).
pub struct Enrolling(pub Authenticated);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticated(parts, state, Need::Enrolment).await.map(Enrolling)
    }
}

/// The native door's question to the core: a bearer token, else the
/// session cookie (whose writes must come from our origin or an allowed
/// one: a cookie rides along on cross-site requests, a bearer token does
/// not).
async fn authenticated(parts: &Parts, state: &AppState, need: Need) -> Result<Authenticated, Problem> {
    let (mut principal, via) = match bearer_token(&parts.headers) {
        Some(token) => {
            let credential = Credential::AccessToken(token);
            let principal = state.core.authenticate(credential, Door::Native, need).await?;
            (principal, AuthVia::Bearer)
        }
        None => (
            cookie_principal(parts, state, Door::Native, need).await?,
            AuthVia::Cookie,
        ),
    };
    principal.client = device_of(parts, state).address;
    Ok(Authenticated { principal, via })
}

/// The caller signed in by the session cookie alone, at `door`. A write
/// must come from our origin or an allowed one.
pub async fn cookie_principal(
    parts: &Parts,
    state: &AppState,
    door: Door,
    need: Need,
) -> Result<Principal, Problem> {
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Err(crate::app::CoreError::Unauthenticated.into());
    };
    if !is_safe_method(&parts.method) && !state.web.same_origin_or_allowed(&parts.headers) {
        return Err(Problem::csrf());
    }
    let credential = Credential::SessionSecret(cookie.value());
    Ok(state.core.authenticate(credential, door, need).await?)
}

/// The token of `Authorization: Bearer …`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller's user agent and address: remembered with a new session,
/// and what per-client limits count by.
pub struct ClientDevice(pub Device);

impl FromRequestParts<AppState> for ClientDevice {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(device_of(parts, state)))
    }
}

fn device_of(parts: &Parts, state: &AppState) -> Device {
    let user_agent = super::problem::header(&parts.headers, "user-agent").map(str::to_owned);
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| client_address(peer.ip(), &parts.headers, &state.web.trusted_proxies));
    Device { user_agent, address }
}

/// The language a person reading our mail or pages asked for.
pub struct AcceptLanguage(pub crate::mail::Lang);

impl<S: Send + Sync> FromRequestParts<S> for AcceptLanguage {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let asked = super::problem::header(&parts.headers, "accept-language");
        Ok(Self(crate::mail::Lang::from_accept_language(asked)))
    }
}
