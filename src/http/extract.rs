//! Extractors whose failures answer in the native error shape, and the
//! authentication of a request (bearer token or session cookie).

use super::AppState;
use super::error::ApiError;
use crate::app::{Device, Principal};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::CookieJar;
use std::net::SocketAddr;

/// `Json` that answers malformed, mistyped or oversized bodies as `ApiError`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

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
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer_token(&parts.headers) {
            let principal = state.core.authenticate_access_token(token).await?;
            return Ok(Self {
                principal,
                via: AuthVia::Bearer,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(crate::app::CoreError::Unauthenticated.into());
        };
        // A cookie rides along on cross-site requests; a bearer token does not.
        if !is_safe_method(&parts.method) && !state.web.same_origin_or_allowed(&parts.headers) {
            return Err(ApiError::csrf());
        }
        let principal = state.core.authenticate_session_secret(cookie.value()).await?;
        Ok(Self {
            principal,
            via: AuthVia::Cookie,
        })
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

/// The caller's user agent and address, remembered with a new session.
pub struct ClientDevice(pub Device);

impl<S: Send + Sync> FromRequestParts<S> for ClientDevice {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Self(Device { user_agent, ip }))
    }
}

/// The language a person reading our mail or pages asked for.
pub struct AcceptLanguage(pub crate::mail::Lang);

impl<S: Send + Sync> FromRequestParts<S> for AcceptLanguage {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Self(crate::mail::Lang::from_accept_language(header)))
    }
}
