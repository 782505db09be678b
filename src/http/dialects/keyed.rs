//! The `{"message", "key"}` failure body that verify-code and csrf-cookie
//! share. The type is tagged with its dialect so each one maps core errors
//! its own way (`impl From<CoreError> for KeyedFailure<ItsTag>`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::marker::PhantomData;

pub struct KeyedFailure<Dialect> {
    status: StatusCode,
    message: String,
    key: &'static str,
    retry_after: Option<u64>,
    dialect: PhantomData<Dialect>,
}

impl<Dialect> KeyedFailure<Dialect> {
    pub fn new(status: StatusCode, message: impl Into<String>, key: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            key,
            retry_after: None,
            dialect: PhantomData,
        }
    }

    /// Announces how long to wait (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, "validation_error")
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "unauthorized")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", "not_found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "method_not_allowed",
        )
    }
}

impl<Dialect> IntoResponse for KeyedFailure<Dialect> {
    fn into_response(self) -> Response {
        let response = (
            self.status,
            Json(json!({"message": self.message, "key": self.key})),
        )
            .into_response();
        crate::http::with_retry_after(response, self.retry_after)
    }
}

impl<Dialect> From<JsonRejection> for KeyedFailure<Dialect> {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is too large",
                "payload_too_large",
            );
        }
        Self::validation(rejection.body_text())
    }
}
