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

use super::kit::{Credentials, Dialect, Routes, Wording};
use crate::app::{CoreError, LoginPolicy, NewAccount, VerificationStep};
use crate::http::AppState;
use crate::http::extract::ClientDevice;
use crate::http::problem::{JsonBody, Key, Problem, required};
use crate::mail::Lang;
use crate::secret::Secret;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub struct AuthToken;

/// Its seed signs in right after sign-up, with no verification step.
const POLICY: LoginPolicy = LoginPolicy::dialect(AuthToken::NAME, VerificationStep::Absent);

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
        let key = problem.key.as_str();
        let wording = match problem.key {
            Key::EmailOrUsernameRequired => Wording::new(S::BAD_REQUEST, "username is required", key),
            Key::UsernameTaken | Key::EmailTaken => {
                Wording::new(S::CONFLICT, "username is already taken", key)
            }
            Key::InvalidCredentials | Key::AccountDisabled | Key::EmailNotVerified => {
                Wording::new(S::UNAUTHORIZED, "wrong username or password", key)
            }
            Key::Unauthenticated | Key::InvalidRefreshToken => {
                Wording::new(S::UNAUTHORIZED, "missing or invalid token", key)
            }
            Key::TokenExpired => Wording::new(S::UNAUTHORIZED, "token expired", key),
            // The seed's clients send JSON; anything else is a bad request.
            Key::UnsupportedMediaType => Wording::new(S::BAD_REQUEST, "send the body as JSON", key),
            _ => Wording::of(problem),
        };
        // This document writes its errors in lower case.
        let err = lower_first(&wording.message);
        (wording.status, Json(json!({ "err": err }))).into_response()
    }
}

/// `Not found` → `not found`.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The seed's accounts have a username and a password, nothing else.
fn username_and_password(body: Credentials) -> Result<(String, Secret), Problem> {
    Ok((
        required(body.username, "username")?,
        required(body.password, "password")?,
    ))
}

fn token(value: String) -> Json<Value> {
    Json(json!({ "authToken": value }))
}

async fn register(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let (username, password) = username_and_password(body)?;
    let new = NewAccount {
        username: Some(username),
        password,
        ..NewAccount::default()
    };
    let signed_in = state.core.sign_up_and_in(new, device, Lang::En, POLICY).await?;
    Ok(token(signed_in.access_token))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let (username, password) = username_and_password(body)?;
    // The seed signs in by username; an email would be another dialect's login.
    if username.contains('@') {
        return Err(CoreError::InvalidCredentials.into());
    }
    let signed_in = state.core.login(&username, &password, device, POLICY).await?;
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
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, Key::MissingToken, "missing token"))?;
    let renewed = state.core.renew_access_token(current, POLICY.door).await?;
    Ok(token(renewed.token))
}
