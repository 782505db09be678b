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
//! - Every failure under `/auth` (404, 405, 413, 5xx) is `{"err"}`; a body
//!   that is not JSON, of any content type, is 400.

use super::kit::{Dialect, Routes};
use crate::app::{Actor, CoreError, LoginPolicy, NewAccount, SessionLength};
use crate::http::AppState;
use crate::http::extract::ClientDevice;
use crate::http::problem::{JsonBody, Problem, required};
use crate::mail::Lang;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub struct AuthToken;

impl Dialect for AuthToken {
    const NAME: &'static str = "auth-token";

    fn routes(_prefix: &str) -> Routes {
        Routes::new()
            .post("/auth/register", register)
            .post("/auth/login", login)
            .get("/auth/refresh", refresh)
    }

    /// `{"err": "…"}`.
    fn render(problem: &Problem) -> Response {
        use StatusCode as S;
        let (status, err): (StatusCode, &str) = match problem.key {
            "email_or_username_required" => (S::BAD_REQUEST, "username is required"),
            "username_taken" | "email_taken" => (S::CONFLICT, "username is already taken"),
            "too_many_attempts" => (S::TOO_MANY_REQUESTS, "too many failed sign-ins; try again later"),
            "invalid_credentials" | "account_disabled" | "email_not_verified" => {
                (S::UNAUTHORIZED, "wrong username or password")
            }
            "unauthenticated" | "invalid_refresh_token" => (S::UNAUTHORIZED, "missing or invalid token"),
            "token_expired" => (S::UNAUTHORIZED, "token expired"),
            // The seed's clients send JSON; anything else is a bad request.
            "unsupported_media_type" => (S::BAD_REQUEST, "send the body as JSON"),
            "payload_too_large" => (S::PAYLOAD_TOO_LARGE, "request body is too large"),
            "not_found" => (S::NOT_FOUND, "not found"),
            "method_not_allowed" => (S::METHOD_NOT_ALLOWED, "method not allowed"),
            "database_unavailable" => (S::SERVICE_UNAVAILABLE, "database unavailable"),
            "internal_error" => (S::INTERNAL_SERVER_ERROR, "internal server error"),
            _ => (problem.status, &problem.message),
        };
        (status, Json(json!({ "err": err }))).into_response()
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

impl Credentials {
    fn required(self) -> Result<(String, String), Problem> {
        let username = required(self.username, "username")?;
        let password = self
            .password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Problem::missing("password"))?;
        Ok((username, password))
    }
}

fn token(value: String) -> Json<Value> {
    Json(json!({ "authToken": value }))
}

async fn register(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let (username, password) = body.required()?;
    let new = NewAccount {
        username: Some(username),
        password,
        ..NewAccount::default()
    };
    let registered = state.core.register(new, Actor::Visitor, Lang::En).await?;
    let signed_in = state
        .core
        .start_session(registered.account, SessionLength::Normal, device)
        .await?;
    Ok(token(signed_in.access_token))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let (username, password) = body.required()?;
    // The seed signs in by username; an email would be another dialect's login.
    if username.contains('@') {
        return Err(CoreError::InvalidCredentials.into());
    }
    let signed_in = state
        .core
        .login(
            &username,
            &password,
            device,
            LoginPolicy::WITHOUT_VERIFICATION_STEP,
        )
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

async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let current = presented(&headers)
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "missing_token", "missing token"))?;
    let renewed = state.core.renew_access_token(current).await?;
    Ok(token(renewed.token))
}
