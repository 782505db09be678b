//! The native API under `/api/v1`, documented by the OpenAPI document that
//! is generated from these handlers (so the two cannot disagree), plus the
//! unversioned operational routes (`/healthz`, `/readyz`, JWKS).

mod admin;
mod auth;
mod clients;
mod email;
mod me;
mod members;
mod mfa;
mod passkeys;
mod upstream;

use super::AppState;
use super::error::ErrorBody;
use super::problem::Problem;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub const PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Klucznik native API",
        description = "Accounts, sessions and tokens. Errors are `{\"error\": KEY, \"message\": TEXT}`.",
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Sign-up, sign-in, tokens"),
        (name = "me", description = "The signed-in account and its sessions"),
        (name = "admin", description = "Account administration (role admin)"),
        (name = "members", description = "The NGO member register (roles moderator and admin)"),
        (name = "ops", description = "Health and keys"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::extract::SESSION_COOKIE))),
        );
    }
}

/// The native routes and their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let versioned = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_everywhere))
        .routes(routes!(email::verify_email))
        .routes(routes!(email::resend_verification))
        .routes(routes!(email::forgot_password))
        .routes(routes!(email::check_reset_token))
        .routes(routes!(email::reset_password))
        .routes(routes!(email::change_email))
        .routes(routes!(me::get_me, me::patch_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::list_sessions, me::revoke_other_sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::get_user))
        .routes(routes!(admin::grant_role, admin::revoke_role))
        .routes(routes!(admin::disable_user))
        .routes(routes!(admin::enable_user))
        .routes(routes!(admin::end_sessions))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::second_factors, admin::reset_second_factors))
        .routes(routes!(clients::create_client, clients::list_clients))
        .routes(routes!(
            clients::get_client,
            clients::update_client,
            clients::delete_client
        ))
        .routes(routes!(clients::rotate_client_secret))
        .routes(routes!(mfa::login_second_step))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::rename, passkeys::delete))
        .routes(routes!(passkeys::second_step_start))
        .routes(routes!(passkeys::sign_in_start))
        .routes(routes!(passkeys::sign_in_finish))
        .routes(routes!(email::request_email_sign_in))
        .routes(routes!(email::email_sign_in))
        .routes(routes!(upstream::start))
        .routes(routes!(mfa::status))
        .routes(routes!(mfa::begin_totp, mfa::disable_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::regenerate_recovery_codes))
        .routes(routes!(me::activity))
        .routes(routes!(members::list_members, members::create_member))
        .routes(routes!(
            members::get_member,
            members::update_member,
            members::delete_member
        ))
        .routes(routes!(members::member_history));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(PREFIX, versioned)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(jwks))
        .split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (routes, openapi) = api();
    routes
        .with_state(state)
        .merge(SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", openapi))
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready"),
    (status = 503, description = "database unavailable", body = ErrorBody),
))]
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, Problem> {
    state.core.ready().await?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// Public keys that verify access tokens (empty when HS256 is configured).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "ops", responses((status = 200, description = "JWK set")))]
async fn jwks(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(state.core.jwks()))
}

/// Validated paging: `(page, per_page, offset)`; page from 1, per_page 1–100
/// (20 when absent).
fn page_window(page: Option<u64>, per_page: Option<u64>) -> Result<(u64, u64, u64), Problem> {
    use crate::domain::Invalid;
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    if page == 0 || page > 1_000_000 {
        return Err(crate::app::CoreError::from(Invalid::Field {
            field: "page",
            reason: "must be from 1 to 1000000",
        })
        .into());
    }
    if !(1..=100).contains(&per_page) {
        return Err(crate::app::CoreError::from(Invalid::Field {
            field: "per_page",
            reason: "must be from 1 to 100",
        })
        .into());
    }
    Ok((page, per_page, (page - 1) * per_page))
}
