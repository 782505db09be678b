//! The member register (moderators and admins), and its change history (admins).

use super::page_window;
use crate::domain::MemberChange;
use crate::domain::MemberId;
use crate::domain::{Member, MemberData};
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{Authenticated, JsonBody, PathParams, QueryParams};
use crate::http::member_body::MemberBody;
use crate::http::problem::Problem;
use crate::views::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    #[serde(flatten)]
    pub data: MemberData,
    /// Bumped by every update; send it back with PUT to avoid lost updates.
    pub version: i64,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self {
            id: m.id.to_string(),
            data: m.data.clone(),
            version: m.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberEnvelope {
    pub member: MemberView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MemberQuery {
    /// Part of a surname, city or PESEL.
    search: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// Members by surname, searchable by surname, city or PESEL.
#[utoipa::path(get, path = "/members", tag = "members", params(MemberQuery), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "a page of members", body = MemberList),
    (status = 403, description = "not a moderator or admin", body = ErrorBody),
))]
pub async fn list_members(
    State(state): State<AppState>,
    auth: Authenticated,
    QueryParams(query): QueryParams<MemberQuery>,
) -> Result<Json<MemberList>, Problem> {
    let (page, per_page, offset) = page_window(query.page, query.per_page)?;
    let found = state
        .core
        .list_members(&auth.principal.account, query.search.as_deref(), offset, per_page)
        .await?;
    Ok(Json(MemberList {
        members: found.members.iter().map(MemberView::from).collect(),
        page,
        per_page,
        total: found.total,
    }))
}

/// Add a member.
#[utoipa::path(post, path = "/members", tag = "members", request_body = MemberBody, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "added", body = MemberEnvelope),
    (status = 400, description = "a field is invalid (named in `field`)", body = ErrorBody),
    (status = 403, description = "not a moderator or admin", body = ErrorBody),
    (status = 409, description = "PESEL already in the register", body = ErrorBody),
))]
pub async fn create_member(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<(StatusCode, Json<MemberEnvelope>), Problem> {
    let member = state
        .core
        .create_member(&auth.principal.account, body.into())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(MemberEnvelope {
            member: (&member).into(),
        }),
    ))
}

/// One member.
#[utoipa::path(get, path = "/members/{id}", tag = "members", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the member", body = MemberEnvelope),
    (status = 404, description = "no such member", body = ErrorBody),
))]
pub async fn get_member(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<MemberId>,
) -> Result<Json<MemberEnvelope>, Problem> {
    let member = state.core.member(&auth.principal.account, &id).await?;
    Ok(Json(MemberEnvelope {
        member: (&member).into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberUpdate {
    #[serde(flatten)]
    member: MemberBody,
    /// The version read; a member changed since then is not overwritten (409).
    version: Option<i64>,
}

/// Replace a member's data.
#[utoipa::path(put, path = "/members/{id}", tag = "members", params(("id" = String, Path)), request_body = MemberUpdate,
    security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "replaced", body = MemberEnvelope),
    (status = 400, description = "a field is invalid", body = ErrorBody),
    (status = 404, description = "no such member", body = ErrorBody),
    (status = 409, description = "stale version or PESEL taken", body = ErrorBody),
))]
pub async fn update_member(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<MemberId>,
    JsonBody(body): JsonBody<MemberUpdate>,
) -> Result<Json<MemberEnvelope>, Problem> {
    let member = state
        .core
        .update_member(&auth.principal.account, &id, body.member.into(), body.version)
        .await?;
    Ok(Json(MemberEnvelope {
        member: (&member).into(),
    }))
}

/// Remove a member (its history stays).
#[utoipa::path(delete, path = "/members/{id}", tag = "members", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "removed"),
    (status = 404, description = "no such member", body = ErrorBody),
))]
pub async fn delete_member(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<MemberId>,
) -> Result<StatusCode, Problem> {
    state.core.delete_member(&auth.principal.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The account that made the change.
    pub actor_id: String,
    pub fields: Vec<String>,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberHistory {
    pub history: Vec<ChangeView>,
}

/// Who changed a member, when, and which fields (admins only).
#[utoipa::path(get, path = "/members/{id}/history", tag = "members", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "oldest first", body = MemberHistory),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such member, ever", body = ErrorBody),
))]
pub async fn member_history(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<MemberId>,
) -> Result<Json<MemberHistory>, Problem> {
    let history = state.core.member_history(&auth.principal.account, &id).await?;
    let view = |c: &MemberChange| ChangeView {
        action: c.action.clone(),
        actor_id: c.actor_id.to_string(),
        fields: c.fields.clone(),
        at: rfc3339(c.at),
    };
    Ok(Json(MemberHistory {
        history: history.iter().map(view).collect(),
    }))
}
