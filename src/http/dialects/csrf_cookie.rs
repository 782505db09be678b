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
//!   `csrf_invalid`, 409 `already_exists`.

use super::keyed::KeyedFailure;
use crate::app::{CoreError, NewAccount, SignedIn};
use crate::http::AppState;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/csrf"),
    ("POST", "/register"),
    ("POST", "/login"),
    ("POST", "/refresh"),
    ("GET", "/me"),
    ("POST", "/logout"),
];

const CSRF_COOKIE: &str = "sessionToken";
const CSRF_HEADER: &str = "sessionId";
const TOKEN_COOKIE: &str = "token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/csrf", get(csrf))
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/me", get(me))
        .route("/logout", post(logout))
}

/// Marks this dialect's `{"message", "key"}` failures.
pub struct CsrfCookie;

/// `{"message", "key"}` with a status.
pub type Failure = KeyedFailure<CsrfCookie>;

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::Invalid(invalid) => Self::new(S::BAD_REQUEST, invalid.to_string(), "validation_error"),
            CoreError::UsernameTaken => Self::new(S::CONFLICT, "Username is already taken", "already_exists"),
            CoreError::EmailTaken => Self::new(S::CONFLICT, "Email is already taken", "already_exists"),
            CoreError::InvalidCredentials | CoreError::AccountDisabled => Self::new(
                S::UNAUTHORIZED,
                "Wrong username or password",
                "invalid_credentials",
            ),
            CoreError::InvalidRefreshToken | CoreError::RefreshTokenExpired => {
                Self::new(S::UNAUTHORIZED, "Invalid refresh token", "invalid_refresh_token")
            }
            CoreError::TooManyAttempts { retry_after_secs } => Self::new(
                S::TOO_MANY_REQUESTS,
                "Too many failed sign-ins; try again later",
                "too_many_attempts",
            )
            .retry_after(retry_after_secs),
            CoreError::Unauthenticated | CoreError::TokenExpired => Self::unauthorized(),
            CoreError::Unavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "Database unavailable",
                "database_unavailable",
            ),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    "internal_error",
                )
            }
            other => Self::new(S::BAD_REQUEST, other.to_string(), "validation_error"),
        }
    }
}

/// The body of a POST, read only after its CSRF pair was checked.
struct Guarded<T>(T);

impl<T: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Guarded<T> {
    type Rejection = Failure;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        check_csrf(state, request.headers())?;
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

fn check_csrf(state: &AppState, headers: &HeaderMap) -> Result<(), Failure> {
    let jar = CookieJar::from_headers(headers);
    let token = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let proof = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if state.core.csrf().check(&token, proof) {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "Missing or invalid CSRF token",
            "csrf_invalid",
        ))
    }
}

fn cookie(state: &AppState, name: &'static str, value: String, max_age: Duration) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.web.secure_cookies)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

async fn csrf(State(state): State<AppState>) -> Response {
    let (token, proof) = state.core.csrf().issue();
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

fn required(value: Option<String>, what: &str) -> Result<String, Failure> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{what} is required"),
            "validation_error",
        )
    })
}

#[derive(Deserialize)]
struct RegisterBody {
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    Guarded(body): Guarded<RegisterBody>,
) -> Result<Response, Failure> {
    let new = NewAccount {
        username: Some(required(body.username, "username")?),
        password: required(body.password, "password")?,
        email: Some(required(body.email, "email")?),
        ..NewAccount::default()
    };
    let registered = state.core.register(new, lang).await?;
    let signed_in = state
        .core
        .start_session(registered.account, false, device)
        .await?;
    Ok(tokens(&state, StatusCode::CREATED, &signed_in))
}

#[derive(Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Guarded(body): Guarded<LoginBody>,
) -> Result<Response, Failure> {
    let username = required(body.username, "username")?;
    let password = required(body.password, "password")?;
    let signed_in = state
        .core
        .login_with(&username, &password, false, device, false)
        .await?;
    Ok(tokens(&state, StatusCode::OK, &signed_in))
}

#[derive(Deserialize)]
struct RefreshBody {
    #[serde(rename = "refreshToken")]
    refresh_token: Option<String>,
}

async fn refresh(
    State(state): State<AppState>,
    Guarded(body): Guarded<RefreshBody>,
) -> Result<Response, Failure> {
    let refresh_token = required(body.refresh_token, "refreshToken")?;
    let signed_in = state.core.refresh(&refresh_token).await?;
    Ok(tokens(&state, StatusCode::OK, &signed_in))
}

fn access_cookie(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(TOKEN_COOKIE)
        .map(|c| c.value().to_owned())
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Failure> {
    let token = access_cookie(&headers).ok_or_else(Failure::unauthorized)?;
    let principal = state.core.authenticate_access_token(&token).await?;
    let account = &principal.account;
    Ok(Json(json!({
        "id": account.id,
        "username": account.username,
        "email": account.email,
        "roles": crate::app::role_names(account),
        "emailVerified": account.email_verified_at.is_some(),
    })))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    check_csrf(&state, &headers)?;
    if let Some(token) = access_cookie(&headers)
        && let Ok(principal) = state.core.authenticate_access_token(&token).await
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
