//! OpenID Connect clients in the admin API (`/admin/clients`): the same
//! core calls as `klucznik client …`.

use crate::app::Actor;
use crate::app::oidc::{ClientChange, IssuedClient, NewClient, grant_name};
use crate::domain::Invalid;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::extract::{Authenticated, JsonBody, PathParams};
use crate::http::problem::Problem;
use crate::views::ClientView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClientRequest {
    name: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    trusted: bool,
    #[serde(default)]
    scopes: Vec<String>,
    /// authorization_code, refresh_token, client_credentials, device_code.
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// RS256 (the default), ES256 or EdDSA: signs its ID and logout tokens.
    id_token_signed_response_alg: Option<String>,
}

/// Fields left out stay as they are; an empty `backchannel_logout_uri` removes it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClientPatch {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    trusted: Option<bool>,
    scopes: Option<Vec<String>>,
    grants: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    backchannel_logout_uri: Option<String>,
    id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedClientBody {
    client: ClientView,
    /// Only now: it is stored hashed.
    client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    clients: Vec<ClientView>,
}

fn issued(issued: IssuedClient) -> IssuedClientBody {
    IssuedClientBody {
        client: ClientView::from(&issued.client),
        client_secret: issued.secret,
    }
}

fn grants(raw: Vec<String>) -> Result<Vec<String>, Problem> {
    raw.iter()
        .map(|g| {
            grant_name(g).map(str::to_owned).ok_or_else(|| {
                Problem::from(crate::app::CoreError::Invalid(Invalid::Field {
                    field: "grants",
                    reason: "authorization_code, refresh_token, client_credentials and device_code only",
                }))
            })
        })
        .collect()
}

/// Register a client; its secret is in this answer only.
#[utoipa::path(post, path = "/admin/clients", tag = "admin", request_body = ClientRequest, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "registered", body = IssuedClientBody),
    (status = 400, description = "a field is not valid", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
))]
pub async fn create_client(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<ClientRequest>,
) -> Result<(StatusCode, Json<IssuedClientBody>), Problem> {
    let new = NewClient {
        name: body.name,
        redirect_uris: body.redirect_uris,
        public: body.public,
        trusted: body.trusted,
        scopes: body.scopes,
        grants: grants(body.grants)?,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body.backchannel_logout_uri.filter(|u| !u.is_empty()),
        id_token_alg: body.id_token_signed_response_alg,
    };
    let created = state
        .core
        .create_client(Actor::Account(&auth.principal.account), new)
        .await?;
    Ok((StatusCode::CREATED, Json(issued(created))))
}

/// Every client.
#[utoipa::path(get, path = "/admin/clients", tag = "admin", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the clients", body = ClientList),
    (status = 403, description = "not an admin", body = ErrorBody),
))]
pub async fn list_clients(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<ClientList>, Problem> {
    let clients = state
        .core
        .clients(Actor::Account(&auth.principal.account))
        .await?;
    Ok(Json(ClientList {
        clients: clients.iter().map(ClientView::from).collect(),
    }))
}

/// One client.
#[utoipa::path(get, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the client", body = ClientView),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such client", body = ErrorBody),
))]
pub async fn get_client(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<Json<ClientView>, Problem> {
    let client = state
        .core
        .client(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(Json(ClientView::from(&client)))
}

/// Change a client.
#[utoipa::path(patch, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)), request_body = ClientPatch, security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the changed client", body = ClientView),
    (status = 400, description = "a field is not valid", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such client", body = ErrorBody),
))]
pub async fn update_client(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ClientPatch>,
) -> Result<Json<ClientView>, Problem> {
    let change = ClientChange {
        name: body.name,
        redirect_uris: body.redirect_uris,
        trusted: body.trusted,
        scopes: body.scopes,
        grants: body.grants.map(grants).transpose()?,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body
            .backchannel_logout_uri
            .map(|u| Some(u).filter(|u| !u.is_empty())),
        id_token_alg: body.id_token_signed_response_alg,
    };
    let client = state
        .core
        .update_client(Actor::Account(&auth.principal.account), &id, change)
        .await?;
    Ok(Json(ClientView::from(&client)))
}

/// A new secret, in this answer only; the old one stops working.
#[utoipa::path(post, path = "/admin/clients/{id}/secret", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "the new secret", body = IssuedClientBody),
    (status = 400, description = "a public client has no secret", body = ErrorBody),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such client", body = ErrorBody),
))]
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<Json<IssuedClientBody>, Problem> {
    let rotated = state
        .core
        .rotate_client_secret(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(Json(issued(rotated)))
}

/// Delete a client: its consents go and its sessions end.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "deleted"),
    (status = 403, description = "not an admin", body = ErrorBody),
    (status = 404, description = "no such client", body = ErrorBody),
))]
pub async fn delete_client(
    State(state): State<AppState>,
    auth: Authenticated,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .delete_client(Actor::Account(&auth.principal.account), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
