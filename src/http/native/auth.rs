//! Sign-up, sign-in, refresh and sign-out.

use crate::app::{Actor, Door, LoginPolicy, NewAccount, SessionLength, SignedIn};
use crate::http::AppState;
use crate::http::cookies::{cleared_session_cookie, session_cookie};
use crate::http::error::ErrorBody;
use crate::http::extract::{AcceptLanguage, Authenticated, ClientDevice, Enrolling, JsonBody};
use crate::http::problem::Problem;
use crate::secret::Secret;
use crate::views::{AccountEnvelope, TokenResponse};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Optional when a username is given.
    email: Option<String>,
    /// 3–32 letters, digits or `_`; optional when an email is given.
    username: Option<String>,
    /// 8–128 characters, not a common password.
    #[schema(value_type = String)]
    password: Secret,
}

/// Create an account with an email and/or a username.
#[utoipa::path(post, path = "/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, description = "account created", body = AccountEnvelope),
    (status = 400, description = "invalid input", body = ErrorBody),
    (status = 409, description = "email or username taken", body = ErrorBody),
    (status = 429, description = "too many sign-ups from this address; see Retry-After", body = ErrorBody),
))]
pub async fn register(
    State(state): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<AccountEnvelope>), Problem> {
    let new = NewAccount {
        email: body.email,
        username: body.username,
        password: body.password,
        ..NewAccount::default()
    };
    let registered = state
        .core
        .register(new, Actor::Visitor, device.address, lang)
        .await?;
    Ok((StatusCode::CREATED, Json((&registered.account).into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Email or username.
    login: String,
    #[schema(value_type = String)]
    password: Secret,
    /// Keep the session for 30 days.
    #[serde(default)]
    remember_me: bool,
}

/// Sign in; also sets the HttpOnly session cookie for browsers. An
/// account with a second factor gets `{"mfa_required": true, "mfa_token",
/// "methods"}` and no session: `POST /login/mfa` completes it.
#[utoipa::path(post, path = "/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "signed in, or (with a second factor) the mfa_token of the next step", body = TokenResponse),
    (status = 401, description = "wrong login or password", body = ErrorBody),
    (status = 403, description = "account disabled", body = ErrorBody),
    (status = 429, description = "too many failures; see Retry-After", body = ErrorBody),
))]
pub async fn login(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    let signed_in = state
        .core
        .login(
            &body.login,
            &body.password,
            device,
            LoginPolicy::NATIVE.with_length(SessionLength::remember_me(body.remember_me)),
        )
        .await;
    sign_in_answer(&state, signed_in)
}

/// A sign-in's answer: the tokens, or (an account with a second factor)
/// the `mfa_token` of the next step.
pub(super) fn sign_in_answer(
    state: &AppState,
    outcome: Result<SignedIn, crate::app::CoreError>,
) -> Result<Response, Problem> {
    match outcome {
        Ok(signed_in) => Ok(token_response(state, &signed_in)),
        Err(crate::app::CoreError::SecondFactorRequired { mfa_token }) => {
            Ok(Json(super::mfa::MfaRequired::new(mfa_token.expose())).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) fn token_response(state: &AppState, signed_in: &SignedIn) -> Response {
    let mut response = Json(TokenResponse::from(signed_in)).into_response();
    if let Some(cookie) = session_cookie(&state.web, signed_in) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    refresh_token: Secret,
}

/// Exchange a refresh token for a new pair. A token is single use:
/// presenting a used one ends its session (unless repeated within 2 s).
#[utoipa::path(post, path = "/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, description = "new tokens", body = TokenResponse),
    (status = 401, description = "unknown, used, expired or revoked refresh token", body = ErrorBody),
))]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, Problem> {
    let signed_in = state.core.refresh(&body.refresh_token, Door::Native).await?;
    Ok(token_response(&state, &signed_in))
}

/// End this session.
#[utoipa::path(post, path = "/logout", tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "signed out"),
    (status = 401, description = "not signed in", body = ErrorBody),
))]
pub async fn logout(State(state): State<AppState>, Enrolling(auth): Enrolling) -> Result<Response, Problem> {
    state.core.logout(&auth.principal).await?;
    Ok(signed_out(&state))
}

/// End every session of the account, on every device.
#[utoipa::path(post, path = "/logout/everywhere", tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "signed out everywhere"),
    (status = 401, description = "not signed in", body = ErrorBody),
))]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, Problem> {
    state.core.logout_everywhere(&auth.principal.account.id).await?;
    Ok(signed_out(&state))
}

fn signed_out(state: &AppState) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = cleared_session_cookie(&state.web) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<RegisterRequest>(
            r#"{"email":"a@b.pl","password":"s3cr3t-pass"}"#,
            &["s3cr3t-pass"],
        );
        assert_debug_hides::<LoginRequest>(r#"{"login":"a","password":"s3cr3t-pass"}"#, &["s3cr3t-pass"]);
        assert_debug_hides::<RefreshRequest>(r#"{"refresh_token":"s3cr3t-token"}"#, &["s3cr3t-token"]);
    }
}
