//! `csrf-cookie`: the two diagrams of `seeds/000_…` — the page sends its
//! body, the cookie `sessionToken` and the header `sessionId`; the server
//! answers with the cookie `token` and the body's `refreshToken`, which the
//! page keeps in session storage.
//!
//! Decisions where the seed is silent (design §3 and this module):
//! - `GET /csrf` → 200 `{"sessionId": S}` and sets `sessionToken`
//!   (HttpOnly, SameSite=Strict); S is the HMAC of that cookie (signed
//!   double submit). Every POST needs both, matching, else 403 `csrf_invalid`.
//! - `POST /register {username,password,email}` → 201 and `POST /login
//!   {username,password}` → 200 both set cookie `token` (the access JWT,
//!   HttpOnly, SameSite=Strict) and answer `{"refreshToken"}`. Sign-in does
//!   not wait for email verification (the diagrams have none); a
//!   verification link is still mailed.
//! - `POST /refresh {"refreshToken"}` → 200, a new cookie and a new
//!   `refreshToken`; 400 without one; 401 for an unknown, used, expired or
//!   revoked one (a used one also ends its session).
//! - `GET /me` → 200 `{id, username, email, roles, emailVerified}` by the
//!   `token` cookie. `POST /logout` → 204, cookies cleared, session ended.
//! - Failures are `{"message","key"}`: 400 `validation_error`, 401
//!   `invalid_credentials` / `unauthorized` / `invalid_refresh_token`, 403
//!   `csrf_invalid`, 409 `already_exists`; 404, 405, 413, 415, 429 and 5xx
//!   in the same shape.

use super::kit::{Credentials, Dialect, Routes, Wording, token_principal};
use crate::app::{LoginPolicy, NewAccount, SignedIn, VerificationStep};
use crate::http::AppState;
use crate::http::cookies::http_only_cookie;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use crate::http::problem::{JsonBody, Key, Problem, required};
use crate::secret::Secret;
use axum::Json;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{CookieJar, SameSite};
use serde::Deserialize;
use serde_json::json;
use time::Duration;

const CSRF_COOKIE: &str = "sessionToken";
const CSRF_HEADER: &str = "sessionId";
const TOKEN_COOKIE: &str = "token";

pub struct CsrfCookie;

/// Its seed signs in right after sign-up, with no verification step.
const POLICY: LoginPolicy = LoginPolicy::dialect(CsrfCookie::NAME, VerificationStep::Absent);

impl Dialect for CsrfCookie {
    const NAME: &'static str = "csrf-cookie";

    fn routes(_prefix: &str) -> Routes {
        Routes::new()
            .get("/csrf", csrf)
            .post("/register", register)
            .post("/login", login)
            .post("/refresh", refresh)
            .get("/me", me)
            .post("/logout", logout)
    }

    /// `{"message", "key"}`.
    fn render(problem: &Problem) -> Response {
        use StatusCode as S;
        let unauthorized = |message, key| Wording::new(S::UNAUTHORIZED, message, key);
        match problem.key {
            Key::UsernameTaken => Wording::new(S::CONFLICT, "Username is already taken", "already_exists"),
            Key::EmailTaken => Wording::new(S::CONFLICT, "Email is already taken", "already_exists"),
            Key::InvalidCredentials | Key::AccountDisabled => {
                unauthorized("Wrong username or password", "invalid_credentials")
            }
            Key::InvalidRefreshToken | Key::RefreshTokenExpired => {
                unauthorized("Invalid refresh token", "invalid_refresh_token")
            }
            Key::Unauthenticated | Key::TokenExpired => unauthorized("Unauthorized", "unauthorized"),
            // Every other refused input is a validation error.
            _ if problem.status == S::BAD_REQUEST => {
                Wording::new(S::BAD_REQUEST, problem.message.as_ref(), "validation_error")
            }
            _ => Wording::of(problem),
        }
        .keyed_body()
    }
}

/// The body of a POST, read only after its CSRF pair was checked.
struct Guarded<T>(T);

impl<T: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Guarded<T> {
    type Rejection = Problem;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        check_csrf(state, request.headers())?;
        let JsonBody(value) = JsonBody::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

fn check_csrf(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    let jar = CookieJar::from_headers(headers);
    let token = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let proof = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if state.csrf.check(&token, proof) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            Key::CsrfInvalid,
            "Missing or invalid CSRF token",
        ))
    }
}

/// This dialect's cookies are SameSite=Strict.
fn cookie(state: &AppState, name: &'static str, value: String, max_age: Duration) -> Option<HeaderValue> {
    http_only_cookie(&state.web, name, value, SameSite::Strict, Some(max_age))
}

async fn csrf(State(state): State<AppState>) -> Response {
    let (token, proof) = state.csrf.issue();
    let mut response = Json(json!({ "sessionId": proof })).into_response();
    if let Some(value) = cookie(&state, CSRF_COOKIE, token, Duration::hours(12)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `{"refreshToken"}` with the `token` cookie.
fn tokens(state: &AppState, status: StatusCode, signed_in: &SignedIn) -> Response {
    let mut response = (status, Json(json!({ "refreshToken": signed_in.refresh_token }))).into_response();
    if let Some(value) = cookie(
        state,
        TOKEN_COOKIE,
        signed_in.access_token.clone(),
        signed_in.expires_in,
    ) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    Guarded(body): Guarded<Credentials>,
) -> Result<Response, Problem> {
    let new = NewAccount {
        username: Some(required(body.username, "username")?),
        password: required(body.password, "password")?,
        email: Some(required(body.email, "email")?),
        ..NewAccount::default()
    };
    let signed_in = state.core.sign_up_and_in(new, device, lang, POLICY).await?;
    Ok(tokens(&state, StatusCode::CREATED, &signed_in))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Guarded(body): Guarded<Credentials>,
) -> Result<Response, Problem> {
    let username = required(body.username, "username")?;
    let password = required(body.password, "password")?;
    let signed_in = state.core.login(&username, &password, device, POLICY).await?;
    Ok(tokens(&state, StatusCode::OK, &signed_in))
}

#[derive(Debug, Deserialize)]
struct RefreshBody {
    #[serde(rename = "refreshToken")]
    refresh_token: Option<Secret>,
}

async fn refresh(
    State(state): State<AppState>,
    Guarded(body): Guarded<RefreshBody>,
) -> Result<Response, Problem> {
    let refresh_token = required(body.refresh_token, "refreshToken")?;
    let signed_in = state.core.refresh(&refresh_token, POLICY.door).await?;
    Ok(tokens(&state, StatusCode::OK, &signed_in))
}

fn access_cookie(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(TOKEN_COOKIE)
        .map(|c| c.value().to_owned())
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, Problem> {
    let token = access_cookie(&headers).ok_or(crate::app::CoreError::Unauthenticated)?;
    let principal = token_principal(&state, POLICY.door, &token).await?;
    let account = &principal.account;
    Ok(Json(json!({
        "id": account.id,
        "username": account.username,
        "email": account.email,
        "roles": crate::app::role_names(account),
        "emailVerified": account.email_verified_at.is_some(),
    })))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    check_csrf(&state, &headers)?;
    if let Some(token) = access_cookie(&headers)
        && let Ok(principal) = token_principal(&state, POLICY.door, &token).await
    {
        state.core.logout(&principal).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [TOKEN_COOKIE, CSRF_COOKIE] {
        if let Some(value) = cookie(&state, name, String::new(), Duration::ZERO) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<RefreshBody>(r#"{"refreshToken":"s3cr3t-token"}"#, &["s3cr3t-token"]);
    }
}
