//! The signed-in account: its data, username, password and sessions.

use crate::domain::SessionId;
use crate::domain::UsernameLength;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{Authenticated, Enrolling, JsonBody, PathParams};
use crate::http::problem::Problem;
use crate::secret::Secret;
use crate::views::{AccountEnvelope, ActivityList, AuditEventView, RevokedCount, SessionList, SessionView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// The signed-in account.
#[utoipa::path(get, path = "/me", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 401, description = "not signed in", body = ErrorBody),
))]
pub async fn get_me(Enrolling(auth): Enrolling) -> Json<AccountEnvelope> {
    Json((&auth.principal.account).into())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchMeRequest {
    /// 3–32 letters, digits or `_`.
    username: String,
}

/// Choose a username.
#[utoipa::path(patch, path = "/me", tag = "me", request_body = PatchMeRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "updated", body = AccountEnvelope),
    (status = 400, description = "invalid username", body = ErrorBody),
    (status = 409, description = "username taken", body = ErrorBody),
))]
pub async fn patch_me(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
    JsonBody(body): JsonBody<PatchMeRequest>,
) -> Result<Json<AccountEnvelope>, Problem> {
    let account = state
        .core
        .set_username(
            &auth.principal.account.id,
            &body.username,
            UsernameLength::DEFAULT,
        )
        .await?;
    Ok(Json((&account).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String)]
    current_password: Secret,
    #[schema(value_type = String)]
    new_password: Secret,
}

/// Change the password; every other session ends.
#[utoipa::path(post, path = "/me/password", tag = "me", request_body = ChangePasswordRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "changed"),
    (status = 400, description = "wrong current password or invalid new one", body = ErrorBody),
))]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .change_password(&auth.principal, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My recent sign-ins (and refused attempts) and account changes, newest
/// first: the last 90 days, at most 50.
#[utoipa::path(get, path = "/me/activity", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "my activity", body = ActivityList),
))]
pub async fn activity(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<ActivityList>, Problem> {
    let events = state.core.activity_of(&auth.principal.account, 50).await?;
    Ok(Json(ActivityList {
        events: events.iter().map(AuditEventView::from).collect(),
    }))
}

/// My live sessions, newest first.
#[utoipa::path(get, path = "/sessions", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "sessions", body = SessionList),
))]
pub async fn list_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SessionList>, Problem> {
    let current = &auth.principal.session.id;
    let sessions = state.core.sessions(&auth.principal.account.id).await?;
    Ok(Json(SessionList {
        sessions: sessions.iter().map(|s| SessionView::new(s, current)).collect(),
    }))
}

/// End every session but this one.
#[utoipa::path(delete, path = "/sessions", tag = "me", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "how many ended", body = RevokedCount),
))]
pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<RevokedCount>, Problem> {
    let revoked = state.core.revoke_other_sessions(&auth.principal).await?;
    Ok(Json(RevokedCount { revoked }))
}

/// End one of my sessions.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "me", params(("id" = String, Path, description = "session id")),
    security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "ended"),
    (status = 404, description = "no such live session of mine", body = ErrorBody),
))]
pub async fn revoke_session(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<SessionId>,
) -> Result<StatusCode, Problem> {
    state.core.revoke_session(&auth.principal.account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::assert_debug_hides;

    #[test]
    fn request_types_print_no_secret() {
        assert_debug_hides::<ChangePasswordRequest>(
            r#"{"current_password":"s3cr3t-old","new_password":"s3cr3t-new"}"#,
            &["s3cr3t-old", "s3cr3t-new"],
        );
    }
}
