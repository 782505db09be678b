//! Account administration, for accounts with the role `admin`.

use crate::app::Actor;
use crate::app::CoreError;
use crate::app::audit::parse_kinds;
use crate::domain::AccountId;
use crate::domain::Role;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{Authenticated, PathParams, QueryParams};
use crate::http::problem::Problem;
use crate::store::AuditFilter;
use crate::views::{AccountEnvelope, AccountList, AccountView, AuditEventView, AuditList, RevokedCount};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Part of an id, email or username (any case).
    search: Option<String>,
    /// From 1.
    page: Option<u64>,
    /// 1 to 100; 20 when absent.
    per_page: Option<u64>,
}

/// List accounts, newest first, optionally filtered.
#[utoipa::path(get, path = "/admin/users", tag = "admin", params(ListQuery), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "a page of accounts", body = AccountList),
    (status = 400, description = "bad paging", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<AccountList>, Problem> {
    let (page, per_page, offset) = super::page_window(query.page, query.per_page)?;
    let found = state
        .core
        .list_accounts(
            Actor::Account(&auth.principal.account),
            query.search.as_deref(),
            offset,
            per_page,
        )
        .await?;
    Ok(Json(AccountList {
        users: found.accounts.iter().map(AccountView::from).collect(),
        page,
        per_page,
        total: found.total,
    }))
}

/// One account.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<AccountId>,
) -> Result<Json<AccountEnvelope>, Problem> {
    let account = state
        .core
        .account(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(Json((&account).into()))
}

/// Grant a role (`user`, `moderator`, `admin`).
#[utoipa::path(put, path = "/admin/users/{id}/roles/{role}", tag = "admin", params(("id" = String, Path), ("role" = String, Path)),
    security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 400, description = "unknown role", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn grant_role(
    state: State<AppState>,
    auth: Authenticated,
    path: PathParams<(AccountId, String)>,
) -> Result<Json<AccountEnvelope>, Problem> {
    set_role(state, auth, path, true).await
}

/// Revoke a role.
#[utoipa::path(delete, path = "/admin/users/{id}/roles/{role}", tag = "admin", params(("id" = String, Path), ("role" = String, Path)),
    security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 400, description = "unknown role", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn revoke_role(
    state: State<AppState>,
    auth: Authenticated,
    path: PathParams<(AccountId, String)>,
) -> Result<Json<AccountEnvelope>, Problem> {
    set_role(state, auth, path, false).await
}

async fn set_role(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams((id, role)): PathParams<(AccountId, String)>,
    granted: bool,
) -> Result<Json<AccountEnvelope>, Problem> {
    let role = Role::parse(&role).map_err(crate::app::CoreError::from)?;
    let account = state
        .core
        .set_role(Actor::Account(&auth.principal.account), &id, role, granted)
        .await?;
    Ok(Json((&account).into()))
}

/// Disable an account; its sessions end at once.
#[utoipa::path(post, path = "/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn disable_user(
    state: State<AppState>,
    auth: Authenticated,
    path: PathParams<AccountId>,
) -> Result<Json<AccountEnvelope>, Problem> {
    set_disabled(state, auth, path, true).await
}

/// Enable a disabled account.
#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the account", body = AccountEnvelope),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn enable_user(
    state: State<AppState>,
    auth: Authenticated,
    path: PathParams<AccountId>,
) -> Result<Json<AccountEnvelope>, Problem> {
    set_disabled(state, auth, path, false).await
}

/// End every session of an account; it can sign in again.
#[utoipa::path(delete, path = "/admin/users/{id}/sessions", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "how many ended", body = RevokedCount),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn end_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<AccountId>,
) -> Result<Json<RevokedCount>, Problem> {
    let revoked = state
        .core
        .end_sessions_of(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(Json(RevokedCount { revoked }))
}

async fn set_disabled(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<AccountId>,
    disabled: bool,
) -> Result<Json<AccountEnvelope>, Problem> {
    let account = state
        .core
        .set_disabled(Actor::Account(&auth.principal.account), &id, disabled)
        .await?;
    Ok(Json((&account).into()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// An account's id: events about it.
    account: Option<String>,
    /// Event types, comma-separated (`sign_in,sign_in_failed`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kinds: Option<String>,
    /// RFC 3339: events at or after it.
    since: Option<String>,
    /// RFC 3339: events before it.
    until: Option<String>,
    /// From 1.
    page: Option<u64>,
    /// 1 to 100; 20 when absent.
    per_page: Option<u64>,
}

/// The audit trail, newest first: who did what to which account, when, from where.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditQuery), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "a page of audit events", body = AuditList),
    (status = 400, description = "an unknown type, a bad time or bad paging", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
))]
pub async fn audit(
    State(state): State<AppState>,
    auth: Authenticated,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditList>, Problem> {
    let (page, per_page, offset) = super::page_window(query.page, query.per_page)?;
    let filter = AuditFilter {
        account: query.account.filter(|a| !a.trim().is_empty()),
        kinds: parse_kinds(query.kinds.as_deref()).map_err(CoreError::from)?,
        since: instant("since", query.since.as_deref())?,
        until: instant("until", query.until.as_deref())?,
    };
    let found = state
        .core
        .audit_log(Actor::Account(&auth.principal.account), &filter, offset, per_page)
        .await?;
    Ok(Json(AuditList {
        events: found.events.iter().map(AuditEventView::from).collect(),
        page,
        per_page,
        total: found.total,
    }))
}

/// An RFC 3339 time parameter.
fn instant(field: &'static str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, Problem> {
    raw.filter(|raw| !raw.trim().is_empty())
        .map(|raw| {
            OffsetDateTime::parse(raw.trim(), &Rfc3339)
                .map_err(|_| invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
}

fn invalid(field: &'static str, reason: &'static str) -> Problem {
    CoreError::from(crate::domain::Invalid::Field { field, reason }).into()
}

/// An account's second factors, for an admin.
#[utoipa::path(get, path = "/admin/users/{id}/mfa", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "which factors it has", body = super::mfa::MfaStatus),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such account", body = ErrorBody),
))]
pub async fn second_factors(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<AccountId>,
) -> Result<Json<super::mfa::MfaStatus>, Problem> {
    state
        .core
        .account(Actor::Account(&auth.principal.account), &id)
        .await?;
    let status = state.core.second_factors(&id).await?;
    Ok(Json(super::mfa::MfaStatus {
        totp: status.totp,
        recovery_codes_left: status.recovery_codes_left,
        passkeys: status.passkeys,
    }))
}

/// Remove an account's second factors (a lost phone); audited, and the
/// owner is told by mail.
#[utoipa::path(delete, path = "/admin/users/{id}/mfa", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "removed"),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 409, description = "it has none", body = ErrorBody),
))]
pub async fn reset_second_factors(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<AccountId>,
) -> Result<axum::http::StatusCode, Problem> {
    state
        .core
        .reset_second_factors(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
