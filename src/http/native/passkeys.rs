//! Passkeys in the native API: mine (add, list, rename, delete), as the
//! second step of a sign-in, and signing in with one alone. Each
//! ceremony is two calls: `…/start` answers the options for the
//! browser's `navigator.credentials.create` / `get` and a `ceremony` id;
//! `…/finish` takes that id and the browser's answer.

use super::auth::sign_in_answer;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{ClientDevice, Enrolling, JsonBody, PathParams};
use crate::http::problem::Problem;
use crate::secret::Secret;
use crate::views::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A ceremony's start: its id and the options to hand to the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyStart {
    pub ceremony: String,
    /// `{"publicKey": …}`, base64url where WebAuthn has bytes.
    #[schema(value_type = Object)]
    pub options: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<crate::app::passkeys::PasskeySummary> for PasskeyView {
    fn from(passkey: crate::app::passkeys::PasskeySummary) -> Self {
        Self {
            id: passkey.id,
            name: passkey.name,
            created_at: rfc3339(passkey.created_at),
            last_used_at: passkey.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

#[utoipa::path(get, path = "/me/passkeys", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "my passkeys", body = PasskeyList),
))]
pub async fn list(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<Json<PasskeyList>, Problem> {
    let passkeys = state.core.passkeys(&auth.principal.account.id).await?;
    Ok(Json(PasskeyList {
        passkeys: passkeys.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasswordOnly {
    /// Needed unless this session signed in in the last five minutes.
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
}

/// Start adding a passkey (step-up).
#[utoipa::path(post, path = "/me/passkeys/register/start", tag = "me", request_body = PasswordOnly, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "options for navigator.credentials.create", body = CeremonyStart),
    (status = 403, description = "step_up_required", body = ErrorBody),
))]
pub async fn register_start(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    body: Option<Json<PasswordOnly>>,
) -> Result<Json<CeremonyStart>, Problem> {
    let password = body.and_then(|Json(body)| body.password);
    let (ceremony, options) = state
        .core
        .begin_passkey_registration(&auth.principal, password.as_ref().map(Secret::expose))
        .await?;
    Ok(Json(CeremonyStart { ceremony, options }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterFinish {
    ceremony: String,
    /// What to call it ("Laptop", "Phone").
    name: Option<String>,
    /// The browser's `PublicKeyCredential`, base64url where it has bytes.
    #[schema(value_type = Object)]
    credential: Value,
}

#[utoipa::path(post, path = "/me/passkeys/register/finish", tag = "me", request_body = RegisterFinish, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "added", body = PasskeyView),
    (status = 401, description = "the answer did not verify", body = ErrorBody),
))]
pub async fn register_finish(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    JsonBody(body): JsonBody<RegisterFinish>,
) -> Result<(StatusCode, Json<PasskeyView>), Problem> {
    let name = body.name.unwrap_or_default();
    let passkey = state
        .core
        .finish_passkey_registration(&auth.principal, &body.ceremony, &name, body.credential)
        .await?;
    Ok((StatusCode::CREATED, Json(passkey.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rename {
    name: String,
}

#[utoipa::path(patch, path = "/me/passkeys/{id}", tag = "me", params(("id" = String, Path)), request_body = Rename, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "renamed"),
    (status = 404, description = "no such passkey of mine", body = ErrorBody),
))]
pub async fn rename(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<Rename>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .rename_passkey(&auth.principal, &id, &body.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/me/passkeys/{id}", tag = "me", params(("id" = String, Path)), request_body = PasswordOnly, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "deleted"),
    (status = 403, description = "step_up_required", body = ErrorBody),
    (status = 404, description = "no such passkey of mine", body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    PathParams(id): PathParams<String>,
    body: Option<Json<PasswordOnly>>,
) -> Result<StatusCode, Problem> {
    let password = body.and_then(|Json(body)| body.password);
    state
        .core
        .delete_passkey(&auth.principal, &id, password.as_ref().map(Secret::expose))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondStepStart {
    #[schema(value_type = String)]
    mfa_token: Secret,
}

/// The second step with a passkey: options for `navigator.credentials.get`;
/// then `POST /login/mfa` with `{"mfa_token", "passkey": {"ceremony", "credential"}}`.
#[utoipa::path(post, path = "/login/mfa/passkey", tag = "auth", request_body = SecondStepStart, responses(
    (status = 200, description = "options", body = CeremonyStart),
    (status = 401, description = "the token is not valid, or the account has no passkey", body = ErrorBody),
))]
pub async fn second_step_start(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SecondStepStart>,
) -> Result<Json<CeremonyStart>, Problem> {
    let (ceremony, options) = state
        .core
        .begin_passkey_second_factor(body.mfa_token.expose())
        .await?;
    Ok(Json(CeremonyStart { ceremony, options }))
}

/// Sign in with a passkey alone: options for `navigator.credentials.get`.
#[utoipa::path(post, path = "/login/passkey/start", tag = "auth", responses(
    (status = 200, description = "options", body = CeremonyStart),
    (status = 429, description = "too many started from this address; see Retry-After", body = ErrorBody),
))]
pub async fn sign_in_start(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
) -> Result<Json<CeremonyStart>, Problem> {
    let (ceremony, options) = state.core.begin_passkey_sign_in(device.address).await?;
    Ok(Json(CeremonyStart { ceremony, options }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CeremonyFinish {
    ceremony: String,
    #[schema(value_type = Object)]
    credential: Value,
}

/// Finish a passkey sign-in: the usual tokens and session cookie.
#[utoipa::path(post, path = "/login/passkey/finish", tag = "auth", request_body = CeremonyFinish, responses(
    (status = 200, description = "signed in", body = crate::views::TokenResponse),
    (status = 401, description = "the answer did not verify", body = ErrorBody),
))]
pub async fn sign_in_finish(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<CeremonyFinish>,
) -> Result<Response, Problem> {
    let signed_in = state
        .core
        .finish_passkey_sign_in(&body.ceremony, body.credential, device)
        .await;
    sign_in_answer(&state, signed_in)
}
