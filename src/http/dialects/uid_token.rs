//! `uid-token`: the API of `seeds/001_…` — statuses exactly as the seed's
//! tables, a one-hour `token` and a 30-day `rememberToken` sent back as
//! headers with the `uid`, and verification by `/authorize/:uid/:token`.
//!
//! Decisions where the seed is silent (design §3 and this module):
//! - Bodies are JSON; failures are `{"message"}`.
//! - Register: 201 `{"UID", "message"}`; a taken email 403 (the seed's), a
//!   taken username 403 too; 409 only when storing failed. Its mail links to
//!   `PUBLIC_URL[PREFIX]/authorize/UID/TOKEN`.
//! - Login: 200 `{"UID", "token": {"token", "expire"}, "rememberToken": …}`
//!   (`rememberToken` only with `rememberMe: true`; `expire` in RFC 3339);
//!   400 wrong password, 404 unknown email (the seed's own answers), 401 for
//!   a disabled account, 429 after repeated failures. Unverified accounts sign in.
//! - Authorized requests send `token`, `uid` and optionally `rememberToken`;
//!   when `token` has expired and `rememberToken` is a live remember-me
//!   session of that `uid`, the request succeeds and the response carries a
//!   fresh `token` header. `GET /me` answers the account.
//! - `/authorize/:uid/:token` answers GET (it is a mailed link) and POST.
//! - `get-reset` mails `PUBLIC_URL/reset-password?id=UID&token=…`;
//!   `POST /authorize/new-password {"uid","password","passwordToken"}`
//!   completes it: 202, 400 bad or expired token or password, 404 no user.

use crate::app::{CoreError, NewAccount, Principal};
use crate::domain::Invalid;
use crate::http::AppState;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use crate::http::native::views::rfc3339;
use crate::mail::LinkStyle;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/register"),
    ("POST", "/login"),
    ("GET", "/me"),
    ("GET", "/authorize/{uid}/{token}"),
    ("POST", "/authorize/{uid}/{token}"),
    ("POST", "/authorize/get-reset"),
    ("POST", "/authorize/check-token"),
    ("POST", "/authorize/new-password"),
];

const TOKEN_TTL: Duration = Duration::hours(1);

/// `prefix` is where the dialect is mounted, for the mailed links.
pub fn router(prefix: &str) -> Router<AppState> {
    let links = LinkStyle::UidPath {
        prefix: prefix.to_owned(),
    };
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/authorize/{uid}/{token}", get(authorize).post(authorize))
        .route("/authorize/get-reset", post(get_reset))
        .route("/authorize/check-token", post(check_token))
        .route("/authorize/new-password", post(new_password))
        .layer(Extension(links))
}

/// `{"message"}` with a status.
pub struct Failure {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let response = (self.status, Json(json!({ "message": self.message }))).into_response();
        crate::http::with_retry_after(response, self.retry_after)
    }
}

/// The mapping shared by every route; each route overrides what its table says.
impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        use StatusCode as S;
        match error {
            CoreError::Invalid(invalid) => Self::bad_request(invalid.to_string()),
            CoreError::EmailTaken => Self::new(S::FORBIDDEN, "Email already exists"),
            CoreError::UsernameTaken => Self::new(S::FORBIDDEN, "Username already exists"),
            CoreError::NotFound(_) => Self::new(S::NOT_FOUND, "User not found"),
            CoreError::TooManyAttempts { retry_after_secs } => {
                let mut failure =
                    Self::new(S::TOO_MANY_REQUESTS, "Too many failed sign-ins; try again later");
                failure.retry_after = Some(retry_after_secs);
                failure
            }
            CoreError::AccountDisabled => Self::new(S::UNAUTHORIZED, "Account disabled"),
            CoreError::Unavailable => Self::new(S::SERVICE_UNAVAILABLE, "Database unavailable"),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "Internal server error")
            }
            CoreError::Unauthenticated | CoreError::TokenExpired | CoreError::InvalidRefreshToken => {
                Self::unauthorized()
            }
            other => Self::bad_request(other.to_string()),
        }
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large");
        }
        Self::bad_request(rejection.body_text())
    }
}

impl From<PathRejection> for Failure {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Failure))]
struct Body<T>(T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Failure))]
struct PathParams<T>(T);

fn required(value: Option<String>, what: &str) -> Result<String, Failure> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Failure::bad_request(format!("{what} is required")))
}

