//! `verify-code`: the API of `seeds/003_…` — sign-up with an emailed code
//! bound to a `sessionId`, a session cookie, `{"data": …}` on success and
//! `{"message", "key"}` on failure, with the seed's exact words.
//!
//! Decisions where the seed is silent (design §3 and this module):
//! - `code` appears in register/resend answers only with `--dev` (the seed's
//!   "roboczo"); it always goes by mail.
//! - Login with an unknown email answers 401 `WRONG_CREDENTIALS`; a disabled
//!   account 403 `account_disabled`; too many failures 429
//!   `too_many_attempts` with `Retry-After`.
//! - Every verification failure (wrong, expired, replaced, five wrong tries)
//!   is 401 `invalid_verification_code`, the seed's only answer for it.
//! - Resend over the limit (5 an hour) answers 429 `too_many_requests`.
//! - `user.name` is the chosen username, or the email's local part until the
//!   user sets a nickname (`customUsername` tells which).
//! - `logout` answers 200 `{"data":{"message":"Logout successful"}}`;
//!   `test-auth` 200 `{"data":{"message":"Authorized","userId"}}`, on GET and POST.
//! - Cookie-authenticated writes from another origin: 403 `csrf_check_failed`.

use super::keyed::KeyedFailure;
use crate::app::{CoreError, NewAccount, Principal, SignedIn};
use crate::domain::{Account, Invalid, Username};
use crate::http::AppState;
use crate::http::cookies::{cleared_session_cookie, session_cookie};
use crate::http::extract::{AcceptLanguage, ClientDevice, SESSION_COOKIE};
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::{Value, json};

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/register"),
    ("POST", "/auth/verify-email"),
    ("POST", "/auth/resend-verification-code"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/set-nickname"),
    ("GET", "/auth/test-auth"),
    ("POST", "/auth/test-auth"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/resend-verification-code", post(resend))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/set-nickname", post(set_nickname))
        .route("/auth/test-auth", get(test_auth).post(test_auth))
}

/// Marks this dialect's `{"message", "key"}` failures.
pub struct VerifyCode;

/// `{"message", "key"}` with a status.
pub type Failure = KeyedFailure<VerifyCode>;

fn invalid_message(invalid: &Invalid) -> String {
    match invalid {
        Invalid::Email => "Invalid email".into(),
        Invalid::PasswordLength => "Password must be 8 to 128 characters long".into(),
        Invalid::PasswordCommon => "Password is too common".into(),
        Invalid::Username => "Username must be 3 to 15 letters, digits or underscores".into(),
        Invalid::IdentifierMissing => "Email is required".into(),
        other => other.to_string(),
    }
}

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::Invalid(invalid) => Self::validation(invalid_message(&invalid)),
            CoreError::EmailTaken => Self::new(
                S::CONFLICT,
                "Account already exists in the database",
                "RECORD_ALREADY_EXISTS",
            ),
            CoreError::UsernameTaken => {
                Self::new(S::CONFLICT, "Username is already taken", "RECORD_ALREADY_EXISTS")
            }
            CoreError::InvalidCredentials => Self::new(
                S::UNAUTHORIZED,
                "Provided credentials are invalid",
                "WRONG_CREDENTIALS",
            ),
            CoreError::EmailNotVerified => {
                Self::new(S::UNAUTHORIZED, "Email not verified", "email_not_verified")
            }
            CoreError::AccountDisabled => Self::new(S::FORBIDDEN, "Account disabled", "account_disabled"),
            CoreError::TooManyAttempts { retry_after_secs } => Self::new(
                S::TOO_MANY_REQUESTS,
                "Too many failed attempts",
                "too_many_attempts",
            )
            .retry_after(retry_after_secs),
            CoreError::Verification(_) => Self::new(
                S::UNAUTHORIZED,
                "Invalid verification code or session",
                "invalid_verification_code",
            ),
            CoreError::NotFound(_) => Self::new(S::NOT_FOUND, "User not found", "user_not_found"),
            CoreError::AlreadyVerified => {
                Self::new(S::BAD_REQUEST, "User already verified", "user_already_verified")
            }
            CoreError::TooManyResends => Self::new(
                S::TOO_MANY_REQUESTS,
                "Too many verification codes requested",
                "too_many_requests",
            )
            .retry_after(3600),
            CoreError::Unauthenticated
            | CoreError::TokenExpired
            | CoreError::InvalidRefreshToken
            | CoreError::RefreshTokenExpired => Self::unauthorized(),
            CoreError::Unavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "Database unavailable",
                "database_unavailable",
            ),
            CoreError::Forbidden => Self::new(S::FORBIDDEN, "Forbidden", "forbidden"),
            other @ (CoreError::WrongCurrentPassword
            | CoreError::ResetToken(_)
            | CoreError::PeselTaken
            | CoreError::StaleVersion) => Self::validation(other.to_string()),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    "internal_server_error",
                )
            }
        }
    }
}

