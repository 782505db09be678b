//! `auth-token`: the API of `seeds/004_…` — username and password accounts
//! without email, one JWT `{"authToken"}` on success, `{"err"}` on failure.
//!
//! Decisions where the seed is silent (design §3 and this module):
//! - `authToken` is the access token; `Authorization` takes it bare or as
//!   `Bearer TOKEN`.
//! - `GET /auth/refresh` needs a still-valid token of a live session and
//!   answers a new one for the same session (sign-out or disabling the
//!   account ends the chain).
//! - Usernames follow the core's rule (3–32 letters, digits, `_`); a bad
//!   username or password is 400, a taken username 409.
//! - A disabled account gets 401 at login, as any refused sign-in.
//! - Too many failed sign-ins: 429 `{"err"}` with `Retry-After`.

use crate::app::{CoreError, NewAccount};
use crate::domain::Invalid;
use crate::http::AppState;
use crate::http::extract::ClientDevice;
use crate::mail::Lang;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("GET", "/auth/refresh"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", get(refresh))
}

/// `{"err": "…"}` with a status.
pub struct Failure {
    status: StatusCode,
    err: String,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, err: impl Into<String>) -> Self {
        Self {
            status,
            err: err.into(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let response = (self.status, Json(json!({ "err": self.err }))).into_response();
        crate::http::with_retry_after(response, self.retry_after)
    }
}

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::Invalid(Invalid::IdentifierMissing) => {
                Self::new(S::BAD_REQUEST, "username is required")
            }
            CoreError::Invalid(invalid) => Self::new(S::BAD_REQUEST, invalid.to_string()),
            CoreError::UsernameTaken | CoreError::EmailTaken => {
                Self::new(S::CONFLICT, "username is already taken")
            }
            CoreError::TooManyAttempts { retry_after_secs } => {
                let mut failure =
                    Self::new(S::TOO_MANY_REQUESTS, "too many failed sign-ins; try again later");
                failure.retry_after = Some(retry_after_secs);
                failure
            }
            CoreError::InvalidCredentials | CoreError::AccountDisabled | CoreError::EmailNotVerified => {
                Self::new(S::UNAUTHORIZED, "wrong username or password")
            }
            CoreError::Unauthenticated | CoreError::InvalidRefreshToken => {
                Self::new(S::UNAUTHORIZED, "missing or invalid token")
            }
            CoreError::TokenExpired => Self::new(S::UNAUTHORIZED, "token expired"),
            CoreError::Unavailable => Self::new(S::SERVICE_UNAVAILABLE, "database unavailable"),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal server error")
            }
            other => Self::new(S::BAD_REQUEST, other.to_string()),
        }
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large");
        }
        Self::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Failure))]
struct Body<T>(T);

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

impl Credentials {
    fn required(self) -> Result<(String, String), Failure> {
        match (self.username, self.password) {
            (Some(u), Some(p)) if !u.trim().is_empty() && !p.is_empty() => Ok((u, p)),
            (Some(u), _) if !u.trim().is_empty() => {
                Err(Failure::new(StatusCode::BAD_REQUEST, "password is required"))
            }
            _ => Err(Failure::new(StatusCode::BAD_REQUEST, "username is required")),
        }
    }
}

fn token(value: String) -> Json<Value> {
    Json(json!({ "authToken": value }))
}

async fn register(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<Credentials>,
) -> Result<Json<Value>, Failure> {
    let (username, password) = body.required()?;
    let new = NewAccount {
        username: Some(username),
        password,
        ..NewAccount::default()
    };
    let registered = state.core.register(new, Lang::En).await?;
    let signed_in = state
        .core
        .start_session(registered.account, false, device)
        .await?;
    Ok(token(signed_in.access_token))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<Credentials>,
) -> Result<Json<Value>, Failure> {
    let (username, password) = body.required()?;
    // The seed signs in by username; an email would be another dialect's login.
    if username.contains('@') {
        return Err(CoreError::InvalidCredentials.into());
    }
    let signed_in = state
        .core
        .login_with(&username, &password, false, device, false)
        .await?;
    Ok(token(signed_in.access_token))
}

/// The token of `Authorization: TOKEN` or `Authorization: Bearer TOKEN`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Failure> {
    let current =
        presented(&headers).ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "missing token"))?;
    let principal = state.core.authenticate_access_token(current).await?;
    let ttl = state.core.settings().access_ttl;
    let (renewed, _) = state.core.access_token_with_ttl(&principal, ttl)?;
    Ok(token(renewed))
}
