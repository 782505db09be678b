//! `POST /oauth2/register`: RFC 7591 dynamic client registration, with
//! `--oidc-dynamic-registration`. The metadata is mapped onto the core's
//! `NewClient`; the core decides (never trusted, counted per address).

use super::AppState;
use super::extract::ClientDevice;
use super::oidc::error_response;
use crate::app::CoreError;
use crate::app::oidc::{IssuedClient, NewClient, OAuthError, grant_name};
use crate::domain::Invalid;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The client metadata Klucznik takes (RFC 7591 §2, OpenID Connect
/// Registration §2); other members are ignored, as §2 allows.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    scope: Option<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    id_token_signed_response_alg: Option<String>,
}

fn refused(code: &'static str, description: impl Into<String>) -> Response {
    error_response(&OAuthError::new(code, description.into()), false)
}

/// The metadata as a new client, or what is wrong with it.
fn new_client(metadata: Metadata) -> Result<NewClient, Box<Response>> {
    let invalid = |what: &str| Box::new(refused("invalid_client_metadata", what.to_owned()));
    let public = match metadata.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic" | "client_secret_post") => false,
        Some("none") => true,
        Some(_) => {
            return Err(invalid(
                "token_endpoint_auth_method: client_secret_basic, client_secret_post or none",
            ));
        }
    };
    if let Some(types) = &metadata.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(invalid("response_types: only code (no implicit or hybrid flow)"));
    }
    let grants = match metadata.grant_types {
        None => vec!["authorization_code".to_owned()],
        Some(types) => types,
    };
    let grants = grants
        .iter()
        .map(|g| grant_name(g).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            invalid("grant_types: authorization_code, refresh_token, client_credentials or the device code")
        })?;
    Ok(NewClient {
        name: metadata
            .client_name
            .unwrap_or_else(|| "Unnamed application".into()),
        redirect_uris: metadata.redirect_uris,
        public,
        trusted: false,
        scopes: (metadata.scope.unwrap_or_default())
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        grants,
        post_logout_redirect_uris: metadata.post_logout_redirect_uris,
        backchannel_logout_uri: metadata.backchannel_logout_uri,
        id_token_alg: metadata.id_token_signed_response_alg,
    })
}

/// The registration answer (RFC 7591 §3.2.1): the client's metadata as
/// stored, its id and (once) its secret.
fn registered(issued: &IssuedClient, auth_method: &str) -> Response {
    let client = &issued.client;
    let mut body = json!({
        "client_id": client.id,
        "client_secret": issued.secret,
        "client_id_issued_at": client.created_at.unix_timestamp(),
        "client_secret_expires_at": issued.secret.as_ref().map(|_| 0),
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "grant_types": client.grants,
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
        "scope": client.scopes.join(" "),
        "id_token_signed_response_alg": client.id_token_alg,
    });
    // A member without a value is left out (RFC 7591 §3.2.1), not null.
    if let Some(members) = body.as_object_mut() {
        members.retain(|_, value| !value.is_null());
    }
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn register(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    body: axum::body::Bytes,
) -> Response {
    let Ok(metadata) = serde_json::from_slice::<Metadata>(&body) else {
        return refused(
            "invalid_client_metadata",
            "the body must be a JSON object of client metadata",
        );
    };
    let auth_method = match metadata.token_endpoint_auth_method.as_deref() {
        Some(method) => method.to_owned(),
        None => "client_secret_basic".to_owned(),
    };
    let new = match new_client(metadata) {
        Ok(new) => new,
        Err(refusal) => return *refusal,
    };
    match state.core.register_client(new, device.address).await {
        Ok(issued) => registered(&issued, &auth_method),
        Err(CoreError::NotFound(_)) => {
            let body = json!({
                "error": "invalid_request",
                "error_description": "dynamic client registration is off (--oidc-dynamic-registration)",
            });
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
        Err(CoreError::Invalid(Invalid::Field { field, reason })) => {
            let code = if field.contains("redirect_uri") {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            refused(code, format!("{field}: {reason}"))
        }
        Err(error @ CoreError::TooManyAttempts { .. }) => {
            let mut response = error_response(&OAuthError::from(error), false);
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
        }
        Err(error) => error_response(&OAuthError::from(error), false),
    }
}
