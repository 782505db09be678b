//! Email verification, password recovery and change of address. The
//! answers that could tell whether an address has an account (resend,
//! forgot password) are always the same 202.

use crate::app::LoginPolicy;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{AcceptLanguage, Authenticated, ClientDevice, JsonBody};
use crate::http::problem::{Key, Problem};
use crate::secret::Secret;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// With `code`: the address being verified.
    email: Option<String>,
    /// The 8-character code from the mail (any case).
    #[schema(value_type = Option<String>)]
    code: Option<Secret>,
    /// Instead of email and code: the token of the mailed link.
    #[schema(value_type = Option<String>)]
    token: Option<Secret>,
}

/// An acknowledgement that says nothing about any account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

/// Verify an address with the mailed code or link token; signs in.
#[utoipa::path(post, path = "/verify-email", tag = "auth", request_body = VerifyEmailRequest, responses(
    (status = 200, description = "verified and signed in", body = crate::views::TokenResponse),
    (status = 400, description = "invalid_verification, verification_expired or verification_attempts_exhausted", body = ErrorBody),
))]
pub async fn verify_email(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<VerifyEmailRequest>,
) -> Result<Response, Problem> {
    let signed_in = match (body.token, body.email, body.code) {
        (Some(token), _, _) => state.core.verify_email_token(&token, device).await,
        (None, Some(email), Some(code)) => {
            state
                .core
                .verify_email_code(&email, None, &code, device, LoginPolicy::NATIVE)
                .await
        }
        _ => return Err(token_or_code()),
    };
    super::auth::sign_in_answer(&state, signed_in)
}

fn token_or_code() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        Key::InvalidBody,
        "send either {\"token\"} or {\"email\", \"code\"}",
    )
}

/// Mail a sign-in code and link (when `--email-sign-in` is on). Always
/// 202, in the same time, whether or not the address has an account.
#[utoipa::path(post, path = "/login/email", tag = "auth", request_body = EmailRequest, responses(
    (status = 202, description = "accepted (a code goes only to an enabled account)", body = Accepted),
    (status = 404, description = "sign-in by mailed code is off", body = ErrorBody),
    (status = 429, description = "too many asked for from this address; see Retry-After", body = ErrorBody),
))]
pub async fn request_email_sign_in(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    state
        .core
        .request_email_sign_in(&body.email, device.address, lang)
        .await?;
    Ok(accepted())
}

/// Sign in with the mailed code (and the address) or the link's token; an
/// account with a second factor answers the `mfa_token` of the next step.
#[utoipa::path(post, path = "/login/email/verify", tag = "auth", request_body = VerifyEmailRequest, responses(
    (status = 200, description = "signed in, or the mfa_token of the next step", body = crate::views::TokenResponse),
    (status = 400, description = "invalid_verification, verification_expired or verification_attempts_exhausted", body = ErrorBody),
    (status = 404, description = "sign-in by mailed code is off", body = ErrorBody),
))]
pub async fn email_sign_in(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<VerifyEmailRequest>,
) -> Result<Response, Problem> {
    let signed_in = match (body.token, body.email, body.code) {
        (Some(token), _, _) => state.core.email_sign_in_link(&token, device).await,
        (None, Some(email), Some(code)) => state.core.email_sign_in(&email, &code, device).await,
        _ => return Err(token_or_code()),
    };
    super::auth::sign_in_answer(&state, signed_in)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailRequest {
    email: String,
}

/// Mail a new code and link, replacing the earlier ones. Always 202.
#[utoipa::path(post, path = "/verify-email/resend", tag = "auth", request_body = EmailRequest, responses(
    (status = 202, description = "accepted (sent only to an unverified account, at most 5 times an hour)", body = Accepted),
    (status = 429, description = "too many asked for from this address; see Retry-After", body = ErrorBody),
))]
pub async fn resend_verification(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    state
        .core
        .resend_verification_quietly(&body.email, device.address, lang)
        .await?;
    Ok(accepted())
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { status: "accepted" }))
}

/// Mail a password-reset link if the address has an account. Always 202,
/// in the same time.
#[utoipa::path(post, path = "/password/forgot", tag = "auth", request_body = EmailRequest, responses(
    (status = 202, description = "accepted", body = Accepted),
    (status = 429, description = "too many asked for from this address; see Retry-After", body = ErrorBody),
))]
pub async fn forgot_password(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    state
        .core
        .forgot_password(&body.email, device.address, lang)
        .await?;
    Ok(accepted())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(value_type = String)]
    token: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenValid {
    pub valid: bool,
}

/// Whether a reset token can still be used.
#[utoipa::path(post, path = "/password/reset/check", tag = "auth", request_body = TokenRequest, responses(
    (status = 200, description = "usable", body = TokenValid),
    (status = 400, description = "reset_token_invalid, reset_token_expired or reset_token_used", body = ErrorBody),
    (status = 429, description = "too many tokens tried from this address; see Retry-After", body = ErrorBody),
))]
pub async fn check_reset_token(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<Json<TokenValid>, Problem> {
    state
        .core
        .check_reset_token(&body.token, None, device.address)
        .await?;
    Ok(Json(TokenValid { valid: true }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(value_type = String)]
    token: Secret,
    /// The new password: 8–128 characters, not a common one.
    #[schema(value_type = String)]
    password: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub status: &'static str,
}

/// Set a new password with a reset token; every session ends.
#[utoipa::path(post, path = "/password/reset", tag = "auth", request_body = ResetRequest, responses(
    (status = 200, description = "password changed", body = Done),
    (status = 400, description = "bad token or password", body = ErrorBody),
    (status = 429, description = "too many tokens tried from this address; see Retry-After", body = ErrorBody),
))]
pub async fn reset_password(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<ResetRequest>,
) -> Result<Json<Done>, Problem> {
    state
        .core
        .reset_password_with_token(&body.token, None, &body.password, device.address, lang)
        .await?;
    Ok(Json(Done {
        status: "password_changed",
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeEmailRequest {
    email: String,
    /// Needed unless this session signed in in the last five minutes.
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
}

/// Change my email: a code and link go to the new address, a notice to the
/// old one; the address changes once the new one is verified.
#[utoipa::path(post, path = "/me/email", tag = "me", request_body = ChangeEmailRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 202, description = "verification sent to the new address", body = Accepted),
    (status = 400, description = "invalid email", body = ErrorBody),
    (status = 403, description = "step_up_required: give the password", body = ErrorBody),
    (status = 409, description = "address taken", body = ErrorBody),
))]
pub async fn change_email(
    State(state): State<AppState>,
    auth: Authenticated,
    AcceptLanguage(lang): AcceptLanguage,
    JsonBody(body): JsonBody<ChangeEmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let password = body.password.as_ref().map(Secret::expose);
    state
        .core
        .request_email_change(&auth.principal, &body.email, password, lang)
        .await?;
    Ok(accepted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<VerifyEmailRequest>(
            r#"{"email":"a@b.pl","code":"S3CR3T01","token":"s3cr3t-token"}"#,
            &["S3CR3T01", "s3cr3t-token"],
        );
        assert_debug_hides::<TokenRequest>(r#"{"token":"s3cr3t-token"}"#, &["s3cr3t-token"]);
        assert_debug_hides::<ResetRequest>(
            r#"{"token":"s3cr3t-token","password":"s3cr3t-pass"}"#,
            &["s3cr3t-token", "s3cr3t-pass"],
        );
    }
}
