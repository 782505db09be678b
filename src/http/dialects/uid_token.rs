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
//! - Every failure under these paths (404, 405, 413, 415, 5xx) is `{"message"}`.

use super::kit::{Credentials, Dialect, Routes, Wording, token_principal};
use crate::app::{
    AccessTerm, Actor, CoreError, LoginPolicy, NewAccount, Principal, SessionLength, VerificationStep,
};
use crate::domain::AccountId;
use crate::domain::Invalid;
use crate::http::AppState;
use crate::http::extract::{AcceptLanguage, ClientDevice};
use crate::http::links::{PageLinks, UidTokenLinks};
use crate::http::problem::{JsonBody, Key, PathParams, Problem, header, required};
use crate::secret::Secret;
use crate::views::rfc3339;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct UidToken;

/// Its seed signs in right after sign-up, with no verification step.
const POLICY: LoginPolicy =
    LoginPolicy::dialect(UidToken::NAME, VerificationStep::Absent).telling_unknown_logins();

impl Dialect for UidToken {
    const NAME: &'static str = "uid-token";

    /// `prefix` is where the dialect is mounted, for the mailed links.
    fn routes(prefix: &str) -> Routes {
        let mounted_at = MountedAt(prefix.to_owned());
        Routes::new()
            .post("/register", register)
            .post("/login", login)
            .get("/me", me)
            .get("/authorize/{uid}/{token}", authorize)
            .post("/authorize/{uid}/{token}", authorize)
            .post("/authorize/get-reset", get_reset)
            .post("/authorize/check-token", check_token)
            .post("/authorize/new-password", new_password)
            .layer(Extension(mounted_at))
    }

    /// `{"message"}`, with the statuses of the seed's tables.
    fn render(problem: &Problem) -> Response {
        use StatusCode as S;
        let key = problem.key.as_str();
        match problem.key {
            Key::EmailTaken => Wording::new(S::FORBIDDEN, "Email already exists", key),
            Key::UsernameTaken => Wording::new(S::FORBIDDEN, "Username already exists", key),
            Key::NotFound if !problem.is_unknown_route() => Wording::new(S::NOT_FOUND, "User not found", key),
            Key::AccountDisabled => Wording::new(S::UNAUTHORIZED, "Account disabled", key),
            Key::Unauthenticated | Key::TokenExpired | Key::InvalidRefreshToken => {
                Wording::new(S::UNAUTHORIZED, "Unauthorized", key)
            }
            _ => Wording::of(problem),
        }
        .message_body()
    }
}

/// Where the dialect is mounted, for its mailed links.
#[derive(Clone)]
struct MountedAt(String);

/// `/authorize/UID/TOKEN` under the dialect's prefix, and the reset page
/// with `id` and `token`.
fn links(state: &AppState, MountedAt(prefix): MountedAt) -> Arc<UidTokenLinks> {
    Arc::new(UidTokenLinks {
        pages: PageLinks {
            public_url: state.web.public_url.clone(),
        },
        prefix,
    })
}

fn bad_request(message: &'static str) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, Key::BadRequest, message)
}

