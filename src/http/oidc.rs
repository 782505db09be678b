//! The OpenID Connect provider's machine endpoints (design §8): discovery,
//! token, userinfo, revocation, introspection and device authorization.
//! Each maps a request onto one core call and the answer (or RFC 6749's
//! error) onto JSON; the browser-facing steps (authorize, consent, device
//! page, logout) are pages, in `pages::oidc`.

use super::AppState;
use super::extract::ClientDevice;
use crate::app::CoreError;
use crate::app::oidc::{OAuthClient, OAuthError, TokenRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/device_authorization", post(device_authorization))
        .route("/oauth2/register", post(super::oidc_register::register))
}

/// RFC 6749 §5.2's error body, never cached.
pub fn error_response(error: &OAuthError, basic_auth: bool) -> Response {
    let status = match error.code {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = json!({ "error": error.code, "error_description": error.description });
    let mut response = no_store((status, axum::Json(body)).into_response());
    if status == StatusCode::UNAUTHORIZED && basic_auth {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"klucznik\""),
        );
    }
    if let Some(seconds) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn json_answer(value: impl serde::Serialize) -> Response {
    no_store((StatusCode::OK, axum::Json(value)).into_response())
}

async fn discovery(State(state): State<AppState>) -> Response {
    let base = state.web.public_url.as_str().trim_end_matches('/').to_owned();
    let at = |path: &str| format!("{base}{path}");
    let grants = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    ];
    let document = json!({
        "issuer": base,
        "authorization_endpoint": at("/oauth2/authorize"),
        "token_endpoint": at("/oauth2/token"),
        "userinfo_endpoint": at("/oauth2/userinfo"),
        "jwks_uri": at("/.well-known/jwks.json"),
        "revocation_endpoint": at("/oauth2/revoke"),
        "introspection_endpoint": at("/oauth2/introspect"),
        "end_session_endpoint": at("/oauth2/logout"),
        "device_authorization_endpoint": at("/oauth2/device_authorization"),
        "scopes_supported": crate::app::oidc::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": crate::app::tokens::ID_TOKEN_ALGORITHMS.map(|a| a.name()),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "at_hash", "azp",
            "preferred_username", "email", "email_verified", "roles",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["en", "pl"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    let mut document = document;
    if state.core.settings().oidc_dynamic_registration
        && let Some(fields) = document.as_object_mut()
    {
        fields.insert("registration_endpoint".into(), json!(at("/oauth2/register")));
    }
    let mut response = (StatusCode::OK, axum::Json(document)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// A form body's parameters; a parameter sent twice is refused (RFC 6749 §3.1).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, OAuthError> {
    let form_typed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_typed && !body.is_empty() {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if params.insert(key.to_string(), value.to_string()).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "{key} is sent more than once"
            )));
        }
    }
    Ok(params)
}

/// The client a request authenticates as, and whether it used HTTP Basic.
async fn client_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<OAuthClient, (OAuthError, bool)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
    let (id, secret, used_basic) = match basic {
        Some(encoded) => {
            if params.contains_key("client_secret") {
                let error = OAuthError::invalid_request("use one way of client authentication");
                return Err((error, true));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or((OAuthError::invalid_client(), true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or((OAuthError::invalid_client(), true))?;
            // RFC 6749 §2.3.1: both halves are form-urlencoded.
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (unescape(id), Some(unescape(secret)), true)
        }
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned(),
            false,
        ),
    };
    state
        .core
        .authenticate_client(&id, secret.as_deref())
        .await
        .map_err(|error| (error, used_basic))
}

/// A form request's parameters and the client it authenticates as, or
/// the error answer.
async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(OAuthClient, HashMap<String, String>), Response> {
    let params = form(headers, body).map_err(|error| error_response(&error, false))?;
    let client = client_of(state, headers, &params)
        .await
        .map_err(|(error, basic)| error_response(&error, basic))?;
    Ok((client, params))
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (client, params) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let text = |key: &str| params.get(key).cloned();
    let request = match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => TokenRequest::Code {
            code: text("code").unwrap_or_default(),
            redirect_uri: text("redirect_uri"),
            code_verifier: text("code_verifier"),
        },
        Some("refresh_token") => TokenRequest::Refresh {
            refresh_token: text("refresh_token").unwrap_or_default(),
            scope: text("scope"),
        },
        Some("client_credentials") => TokenRequest::ClientCredentials { scope: text("scope") },
        Some("urn:ietf:params:oauth:grant-type:device_code") => TokenRequest::Device {
            device_code: text("device_code").unwrap_or_default(),
        },
        None => return error_response(&OAuthError::invalid_request("grant_type is missing"), false),
        Some(_) => {
            let error = OAuthError::new("unsupported_grant_type", "this grant type is not supported");
            return error_response(&error, false);
        }
    };
    match state.core.token(&client, request).await {
        Ok(answer) => json_answer(answer),
        Err(error) => error_response(&error, false),
    }
}

/// RFC 6750: the token from `Authorization: Bearer` or a form's `access_token`.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::to_owned);
    let token = from_header.or_else(|| {
        form(&headers, &body)
            .ok()
            .and_then(|params| params.get("access_token").cloned())
    });
    let refused = |status: StatusCode, code: &str, description: &str| {
        let challenge = format!("Bearer error=\"{code}\", error_description=\"{description}\"");
        let mut response = no_store(
            (
                status,
                axum::Json(json!({ "error": code, "error_description": description })),
            )
                .into_response(),
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(token) = token else {
        return refused(StatusCode::UNAUTHORIZED, "invalid_token", "no access token");
    };
    match state.core.userinfo(&token).await {
        Ok(info) => json_answer(info),
        Err(CoreError::Forbidden) => refused(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token was not issued with the openid scope",
        ),
        Err(CoreError::TokenExpired) => {
            refused(StatusCode::UNAUTHORIZED, "invalid_token", "the token has expired")
        }
        Err(error @ (CoreError::Internal(_) | CoreError::Unavailable)) => {
            error_response(&OAuthError::from(error), false)
        }
        Err(_) => refused(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the token is not valid",
        ),
    }
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (client, params) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(token) = params.get("token") else {
        return error_response(&OAuthError::invalid_request("token is missing"), false);
    };
    match state.core.revoke_client_token(&client, token).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => error_response(&error, false),
    }
}

async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (client, params) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(token) = params.get("token") else {
        return error_response(&OAuthError::invalid_request("token is missing"), false);
    };
    match state.core.introspect(&client, token).await {
        Ok(answer) => json_answer(answer),
        Err(error) => error_response(&error, false),
    }
}

async fn device_authorization(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, params) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let page = format!("{}/device", state.web.public_url.as_str().trim_end_matches('/'));
    let scope = params.get("scope").map(String::as_str);
    let started = (state.core)
        .start_device_authorization(&client, scope, page, device.address)
        .await;
    match started {
        Ok(answer) => json_answer(answer),
        Err(error) => error_response(&error, false),
    }
}
