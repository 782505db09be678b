//! Extractors whose failures answer in the native error shape, and the
//! authentication of a request (bearer token or session cookie).

use super::AppState;
use super::client::client_address;
use super::problem::Problem;
use crate::app::{Device, Principal};
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
        let (mut principal, via) = match bearer_token(&parts.headers) {
            Some(token) => (
                state.core.authenticate_access_token(token).await?,
                AuthVia::Bearer,
            ),
            None => {
                let CookieSession(principal) = CookieSession::from_request_parts(parts, state).await?;
                (principal, AuthVia::Cookie)
            }
        };
        // `--require-mfa-for-role`: until such an account has a second
        // factor, only enrolling one (an app or a passkey; reading itself,
        // signing out) works.
        let path = parts.uri.path();
        let enrolling = path.ends_with("/me")
            || path.contains("/me/mfa")
            || path.contains("/me/passkeys")
            || path.ends_with("/logout");
        if !enrolling && state.core.must_enrol_second_factor(&principal.account).await? {
            return Err(crate::app::CoreError::SecondFactorEnrolmentRequired.into());
        }
        let Ok(ClientDevice(device)) = ClientDevice::from_request_parts(parts, state).await;
        principal.client = device.address;
        Ok(Self { principal, via })
    }
}

/// A caller signed in by the session cookie alone. A write must come from
/// our origin or an allowed one: a cookie rides along on cross-site
/// requests, a bearer token does not.
pub struct CookieSession(pub Principal);

impl FromRequestParts<AppState> for CookieSession {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(crate::app::CoreError::Unauthenticated.into());
        };
        if !is_safe_method(&parts.method) && !state.web.same_origin_or_allowed(&parts.headers) {
            return Err(Problem::csrf());
        }
        let principal = state.core.authenticate_session_secret(cookie.value()).await?;
        Ok(Self(principal))
    }
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
        let user_agent = super::problem::header(&parts.headers, "user-agent").map(str::to_owned);
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| client_address(peer.ip(), &parts.headers, &state.web.trusted_proxies));
        Ok(Self(Device { user_agent, address }))
    }
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