fn unauthorized() -> Problem {
    CoreError::Unauthenticated.into()
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Extension(mounted_at): Extension<MountedAt>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let new = NewAccount {
        username: Some(required(body.username, "username")?),
        email: Some(required(body.email, "email")?),
        password: required(body.password, "password")?,
        links: Some(links(&state, mounted_at)),
        ..NewAccount::default()
    };
    match state
        .core
        .register(new, Actor::Visitor, device.address, lang)
        .await
    {
        Ok(registered) => Ok((
            StatusCode::CREATED,
            Json(json!({"UID": registered.account.id, "message": "User created"})),
        )),
        // The seed's 409: the account could not be stored.
        Err(CoreError::Internal(cause)) => {
            tracing::error!(cause = cause.chain(), "account not stored");
            Err(Problem::new(
                StatusCode::CONFLICT,
                Key::NotStored,
                "Could not create the user",
            ))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(rename = "rememberMe", default)]
    remember_me: bool,
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Json<Value>, Problem> {
    let email = required(body.credentials.email, "email")?;
    let password = required(body.credentials.password, "password")?;
    let signed_in = match state
        .core
        .login(
            &email,
            &password,
            device,
            POLICY.with_length(SessionLength::remember_me(body.remember_me)),
        )
        .await
    {
        Ok(signed_in) => signed_in,
        // The seed tells an unknown address (404) from a wrong password (400).
        Err(CoreError::InvalidCredentials) => return Err(bad_request("Wrong password")),
        Err(CoreError::UnknownLogin) => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                Key::UserNotFound,
                "User not found",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    let principal = signed_in.principal();
    let issued = state.core.access_token(&principal, AccessTerm::Hour)?;
    let mut answer = json!({
        "UID": principal.account.id,
        "token": {"token": issued.token, "expire": rfc3339(issued.expires_at)},
    });
    if principal.session.remember_me
        && let Some(secret) = signed_in.session_secret
        && let Some(fields) = answer.as_object_mut()
    {
        fields.insert(
            "rememberToken".into(),
            json!({"token": secret, "expire": rfc3339(principal.session.expires_at)}),
        );
    }
    Ok(Json(answer))
}

/// Authenticates `token` + `uid` (+ `rememberToken`); returns the caller
/// and, when the token had expired, a fresh one for the `token` header.
async fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(Principal, Option<String>), Problem> {
    let uid = header(headers, "uid").ok_or_else(unauthorized)?;
    let token = header(headers, "token").ok_or_else(unauthorized)?;
    match token_principal(state, POLICY.door, token).await {
        Ok(principal) if principal.account.id == uid => Ok((principal, None)),
        Err(CoreError::TokenExpired) => {
            let remember = header(headers, "rememberToken").ok_or_else(unauthorized)?;
            let principal = state
                .core
                .remembered(&AccountId::from(uid), remember, POLICY.door)
                .await?;
            let fresh = state.core.access_token(&principal, AccessTerm::Hour)?;
            Ok((principal, Some(fresh.token)))
        }
        Err(error @ (CoreError::Unavailable | CoreError::Internal(_))) => Err(error.into()),
        _ => Err(unauthorized()),
    }
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
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
    ClientDevice(device): ClientDevice,
    PathParams((uid, token)): PathParams<(String, String)>,
) -> Result<Json<Value>, Problem> {
    match state
        .core
        .confirm_email_token_for(&AccountId::from(uid), &token, device.address)
        .await
    {
        Ok(_) => Ok(Json(json!({"message": "Account verified"}))),
        Err(CoreError::AlreadyVerified) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            Key::AlreadyVerified,
            "User is already verified",
        )),
        Err(CoreError::Verification(_)) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            Key::TokensDiffer,
            "Tokens do not match",
        )),
        Err(other) => Err(other.into()),
    }
}

async fn get_reset(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Extension(mounted_at): Extension<MountedAt>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let email = required(body.email, "email")?;
    state
        .core
        .send_reset_link(&email, device.address, lang, &*links(&state, mounted_at))
        .await?;
    Ok(Json(json!({"message": "Email sent"})))
}

#[derive(Debug, Deserialize)]
struct CheckBody {
    #[serde(rename = "_id")]
    id: Option<String>,
    token: Option<Secret>,
}

async fn check_token(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, Problem> {
    let id = required(body.id, "_id")?;
    let token = required(body.token, "token")?;
    match state
        .core
        .check_reset_token(&token, Some(&AccountId::from(id)), device.address)
        .await
    {
        Ok(()) => Ok(Json(json!({"message": "Token is valid"}))),
        Err(CoreError::ResetToken(_)) => Err(bad_request("Invalid or expired token")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
struct NewPasswordBody {
    uid: Option<String>,
    password: Option<Secret>,
    #[serde(rename = "passwordToken")]
    password_token: Option<Secret>,
}

async fn new_password(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<NewPasswordBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let uid = required(body.uid, "uid")?;
    let password = required(body.password, "password")?;
    let token = required(body.password_token, "passwordToken")?;
    match state
        .core
        .reset_password_with_token(
            &token,
            Some(&AccountId::from(uid)),
            &password,
            device.address,
            lang,
        )
        .await
    {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({"message": "Password changed"})))),
        Err(CoreError::ResetToken(_)) => Err(bad_request("Invalid or expired token")),
        Err(CoreError::Invalid(Invalid::PasswordLength | Invalid::PasswordCommon)) => Err(bad_request(
            "Password must be 8 to 128 characters and not a common one",
        )),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<CheckBody>(r#"{"_id":"u","token":"s3cr3t-token"}"#, &["s3cr3t-token"]);
        assert_debug_hides::<NewPasswordBody>(
            r#"{"uid":"u","password":"s3cr3t-pass","passwordToken":"s3cr3t-token"}"#,
            &["s3cr3t-pass", "s3cr3t-token"],
        );
    }
}
