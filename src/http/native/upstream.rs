//! `GET /login/upstream/{name}`: an API client's start of an upstream
//! sign-in (design §9). The browser goes to the provider and comes back to
//! the web page's callback, which signs it in with the session cookie
//! (which the native API accepts) and goes on to `/account`.

use crate::http::AppState;
use crate::http::cookies::with_cookie;
use crate::http::error::ErrorBody;
use crate::http::extract::{ClientDevice, PathParams};
use crate::http::pages::upstream::flow_cookie;
use crate::http::problem::Problem;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Start a sign-in at an upstream provider: a redirect to it.
#[utoipa::path(get, path = "/login/upstream/{name}", tag = "auth", params(("name" = String, Path, description = "the `[[upstream]]` name")), responses(
    (status = 303, description = "to the provider; it returns to /login/upstream/{name}/callback"),
    (status = 404, description = "no such provider", body = ErrorBody),
    (status = 429, description = "too many started from this address; see Retry-After", body = ErrorBody),
    (status = 502, description = "the provider could not be reached", body = ErrorBody),
))]
pub async fn start(
    State(state): State<AppState>,
    ClientDevice(device): ClientDevice,
    PathParams(name): PathParams<String>,
) -> Result<Response, Problem> {
    let started = state.core.start_upstream(&name, None, device.address).await?;
    let redirect = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, started.redirect.to_string())],
    )
        .into_response();
    Ok(with_cookie(
        redirect,
        flow_cookie(&state.web, Some(started.state)),
    ))
}
