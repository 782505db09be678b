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

use super::kit::{Credentials, Dialect, Routes, Wording};
use crate::app::{Actor, LoginPolicy, Need, NewAccount, Principal, SignedIn, VerificationStep};
use crate::domain::{Account, UsernameLength};
use crate::http::AppState;
use crate::http::cookies::{cleared_session_cookie, session_cookie};
use crate::http::extract::{AcceptLanguage, ClientDevice, cookie_principal};
use crate::http::problem::{JsonBody, Key, Problem, required};
use crate::secret::Secret;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub struct VerifyCode;

/// The seed's nicknames: 3 to 15 characters of the one username alphabet.
const NICKNAME_LENGTH: UsernameLength = UsernameLength { min: 3, max: 15 };

/// Its seed verifies the address with a code before the first sign-in.
const POLICY: LoginPolicy = LoginPolicy::dialect(VerifyCode::NAME, VerificationStep::Present);

impl Dialect for VerifyCode {
    const NAME: &'static str = "verify-code";

    fn routes(_prefix: &str) -> Routes {
        Routes::new()
            .post("/auth/register", register)
            .post("/auth/verify-email", verify_email)
            .post("/auth/resend-verification-code", resend)
            .post("/auth/login", login)
            .post("/auth/logout", logout)
            .post("/auth/set-nickname", set_nickname)
            .get("/auth/test-auth", test_auth)
            .post("/auth/test-auth", test_auth)
    }

    /// `{"message", "key"}` with the seed's keys and words.
    fn render(problem: &Problem) -> Response {
        use StatusCode as S;
        let validation = |message| Wording::new(S::BAD_REQUEST, message, "validation_error");
        let unauthorized = |message, key| Wording::new(S::UNAUTHORIZED, message, key);
        match problem.key {
            Key::InvalidEmail => validation("Invalid email"),
            Key::InvalidPasswordLength => validation("Password must be 8 to 128 characters long"),
            Key::PasswordTooCommon => validation("Password is too common"),
            Key::InvalidUsername => validation("Username must be 3 to 15 letters, digits or underscores"),
            Key::EmailOrUsernameRequired => validation("Email is required"),
            Key::EmailTaken => Wording::new(
                S::CONFLICT,
                "Account already exists in the database",
                "RECORD_ALREADY_EXISTS",
            ),
            Key::UsernameTaken => {
                Wording::new(S::CONFLICT, "Username is already taken", "RECORD_ALREADY_EXISTS")
            }
            Key::InvalidCredentials => unauthorized("Provided credentials are invalid", "WRONG_CREDENTIALS"),
            Key::EmailNotVerified => unauthorized("Email not verified", "email_not_verified"),
            Key::AccountDisabled => Wording::new(S::FORBIDDEN, "Account disabled", "account_disabled"),
            Key::TooManyAttempts => {
                Wording::new(S::TOO_MANY_REQUESTS, "Too many attempts", problem.key.as_str())
            }
            Key::InvalidVerification | Key::VerificationExpired | Key::VerificationAttemptsExhausted => {
                unauthorized(
                    "Invalid verification code or session",
                    "invalid_verification_code",
                )
            }
            Key::NotFound if !problem.is_unknown_route() => {
                Wording::new(S::NOT_FOUND, "User not found", "user_not_found")
            }
            Key::AlreadyVerified => validation("User already verified").with_key("user_already_verified"),
            Key::TooManyResends => Wording::new(
                S::TOO_MANY_REQUESTS,
                "Too many verification codes requested",
                "too_many_requests",
            ),
            Key::Unauthenticated
            | Key::TokenExpired
            | Key::InvalidRefreshToken
            | Key::RefreshTokenExpired => unauthorized("Unauthorized", "unauthorized"),
            Key::CsrfCheckFailed => {
                Wording::new(S::FORBIDDEN, "Cross-site request refused", problem.key.as_str())
            }
            Key::Forbidden => Wording::new(S::FORBIDDEN, "Forbidden", problem.key.as_str()),
            Key::InternalError => Wording::new(
                S::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "internal_server_error",
            ),
            // Every other refused input is the seed's validation error.
            _ if problem.status == S::BAD_REQUEST => validation(problem.message.as_ref()),
            _ => Wording::of(problem),
        }
        .keyed_body()
    }
}

/// The code beside the answer only in `--dev` (the seed's "roboczo"); it
/// always goes by mail.
fn with_dev_code(state: &AppState, mut answer: Value, code: String) -> Value {
    if state.web.dev
        && let Some(fields) = answer.as_object_mut()
    {
        fields.insert("code".into(), Value::String(code));
    }
    answer
}

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
    if let Some(cookie) = session_cookie(&state.web, signed_in) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let email = required(body.email, "Email")?;
    let password = required(body.password, "Password")?;
    let new = NewAccount {
        email: Some(email),
        password,
        ..NewAccount::default()
    };
    let registered = state
        .core
        .register(new, Actor::Visitor, device.address, lang)
        .await?;
    let verification = registered
        .verification
        .ok_or_else(|| Problem::internal("no verification for an email account"))?;
    let answer = json!({
        "message": "Registration successful",
        "userId": registered.account.id,
        "sessionId": verification.id,
    });
    Ok(data(with_dev_code(&state, answer, verification.code)))
}

#[derive(Debug, Deserialize)]
struct VerifyBody {
    email: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    code: Option<Secret>,
}

async fn verify_email(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response, Problem> {
    let email = required(body.email, "Email")?;
    let session_id = required(body.session_id, "sessionId")?;
    let code = required(body.code, "Code")?;
    let done = state
        .core
        .verify_email_code(&email, Some(&session_id), &code, device, POLICY)
        .await?;
    Ok(signed_in(&state, &done, "Code verified successfully"))
}

async fn resend(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<Value>, Problem> {
    let email = required(body.email, "Email")?;
    let issued = state
        .core
        .resend_verification(&email, device.address, lang)
        .await?;
    let answer = json!({
        "message": "Verification code resent successfully",
        "sessionId": issued.id,
    });
    Ok(data(with_dev_code(&state, answer, issued.code)))
}

async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, Problem> {
    let email = required(body.email, "Email")?;
    let password = required(body.password, "Password")?;
    let done = state.core.login(&email, &password, device, POLICY).await?;
    Ok(signed_in(&state, &done, "Login successful"))
}

async fn logout(State(state): State<AppState>, Signed(principal): Signed) -> Result<Response, Problem> {
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
    Signed(principal): Signed,
    JsonBody(body): JsonBody<NicknameBody>,
) -> Result<Json<Value>, Problem> {
    let username = required(body.username, "Username")?;
    let account = state
        .core
        .set_username(&principal.account.id, &username, NICKNAME_LENGTH)
        .await?;
    Ok(Json(json!({ "user": user(&account) })))
}

async fn test_auth(Signed(principal): Signed) -> Result<Json<Value>, Problem> {
    Ok(data(
        json!({"message": "Authorized", "userId": principal.account.id}),
    ))
}

/// The caller signed in by this dialect's session cookie.
struct Signed(Principal);

impl axum::extract::FromRequestParts<AppState> for Signed {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        cookie_principal(parts, state, POLICY.door, Need::Anything)
            .await
            .map(Signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<VerifyBody>(
            r#"{"email":"a@b.pl","sessionId":"s","code":"S3CR3T01"}"#,
            &["S3CR3T01"],
        );
    }
}
