//! Second factors in the native API: the second step of sign-in, and a
//! user's own authenticator app and recovery codes.

use super::auth::token_response;
use crate::app::SecondFactor;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{ClientDevice, Enrolling, JsonBody};
use crate::http::problem::Problem;
use crate::secret::Secret;
use crate::views::TokenResponse;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The answer of `POST /login` for an account with a second factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Five minutes, single use, five tries: `POST /login/mfa`.
    pub mfa_token: String,
    /// `totp`, `recovery_code`.
    pub methods: Vec<&'static str>,
}

impl MfaRequired {
    pub fn new(mfa_token: &str) -> Self {
        Self {
            mfa_required: true,
            mfa_token: mfa_token.to_owned(),
            methods: vec!["totp", "recovery_code", "passkey"],
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondStepRequest {
    #[schema(value_type = String)]
    mfa_token: Secret,
    /// Six digits from the authenticator app…
    #[schema(value_type = Option<String>)]
    code: Option<Secret>,
    /// …or one of the recovery codes…
    #[schema(value_type = Option<String>)]
    recovery_code: Option<Secret>,
    /// …or a passkey's answer: `{"ceremony", "credential"}` (see
    /// `POST /login/mfa/passkey`).
    #[schema(value_type = Option<Object>)]
    passkey: Option<PasskeyAnswer>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyAnswer {
    ceremony: String,
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// The second step of a sign-in: the `mfa_token` and a code.
#[utoipa::path(post, path = "/login/mfa", tag = "auth", request_body = SecondStepRequest, responses(
    (status = 200, description = "signed in", body = TokenResponse),
    (status = 401, description = "wrong, used or expired code or token", body = ErrorBody),
    (status = 429, description = "too many wrong codes; see Retry-After", body = ErrorBody),
))]
pub async fn login_second_step(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<SecondStepRequest>,
) -> Result<Response, Problem> {
    let factor = match (&body.code, &body.recovery_code, &body.passkey) {
        (Some(code), None, None) => SecondFactor::Totp(code.expose()),
        (None, Some(code), None) => SecondFactor::RecoveryCode(code.expose()),
        (None, None, Some(answer)) => SecondFactor::Passkey {
            ceremony: &answer.ceremony,
            credential: answer.credential.clone(),
        },
        _ => {
            return Err(crate::app::CoreError::from(crate::domain::Invalid::Field {
                field: "code",
                reason: "give either code or recovery_code",
            })
            .into());
        }
    };
    let signed_in = state
        .core
        .login_second_factor(body.mfa_token.expose(), factor, device)
        .await?;
    Ok(token_response(&state, &signed_in))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StepUpRequest {
    /// Needed unless this session signed in in the last five minutes.
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
}

/// My second factors.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatus {
    pub totp: bool,
    pub recovery_codes_left: u64,
    pub passkeys: u64,
}

#[utoipa::path(get, path = "/me/mfa", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "my second factors", body = MfaStatus),
))]
pub async fn status(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<Json<MfaStatus>, Problem> {
    let status = state.core.second_factors(&auth.principal.account.id).await?;
    Ok(Json(MfaStatus {
        totp: status.totp,
        recovery_codes_left: status.recovery_codes_left,
        passkeys: status.passkeys,
    }))
}

/// An authenticator app to add: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolmentView {
    /// Base32, to type into the app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri`, an SVG document.
    pub qr_svg: String,
}

/// Start adding an authenticator app; it counts once confirmed.
#[utoipa::path(post, path = "/me/mfa/totp", tag = "me", request_body = StepUpRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "the secret, its URI and QR code", body = TotpEnrolmentView),
    (status = 403, description = "step_up_required: give the password", body = ErrorBody),
    (status = 409, description = "an app is already enrolled", body = ErrorBody),
))]
pub async fn begin_totp(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    body: Option<Json<StepUpRequest>>,
) -> Result<(StatusCode, Json<TotpEnrolmentView>), Problem> {
    let password = body.and_then(|Json(body)| body.password);
    let enrolment = state
        .core
        .begin_totp(&auth.principal, password.as_ref().map(Secret::expose))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolmentView {
            secret: enrolment.secret.expose().to_owned(),
            otpauth_uri: enrolment.uri.expose().to_owned(),
            qr_svg: enrolment.qr_svg,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmTotpRequest {
    #[schema(value_type = String)]
    code: Secret,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Confirm the app with its first code: it counts from now on.
#[utoipa::path(post, path = "/me/mfa/totp/confirm", tag = "me", request_body = ConfirmTotpRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "enrolled; ten recovery codes, shown once", body = RecoveryCodes),
    (status = 401, description = "wrong code", body = ErrorBody),
))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    JsonBody(body): JsonBody<ConfirmTotpRequest>,
) -> Result<Json<RecoveryCodes>, Problem> {
    let recovery_codes = state
        .core
        .confirm_totp(&auth.principal, body.code.expose())
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Remove the authenticator app and the recovery codes.
#[utoipa::path(delete, path = "/me/mfa/totp", tag = "me", request_body = StepUpRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "removed"),
    (status = 403, description = "step_up_required: give the password", body = ErrorBody),
))]
pub async fn disable_totp(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    body: Option<Json<StepUpRequest>>,
) -> Result<StatusCode, Problem> {
    let password = body.and_then(|Json(body)| body.password);
    state
        .core
        .disable_totp(&auth.principal, password.as_ref().map(Secret::expose))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/me/mfa/recovery-codes", tag = "me", request_body = StepUpRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "ten new codes, shown once", body = RecoveryCodes),
    (status = 403, description = "step_up_required: give the password", body = ErrorBody),
))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    body: Option<Json<StepUpRequest>>,
) -> Result<Json<RecoveryCodes>, Problem> {
    let password = body.and_then(|Json(body)| body.password);
    let recovery_codes = state
        .core
        .regenerate_recovery_codes(&auth.principal, password.as_ref().map(Secret::expose))
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}