/// JSON whose failures answer in this dialect's shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Failure))]
struct Body<T>(T);

fn data(value: Value) -> Json<Value> {
    Json(json!({ "data": value }))
}

fn user(account: &Account) -> Value {
    let name = match &account.username {
        Some(name) => name.clone(),
        None => account
            .email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .unwrap_or_default()
            .to_owned(),
    };
    json!({
        "name": name,
        "customUsername": account.custom_username,
        "email": account.email,
    })
}

/// A signed-in answer with the session cookie.
fn signed_in(state: &AppState, signed_in: &SignedIn, message: &str) -> Response {
    let mut response = data(json!({
        "message": message,
        "userId": signed_in.account.id,
        "user": user(&signed_in.account),
    }))
    .into_response();
    if let Some(secret) = &signed_in.session_secret
        && let Some(cookie) = session_cookie(&state.web, secret, None)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn required(value: &Option<String>, what: &str) -> Result<String, Failure> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(Failure::validation(format!("{what} is required"))),
    }
}

#[derive(Deserialize)]
struct RegisterBody {
    email: Option<String>,
    password: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Body(body): Body<RegisterBody>,
) -> Result<Json<Value>, Failure> {
    let email = required(&body.email, "Email")?;
    let password = required(&body.password, "Password")?;
    let new = NewAccount {
        email: Some(email),
        password,
        ..NewAccount::default()
    };
    let registered = state.core.register(new, lang).await?;
    let verification = registered
        .verification
        .ok_or_else(|| Failure::from(CoreError::internal("no verification for an email account")))?;
    let mut answer = json!({
        "message": "Registration successful",
        "userId": registered.account.id,
        "sessionId": verification.id,
    });
    if state.web.dev {
        answer["code"] = json!(verification.code);
    }
    Ok(data(answer))
}

#[derive(Deserialize)]
struct VerifyBody {
    email: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    code: Option<String>,
}

async fn verify_email(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<VerifyBody>,
) -> Result<Response, Failure> {
    let email = required(&body.email, "Email")?;
    let session_id = required(&body.session_id, "sessionId")?;
    let code = required(&body.code, "Code")?;
    let done = state
        .core
        .verify_email_code(&email, Some(&session_id), &code, device)
        .await?;
    Ok(signed_in(&state, &done, "Code verified successfully"))
}

#[derive(Deserialize)]
struct ResendBody {
    email: Option<String>,
}

async fn resend(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Body(body): Body<ResendBody>,
) -> Result<Json<Value>, Failure> {
    let email = required(&body.email, "Email")?;
    crate::domain::Email::parse(&email).map_err(CoreError::from)?;
    let issued = state.core.resend_verification(&email, lang).await?;
    let mut answer = json!({
        "message": "Verification code resent successfully",
        "sessionId": issued.id,
    });
    if state.web.dev {
        answer["code"] = json!(issued.code);
    }
    Ok(data(answer))
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<LoginBody>,
) -> Result<Response, Failure> {
    let email = required(&body.email, "Email")?;
    let password = required(&body.password, "Password")?;
    let done = state.core.login(&email, &password, false, device).await?;
    Ok(signed_in(&state, &done, "Login successful"))
}

/// The caller's session, from the cookie; writes must come from an allowed origin.
async fn session(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<Principal, Failure> {
    let jar = CookieJar::from_headers(headers);
    let cookie = jar.get(SESSION_COOKIE).ok_or_else(Failure::unauthorized)?;
    if method != Method::GET && !state.web.same_origin_or_allowed(headers) {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "Cross-site request refused",
            "csrf_check_failed",
        ));
    }
    state
        .core
        .authenticate_session_secret(cookie.value())
        .await
        .map_err(|error| match error {
            CoreError::Unavailable | CoreError::Internal(_) => Failure::from(error),
            _ => Failure::unauthorized(),
        })
}

async fn logout(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let principal = session(&state, &method, &headers).await?;
    state.core.logout(&principal).await?;
    let mut response = data(json!({"message": "Logout successful"})).into_response();
    if let Some(cookie) = cleared_session_cookie(&state.web) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct NicknameBody {
    username: Option<String>,
}

async fn set_nickname(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Body(body): Body<NicknameBody>,
) -> Result<Json<Value>, Failure> {
    let principal = session(&state, &method, &headers).await?;
    let username = required(&body.username, "Username")?;
    // The seed allows 3 to 15 characters, within the core's 3 to 32.
    Username::parse_with_length(&username, 3, 15).map_err(CoreError::from)?;
    let account = state.core.set_username(&principal.account.id, &username).await?;
    Ok(Json(json!({ "user": user(&account) })))
}

async fn test_auth(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Json<Value>, Failure> {
    let principal = session(&state, &method, &headers).await?;
    Ok(data(
        json!({"message": "Authorized", "userId": principal.account.id}),
    ))
}