#[derive(Deserialize)]
struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Extension(links): Extension<LinkStyle>,
    Body(body): Body<RegisterBody>,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let new = NewAccount {
        username: Some(required(body.username, "username")?),
        email: Some(required(body.email, "email")?),
        password: required(body.password, "password")?,
        links,
        ..NewAccount::default()
    };
    match state.core.register(new, lang).await {
        Ok(registered) => Ok((
            StatusCode::CREATED,
            Json(json!({"UID": registered.account.id, "message": "User created"})),
        )),
        // The seed's 409: the account could not be stored.
        Err(CoreError::Internal(cause)) => {
            tracing::error!(%cause, "account not stored");
            Err(Failure::new(StatusCode::CONFLICT, "Could not create the user"))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    password: Option<String>,
    #[serde(rename = "rememberMe", default)]
    remember_me: bool,
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    Body(body): Body<LoginBody>,
) -> Result<Json<Value>, Failure> {
    let email = required(body.email, "email")?;
    let password = required(body.password, "password")?;
    let signed_in = match state
        .core
        .login_with(&email, &password, body.remember_me, device, false)
        .await
    {
        Ok(signed_in) => signed_in,
        // The seed tells an unknown address (404) from a wrong password (400).
        Err(CoreError::InvalidCredentials) => {
            return Err(if state.core.login_exists(&email).await? {
                Failure::bad_request("Wrong password")
            } else {
                Failure::new(StatusCode::NOT_FOUND, "User not found")
            });
        }
        Err(other) => return Err(other.into()),
    };
    let principal = Principal {
        account: signed_in.account,
        session: signed_in.session,
    };
    let (token, expire) = state.core.access_token_with_ttl(&principal, TOKEN_TTL)?;
    let mut answer = json!({
        "UID": principal.account.id,
        "token": {"token": token, "expire": rfc3339(expire)},
    });
    if principal.session.remember_me
        && let Some(secret) = signed_in.session_secret
    {
        answer["rememberToken"] = json!({"token": secret, "expire": rfc3339(principal.session.expires_at)});
    }
    Ok(Json(answer))
}

/// Authenticates `token` + `uid` (+ `rememberToken`); returns the caller
/// and, when the token had expired, a fresh one for the `token` header.
async fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(Principal, Option<String>), Failure> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let uid = header("uid").ok_or_else(Failure::unauthorized)?;
    let token = header("token").ok_or_else(Failure::unauthorized)?;
    match state.core.authenticate_access_token(token).await {
        Ok(principal) if principal.account.id == uid => Ok((principal, None)),
        Err(CoreError::TokenExpired) => {
            let remember = header("rememberToken").ok_or_else(Failure::unauthorized)?;
            let principal = state
                .core
                .authenticate_session_secret(remember)
                .await
                .map_err(|e| match e {
                    CoreError::Unavailable | CoreError::Internal(_) => Failure::from(e),
                    _ => Failure::unauthorized(),
                })?;
            if principal.account.id != uid || !principal.session.remember_me {
                return Err(Failure::unauthorized());
            }
            let (fresh, _) = state.core.access_token_with_ttl(&principal, TOKEN_TTL)?;
            Ok((principal, Some(fresh)))
        }
        Err(error @ (CoreError::Unavailable | CoreError::Internal(_))) => Err(error.into()),
        _ => Err(Failure::unauthorized()),
    }
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    let (principal, fresh) = authorized(&state, &headers).await?;
    let account = &principal.account;
    let mut response = Json(json!({
        "UID": account.id,
        "username": account.username,
        "email": account.email,
        "emailVerified": account.email_verified_at.is_some(),
        "roles": crate::app::role_names(account),
    }))
    .into_response();
    if let Some(fresh) = fresh
        && let Ok(value) = HeaderValue::from_str(&fresh)
    {
        response.headers_mut().insert("token", value);
    }
    Ok(response)
}

async fn authorize(
    State(state): State<AppState>,
    PathParams((uid, token)): PathParams<(String, String)>,
) -> Result<Json<Value>, Failure> {
    match state.core.confirm_email_token_for(&uid, &token).await {
        Ok(_) => Ok(Json(json!({"message": "Account verified"}))),
        Err(CoreError::NotFound(_)) => Err(Failure::new(StatusCode::NOT_FOUND, "User not found")),
        Err(CoreError::AlreadyVerified) => {
            Err(Failure::new(StatusCode::FORBIDDEN, "User is already verified"))
        }
        Err(CoreError::Verification(_)) => Err(Failure::new(StatusCode::FORBIDDEN, "Tokens do not match")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct EmailBody {
    email: Option<String>,
}

async fn get_reset(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Extension(links): Extension<LinkStyle>,
    Body(body): Body<EmailBody>,
) -> Result<Json<Value>, Failure> {
    let email = required(body.email, "email")?;
    state.core.send_reset_link(&email, lang, &links).await?;
    Ok(Json(json!({"message": "Email sent"})))
}

#[derive(Deserialize)]
struct CheckBody {
    #[serde(rename = "_id")]
    id: Option<String>,
    token: Option<String>,
}

async fn check_token(
    State(state): State<AppState>,
    Body(body): Body<CheckBody>,
) -> Result<Json<Value>, Failure> {
    let id = required(body.id, "_id")?;
    let token = required(body.token, "token")?;
    match state.core.check_reset_token_for(&id, &token).await {
        Ok(()) => Ok(Json(json!({"message": "Token is valid"}))),
        Err(CoreError::ResetToken(_)) => Err(Failure::bad_request("Invalid or expired token")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct NewPasswordBody {
    uid: Option<String>,
    password: Option<String>,
    #[serde(rename = "passwordToken")]
    password_token: Option<String>,
}

async fn new_password(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Body(body): Body<NewPasswordBody>,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let uid = required(body.uid, "uid")?;
    let password = required(body.password, "password")?;
    let token = required(body.password_token, "passwordToken")?;
    match state.core.reset_password_for(&uid, &token, &password, lang).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({"message": "Password changed"})))),
        Err(CoreError::ResetToken(_)) => Err(Failure::bad_request("Invalid or expired token")),
        Err(CoreError::Invalid(Invalid::PasswordLength | Invalid::PasswordCommon)) => Err(
            Failure::bad_request("Password must be 8 to 128 characters and not a common one"),
        ),
        Err(other) => Err(other.into()),
    }
}
