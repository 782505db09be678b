//! The native API's error shape, `{"error": KEY, "message": TEXT}` (plus
//! `"field"` for validation failures): how it renders a [`Problem`].

use super::problem::Problem;
use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every failure of the native API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable key, e.g. `invalid_credentials`.
    pub error: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The request field concerned, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

/// The native rendering of a problem.
pub fn render(problem: &Problem) -> Response {
    let body = ErrorBody {
        error: problem.key.as_str(),
        message: problem.message.to_string(),
        field: problem.field,
    };
    (problem.status, Json(body)).into_response()
}
